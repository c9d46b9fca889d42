#!/usr/bin/env bash
# End to end: the real Gemini CLI (npm @google/gemini-cli) through a local Apex, speaking the
# Gemini API (`GOOGLE_GEMINI_BASE_URL` = Apex, `GEMINI_API_KEY` = the gateway key, sent as
# `x-goog-api-key`) to a model that routes to a scripted OpenAI-compatible provider: every
# request is translated both ways and streamed (`streamGenerateContent?alt=sse`). Gemini CLI must
# run its read_file tool, send the result back through Apex as a functionResponse, and finish.
#
#   bash host-tests/e2e/gemini-cli.sh
#
# Needs: cargo, node + npm (the registry), python3. Not part of CI (it downloads the CLI).
set -euo pipefail

GEMINI_CLI_VERSION="${GEMINI_CLI_VERSION:-0.61.0}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${E2E_WORK:-$root/target/e2e/gemini-cli}"
mkdir -p "$work/project" "$work/home/.gemini"
source "$root/host-tests/e2e/lib.sh"

npm_install @google/gemini-cli "$GEMINI_CLI_VERSION" gemini
start_provider "{\"read_file\": {\"file_path\": \"$work/project/notes.txt\"}}"
start_apex "[gateway]
api_keys = { e2e = \"apex_e2e_key\" }

[providers.scripted]
kind = \"openai\"
base_url = \"http://$provider/v1\"
keys = []

[models.e2e-model]
targets = [\"scripted/scripted-model\"]"

# API-key auth without asking; no telemetry or update checks (no network beyond loopback).
cat > "$work/home/.gemini/settings.json" <<JSON
{"security": {"auth": {"selectedType": "gemini-api-key"}},
 "telemetry": {"enabled": false},
 "general": {"disableAutoUpdate": true, "disableUpdateNag": true}}
JSON

echo "== running gemini -p"
set +e
(cd "$work/project" && HOME="$work/home" GEMINI_CLI_TRUST_WORKSPACE=true \
  GOOGLE_GEMINI_BASE_URL="http://$apex" GEMINI_API_KEY=apex-e2e-secret-key \
  timeout 300 "$cli" -m e2e-model -p "Read notes.txt and tell me the secret word.") \
  > "$work/gemini.out" 2>&1
status=$?
set -e
cat "$work/gemini.out"

[ "$status" -eq 0 ] || fail "gemini exited with $status"
check_loop "$work/gemini.out"
echo "PASS: Gemini CLI completed a tool-using session through Apex"
