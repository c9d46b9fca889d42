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
source "$root/host-tests/e2e/lib.sh"

npm_install @openai/codex "$CODEX_VERSION" codex
start_provider '{"exec_command": {"cmd": "cat notes.txt"}, "shell": {"command": ["cat", "notes.txt"]}}'
start_apex "[gateway]
api_keys = { e2e = \"apex_e2e_key\" }

[providers.scripted]
kind = \"openai\"
base_url = \"http://$provider/v1\"
keys = []

[models.e2e-model]
targets = [\"scripted/scripted-model\"]"

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
  timeout 300 "$cli" exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
  "Read notes.txt and tell me the secret word.") > "$work/codex.out" 2>&1
status=$?
set -e
cat "$work/codex.out"

[ "$status" -eq 0 ] || fail "codex exited with $status"
check_loop "$work/codex.out"
echo "PASS: Codex completed a tool-using session through Apex"
