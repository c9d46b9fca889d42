#!/usr/bin/env bash
# End to end: the real Claude Code CLI (npm @anthropic-ai/claude-code) through a local Apex whose
# models route to a scripted OpenAI-compatible provider. Claude Code must call its Read tool on a
# file, get the result back through Apex, and finish the session with the provider's answer.
#
#   bash host-tests/e2e/claude-code.sh
#
# Needs: cargo, node + npm (the registry), python3. Not part of CI (it downloads a ~380 MB CLI).
set -euo pipefail

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${E2E_WORK:-$root/target/e2e/claude-code}"
mkdir -p "$work/project"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for() { # file pattern -> prints the first capture of `listening on ADDR`
  for _ in $(seq 1 600); do
    if grep -qE 'listening on' "$1" 2>/dev/null; then
      grep -oE 'listening on (http://)?[0-9.:]+' "$1" | head -1 | sed -E 's/listening on (http:\/\/)?//'
      return 0
    fi
    sleep 0.2
  done
  echo "timed out waiting for $1:" >&2; cat "$1" >&2; return 1
}

echo "== installing Claude Code $CLAUDE_CODE_VERSION"
if [ ! -x "$work/node_modules/.bin/claude" ]; then
  (cd "$work" && npm install --no-fund --no-audit --loglevel=error "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >/dev/null)
fi
claude="$work/node_modules/.bin/claude"
"$claude" --version

echo "== building apex"
(cd "$root" && cargo build -q -p apex-host --bin apex)

marker="apex-e2e-$RANDOM$RANDOM"
echo "The secret word is $marker." > "$work/project/notes.txt"
log="$work/provider.log"; : > "$log"

E2E_LOG="$log" E2E_TOOLS="{\"Read\": {\"file_path\": \"$work/project/notes.txt\"}}" \
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

[models.e2e]
targets = ["scripted/scripted-model"]

# Every model name Claude Code sends (sonnet, opus, haiku) goes to the scripted provider.
[[model_patterns]]
pattern = "claude-*"
model = "e2e"
TOML
rm -rf "$work/data"
APEX_E2E_KEY=apex-e2e-secret-key "$root/target/debug/apex" --listen 127.0.0.1:0 \
  --config "$work/apex.toml" --data-dir "$work/data" > "$work/apex.out" 2>&1 &
pids+=($!)
apex="$(wait_for "$work/apex.out")"
echo "apex on $apex, scripted provider on $provider"

echo "== running claude -p"
set +e
(cd "$work/project" && \
  ANTHROPIC_BASE_URL="http://$apex" \
  ANTHROPIC_AUTH_TOKEN="apex-e2e-secret-key" \
  ANTHROPIC_API_KEY="" \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
  DISABLE_AUTOUPDATER=1 \
  HOME="$work/home" \
  timeout 300 "$claude" -p "Read notes.txt and tell me the secret word." \
    --allowedTools Read --output-format text) > "$work/claude.out" 2>&1
status=$?
set -e
cat "$work/claude.out"

fail() { echo "FAIL: $*" >&2; echo "--- apex log" >&2; tail -50 "$work/apex.out" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "claude exited with $status"
grep -q "E2E-DONE" "$work/claude.out" || fail "the session did not end with the provider's final answer"
grep -q "$marker" "$work/claude.out" || fail "the tool result did not travel back through Apex"
python3 - "$log" "$marker" <<'PY' || fail "the provider did not see the expected tool loop"
import json, sys
requests = [json.loads(line) for line in open(sys.argv[1])]
turns = [r["body"] for r in requests if r["body"].get("tools")]
assert turns, "no request carried Claude Code's tools"
last = turns[-1]["messages"]
assert any(m.get("tool_calls") and m["tool_calls"][0]["function"]["name"] == "Read" for m in last), last
assert last[-1]["role"] == "tool" and sys.argv[2] in json.dumps(last[-1]), last[-1]
print(f"provider saw {len(requests)} requests; the tool loop completed")
PY
echo "PASS: Claude Code completed a tool-using session through Apex"
