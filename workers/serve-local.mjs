// Serve the Worker locally with no Cloudflare account: `wrangler dev --local` (workerd through
// miniflare, a local KV namespace persisted on disk), non-interactive.
//
//   node serve-local.mjs PORT [CONFIG.toml]
//
// - Listens on 127.0.0.1 only (PORT 0: a free port). Prints `listening on 127.0.0.1:PORT` once
//   `/health` answers (the first answer also instantiates the component). SIGINT/SIGTERM stop it
//   and the runtime with it.
// - CONFIG.toml becomes the `apex_config` var. The environment is passed to the Worker as
//   secrets (wrangler's CLOUDFLARE_INCLUDE_PROCESS_ENV), so provider keys come from it the way
//   the local host takes them: `OPENAI_API_KEY` or `openai_api_key` both answer `openai_api_key`.
//   workers/.dev.vars is not read.
// - KV persists under $APEX_WORKERS_STATE (default: workers/.wrangler/state, `wrangler dev`'s).
// - dist/ must be built (`npm run build`); serve-local.sh does that and `npm ci` first.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [portArg, configArg] = process.argv.slice(2);
const port = Number(portArg);
if (portArg === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node serve-local.mjs PORT [CONFIG.toml]");
  process.exit(2);
}
if (!existsSync(join(here, "dist", "core-modules.js"))) {
  console.error("serve-local: dist/ is not built: run `npm run build` (or serve-local.sh)");
  process.exit(1);
}

/** A port free right now on 127.0.0.1 (for PORT 0; wrangler does not say which one it took). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port: free } = server.address();
      server.close(() => resolvePort(free));
    });
  });
}
const listenPort = port === 0 ? await freePort() : port;

// No network needed: no telemetry, and no download of the `request.cf` sample (a placeholder serves).
const env = {
  ...process.env,
  CLOUDFLARE_INCLUDE_PROCESS_ENV: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  CI: "true",
};
if (configArg) env.apex_config = readFileSync(resolve(configArg), "utf8");
const state = resolve(process.env.APEX_WORKERS_STATE ?? join(here, ".wrangler", "state"));

// An empty env file: given one, wrangler skips workers/.dev.vars and takes the process env.
const emptyEnvFile = join(here, ".wrangler", "serve-local.env");
mkdirSync(dirname(emptyEnvFile), { recursive: true });
writeFileSync(emptyEnvFile, "");

const wrangler = join(here, "node_modules", "wrangler", "bin", "wrangler.js");
const child = spawn(process.execPath, [
  wrangler, "dev", "--local",
  "--ip", "127.0.0.1", "--port", String(listenPort),
  "--persist-to", state,
  "--env-file", emptyEnvFile,
  "--show-interactive-dev-session=false",
  "--live-reload=false",
  "--log-level", process.env.APEX_WORKERS_LOG ?? "warn",
], { cwd: here, env, stdio: ["ignore", 2, 2], detached: true });

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  // wrangler runs workerd as its own child: stop the whole group.
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
  setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    process.exit(code);
  }, 2000).unref();
  child.once("exit", () => process.exit(code));
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("SIGHUP", () => stop(0));
child.on("exit", (code, signal) => {
  if (!stopping) {
    console.error(`serve-local: wrangler exited (${signal ?? code})`);
    process.exit(1);
  }
});

const started = Date.now();
const deadline = started + Number(process.env.APEX_WORKERS_START_TIMEOUT_MS ?? 120000);
while (true) {
  if (Date.now() > deadline) {
    console.error("serve-local: the Worker did not answer /health in time");
    stop(1);
    break;
  }
  try {
    const response = await fetch(`http://127.0.0.1:${listenPort}/health`, { signal: AbortSignal.timeout(30000) });
    await response.arrayBuffer();
    if (response.ok) {
      console.log(`listening on 127.0.0.1:${listenPort}`);
      console.error(`serve-local: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      break;
    }
  } catch {
    // not up yet
  }
  await new Promise((r) => setTimeout(r, 100));
}
