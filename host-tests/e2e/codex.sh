#!/usr/bin/env bash
# End to end: the real Codex CLI (npm @openai/codex) through a local Apex, speaking the Responses
# API (`wire_api = "responses"`) to a model that routes to a scripted OpenAI-compatible provider.
# Codex must run its exec_command tool on a file, send the output back through Apex, and finish.
#
#   bash host-tests/e2e/codex.sh
#
# Needs: cargo, node + npm (the registry), python3. Not part of CI (it downloads the CLI).
set -euo pipefail

CODEX_VERSION="${CODEX_VERSION:-0.169.0}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${E2E_WORK:-$root/target/e2e/codex}"
mkdir -p "$work/project" "$work/home"
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

echo "== installing Codex $CODEX_VERSION"
if [ ! -x "$work/node_modules/.bin/codex" ]; then
  (cd "$work" && npm install --no-fund --no-audit --loglevel=error "@openai/codex@$CODEX_VERSION" >/dev/null)
fi
codex="$work/node_modules/.bin/codex"
"$codex" --version

echo "== building apex"
(cd "$root" && cargo build -q -p apex-host --bin apex)

marker="apex-e2e-$RANDOM$RANDOM"
echo "The secret word is $marker." > "$work/project/notes.txt"
log="$work/provider.log"; : > "$log"

E2E_LOG="$log" E2E_TOOLS='{"exec_command": {"cmd": "cat notes.txt"}, "shell": {"command": ["cat", "notes.txt"]}}' \
  python3 "$root/host-tests/e2e/scripted_provider.py" > "$work/provider.out" 2>&1 &
pids+=($!)
provider="$(wait_for "$work/provider.out")"

cat > "$work/apex.toml" <<TOML
[gateway]
api_keys = { e2e = "apex_e2e_key" }

[providers.scripted]
kind = "openai"
base_url = "http://$provider/v1"
keys = []

[models.e2e-model]
targets = ["scripted/scripted-model"]
TOML
rm -rf "$work/data"
APEX_E2E_KEY=apex-e2e-secret-key "$root/target/debug/apex" --listen 127.0.0.1:0 \
  --config "$work/apex.toml" --data-dir "$work/data" > "$work/apex.out" 2>&1 &
pids+=($!)
apex="$(wait_for "$work/apex.out")"
echo "apex on $apex, scripted provider on $provider"

cat > "$work/home/config.toml" <<TOML
model = "e2e-model"
model_provider = "apex"
# Web search runs on OpenAI's servers; other providers cannot run it.
web_search = "disabled"

[model_providers.apex]
name = "Apex"
base_url = "http://$apex/v1"
env_key = "APEX_E2E_KEY"
wire_api = "responses"
TOML

echo "== running codex exec"
set +e
(cd "$work/project" && CODEX_HOME="$work/home" APEX_E2E_KEY=apex-e2e-secret-key \
  timeout 300 "$codex" exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
  "Read notes.txt and tell me the secret word.") > "$work/codex.out" 2>&1
status=$?
set -e
cat "$work/codex.out"

fail() { echo "FAIL: $*" >&2; echo "--- apex log" >&2; tail -50 "$work/apex.out" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "codex exited with $status"
grep -q "E2E-DONE" "$work/codex.out" || fail "the session did not end with the provider's final answer"
grep -q "$marker" "$work/codex.out" || fail "the tool output did not travel back through Apex"
python3 - "$log" "$marker" <<'PY' || fail "the provider did not see the expected tool loop"
import json, sys
requests = [json.loads(line)["body"] for line in open(sys.argv[1])]
last = requests[-1]["messages"]
assert any(m.get("tool_calls") for m in last), last
assert last[-1]["role"] == "tool" and sys.argv[2] in json.dumps(last[-1]), last[-1]
print(f"provider saw {len(requests)} requests; the tool loop completed")
PY
echo "PASS: Codex completed a tool-using session through Apex"
