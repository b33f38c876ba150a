#!/usr/bin/env bash
# The main job on the default input: set-up (packages, build, samples, fixtures), then build a UKI from Debian's
# systemd-stub 252 and Linux 6.1 kernel with a generated initrd, inspect it, and boot it to ExitBootServices,
# writing the report to out/uki.json and the kexec hand-off to out/kexec/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
F=.cache/fixtures
node -e "require('fs').writeFileSync('out/initrd.cpio', require('./dist/src/initrd/cpio.js').makeTestInitrd())"
echo "== stubemu uki build"
node dist/src/cli.js uki build --stub "$F/stub-252/linuxx64.efi.stub" --linux "$F/kernel-6.1-cloud/vmlinuz" --initrd out/initrd.cpio \
  --cmdline "console=ttyS0 root=/dev/vda1 ro" --os-release "ID=debian
VERSION_ID=12
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"" -o out/debian-uki.efi
echo "== stubemu uki inspect out/debian-uki.efi"
node dist/src/cli.js uki inspect out/debian-uki.efi | head -n 25
echo "== stubemu run out/debian-uki.efi --json out/uki.json --kexec-out out/kexec"
node dist/src/cli.js run out/debian-uki.efi --json out/uki.json --kexec-out out/kexec
echo "== the hand-off, as kexec would take it:"
echo "kexec --load out/kexec/kernel --initrd out/kexec/initrd --command-line \"\$(cat out/kexec/cmdline)\""
