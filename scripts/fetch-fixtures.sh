#!/usr/bin/env bash
# Fetches the real test inputs with apt-get download into .cache/fixtures (git-ignored, never committed):
# Debian's systemd-boot-efi (linuxx64.efi.stub, systemd-bootx64.efi) and the newest Linux 6.1
# linux-image-*-cloud-amd64-unsigned (vmlinuz). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/fixtures
mkdir -p "$out/debs"
if [ -e "$out/linuxx64.efi.stub" ] && [ -e "$out/vmlinuz" ] && [ -e "$out/systemd-bootx64.efi" ]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-fixtures: needs apt-get (a Debian machine)" >&2; exit 1; }
if [ -z "$(apt-cache policy systemd-boot-efi 2>/dev/null | grep Candidate | grep -v none)" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -q >/dev/null; else echo "fetch-fixtures: run 'apt-get update' as root first" >&2; exit 1; fi
fi
kernel=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "fetch-fixtures: no linux-image-6.1.0-*-cloud-amd64-unsigned package found" >&2; exit 1; }
echo "fetch-fixtures: apt-get download systemd-boot-efi $kernel"
(cd "$out/debs" && rm -f ./*.deb && apt-get download -q systemd-boot-efi "$kernel" >/dev/null)
rm -rf "$out/x" && mkdir -p "$out/x"
for d in "$out"/debs/*.deb; do dpkg-deb -x "$d" "$out/x"; done
cp "$out/x/usr/lib/systemd/boot/efi/linuxx64.efi.stub" "$out/linuxx64.efi.stub"
cp "$out/x/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$out/systemd-bootx64.efi"
cp "$(ls "$out"/x/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz"
basename "$(ls "$out"/x/boot/vmlinuz-* | head -n 1)" | sed 's/^vmlinuz-//' > "$out/kernel-release"
dpkg-deb -f "$out"/debs/systemd-boot-efi_*.deb Version > "$out/systemd-version"
rm -rf "$out/x"
echo "fetch-fixtures: $(cat "$out/kernel-release"), systemd-boot-efi $(cat "$out/systemd-version")"
