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
source "$root/host-tests/e2e/lib.sh"

npm_install @anthropic-ai/claude-code "$CLAUDE_CODE_VERSION" claude
start_provider "{\"Read\": {\"file_path\": \"$work/project/notes.txt\"}}"
# Every model name Claude Code sends (sonnet, opus, haiku) goes to the scripted provider.
start_apex "[gateway]
api_keys = { e2e = \"apex_e2e_key\" }

[providers.scripted]
kind = \"openai\"
base_url = \"http://$provider/v1\"
keys = []

[models.e2e]
targets = [\"scripted/scripted-model\"]

[[model_patterns]]
pattern = \"claude-*\"
model = \"e2e\""

echo "== running claude -p"
set +e
(cd "$work/project" && \
  ANTHROPIC_BASE_URL="http://$apex" \
  ANTHROPIC_AUTH_TOKEN="apex-e2e-secret-key" \
  ANTHROPIC_API_KEY="" \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
  DISABLE_AUTOUPDATER=1 \
  HOME="$work/home" \
  timeout 300 "$cli" -p "Read notes.txt and tell me the secret word." \
    --allowedTools Read --output-format text) > "$work/claude.out" 2>&1
status=$?
set -e
cat "$work/claude.out"

[ "$status" -eq 0 ] || fail "claude exited with $status"
check_loop "$work/claude.out"
echo "PASS: Claude Code completed a tool-using session through Apex"
