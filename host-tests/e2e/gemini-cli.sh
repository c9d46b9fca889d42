#!/usr/bin/env bash
# End to end: the real Gemini CLI (npm @google/gemini-cli, `gemini -p`) through Apex to scripted providers of the openai,
# anthropic and gemini kinds — run-all.sh's cells for this one CLI (see there).
#
#   bash host-tests/e2e/gemini-cli.sh
#   E2E_KINDS=anthropic bash host-tests/e2e/gemini-cli.sh
exec env E2E_CLIS=gemini-cli bash "$(dirname "$0")/run-all.sh" "$@"
