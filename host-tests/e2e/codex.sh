#!/usr/bin/env bash
# End to end: the real Codex (npm @openai/codex, `codex exec`) through Apex to scripted providers of the openai,
# anthropic and gemini kinds — run-all.sh's cells for this one CLI (see there).
#
#   bash host-tests/e2e/codex.sh
#   E2E_KINDS=anthropic bash host-tests/e2e/codex.sh
exec env E2E_CLIS=codex bash "$(dirname "$0")/run-all.sh" "$@"
