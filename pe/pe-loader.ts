// Lays a parsed PE32+ image out in memory and applies its base relocations (STYLE 10: place → copy → relocate).
import { hex, PeFormatError } from './pe-error';
import {
  IMAGE_BASE_RELOCATION, IMAGE_DIRECTORY_ENTRY, IMAGE_FILE_HEADER, IMAGE_FILE_RELOCS_STRIPPED,
  IMAGE_REL_BASED_ABSOLUTE, IMAGE_REL_BASED_DIR64, IMAGE_REL_BASED_NAMES,
} from './pe-format';
import type { PeImage } from './pe-image';
import { sectionCopySize } from './pe-section';

/**
 * The in-memory image: SizeOfImage zero bytes, the headers at 0, and each section's min(SizeOfRawData, extent) file
 * bytes at its VirtualAddress; the rest of each section stays zero (edk2 PeCoffLoaderLoadImage, U-Boot efi_load_pe).
 * Bounds were checked by parsePe for this very file. `into` (SizeOfImage bytes, e.g. a view of the pages allocated
 * for the image, whatever they held) receives the layout in place of a new buffer, as edk2 copies straight into
 * the image's pages: a UKI with a large .initrd is then not held once more on the host.
 */
export function layoutImage(pe: PeImage, file: Buffer, into?: Buffer): Buffer {
  if (file.length !== pe.fileSize) {
    throw new RangeError(`${pe.what}: layoutImage got a ${file.length}-byte file, but the PeImage describes ${pe.fileSize} bytes`);
  }
  if (into && into.length !== pe.sizeOfImage) {
    throw new RangeError(`${pe.what}: layoutImage got a ${into.length}-byte target, SizeOfImage is ${pe.sizeOfImage}`);
  }
  const image = into ?? Buffer.alloc(pe.sizeOfImage);
  const runs: [number, number, number][] = [[0, 0, pe.sizeOfHeaders]];
  for (const s of pe.sections) runs.push([s.virtualAddress, s.pointerToRawData, sectionCopySize(s)]);
  if (into) zeroOutside(image, runs);
  for (const [rva, from, n] of runs) if (n !== 0) file.copy(image, rva, from, from + n);
  return image;
}

/** Zeroes the bytes of `image` that no [rva, fileOffset, length] run covers, each byte once. */
function zeroOutside(image: Buffer, runs: readonly (readonly [number, number, number])[]): void {
  const sorted = runs.filter((r) => r[2] !== 0).sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [rva, , n] of sorted) {
    if (rva > at) image.fill(0, at, Math.min(rva, image.length));
    at = Math.max(at, rva + n);
  }
  if (at < image.length) image.fill(0, at);
}

export interface RelocationResult {
  /** DIR64 fixups written (0 when the image stays at its ImageBase). */
  readonly applied: number;
}

/**
 * Rebases a laid-out image from ImageBase to `newBase` by adding the delta (mod 2^64) at every DIR64 target
 * (PE/COFF §6.6). All blocks are checked before anything is written, so a bad table leaves the image untouched.
 * Relocatability follows edk2 PeCoffLoaderGetImageInfo: IMAGE_FILE_RELOCS_STRIPPED pins the image to its ImageBase;
 * without that flag an image with no relocation directory is position-independent (the Linux EFI stub since 6.7).
 */
export function relocate(image: Buffer, pe: PeImage, newBase: bigint): RelocationResult {
  if (image.length !== pe.sizeOfImage) {
    throw new RangeError(`${pe.what}: relocate got a ${image.length}-byte image, SizeOfImage is ${pe.sizeOfImage}`);
  }
  const delta = BigInt.asUintN(64, newBase - pe.imageBase);
  if ((pe.characteristics & IMAGE_FILE_RELOCS_STRIPPED) !== 0) {
    if (delta === 0n) return { applied: 0 };
    throw new PeFormatError(pe.what, 'IMAGE_FILE_HEADER.Characteristics',
      { fileOffset: pe.coffHeaderOffset + IMAGE_FILE_HEADER.offsetOf('Characteristics') },
      `IMAGE_FILE_RELOCS_STRIPPED is set, so the image can only run at its ImageBase ${hex(pe.imageBase)}, not at ${hex(BigInt.asUintN(64, newBase))}`);
  }
  const targets = relocationTargets(image, pe);
  if (delta === 0n) return { applied: 0 };
  for (const t of targets) image.writeBigUInt64LE(BigInt.asUintN(64, image.readBigUInt64LE(t) + delta), t);
  return { applied: targets.length };
}

/** RVAs of all DIR64 fixups, after checking every block and entry against the directory and SizeOfImage. */
function relocationTargets(image: Buffer, pe: PeImage): number[] {
  const dir = pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.BASERELOC];
  const targets: number[] = [];
  if (dir.size === 0) return targets;
  const fail = (field: string, rva: number, detail: string): never => {
    throw new PeFormatError(pe.what, field, { rva }, detail);
  };
  // parsePe checked that [start, end) lies inside SizeOfImage.
  const start = dir.virtualAddress;
  const end = start + dir.size;
  for (let at = start, block = 0; at < end; block++) {
    const blockName = `IMAGE_BASE_RELOCATION[${block}]`;
    if (end - at < IMAGE_BASE_RELOCATION.size) {
      fail(blockName, at, `only ${end - at} byte(s) remain in the relocation directory (${hex(start)}+${hex(dir.size)}), less than a block header`);
    }
    const h = IMAGE_BASE_RELOCATION.parse(image, at);
    const sizeAt = at + IMAGE_BASE_RELOCATION.offsetOf('SizeOfBlock');
    if (h.SizeOfBlock < IMAGE_BASE_RELOCATION.size || h.SizeOfBlock % 2 !== 0) {
      fail(`${blockName}.SizeOfBlock`, sizeAt, `${hex(h.SizeOfBlock)} for page RVA ${hex(h.VirtualAddress)} must be at least 8 and even`);
    }
    if (at + h.SizeOfBlock > end) {
      fail(`${blockName}.SizeOfBlock`, sizeAt, `block for page RVA ${hex(h.VirtualAddress)} at ${hex(at)}+${hex(h.SizeOfBlock)} runs past the end of the relocation directory (${hex(end)})`);
    }
    const entries = (h.SizeOfBlock - IMAGE_BASE_RELOCATION.size) / 2;
    for (let i = 0; i < entries; i++) {
      const entryAt = at + IMAGE_BASE_RELOCATION.size + 2 * i;
      const entry = image.readUInt16LE(entryAt);
      const type = entry >> 12;
      const field = `${blockName}.TypeOffset[${i}]`;
      if (type === IMAGE_REL_BASED_ABSOLUTE) continue;
      if (type !== IMAGE_REL_BASED_DIR64) {
        fail(field, entryAt, `type ${type} (${IMAGE_REL_BASED_NAMES[type] ?? 'undefined'}) in the block for page RVA ${hex(h.VirtualAddress)} is not an x64 relocation; only IMAGE_REL_BASED_ABSOLUTE (0) and IMAGE_REL_BASED_DIR64 (10) are supported`);
      }
      const target = h.VirtualAddress + (entry & 0xfff);
      if (target + 8 > pe.sizeOfImage) {
        fail(field, entryAt, `DIR64 target ${hex(target)} (page ${hex(h.VirtualAddress)} + ${hex(entry & 0xfff)}) is outside SizeOfImage (${hex(pe.sizeOfImage)})`);
      }
      // A fixup inside the table would corrupt the entries still to be read (audk PeCoffRelocate).
      if (target < end && target + 8 > start) {
        fail(field, entryAt, `DIR64 target ${hex(target)} overlaps the relocation directory (${hex(start)}..${hex(end)})`);
      }
      targets.push(target);
    }
    at += h.SizeOfBlock;
  }
  return targets;
}
