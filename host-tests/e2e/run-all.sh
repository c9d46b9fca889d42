#!/usr/bin/env bash
# End to end: the real agent CLIs, at the newest versions npm serves and with their default
# settings, through a local Apex to scripted providers of the openai, anthropic and gemini kinds.
#
#   bash host-tests/e2e/run-all.sh                         # every CLI, every kind
#   E2E_CLIS="codex" E2E_KINDS="gemini" bash host-tests/e2e/run-all.sh
#   E2E_INSTALL_ONLY=1 bash host-tests/e2e/run-all.sh      # only download the CLIs (CI does this first)
#
# Also: E2E_MODES ("text tool"), E2E_CELL_TIMEOUT (seconds for one CLI run, 90), E2E_SUITE_SECS
# (600: later cells fail unrun), E2E_APEX_BIN (an apex binary instead of building one), E2E_WORK
# (target/e2e).
#
# CLIs: claude-code (`claude -p`, Anthropic Messages), codex (`codex exec`, the Responses API),
# codex-alias (the same with `model = "<an Apex alias>"`, as README's Codex config has it),
# gemini-cli (`gemini -p`, Gemini's generateContent). Versions: `npm view <package> version` at
# run time, so a new CLI release that breaks against Apex shows up here the day it ships; set
# CLAUDE_CODE_VERSION, CODEX_VERSION or GEMINI_CLI_VERSION to pin one. Installs are cached under
# target/e2e/npm/<package>@<version>: a rerun downloads nothing until a new version is out.
#
# For each CLI and each provider kind, two cells: `text` (a plain prompt; the provider answers
# E2E-TEXT-OK) and `tool` (the CLI must call its file-reading tool on notes.txt — Claude Code
# `Read`, Codex `exec_command`/`shell`, Gemini CLI `read_file` — send the result back through
# Apex, and end with the provider's answer quoting the secret word in it). check_cell.py says
# what a cell needs to pass; a failing cell prints Apex's non-2xx answers, the provider's
# refusals and the CLI's output. The script prints a table and exits 1 if any cell failed.
#
# The provider (scripted_provider.py) refuses what the real APIs refuse, with their error shapes;
# each kind gets its own Apex (every model name mapped to the scripted provider of that kind)
# behind a recording proxy (recording_proxy.py), so what Apex answered each CLI is on record.
# Everything lands in target/e2e/ (cells/<cli>-<kind>-<mode>/: cli.out, provider.jsonl,
# exchanges.jsonl, verdict; results.md: the table).
#
# Needs: cargo, node + npm (the registry, for the first run), python3.
set -uo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${E2E_WORK:-$root/target/e2e}"
clis="${E2E_CLIS:-claude-code codex codex-alias gemini-cli}"
kinds="${E2E_KINDS:-openai anthropic gemini}"
modes="${E2E_MODES:-text tool}"
cell_timeout="${E2E_CELL_TIMEOUT:-90}"   # one CLI run; a cell normally takes a few seconds
suite_limit="${E2E_SUITE_SECS:-600}"    # past this, the remaining cells fail unrun (the table still prints)
gateway_key="apex-e2e-gateway-key"
upstream_key="scripted-upstream-key"
mkdir -p "$work/npm"
source "$root/host-tests/e2e/lib.sh"

echo "== the CLIs (newest on npm unless pinned; cached in $work/npm)"
started=$(date +%s)
for cli in $clis; do
  install_cli "$cli" || exit 1
done
install_secs=$(( $(date +%s) - started ))
for cli in $clis; do
  var="cli_bin_${cli//-/_}"
  printf '%-12s %s  (%s)\n' "$cli" "$("${!var}" --version 2>&1 | head -1)" "$(cli_package "$cli")"
done
echo "install/check: ${install_secs}s"
[ "${E2E_INSTALL_ONLY:-}" = 1 ] && exit 0

echo "== the scripted provider refuses what the real APIs refuse (test_scripted_provider.py)"
python3 "$root/host-tests/e2e/test_scripted_provider.py" 2>&1 | tail -3 || exit 1

echo "== apex"
if [ -n "${E2E_APEX_BIN:-}" ]; then
  apex_bin="$E2E_APEX_BIN"
else
  # The same build as .ci/hosts.sh, so in CI this is a no-op.
  (cd "$root" && cargo build -p apex-host --locked --bins --quiet) || exit 1
  target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  apex_bin="$target_dir/debug/apex"
fi
start_provider
echo "scripted provider on $provider; secret word $marker"
for kind in $kinds; do launch_apex "$kind"; done
for kind in $kinds; do start_apex "$kind" || exit 1; done

# run_cli CLI KIND MODE DIR: runs the CLI in $project with a fresh home in DIR; its output
# goes to DIR/cli.out; returns its exit status.
run_cli() {
  local cli="$1" kind="$2" mode="$3" dir="$4" apex_var="apex_$2" prompt bin_var="cli_bin_${1//-/_}"
  local apex="${!apex_var}" bin="${!bin_var}"
  if [ "$mode" = text ]; then
    prompt="Say hello in one short sentence."
  else
    prompt="Read the file notes.txt and tell me the secret word in it."
  fi
  mkdir -p "$dir/home"
  cd "$project" || return 1
  case "$cli" in
    claude-code)
      # As README's "Use with Claude Code", nothing more (-p runs Read without asking).
      env -u ANTHROPIC_MODEL -u ANTHROPIC_SMALL_FAST_MODEL HOME="$dir/home" \
        ANTHROPIC_BASE_URL="http://$apex" ANTHROPIC_AUTH_TOKEN="$gateway_key" ANTHROPIC_API_KEY="" \
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
        timeout "$cell_timeout" "$bin" -p "$prompt" ;;
    codex|codex-alias)
      # As README's "Use with Codex": only the provider; Codex's default model, tools (web_search
      # included) and everything else as they come. codex-alias: the same with `model` naming an
      # Apex alias, as README's example does (Codex then uses its generic model family's tools).
      # Its default sandbox (read-only, bubblewrap: Codex bundles one) runs the `cat`;
      # --skip-git-repo-check because the project is no git repository.
      mkdir -p "$dir/home/codex"
      local model_line=""
      [ "$cli" = codex-alias ] && model_line='model = "e2e"'
      cat > "$dir/home/codex/config.toml" <<TOML
$model_line
model_provider = "apex"

[model_providers.apex]
name = "Apex"
base_url = "http://$apex/v1"
env_key = "APEX_E2E_KEY"
wire_api = "responses"
TOML
      env -u OPENAI_API_KEY -u OPENAI_BASE_URL HOME="$dir/home" CODEX_HOME="$dir/home/codex" \
        APEX_E2E_KEY="$gateway_key" \
        timeout "$cell_timeout" "$bin" exec --skip-git-repo-check \
        "$prompt" ;;
    gemini-cli)
      # Gemini's own variables: an API key (the gateway key) and the base URL. With only those,
      # gemini -p picks its `gateway` auth type from GOOGLE_GEMINI_BASE_URL and then refuses it
      # ("Invalid auth method selected.", exit 41; Gemini CLI 0.61), so settings.json names the
      # API-key auth, which still sends to GOOGLE_GEMINI_BASE_URL. Headless runs need the project
      # trusted (GEMINI_CLI_TRUST_WORKSPACE, as its docs say for automation).
      mkdir -p "$dir/home/.gemini"
      echo '{"security": {"auth": {"selectedType": "gemini-api-key"}}}' > "$dir/home/.gemini/settings.json"
      env -u GOOGLE_API_KEY -u GOOGLE_GENAI_USE_VERTEXAI -u GOOGLE_CLOUD_PROJECT HOME="$dir/home" \
        GEMINI_API_KEY="$gateway_key" GOOGLE_GEMINI_BASE_URL="http://$apex" GEMINI_CLI_TRUST_WORKSPACE=true \
        timeout "$cell_timeout" "$bin" -p "$prompt" ;;
  esac
}

results=()
failed=0
suite_started=$(date +%s)
rm -rf "$work/cells"
for cli in $clis; do
  for kind in $kinds; do
    for mode in $modes; do
      dir="$work/cells/$cli-$kind-$mode"
      mkdir -p "$dir"
      provider_from=$(wc -l < "$provider_log")
      exchanges_from=$(wc -l < "$work/exchanges-$kind.jsonl")
      echo "== $cli -> apex -> $kind provider: $mode"
      if [ $(( $(date +%s) - suite_started )) -ge "$suite_limit" ]; then
        echo "FAIL: not run (the suite's ${suite_limit}s are up)"
        failed=1
        results+=("$cli|$kind|$mode|FAIL: not run (the suite's ${suite_limit}s are up)|0s")
        continue
      fi
      started=$(date +%s)
      (run_cli "$cli" "$kind" "$mode" "$dir") > "$dir/cli.out" 2>&1 < /dev/null
      status=$?
      secs=$(( $(date +%s) - started ))
      sleep 0.3 # the last records reach the logs
      tail -n +"$((provider_from + 1))" "$provider_log" > "$dir/provider.jsonl"
      tail -n +"$((exchanges_from + 1))" "$work/exchanges-$kind.jsonl" > "$dir/exchanges.jsonl"
      python3 "$root/host-tests/e2e/check_cell.py" "$dir" "$kind" "$mode" "$marker" "$status" > "$dir/verdict"
      verdict="$(head -1 "$dir/verdict")"
      grep "^requests:" "$dir/verdict"
      if [ "$verdict" = PASS ]; then
        echo "PASS (${secs}s)"
      else
        failed=1
        echo "${verdict} (${secs}s)"
        grep -v "^requests:" "$dir/verdict" | tail -n +2 | cut -c1-2000
        echo "--- apex log (end)"; tail -5 "$work/apex-$kind.out" | cut -c1-2000
      fi
      results+=("$cli|$kind|$mode|$(echo "$verdict" | tr "|" "/" | cut -c1-200)|${secs}s")
    done
  done
done

{
  echo "| CLI | version | provider kind | turn | result | time |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for row in "${results[@]}"; do
    IFS='|' read -r cli kind mode verdict secs <<< "$row"
    var="cli_version_${cli//-/_}"
    echo "| $cli | ${!var} | $kind | $mode | $verdict | $secs |"
  done
} > "$work/results.md"
echo "== results (also in $work/results.md)"
cat "$work/results.md"
exit "$failed"
