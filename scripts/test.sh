#!/usr/bin/env bash
# The whole test suite: set-up (installs and builds what is missing), lint, then every ava test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s lint
npx ava "$@"
