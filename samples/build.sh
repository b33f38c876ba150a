#!/usr/bin/env bash
# Builds every sample EFI program into samples/build/NAME.efi with gnu-efi (x86_64, Microsoft ABI), reproducibly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
obj="$out/obj"
gen="$out/gen"

# child must come before images (images.c embeds child.efi), driver before connect. SAMPLES="hello memory"
# builds a subset.
read -r -a samples <<<"${SAMPLES:-hello memory child images events protocols variables textio memattr driver connect}"

efi_inc=/usr/include/efi
efi_lib=/usr/lib
crt0="$efi_lib/crt0-efi-x86_64.o"
lds="$efi_lib/elf_x86_64_efi.lds"

die() { echo "samples/build.sh: $*" >&2; exit 1; }

need_tool() { # tool, Debian package
  command -v "$1" >/dev/null 2>&1 || die "$1 not found; install the '$2' package (apt-get install $2)"
}
need_tool gcc gcc
need_tool ld binutils
need_tool objcopy binutils
need_tool objdump binutils
need_tool readelf binutils
need_tool file file
for f in "$efi_inc/efi.h" "$efi_inc/x86_64/efibind.h" "$crt0" "$lds" "$efi_lib/libefi.a" "$efi_lib/libgnuefi.a"; do
  [[ -e "$f" ]] || die "$f not found; install the 'gnu-efi' package (apt-get install gnu-efi)"
done

# Flags gnu-efi documents for x86_64 with the Microsoft calling convention (Make.defaults, README.gnuefi).
cflags=(
  -std=gnu11 -O2 -Wall -Wextra -Werror
  -fpic -fshort-wchar -mno-red-zone -ffreestanding -fno-stack-protector -fno-strict-aliasing
  -fno-builtin -maccumulate-outgoing-args
  -DEFI_FUNCTION_WRAPPER -DGNU_EFI_USE_MS_ABI
  -I"$efi_inc" -I"$efi_inc/x86_64" -I"$efi_inc/protocol" -I"$here" -I"$gen"
  -ffile-prefix-map="$here"=samples
)
# -z defs: an unresolved symbol is an error here, not a crash inside the guest.
ldflags=(-nostdlib -znocombreloc -z defs -T "$lds" -shared -Bsymbolic)
sections=(-j .text -j .sdata -j .data -j .dynamic -j .rodata -j .rel -j .rela -j '.rel.*' -j '.rela.*' -j .reloc)

# C array of a file's bytes for embedding (xxd -i when present).
embed() { # input file, output header, symbol name
  local in="$1" hdr="$2" name="$3"
  if command -v xxd >/dev/null 2>&1; then
    { (cd "$(dirname "$in")" && xxd -i "$(basename "$in")") |
        sed -e "s/^unsigned char [A-Za-z0-9_]*\\[\\]/static const unsigned char ${name}[]/" \
            -e "s/^unsigned int [A-Za-z0-9_]*_len/static const unsigned int ${name}_len/"; } >"$hdr.tmp"
  else
    need_tool od coreutils
    {
      echo "static const unsigned char ${name}[] = {"
      od -An -v -tx1 "$in" | sed -e 's/  */ /g' -e 's/^ //' -e 's/ $//' -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
      echo "};"
      echo "static const unsigned int ${name}_len = $(wc -c <"$in");"
    } >"$hdr.tmp"
  fi
  mv "$hdr.tmp" "$hdr"
}

# PE/COFF FileHeader.TimeDateStamp (PE signature + 8): binutils 2.40 objcopy copies 0 from the ELF input,
# other versions may write the build time. If it is set, zero it together with OptionalHeader.CheckSum
# (PE signature + 24 + 64), which covers it; UEFI loaders do not check CheckSum, and 0 means "none".
zero_timestamp() { # efi file
  local f="$1" pe
  pe=$(od -An -tu4 -j 60 -N 4 "$f" | tr -d ' ')
  [[ "$(od -An -tx1 -j "$pe" -N 4 "$f" | tr -d ' ')" == 50450000 ]] || die "$f: no PE signature at $pe"
  if [[ "$(od -An -tu4 -j $((pe + 8)) -N 4 "$f" | tr -d ' ')" != 0 ]]; then
    printf '\0\0\0\0' | dd of="$f" bs=1 seek=$((pe + 8)) conv=notrunc status=none
    printf '\0\0\0\0' | dd of="$f" bs=1 seek=$((pe + 24 + 64)) conv=notrunc status=none
  fi
}

# PE subsystem: driver.c is an EFI boot service driver (11), the others applications (10).
subsystem_of() { [[ "$1" == driver ]] && echo 11 || echo 10; }

verify() { # efi file, sample name
  local f="$1" name="$2" kind heads others want="EFI application"
  [[ "$(subsystem_of "$name")" == 11 ]] && want="EFI boot service driver"
  kind=$(file -b "$f")
  [[ "$kind" == *"PE32+ executable ($want) x86-64"* ]] || die "$name: not a PE32+ $want: $kind"
  heads=$(objdump -h "$f")
  for s in .text .data .reloc; do
    grep -q " $s " <<<"$heads" || die "$name: section $s missing from $f"
  done
  # gnu-efi's _relocate only applies R_X86_64_RELATIVE; anything else would be left unapplied in the guest.
  others=$(readelf -rW "$obj/$name.so" | awk '/^[0-9a-f]+ +[0-9a-f]+ +R_X86_64_/ && $3 != "R_X86_64_RELATIVE"' | wc -l)
  [[ "$others" -eq 0 ]] || die "$name: $others dynamic relocations other than R_X86_64_RELATIVE"
}

mkdir -p "$out" "$obj" "$gen"
export LC_ALL=C SOURCE_DATE_EPOCH=0

for name in "${samples[@]}"; do
  src="$here/$name.c"
  [[ -f "$src" ]] || die "$src missing"
  if [[ "$name" == images ]]; then
    [[ -f "$out/child.efi" ]] || die "images embeds build/child.efi: build child first (SAMPLES=\"child images\")"
    embed "$out/child.efi" "$gen/child_efi.h" child_efi
  fi
  if [[ "$name" == connect ]]; then
    [[ -f "$out/driver.efi" ]] || die "connect embeds build/driver.efi: build driver first (SAMPLES=\"driver connect\")"
    embed "$out/driver.efi" "$gen/driver_efi.h" driver_efi
  fi
  gcc "${cflags[@]}" -c "$src" -o "$obj/$name.o" || die "$name: compiling $name.c failed"
  ld "${ldflags[@]}" "$crt0" "$obj/$name.o" -o "$obj/$name.so" -L"$efi_lib" -lefi -lgnuefi ||
    die "$name: linking failed"
  objcopy "${sections[@]}" --target efi-app-x86_64 --subsystem="$(subsystem_of "$name")" "$obj/$name.so" "$out/$name.efi" ||
    die "$name: objcopy to PE failed"
  zero_timestamp "$out/$name.efi"
  verify "$out/$name.efi" "$name"
  size=$(wc -c <"$out/$name.efi")
  echo "built samples/build/$name.efi ($size bytes, $(sha256sum "$out/$name.efi" | cut -c1-16))"
done
