// PeSection: one section table entry as parsed, and the loader's rule for how much of it reaches memory.
import type { PeImage } from './pe-image';

export interface PeSection {
  readonly index: number;
  /** The name with NUL padding removed; a "/NNN" long name resolved through the COFF string table when it can be. */
  readonly name: string;
  /** The 8 Name bytes as stored. */
  readonly rawName: Buffer;
  readonly virtualSize: number;
  readonly virtualAddress: number;
  readonly sizeOfRawData: number;
  readonly pointerToRawData: number;
  readonly pointerToRelocations: number;
  readonly pointerToLinenumbers: number;
  readonly numberOfRelocations: number;
  readonly numberOfLinenumbers: number;
  readonly characteristics: number;
  /** File offset of this IMAGE_SECTION_HEADER. */
  readonly headerFileOffset: number;
}

/**
 * Bytes a section occupies in memory: VirtualSize, or SizeOfRawData when VirtualSize is 0
 * (edk2 BasePeCoffLib PeCoffLoaderLoadImage).
 */
export function sectionExtent(s: PeSection): number {
  return s.virtualSize !== 0 ? s.virtualSize : s.sizeOfRawData;
}

/** Bytes copied from the file: min(SizeOfRawData, extent); the rest of the extent is zero-filled. */
export function sectionCopySize(s: PeSection): number {
  return Math.min(s.sizeOfRawData, sectionExtent(s));
}

/** The section whose in-memory extent holds `rva`, if any. */
export function sectionAt(pe: PeImage, rva: number): PeSection | undefined {
  return pe.sections.find((s) => rva >= s.virtualAddress && rva < s.virtualAddress + sectionExtent(s));
}

/** The first section with exactly this name, as systemd-stub looks up ".linux", ".initrd", ".cmdline". */
export function sectionByName(pe: PeImage, name: string): PeSection | undefined {
  return pe.sections.find((s) => s.name === name);
}

