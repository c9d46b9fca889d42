// Smoke test of the Worker under local workerd (serve-local.sh): the echo model, the key-value
// store (a stored response read back), and a provider (apex-fake-upstream) plain, streamed and
// with tools. `npm test` (after the cargo build that makes target/apex/apex.wasm and the fake).
//
// APEX_FAKE_UPSTREAM: the fake provider binary (default: $CARGO_TARGET_DIR or ../target, debug/).

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const workers = dirname(here);
const targetDir = process.env.CARGO_TARGET_DIR ?? join(workers, "..", "target");
const fakeBinary = process.env.APEX_FAKE_UPSTREAM ?? join(targetDir, "debug", "apex-fake-upstream");

const children = [];
let base;
let scratch;

/** Start `command`, resolve with the first `listening on ADDR` line's ADDR. */
function startListening(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "inherit"], detached: true });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => {
      seen += text;
      const match = seen.match(/listening on (\S+)/);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`${command} exited (${code}) before listening`)));
  });
}

before(async () => {
  assert.ok(existsSync(fakeBinary), `${fakeBinary} is missing: cargo build -p apex-host first`);
  scratch = mkdtempSync(join(tmpdir(), "apex-workers-smoke-"));
  const fake = await startListening(fakeBinary, ["--listen", "127.0.0.1:0"]);
  const config = join(scratch, "apex.toml");
  writeFileSync(config, [
    "[providers.fake]",
    'kind = "openai"',
    `base_url = "http://${fake}/v1"`,
    'keys = ["fake_key"]',
    "",
    "[models.m]",
    'targets = ["fake/gpt-4o-mini"]',
    "",
  ].join("\n"));
  const address = await startListening(join(workers, "serve-local.sh"), ["0", config], {
    env: { ...process.env, fake_key: "sk-x", APEX_WORKERS_STATE: join(scratch, "state") },
  });
  base = `http://${address}`;
});

after(() => {
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function post(path, body) {
  return fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** The `data:` payloads of an SSE body, and when each arrived. */
async function events(response) {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of response.body) text += decoder.decode(chunk, { stream: true });
  return text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
}

const hi = [{ role: "user", content: "hi" }];

test("health and models", async () => {
  const health = await fetch(base + "/health");
  assert.equal(health.status, 200);
  const models = await (await fetch(base + "/v1/models")).json();
  assert.ok(models.data.some((m) => m.id === "echo"));
});

test("echo chat, plain and streamed", async () => {
  const plain = await (await post("/v1/chat/completions", { model: "echo", messages: hi })).json();
  assert.equal(plain.choices[0].message.content, "hi");
  const streamed = await post("/v1/chat/completions", { model: "echo", messages: hi, stream: true });
  assert.match(streamed.headers.get("content-type"), /text\/event-stream/);
  const data = await events(streamed);
  assert.equal(data.at(-1), "[DONE]");
  assert.equal(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "").join(""), "hi");
});

test("a stored response is read back from KV", async () => {
  const created = await (await post("/v1/responses", { model: "echo", input: "remember me" })).json();
  assert.match(created.id, /^resp_/);
  const read = await fetch(`${base}/v1/responses/${created.id}`);
  assert.equal(read.status, 200);
  assert.equal((await read.json()).output[0].content[0].text, "remember me");
});

test("a provider: plain, streamed, tools", async () => {
  const plain = await (await post("/v1/chat/completions", { model: "m", messages: hi })).json();
  assert.equal(plain.choices[0].message.content, "Hello from the fake upstream.");
  const data = await events(await post("/v1/chat/completions", { model: "m", messages: hi, stream: true }));
  assert.equal(data.at(-1), "[DONE]");
  assert.ok(data.length > 3);
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  const called = await (await post("/v1/chat/completions", { model: "m", messages: hi, tools })).json();
  assert.equal(called.choices[0].finish_reason, "tool_calls");
  assert.equal(called.choices[0].message.tool_calls[0].function.name, "get_weather");
});
