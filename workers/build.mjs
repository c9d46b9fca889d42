// Transpile the composed component (target/apex/apex.wasm) with jco into dist/, in the shape a
// Worker can load: every core module a separate `.wasm` file imported as a module (Workers refuse
// to compile Wasm from bytes at run time), listed in dist/core-modules.js.
//
//   node build.mjs [--bundle] [--force] [path/to/apex.wasm]
//                                           (default: ../target/apex/apex.wasm, or $APEX_WASM)
//
// Skips the transpile when dist/ was built from the same component with the same jco and this
// script (dist/stamp.json); `--force` rebuilds. `--bundle` then also makes dist/bundle/, what
// `wrangler deploy` would upload (`wrangler deploy --dry-run --outdir dist/bundle`, which checks
// wrangler.toml and reports the upload size), unless it is newer than everything it is made of.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const args = process.argv.slice(2);
const force = args.includes("--force");
const bundle = args.includes("--bundle");
const positional = args.filter((a) => !a.startsWith("--"));
const component = resolve(positional[0] ?? process.env.APEX_WASM ?? join(here, "..", "target", "apex", "apex.wasm"));

if (!existsSync(component)) {
  console.error(`build: ${component} does not exist; build it first (cargo build -p apex-host, from the repo root)`);
  process.exit(1);
}

// Imports that may wait: jco turns each into a JSPI suspension point (`WebAssembly.Suspending`).
// `--async-wasi-imports` adds wasi:io's blocking calls (poll, pollable.block, blocking-read, ...);
// key-value is Workers KV, whose every call is a promise.
const ASYNC_IMPORTS = [
  "wasi:keyvalue/store#[method]bucket.get",
  "wasi:keyvalue/store#[method]bucket.set",
  "wasi:keyvalue/store#[method]bucket.delete",
  "wasi:keyvalue/store#[method]bucket.exists",
  "wasi:keyvalue/store#[method]bucket.list-keys",
  "wasi:keyvalue/atomics#increment",
];

const jcoDir = join(here, "node_modules", "@bytecodealliance", "jco");
if (!existsSync(jcoDir)) {
  console.error("build: node_modules/ is missing; run `npm ci` in workers/ first");
  process.exit(1);
}
const jcoManifest = JSON.parse(readFileSync(join(jcoDir, "package.json"), "utf8"));
const jcoVersion = jcoManifest.version;
const jcoBin = join(jcoDir, typeof jcoManifest.bin === "string" ? jcoManifest.bin : jcoManifest.bin.jco);

const stamp = {
  component: createHash("sha256").update(readFileSync(component)).digest("hex"),
  jco: jcoVersion,
  script: createHash("sha256").update(readFileSync(fileURLToPath(import.meta.url))).digest("hex"),
};
const stampFile = join(dist, "stamp.json");
if (!force && existsSync(stampFile) && readFileSync(stampFile, "utf8") === JSON.stringify(stamp)) {
  console.log(`build: dist/ is up to date with ${component}`);
} else {
  transpile();
}
if (bundle) makeBundle();

function transpile() {
  const started = Date.now();
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });

  const jcoArgs = [
    jcoBin, "transpile", component,
    "--out-dir", dist,
    "--name", "apex",
    "--instantiation", "async", // we hand jco the compiled modules and the imports
    "--async-mode", "jspi",
    "--async-wasi-imports",
    "--async-wasi-exports", // wasi:http/incoming-handler#handle returns a promise
    "--async-imports", ...ASYNC_IMPORTS,
    "--no-typescript",
    "--quiet",
  ];
  const run = spawnSync(process.execPath, jcoArgs, { stdio: "inherit" });
  if (run.status !== 0) {
    console.error(`build: jco transpile failed (exit ${run.status})`);
    process.exit(1);
  }

  // Post-process apex.js for Workers.
  const jsFile = join(dist, "apex.js");
  let js = readFileSync(jsFile, "utf8");

  // 1. jco compiles a few tiny helper modules from inline bytes (`new WebAssembly.Module(new
  //    Uint8Array([...]))`, e.g. its conditional-JSPI trampoline). Workers forbid compiling Wasm at
  //    run time, so write each to a file and import it as a module instead.
  const inline = /new WebAssembly\.Module\(new Uint8Array\(\[([0-9a-fx,\s]*)\]\)\)/g;
  const helperImports = [];
  js = js.replace(inline, (_, list) => {
    const bytes = Uint8Array.from(list.split(",").map((s) => s.trim()).filter(Boolean).map(Number));
    const name = `jco-helper${helperImports.length}.wasm`;
    writeFileSync(join(dist, name), bytes);
    const id = `__jcoHelper${helperImports.length}`;
    helperImports.push(`import ${id} from "./${name}";`);
    return id;
  });

  // 2. The fallback loader (used only when no getCoreModule is given, which we always give)
  //    imports node:fs dynamically; bundlers for Workers should not see it.
  const fallback = /async function fetchCompile \(url\) \{[\s\S]*?\n\}\n/;
  if (!fallback.test(js)) {
    console.error("build: jco's fetchCompile fallback not found; the jco output changed shape, review build.mjs");
    process.exit(1);
  }
  js = js.replace(fallback, "async function fetchCompile (url) {\n  throw new Error(`no core module for ${url}`);\n}\n");
  if (/new WebAssembly\.Module\(|WebAssembly\.compile\(|import\(/.test(js)) {
    console.error("build: apex.js still compiles Wasm or imports dynamically at run time; review build.mjs");
    process.exit(1);
  }
  writeFileSync(jsFile, helperImports.join("\n") + "\n" + js);

  // 3. The core modules, imported as WebAssembly.Module objects (wrangler's and workerd's rule for
  //    `.wasm` imports) and handed to jco's getCoreModule.
  const cores = readdirSync(dist).filter((f) => /^apex\.core\d*\.wasm$/.test(f))
    .sort((a, b) => Number(a.match(/\d+/)?.[0] ?? 1) - Number(b.match(/\d+/)?.[0] ?? 1));
  writeFileSync(join(dist, "core-modules.js"),
    "// Generated by build.mjs: the component's core modules, by the names apex.js asks for.\n" +
    cores.map((f, i) => `import m${i} from "./${f}";`).join("\n") + "\n" +
    "export default {\n" + cores.map((f, i) => `  "${f}": m${i},`).join("\n") + "\n};\n");

  writeFileSync(stampFile, JSON.stringify(stamp));
  const size = readdirSync(dist).reduce((n, f) => n + (f.endsWith(".wasm") || f.endsWith(".js") ? readFileSync(join(dist, f)).length : 0), 0);
  console.log(`build: ${component} → dist/ (${cores.length} core modules, ${helperImports.length} jco helper modules, ` +
    `${(size / 1048576).toFixed(2)} MiB) with jco ${jcoVersion} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function makeBundle() {
  const out = join(dist, "bundle", "worker.js");
  const inputs = [stampFile, join(here, "wrangler.toml"), join(here, "package-lock.json"),
    ...readdirSync(join(here, "src")).map((f) => join(here, "src", f))];
  if (existsSync(out) && inputs.every((f) => !existsSync(f) || statSync(f).mtimeMs <= statSync(out).mtimeMs)) {
    console.log("build: dist/bundle/ is up to date");
    return;
  }
  const started = Date.now();
  const wrangler = join(here, "node_modules", "wrangler", "bin", "wrangler.js");
  const run = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", join(dist, "bundle")], {
    cwd: here,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    encoding: "utf8",
  });
  const upload = run.stdout.match(/Total Upload: .*/)?.[0];
  if (run.status !== 0 || !existsSync(out)) {
    process.stdout.write(run.stdout);
    console.error(`build: wrangler deploy --dry-run failed (exit ${run.status})`);
    process.exit(1);
  }
  console.log(`build: dist/bundle/ (${upload ?? "size not reported"}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
