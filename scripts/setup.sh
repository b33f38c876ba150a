#!/usr/bin/env bash
# Installs what stubemu needs on a Debian machine that has Node and npm, builds it and its sample programs.
# Idempotent: a second run only rebuilds what changed. Root installs Debian packages with apt-get;
# anyone else gets a message naming the packages to install.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
# The CPU engine is Unicorn 2.1.1 (Debian 13's libunicorn2t64, needs only glibc >= 2.34): the fixtures step below
# fetches it into .cache/fixtures/unicorn-2.1.1/ with a private apt configuration; a system library is used when it
# is itself a good version (emulator/cpu/unicorn-library.ts). Bookworm's libunicorn2 (2.0.1) is not needed.
[ -e /usr/lib/crt0-efi-x86_64.o ] || need_pkgs+=(gnu-efi)
command -v gcc >/dev/null || need_pkgs+=(gcc)
command -v objcopy >/dev/null || need_pkgs+=(binutils)
command -v python3 >/dev/null || need_pkgs+=(python3)
# Independent checkers the tests compare against: tpm2_eventlog, pesign's Authenticode hash, systemd-measure.
command -v tpm2_eventlog >/dev/null || need_pkgs+=(tpm2-tools)
command -v pesign >/dev/null || need_pkgs+=(pesign)
command -v sbsign >/dev/null || need_pkgs+=(sbsigntool)
command -v openssl >/dev/null || need_pkgs+=(openssl)
[ -x /usr/lib/systemd/systemd-measure ] || [ -x /lib/systemd/systemd-measure ] || need_pkgs+=(systemd)
command -v mcopy >/dev/null || need_pkgs+=(mtools)
command -v fsck.fat >/dev/null || need_pkgs+=(dosfstools)
command -v sfdisk >/dev/null || need_pkgs+=(fdisk)
# The conformance reference (npm run conformance): QEMU + OVMF + swtpm (swtpm_setup picks the PCR banks).
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || need_pkgs+=(ovmf)
command -v swtpm >/dev/null || need_pkgs+=(swtpm)
command -v swtpm_setup >/dev/null || need_pkgs+=(swtpm-tools)
# The HTML report's browser test: Debian's chromium driven by playwright-core; `script` gives the progress test a terminal.
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
command -v script >/dev/null || need_pkgs+=(bsdutils)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need_pkgs[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${need_pkgs[*]}" >&2
    echo "setup: install them as root: apt-get install ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

# npm dependencies, exactly as locked; skipped when node_modules is up to date with the lock file.
if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building (tsc)"
npx tsc -p tsconfig.json

echo "setup: building samples"
bash samples/build.sh

echo "setup: fixtures (fixtures/manifest.json: Debian's stubs, kernels and tools, pinned)"
node dist/scripts/fixtures/main.js

# The engine the runs will use (a slow or broken version prints a warning naming the package to use).
node dist/src/cli.js --version
