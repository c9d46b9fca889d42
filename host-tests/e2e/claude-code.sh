#!/usr/bin/env bash
# End to end: the real Claude Code (npm @anthropic-ai/claude-code, `claude -p`) through Apex to scripted providers of the openai,
# anthropic and gemini kinds — run-all.sh's cells for this one CLI (see there).
#
#   bash host-tests/e2e/claude-code.sh
#   E2E_KINDS=anthropic bash host-tests/e2e/claude-code.sh
exec env E2E_CLIS=claude-code bash "$(dirname "$0")/run-all.sh" "$@"
