#!/usr/bin/env bash
# Run the public fault benchmark failoverbench (github.com/failoverbench/failoverbench) against Apex.
#
#   bench/failoverbench/run.sh [--fast | --profile fast|full] [--only S01,S08] [--keep] [--config-only]
#
#   --keep         keep Apex's data folder (its key-value store) in the run folder
#   --config-only  write bench/failoverbench/apex.toml and stop
#
# Environment:
#   FAILOVERBENCH_DIR  a checkout of failoverbench (default: ../failoverbench, beside this repository)
#   APEX_BIN           the apex binary (default: target/release/apex, else target/debug/apex)
#   WALL_PORT          port of failoverbench's wall, the fake provider (default 8401)
#   APEX_PORT          port Apex listens on (default 18787)
#   VENV_DIR           Python venv for failoverbench (default: $FAILOVERBENCH_DIR/.venv)
#   PYTHON             interpreter that makes the venv (default python3)
#   APEX_TTFT_MS, APEX_STALL_MS, APEX_RETRIES, APEX_MAX_RETRY_WAIT_SECS, APEX_RETRY_BACKOFF_MS
#                      the fault settings written into apex.toml (10000, 8000, 1, 5, 250)
#   FB_PROVIDERS       per-scenario (default: each scenario's primary on a provider section of its
#                      own, the fallbacks on another) or shared (every model on one provider)
#
# What it does: installs failoverbench's Python dependencies into a venv (pip),
# writes bench/failoverbench/apex.toml from the benchmark's scenario catalogue (one alias per
# scenario model: the wall's model, then the scenario's fallback, as the benchmark configures the
# other gateways), starts the wall and Apex (on a fresh data folder), runs failoverbench's runner against Apex
# through its `endpoint` adapter (our system file: bench/failoverbench/apex.system.yaml), and
# prints the scorecard. Everything a run produces (logs, results JSON, SCORECARD.md) goes to
# bench/failoverbench/runs/<UTC time>-<profile>/ (not committed).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

PROFILE=full
ONLY=""
KEEP=0
CONFIG_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) PROFILE=fast ;;
    --full) PROFILE=full ;;
    --profile) PROFILE="${2:?--profile needs fast or full}"; shift ;;
    --profile=*) PROFILE="${1#--profile=}" ;;
    --only) ONLY="${2:?--only needs scenario ids, e.g. S01,S08}"; shift ;;
    --only=*) ONLY="${1#--only=}" ;;
    --keep) KEEP=1 ;;
    --config-only) CONFIG_ONLY=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
case "$PROFILE" in fast|full) ;; *) echo "run.sh: profile must be fast or full" >&2; exit 2 ;; esac

FAILOVERBENCH_DIR="${FAILOVERBENCH_DIR:-$ROOT/../failoverbench}"
[ -f "$FAILOVERBENCH_DIR/failoverbench/wall.py" ] || {
  echo "run.sh: no failoverbench checkout at $FAILOVERBENCH_DIR (set FAILOVERBENCH_DIR;" \
       "git clone https://github.com/failoverbench/failoverbench)" >&2; exit 2; }
FAILOVERBENCH_DIR="$(cd "$FAILOVERBENCH_DIR" && pwd)"

if [ -z "${APEX_BIN:-}" ]; then
  for b in "$ROOT/target/release/apex" "$ROOT/target/debug/apex"; do
    [ -x "$b" ] && { APEX_BIN="$b"; break; }
  done
fi
[ "$CONFIG_ONLY" = 1 ] || { [ -n "${APEX_BIN:-}" ] && [ -x "$APEX_BIN" ]; } || {
  echo "run.sh: no apex binary (cargo build --release -p apex-host, or set APEX_BIN)" >&2; exit 2; }

WALL_PORT="${WALL_PORT:-8401}"
APEX_PORT="${APEX_PORT:-18787}"
TTFT_MS="${APEX_TTFT_MS:-10000}"
STALL_MS="${APEX_STALL_MS:-8000}"
RETRIES="${APEX_RETRIES:-1}"
MAX_RETRY_WAIT="${APEX_MAX_RETRY_WAIT_SECS:-5}"
RETRY_BACKOFF_MS="${APEX_RETRY_BACKOFF_MS:-250}"
FB_PROVIDERS="${FB_PROVIDERS:-per-scenario}"
case "$FB_PROVIDERS" in shared|per-scenario) ;; *) echo "run.sh: FB_PROVIDERS is shared or per-scenario" >&2; exit 2 ;; esac
VENV_DIR="${VENV_DIR:-$FAILOVERBENCH_DIR/.venv}"
WALL_URL="http://127.0.0.1:$WALL_PORT"
APEX_URL="http://127.0.0.1:$APEX_PORT"

RUN="$HERE/runs/$(date -u +%Y%m%dT%H%M%SZ)-$PROFILE"
mkdir -p "$RUN"
[ "$CONFIG_ONLY" = 1 ] || echo "== run folder: $RUN"

# ---- failoverbench's Python dependencies ------------------------------------------------------
if [ ! -x "$VENV_DIR/bin/python" ]; then
  echo "== creating venv $VENV_DIR"
  "${PYTHON:-python3}" -m venv "$VENV_DIR"
fi
PY="$VENV_DIR/bin/python"
if ! "$PY" -c 'import failoverbench.runner' >/dev/null 2>&1 || [ "$FAILOVERBENCH_DIR/pyproject.toml" -nt "$VENV_DIR/.fb-installed" ]; then
  echo "== pip install -e $FAILOVERBENCH_DIR"
  "$PY" -m pip install --quiet --disable-pip-version-check -e "$FAILOVERBENCH_DIR"
  touch "$VENV_DIR/.fb-installed"
fi

# ---- processes: the wall and Apex; both stopped on exit ----------------------------------------
WALL_PID=""
APEX_PID=""
cleanup() {
  local status=$?
  [ -n "$APEX_PID" ] && kill "$APEX_PID" 2>/dev/null && { wait "$APEX_PID" 2>/dev/null || true; }
  [ -n "$WALL_PID" ] && kill "$WALL_PID" 2>/dev/null && { wait "$WALL_PID" 2>/dev/null || true; }
  [ "$KEEP" = 1 ] || rm -rf "$RUN/apex-data"
  # The script's own status, not the stopped processes'.
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # url seconds what
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run.sh: $3 did not answer at $1 within $2 s" >&2
  return 1
}

# ---- Apex config: one alias per scenario model, the wall's model then its fallback -------------
CONFIG="$HERE/apex.toml"
"$PY" - "$FAILOVERBENCH_DIR/scenarios/catalogue.yaml" "$CONFIG" "$WALL_URL/v1" \
  "$TTFT_MS" "$STALL_MS" "$RETRIES" "$MAX_RETRY_WAIT" "$RETRY_BACKOFF_MS" "$FB_PROVIDERS" <<'PYEOF'
import sys, yaml
cat_path, out, wall, ttft, stall, retries, max_wait, backoff, layout = sys.argv[1:]
cat = yaml.safe_load(open(cat_path, encoding="utf-8"))
default_fb = cat.get("default_fallback", "fb-ok")
lines = [
    "# Apex under failoverbench: written by bench/failoverbench/run.sh from the benchmark's scenario",
    "# catalogue. Each scenario model is an alias whose targets are the wall's model of that name, then",
    "# the scenario's fallback, both on the wall (an OpenAI-compatible provider) — the shape the",
    "# benchmark gives the other gateways (one primary per scenario model plus a fallback).",
    "",
    "[gateway]",
    "auto_providers = false",
    "echo_model = false",
    f"retries = {int(retries)}                   # same-target tries before the next target (5xx, overload, refused connection)",
    f"retry_backoff_ms = {int(backoff)}",
    f"max_retry_wait_secs = {int(max_wait)}       # a 429 is retried on the same target only if its Retry-After is at most this",
    "# The benchmark's other gateways fall back on a context-length 400 (LiteLLM: context_window_fallbacks);",
    "# Apex does so only when `context-too-long` is listed.",
    'failover_on = ["rate-limited", "server", "overloaded", "timeout", "connect", "auth", "not-found", "malformed-reply", "context-too-long"]',
    "",
    "# A 429 benches the provider key that got it (a keyless provider's: the model). Each scenario's",
    "# primary still gets a provider section of its own and the fallbacks another, all at the wall, so",
    "# that no scenario's failures count against the next one's models (the benchmark's other gateways",
    "# keep cooldowns per deployment). FB_PROVIDERS=shared puts every model on one provider instead.",
]
shared = layout == "shared"

def provider(name):
    return ["", f"[providers.{name}]", 'kind = "openai"', 'profile = "openai"', f'base_url = "{wall}"', "keys = []"]

lines += provider("wall") if shared else provider("fallback")
fb_provider = "wall" if shared else "fallback"
# the healthy models as aliases of their own too: the runner's alive probe asks for `fb-ok` directly
aliases = [(fb, [f"{fb_provider}/{fb}"]) for fb in dict.fromkeys([default_fb, "fb-ok-noprefill"])]
seen = {a for a, _ in aliases}
for sc in cat["scenarios"]:
    m = sc["model"]
    if m in seen:
        continue
    seen.add(m)
    if shared:
        prim = "wall"
    else:
        prim = sc["id"].lower()
        lines += provider(prim)
    aliases.append((m, [f"{prim}/{m}", f"{fb_provider}/{sc.get('fallback_model', default_fb)}"]))
for alias, targets in aliases:
    lines += ["", f'[models."{alias}"]', "targets = [" + ", ".join(f'"{t}"' for t in targets) + "]"]
    if len(targets) > 1:
        lines += [f"ttft_ms = {int(ttft)}", f"stall_ms = {int(stall)}", f"retries = {int(retries)}", "resume = true"]
open(out, "w", encoding="utf-8").write("\n".join(lines) + "\n")
PYEOF
cp "$CONFIG" "$RUN/apex.toml"
[ "$CONFIG_ONLY" = 1 ] && { echo "== wrote $CONFIG"; rmdir "$RUN" 2>/dev/null || rm -rf "$RUN"; exit 0; }

if curl -fsS -o /dev/null --max-time 1 "$WALL_URL/control/health" 2>/dev/null; then
  echo "run.sh: something already answers on $WALL_URL (set WALL_PORT)" >&2; exit 1
fi
echo "== starting the wall on $WALL_URL (profile $PROFILE)"
( cd "$FAILOVERBENCH_DIR" && exec "$PY" -m failoverbench wall --host 127.0.0.1 --port "$WALL_PORT" --profile "$PROFILE" -v ) \
  2>"$RUN/wall.log" &
WALL_PID=$!
wait_for "$WALL_URL/control/health" 20 "the wall"


APEX_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== starting Apex ($APEX_BIN, checkout $APEX_COMMIT) on $APEX_URL"
if curl -fsS -o /dev/null --max-time 1 "$APEX_URL/health" 2>/dev/null; then
  echo "run.sh: something already answers on $APEX_URL (set APEX_PORT)" >&2; exit 1
fi
"$APEX_BIN" --config "$CONFIG" --listen "127.0.0.1:$APEX_PORT" --data-dir "$RUN/apex-data" >"$RUN/apex.log" 2>&1 &
APEX_PID=$!
wait_for "$APEX_URL/health" 30 "Apex"

# ---- the benchmark's runner, Apex as an OpenAI-compatible endpoint -----------------------------
sed -e "s#http://127.0.0.1:18787/v1#$APEX_URL/v1#" \
    -e "s#@APEX_COMMIT@#$APEX_COMMIT#" "$HERE/apex.system.yaml" >"$RUN/apex.system.yaml"
echo "== failoverbench run (profile $PROFILE${ONLY:+, only $ONLY})"
RUN_ARGS=(--system "$RUN/apex.system.yaml" --wall "$WALL_URL" --profile "$PROFILE" --out "$RUN/results")
[ -n "$ONLY" ] && RUN_ARGS+=(--only "$ONLY")
( cd "$FAILOVERBENCH_DIR" && "$PY" -m failoverbench run "${RUN_ARGS[@]}" ) | tee "$RUN/runner.log"
( cd "$FAILOVERBENCH_DIR" && "$PY" -m failoverbench report --results "$RUN/results" --profile "$PROFILE" \
    --out "$RUN/SCORECARD.md" ) 2>/dev/null || true

# ---- scorecard -----------------------------------------------------------------------------------
"$PY" - "$RUN/results/$PROFILE/apex.json" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
print()
print(f"failoverbench {doc['failoverbench']} · methodology v{doc['methodology']} · profile {doc['profile']} · "
      f"{doc['system']['label']} · {doc['run_started_at']} · {doc['run_seconds']:.0f}s")
print()
print(f"{'':4}{'verdict':8} {'scenario':40} {'p/f':>5} {'wall':>7}  reason")
for r in doc["scenarios"]:
    m = r["metrics"]
    pf = f"{m['attempts_primary']}/{m['attempts_fallback']}"
    print(f"{r['id']:4}{r['verdict']:8} {r['title'][:40]:40} {pf:>5} {m['elapsed_s']:6.1f}s  {r['reason']}")
    for c in r["checks"]:
        if c["status"] in ("fail", "info"):
            print(f"{'':13}- {c['id']} {c['status'].upper()}{' (advisory)' if c['severity'] == 'advisory' else ''}: {c['detail']}")
    if r["verdict"] != "pass":
        for a in m.get("wall_actions", [])[:8]:
            print(f"{'':13}  wall: {a}")
        if m.get("error"):
            print(f"{'':13}  client got: {str(m['error'])[:160]}")
s = doc["summary"]
print()
print(f"Apex: pass {s['pass']} · partial {s['partial']} · safe {s['safe']} · fail {s['fail']}")
PYEOF
echo "== results: $RUN (SCORECARD.md, results/$PROFILE/apex.json, wall.log, apex.log)"
