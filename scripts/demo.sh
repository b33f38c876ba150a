#!/usr/bin/env bash
# The main job on the default input: set-up, then run the sample programs and write their reports to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
for s in hello memory images; do
  echo "== stubemu run samples/build/$s.efi --json out/$s.json"
  node dist/src/cli.js run "samples/build/$s.efi" --load-options "demo options" --json "out/$s.json" || echo "(exit code $?)"
done
