# Shared by the end-to-end scripts (sourced): processes, the CLIs from npm, the scripted provider,
# the local Apex instances. Expects `root` (the repository) and `work` (a scratch directory).

pids=()
project=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$project" ] && rm -rf "$(dirname "$project")"
}
trap cleanup EXIT

wait_for() { # file -> the address after `listening on`, from a complete line (a line still
  # being written could hold half an address)
  local address
  for _ in $(seq 1 600); do
    address="$(python3 - "$1" <<'PY'
import re, sys
try:
    lines = open(sys.argv[1], errors="replace").read().split("\n")[:-1]
except FileNotFoundError:
    lines = []
for line in lines:
    found = re.search(r"listening on (?:http://)?([0-9.]+:[0-9]+)", line)
    if found:
        print(found.group(1))
        break
PY
)"
    if [ -n "$address" ]; then echo "$address"; return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $1:" >&2; cat "$1" >&2; return 1
}

# The CLIs: name -> npm package, binary, variable that pins a version.
# codex-alias is Codex with `model` set to an Apex alias, as README's Codex config has it.
cli_package() { case "$1" in claude-code) echo @anthropic-ai/claude-code ;; codex|codex-alias) echo @openai/codex ;; gemini-cli) echo @google/gemini-cli ;; esac; }
cli_binary() { case "$1" in claude-code) echo claude ;; codex|codex-alias) echo codex ;; gemini-cli) echo gemini ;; esac; }
cli_pin() { case "$1" in claude-code) echo "${CLAUDE_CODE_VERSION:-}" ;; codex|codex-alias) echo "${CODEX_VERSION:-}" ;; gemini-cli) echo "${GEMINI_CLI_VERSION:-}" ;; esac; }

# install_cli NAME: the newest version npm serves (`npm view`), or the version its variable pins,
# installed once into $work/npm/<package>@<version> (a rerun reuses it). Without the registry,
# the newest version already installed. Sets cli_bin_<name> and cli_version_<name>.
install_cli() {
  local name="$1" package binary version dir started
  package="$(cli_package "$name")"; binary="$(cli_binary "$name")"
  version="$(cli_pin "$name")"
  if [ -z "$version" ]; then
    version="$(timeout 60 npm view "$package" version 2>/dev/null | tail -1)"
  fi
  if [ -z "$version" ]; then
    version="$(ls -d "$work/npm/${package//\//+}@"* 2>/dev/null | sed 's/.*@//' | sort -V | tail -1)"
    [ -n "$version" ] || { echo "no version of $package: npm view failed and none is installed" >&2; return 1; }
    echo "npm view $package failed; using the newest installed version, $version" >&2
  fi
  dir="$work/npm/${package//\//+}@$version"
  if [ ! -x "$dir/node_modules/.bin/$binary" ]; then
    started=$(date +%s)
    rm -rf "$dir.partial"; mkdir -p "$dir.partial"
    npm install --prefix "$dir.partial" --no-fund --no-audit --loglevel=error "$package@$version" >/dev/null \
      || { echo "npm install $package@$version failed" >&2; return 1; }
    rm -rf "$dir"; mv "$dir.partial" "$dir"
    echo "installed $package@$version in $(( $(date +%s) - started ))s"
  fi
  printf -v "cli_bin_${name//-/_}" '%s' "$dir/node_modules/.bin/$binary"
  printf -v "cli_version_${name//-/_}" '%s' "$version"
}

# start_provider: the scripted provider (scripted_provider.py) for every kind, with each CLI's
# file-reading tool: Claude Code `Read`, Gemini CLI `read_file`, Codex `exec_command`,
# `shell_command` or `shell` (by model family), or, for the models Codex drives in code mode (its
# default), `exec`, a freeform tool whose input is JavaScript calling the nested `exec_command`.
# Sets $provider, $provider_log, $project (a scratch directory, the CLIs' working directory) and
# $marker, the secret word written to $project/notes.txt.
start_provider() {
  marker="apex-e2e-$RANDOM$RANDOM"
  # Outside any git repository, so the CLIs' context (git status, recent commits) holds nothing
  # of Apex's.
  project="$(mktemp -d "${TMPDIR:-/tmp}/apex-e2e.XXXXXX")/project"
  mkdir -p "$project"
  echo "The secret word is $marker." > "$project/notes.txt"
  provider_log="$work/provider.jsonl"; : > "$provider_log"; : > "$work/provider.out"
  local notes="$project/notes.txt"
  E2E_LOG="$provider_log" E2E_UPSTREAM_KEY="$upstream_key" \
  E2E_TOOLS="{\"Read\": {\"file_path\": \"$notes\"}, \"read_file\": {\"file_path\": \"$notes\"},
    \"exec_command\": {\"cmd\": \"cat notes.txt\"}, \"shell_command\": {\"command\": \"cat notes.txt\"},
    \"shell\": {\"command\": [\"cat\", \"notes.txt\"]},
    \"exec\": \"const result = await tools.exec_command({cmd: 'cat notes.txt'});\\ntext(result.output);\"}" \
    python3 "$root/host-tests/e2e/scripted_provider.py" > "$work/provider.out" 2>&1 &
  pids+=($!)
  provider="$(wait_for "$work/provider.out")"
}

# The model each kind's provider serves (the provider's answers name it; Gemini 3 wants its
# thought signatures back).
kind_model() { case "$1" in openai) echo gpt-5-scripted ;; anthropic) echo claude-sonnet-4-5 ;; gemini) echo gemini-3-pro-preview ;; esac; }
kind_base_url() { case "$1" in openai) echo "http://$provider/openai/v1" ;; anthropic) echo "http://$provider/anthropic/v1" ;; gemini) echo "http://$provider/gemini/v1beta" ;; esac; }

# launch_apex KIND: starts an Apex whose every model name goes to the scripted provider of that
# kind (gateway key $gateway_key); writes $work/apex-<kind>.{toml,out}. start_apex KIND then waits
# for it and puts a recording proxy (recording_proxy.py) in front; sets apex_<kind> (the proxy's
# address, what the CLIs use). Launching every kind first lets them start up together.
launch_apex() {
  local kind="$1"
  cat > "$work/apex-$kind.toml" <<TOML
[gateway]
api_keys = { e2e = "apex_e2e_key" }

[providers.scripted]
kind = "$kind"
base_url = "$(kind_base_url "$kind")"
keys = ["e2e_upstream_key"]

[models.e2e]
targets = ["scripted/$(kind_model "$kind")"]

# Every name a CLI sends (its default models, its small fast model) is served by the alias.
[[model_patterns]]
pattern = "*"
model = "e2e"
TOML
  rm -rf "$work/data-$kind"
  : > "$work/apex-$kind.out" # here, not by the child's redirection: wait_for must not read a stale file
  APEX_E2E_KEY="$gateway_key" E2E_UPSTREAM_KEY="$upstream_key" "$apex_bin" --listen 127.0.0.1:0 \
    --config "$work/apex-$kind.toml" --data-dir "$work/data-$kind" > "$work/apex-$kind.out" 2>&1 &
  pids+=($!)
}

start_apex() {
  local kind="$1" address proxy
  address="$(wait_for "$work/apex-$kind.out")" || return 1
  : > "$work/exchanges-$kind.jsonl"; : > "$work/proxy-$kind.out"
  E2E_EXCHANGES="$work/exchanges-$kind.jsonl" python3 "$root/host-tests/e2e/recording_proxy.py" "$address" \
    > "$work/proxy-$kind.out" 2>&1 &
  pids+=($!)
  proxy="$(wait_for "$work/proxy-$kind.out")"
  printf -v "apex_$kind" '%s' "$proxy"
  echo "apex ($kind kind) on $address, through the recording proxy on $proxy"
}
