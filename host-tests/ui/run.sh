#!/usr/bin/env bash
# The status page in a real headless browser: Debian's `chromium`, driven by playwright-core
# (pinned in package.json / package-lock.json here), against the `apex` binary on loopback.
#
#   bash host-tests/ui/run.sh               # builds apex (debug) if needed
#   UI_APEX_BIN=target/debug/apex bash host-tests/ui/run.sh
#
# What it does: starts a scripted OpenAI-compatible provider (fake_provider.py: a 429 with
# `retry-after: 120` for the first request, 401 for one key), an `apex` with gateway keys (an
# admin key and a tenant key) and one without (an open gateway), sends a few requests so that a
# key is benched (rate limited) and another refused, then check.mjs drives chromium: the page
# asks for the admin key, shows the benched key with its time left counting down, the refused
# key, the aliases and their targets, error classes, percentiles, refreshes itself, shows 401 and
# 403 as messages, escapes what it shows, loads at once on the open gateway; no console errors
# and no failed requests. Screenshot: target/ui/status.png (also status-open.png, status-403.png).
#
# Needs: cargo, python3, curl, node 20+ with npm (the registry once, for `npm ci`), and chromium
# (`apt-get install -y chromium`; UI_CHROMIUM names another binary).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/target/ui"
chromium="${UI_CHROMIUM:-/usr/bin/chromium}"
admin_key="ui-admin-key-0123456789"
tenant_key="ui-tenant-key-0123456789"

[ -x "$chromium" ] || { echo "no chromium at $chromium (apt-get install -y chromium)" >&2; exit 1; }
"$chromium" --version 2>/dev/null # (Debian's wrapper script prints a shell warning on stderr)

if [ ! -f "$here/node_modules/playwright-core/package.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -n "${UI_APEX_BIN:-}" ]; then
  apex_bin="$UI_APEX_BIN"
else
  (cd "$root" && cargo build -p apex-host --bin apex --locked --quiet)
  target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  apex_bin="$target_dir/debug/apex"
fi

rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# wait_for LOG PID: the address after `listening on` in LOG (120 s at most: apex compiles the
# components on its first start).
wait_for() {
  local log="$1" pid="$2" address
  for _ in $(seq 1200); do
    address="$(sed -n 's/.*listening on \(http:\/\/\)\{0,1\}\([0-9.]*:[0-9]*\).*/\2/p' "$log" | head -n1)"
    if [ -n "$address" ]; then echo "$address"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "exited before listening: $log" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "timed out waiting for $log" >&2; cat "$log" >&2; return 1
}

: > "$work/provider.out"; : > "$work/apex.out"; : > "$work/apex-open.out"
UI_REFUSED_KEY="ui-refused-upstream-key" UI_RETRY_AFTER=120 \
  python3 "$here/fake_provider.py" > "$work/provider.out" 2>&1 &
pids+=($!)
provider="$(wait_for "$work/provider.out" "${pids[-1]}")"

# providers_toml: the providers and aliases both gateways serve.
providers_toml() {
  cat <<TOML
[providers.primary]
kind = "openai"
base_url = "http://$provider/v1"
keys = ["ui_primary_key_a", "ui_primary_key_b"]

[providers.backup]
kind = "openai"
base_url = "http://$provider/v1"
keys = ["ui_backup_key"]

[providers.refusing]
kind = "openai"
base_url = "http://$provider/v1"
keys = ["ui_refused_key"]

[models.chat]
targets = ["primary/gpt-4o-mini", "backup/gpt-4o-mini"]

[models.guarded]
strategy = "round-robin"
targets = ["refusing/gpt-4o-mini", "backup/gpt-4o-mini"]

# A name that is markup: the page must show it as text.
[models.'<b id="injected">bold</b>']
targets = ["backup/gpt-4o-mini"]

[[model_patterns]]
pattern = "gpt-*"
model = "chat"
TOML
}
{
  printf '[gateway]\napi_keys = { ops = "ui_admin_key", alice = "ui_tenant_key" }\nadmin_keys = ["ops"]\nauto_providers = false\n\n'
  providers_toml
} > "$work/apex.toml"
{
  printf '[gateway]\nauto_providers = false\n\n'
  providers_toml
} > "$work/apex-open.toml"

export ui_admin_key="$admin_key" ui_tenant_key="$tenant_key"
export ui_primary_key_a="ui-primary-upstream-key-a" ui_primary_key_b="ui-primary-upstream-key-b"
export ui_backup_key="ui-backup-upstream-key" ui_refused_key="ui-refused-upstream-key"

started=$(date +%s)
"$apex_bin" --listen 127.0.0.1:0 --config "$work/apex.toml" --data-dir "$work/data" > "$work/apex.out" 2>&1 &
pids+=($!)
apex="$(wait_for "$work/apex.out" "${pids[-1]}")"
echo "apex (gateway keys) on $apex after $(( $(date +%s) - started ))s; scripted provider on $provider"
# The open gateway reuses the compiled components (its own data folder, the same code cache).
mkdir -p "$work/data-open"
cp -r "$work/data/cache" "$work/data-open/cache" 2>/dev/null || true
"$apex_bin" --listen 127.0.0.1:0 --config "$work/apex-open.toml" --data-dir "$work/data-open" > "$work/apex-open.out" 2>&1 &
pids+=($!)
apex_open="$(wait_for "$work/apex-open.out" "${pids[-1]}")"
echo "apex (open) on $apex_open"

# Traffic: the first upstream request gets the 429 (that key is benched for 120 s, the request
# fails over), `guarded` meets the refused key; a tenant's requests, as clients send them.
chat() {
  curl -s -o "$work/answer.json" -w '%{http_code}' "http://$apex/v1/chat/completions" \
    -H "authorization: Bearer $tenant_key" -H 'content-type: application/json' \
    -d "{\"model\": \"$1\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"
}
for model in chat guarded guarded chat gpt-4o; do
  echo "POST /v1/chat/completions $model -> $(chat "$model")"
done
state="$(curl -s "http://$provider/state")"
echo "provider: $state"
benched_key="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rate_limited_key"] or "")' "$state")"
case "$benched_key" in
  "$ui_primary_key_a") benched="primary#0" ;;
  "$ui_primary_key_b") benched="primary#1" ;;
  "$ui_backup_key") benched="backup#0" ;;
  *) echo "the provider answered no 429 (rate_limited_key: '$benched_key')" >&2; exit 1 ;;
esac
echo "benched (429, retry-after 120): $benched"

UI_BASE="http://$apex" UI_OPEN_BASE="http://$apex_open" UI_ADMIN_KEY="$admin_key" \
  UI_TENANT_KEY="$tenant_key" UI_BENCHED="$benched" UI_REFUSED="refusing#0" UI_OUT="$work" \
  UI_CHROMIUM="$chromium" UI_SECRETS="$ui_primary_key_a,$ui_primary_key_b,$ui_backup_key,$ui_refused_key" \
  timeout 120 node "$here/check.mjs"
