# Shared by the end-to-end scripts (sourced): processes, the scripted provider, the local Apex.
# Expects `root` (the repository) and `work` (a scratch directory) to be set.

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for() { # file -> the address after `listening on`
  for _ in $(seq 1 600); do
    if grep -qE 'listening on' "$1" 2>/dev/null; then
      grep -oE 'listening on (http://)?[0-9.:]+' "$1" | head -1 | sed -E 's/listening on (http:\/\/)?//'
      return 0
    fi
    sleep 0.2
  done
  echo "timed out waiting for $1:" >&2; cat "$1" >&2; return 1
}

# npm_install PACKAGE VERSION BIN: installs PACKAGE@VERSION under $work once; sets $cli to BIN.
npm_install() {
  echo "== installing $1 $2"
  if [ ! -x "$work/node_modules/.bin/$3" ]; then
    (cd "$work" && npm install --no-fund --no-audit --loglevel=error "$1@$2" >/dev/null)
  fi
  cli="$work/node_modules/.bin/$3"
  "$cli" --version
}

# start_provider TOOLS_JSON: the scripted provider (see scripted_provider.py); sets $provider
# and $log (its request log) and writes a secret marker to $work/project/notes.txt ($marker).
start_provider() {
  echo "== building apex"
  (cd "$root" && cargo build -q -p apex-host --bin apex)
  marker="apex-e2e-$RANDOM$RANDOM"
  echo "The secret word is $marker." > "$work/project/notes.txt"
  log="$work/provider.log"; : > "$log"
  E2E_LOG="$log" E2E_TOOLS="$1" python3 "$root/host-tests/e2e/scripted_provider.py" > "$work/provider.out" 2>&1 &
  pids+=($!)
  provider="$(wait_for "$work/provider.out")"
}

# start_apex CONFIG_TOML: the local Apex with that config and gateway key `apex-e2e-secret-key`
# (variable apex_e2e_key); sets $apex.
start_apex() {
  printf '%s\n' "$1" > "$work/apex.toml"
  rm -rf "$work/data"
  APEX_E2E_KEY=apex-e2e-secret-key "$root/target/debug/apex" --listen 127.0.0.1:0 \
    --config "$work/apex.toml" --data-dir "$work/data" > "$work/apex.out" 2>&1 &
  pids+=($!)
  apex="$(wait_for "$work/apex.out")"
  echo "apex on $apex, scripted provider on $provider"
}

fail() { echo "FAIL: $*" >&2; echo "--- apex log" >&2; tail -50 "$work/apex.out" >&2; exit 1; }

# check_loop OUTPUT_FILE: the session ended with the provider's answer, which quotes the file the
# tool read, and the provider saw the tool call and its result come back.
check_loop() {
  grep -q "E2E-DONE" "$1" || fail "the session did not end with the provider's final answer"
  grep -q "$marker" "$1" || fail "the tool result did not travel back through Apex"
  python3 - "$log" "$marker" <<'PY' || fail "the provider did not see the expected tool loop"
import json, sys
requests = [json.loads(line)["body"] for line in open(sys.argv[1])]
last = [r for r in requests if r.get("tools")][-1]["messages"]
assert any(m.get("tool_calls") for m in last), last
assert last[-1]["role"] == "tool" and sys.argv[2] in json.dumps(last[-1]), last[-1]
print(f"provider saw {len(requests)} requests; the tool loop completed")
PY
}
