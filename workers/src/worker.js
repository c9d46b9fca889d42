// Apex as a Cloudflare Worker (module syntax): the composed component, transpiled by jco
// (dist/, `npm run build`), answers every request through its wasi:http incoming handler.
//
// - wasi:http: src/http.js (outbound calls are fetch(); the response streams as it is written)
// - wasi:keyvalue: the KV namespace bound as APEX_KV; wasi:config: vars and secrets (src/state.js)
// - wasi:io, clocks, random, cli: jco's preview2-shim (its browser build)
//
// Blocking WASI calls (waiting on a fetch, a KV read, a body chunk) suspend the component with
// JSPI (`WebAssembly.Suspending`), so the guest's synchronous Rust code runs unchanged.
//
// Component instances are pooled: an instance serves one request at a time (a suspended instance
// cannot be re-entered) and is reused for the next, as wasmtime's ProxyHandler does. A request
// that finds no idle instance makes a new one, up to APEX_MAX_INSTANCES (default 6) per isolate;
// past that it waits for one to free up. An isolate has 128 MB: each instance holds at least
// ~7.5 MiB of linear memory, so the cap is what keeps many concurrent streams within it.

import { instantiate } from "../dist/apex.js";
import coreModules from "../dist/core-modules.js";
import * as cli from "@bytecodealliance/preview2-shim/cli";
import * as clocks from "@bytecodealliance/preview2-shim/clocks";
import * as io from "@bytecodealliance/preview2-shim/io";
import * as random from "@bytecodealliance/preview2-shim/random";
import { incoming, outgoingHandler, types } from "./http.js";
import { atomics, config, keyvalue } from "./state.js";

const DEFAULT_MAX_INSTANCES = 6;
// An instance starts with ~7.5 MiB of linear memory (router + six adapters, 1 MiB each) and
// grows with the largest request it has handled; past this it is dropped instead of reused.
const DEFAULT_INSTANCE_MEMORY_MB = 32;
const WAIT_POLL_MS = 5;

function getCoreModule(name) {
  const module = coreModules[name];
  if (!module) throw new Error(`dist/core-modules.js has no ${name}: rebuild with npm run build`);
  return module;
}

async function createInstance() {
  const slot = { env: undefined };
  const imports = {
    "wasi:cli/environment": { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
    "wasi:cli/exit": cli.exit,
    "wasi:cli/stderr": cli.stderr,
    "wasi:cli/stdin": cli.stdin,
    "wasi:cli/stdout": cli.stdout,
    "wasi:cli/terminal-input": cli.terminalInput,
    "wasi:cli/terminal-output": cli.terminalOutput,
    "wasi:cli/terminal-stderr": cli.terminalStderr,
    "wasi:cli/terminal-stdin": cli.terminalStdin,
    "wasi:cli/terminal-stdout": cli.terminalStdout,
    "wasi:clocks/monotonic-clock": clocks.monotonicClock,
    "wasi:clocks/wall-clock": clocks.wallClock,
    "wasi:config/store": config(slot),
    "wasi:http/outgoing-handler": outgoingHandler,
    "wasi:http/types": types,
    "wasi:io/error": io.error,
    "wasi:io/poll": io.poll,
    "wasi:io/streams": io.streams,
    "wasi:keyvalue/atomics": atomics(),
    "wasi:keyvalue/store": keyvalue(slot),
    "wasi:random/random": random.random,
  };
  const memories = [];
  const root = await instantiate(getCoreModule, imports, async (module, coreImports) => {
    const instance = await WebAssembly.instantiate(module, coreImports);
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory && !memories.includes(value)) memories.push(value);
    }
    return instance;
  });
  return { slot, handle: root.incomingHandler.handle, memories };
}

class Pool {
  #idle = [];
  #live = 0;

  // A request that finds every instance busy polls (on a timer) rather than awaiting a promise
  // another request resolves: workerd cancels a request whose only pending work belongs to
  // another request ("the Worker's code had hung").
  async acquire(max) {
    for (;;) {
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#live < max) {
        this.#live++;
        try {
          return await createInstance();
        } catch (error) {
          this.#live--;
          throw error;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }

  /** Back to the pool, unless a large request grew its memories past the limit (they never shrink). */
  release(instance, memoryLimit) {
    instance.slot.env = undefined;
    if (memoryBytes(instance) > memoryLimit) this.discard();
    else this.#idle.push(instance);
  }

  /** An instance that trapped is never reused. */
  discard() {
    this.#live--;
  }
}

const pool = new Pool();

function memoryBytes(instance) {
  return instance.memories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0);
}

function positiveInteger(value, fallback) {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function failure(status, message) {
  return new Response(JSON.stringify({ error: { message, type: "server_error" } }) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

export default {
  async fetch(request, env, ctx) {
    let instance;
    try {
      instance = await pool.acquire(positiveInteger(env?.APEX_MAX_INSTANCES, DEFAULT_MAX_INSTANCES));
    } catch (error) {
      console.error("apex: could not instantiate the component:", error);
      return failure(500, `could not instantiate the component: ${error?.message ?? error}`);
    }
    instance.slot.env = env;
    const call = incoming(request);
    // The handler runs on: it writes the body after handing over the response, and the instance
    // goes back to the pool only when it returns.
    const handled = Promise.resolve()
      .then(() => instance.handle(call.request, call.outparam))
      .then(
        () => {
          pool.release(instance, positiveInteger(env?.APEX_INSTANCE_MEMORY_MB, DEFAULT_INSTANCE_MEMORY_MB) * 1048576);
          return null;
        },
        (error) => {
          pool.discard();
          console.error("apex: the component failed:", error);
          return error;
        },
      );
    ctx.waitUntil(handled);
    const outcome = await Promise.race([call.response, handled.then((error) => ({ error }))]);
    if (outcome instanceof Response) return outcome;
    if (call.isSet()) return call.response;
    return outcome.error
      ? failure(500, `the component failed: ${outcome.error?.message ?? outcome.error}`)
      : failure(500, "the component returned without a response");
  },
};
