// Editing a PE32+ image the way ukify does: strip a trailing COFF symbol table, refill a section in place, append sections, recompute the checksum.
import { hex } from '../../pe/pe-error';
import {
  IMAGE_FILE_HEADER, IMAGE_FILE_LOCAL_SYMS_STRIPPED, IMAGE_OPTIONAL_HEADER64, IMAGE_SECTION_HEADER, IMAGE_SIZEOF_SYMBOL,
} from '../../pe/pe-format';
import { IMAGE_DIRECTORY_ENTRY, MAX_SIZE_OF_IMAGE, parsePe, PeImage, PeSection, sectionExtent } from '../../pe/pe-image';

/** An image that cannot be edited as asked; names the file and the reason. */
export class PeEditError extends Error {
  override readonly name = 'PeEditError';
  constructor(readonly what: string, readonly detail: string) {
    super(`${what}: ${detail}`);
  }
}

export interface NewSection {
  /** 1 to 8 printable ASCII characters: systemd-stub compares the 8-byte Name field and reads no string table. */
  readonly name: string;
  readonly data: Buffer;
  readonly characteristics: number;
  /** VirtualSize when it must exceed the data (the loader zero-fills the rest); default: the data length. */
  readonly virtualSize?: number;
}

/** Where an appended section landed. */
export interface PlacedSection {
  readonly name: string;
  readonly virtualAddress: number;
  readonly virtualSize: number;
  readonly pointerToRawData: number;
  readonly sizeOfRawData: number;
  readonly characteristics: number;
}

export interface AppendResult {
  readonly file: Buffer;
  readonly placed: readonly PlacedSection[];
  /** Bytes the section data moved down to make room for a longer section table (0: the headers had room). */
  readonly headerGrowth: number;
}

const roundUp = (n: number, align: number): number => Math.ceil(n / align) * align;

const SEC = (f: Parameters<typeof IMAGE_SECTION_HEADER.offsetOf>[0]): number => IMAGE_SECTION_HEADER.offsetOf(f);
const coffAt = (pe: PeImage, f: Parameters<typeof IMAGE_FILE_HEADER.offsetOf>[0]): number => pe.coffHeaderOffset + IMAGE_FILE_HEADER.offsetOf(f);
const optAt = (pe: PeImage, f: Parameters<typeof IMAGE_OPTIONAL_HEADER64.offsetOf>[0]): number =>
  pe.optionalHeaderOffset + IMAGE_OPTIONAL_HEADER64.offsetOf(f);

/** ukify Section.check_name: printable ASCII, at most 8 bytes (longer names would need a COFF string table). */
export function checkSectionName(name: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(name)) return `section name ${JSON.stringify(name)} is not printable ASCII`;
  if (name.length > 8) return `section name ${JSON.stringify(name)} is longer than 8 characters`;
  return undefined;
}

/**
 * Drops a COFF symbol and string table that end the file (image files should carry none, PE/COFF §5.4), as ukify's
 * pe_add_sections does for old stubs, and marks the image IMAGE_FILE_LOCAL_SYMS_STRIPPED. Kept when it is not at the
 * end or a section name points into the string table.
 */
export function stripTrailingSymbolTable(file: Buffer, what: string): { file: Buffer; stripped: number } {
  const pe = parsePe(file, what);
  if (pe.pointerToSymbolTable === 0) return { file, stripped: 0 };
  const stringTable = pe.pointerToSymbolTable + pe.numberOfSymbols * IMAGE_SIZEOF_SYMBOL;
  let end = stringTable;
  if (stringTable + 4 <= file.length) end += file.readUInt32LE(stringTable);
  if (end !== file.length || pe.sections.some((s) => s.rawName[0] === 0x2f /* "/" */)) return { file, stripped: 0 };
  const out = Buffer.from(file.subarray(0, pe.pointerToSymbolTable));
  out.writeUInt32LE(0, coffAt(pe, 'PointerToSymbolTable'));
  out.writeUInt32LE(0, coffAt(pe, 'NumberOfSymbols'));
  out.writeUInt16LE(pe.characteristics | IMAGE_FILE_LOCAL_SYMS_STRIPPED, coffAt(pe, 'Characteristics'));
  return { file: out, stripped: file.length - pe.pointerToSymbolTable };
}

/** Memory a section may grow into: up to the next section above it, or SizeOfImage. */
function memoryRoom(pe: PeImage, s: PeSection): number {
  const above = pe.sections.filter((o) => o !== s && sectionExtent(o) !== 0 && o.virtualAddress > s.virtualAddress)
    .map((o) => o.virtualAddress);
  return (above.length ? Math.min(...above) : pe.sizeOfImage) - s.virtualAddress;
}

/**
 * Puts `data` into the existing section `name` in place (ukify's special case for merging .sbat into the stub's):
 * it must fit the section's SizeOfRawData, and — unlike ukify, which checks only the file side — also the memory
 * up to the next section, so the result never has overlapping sections.
 */
export function replaceSectionData(file: Buffer, name: string, data: Buffer, what: string): Buffer {
  const pe = parsePe(file, what);
  const s = pe.sections.find((x) => x.name === name);
  if (!s) throw new PeEditError(what, `has no ${name} section to replace`);
  const room = Math.min(s.sizeOfRawData, memoryRoom(pe, s));
  if (data.length > room) {
    throw new PeEditError(what, `new ${name} is ${data.length} bytes but the existing ${name} section has room for ${room} `
      + `(SizeOfRawData ${hex(s.sizeOfRawData)}, ${hex(memoryRoom(pe, s))} bytes before the next section in memory)`);
  }
  const out = Buffer.from(file);
  out.fill(0, s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData);
  data.copy(out, s.pointerToRawData);
  out.writeUInt32LE(data.length, s.headerFileOffset + SEC('VirtualSize'));
  return out;
}

/**
 * Makes room for `count` more section headers. The table may run past SizeOfHeaders up to the first section's
 * raw data (ukify rounds SizeOfHeaders up to FileAlignment for this); beyond that, all section data moves down
 * by a multiple of FileAlignment, which keeps every VirtualAddress. Images whose headers would reach the first
 * section in memory, or that hold other file offsets (a debug directory), are refused.
 */
function growHeaders(file: Buffer, pe: PeImage, count: number, what: string): { file: Buffer; growth: number } {
  const need = pe.sectionTableEnd + count * IMAGE_SECTION_HEADER.size;
  if (need <= pe.sizeOfHeaders) return { file, growth: 0 };
  const withRaw = pe.sections.filter((s) => s.sizeOfRawData !== 0);
  const firstRaw = withRaw.length ? Math.min(...withRaw.map((s) => s.pointerToRawData)) : file.length;
  const firstVa = Math.min(...pe.sections.map((s) => s.virtualAddress));
  const newSizeOfHeaders = roundUp(need, pe.fileAlignment);
  if (newSizeOfHeaders > firstVa) {
    throw new PeEditError(what, `${pe.numberOfSections + count} section headers need ${hex(newSizeOfHeaders)} bytes of headers, `
      + `but the first section is mapped at ${hex(firstVa)}; the image would have to be relinked`);
  }
  const inUse = file.subarray(pe.sectionTableEnd, Math.min(need, firstRaw)).some((b) => b !== 0);
  if (inUse) throw new PeEditError(what, `the header bytes after the section table (${hex(pe.sectionTableEnd)}..) are not free`);
  let out = file;
  let growth = 0;
  if (newSizeOfHeaders > firstRaw) {
    if (pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.DEBUG].size !== 0) {
      throw new PeEditError(what, 'the section table does not fit in the headers, and moving the sections would break the debug directory\'s file offsets');
    }
    growth = roundUp(newSizeOfHeaders - firstRaw, pe.fileAlignment);
    out = Buffer.concat([file.subarray(0, firstRaw), Buffer.alloc(growth), file.subarray(firstRaw)]);
    for (const s of pe.sections) {
      if (s.pointerToRawData >= firstRaw) out.writeUInt32LE(s.pointerToRawData + growth, s.headerFileOffset + SEC('PointerToRawData'));
    }
    if (pe.pointerToSymbolTable >= firstRaw) out.writeUInt32LE(pe.pointerToSymbolTable + growth, coffAt(pe, 'PointerToSymbolTable'));
  }
  out.writeUInt32LE(newSizeOfHeaders, optAt(pe, 'SizeOfHeaders'));
  return { file: out, growth };
}

/**
 * Appends sections after the image's own, as ukify's pe_add_sections places them: each VirtualAddress at the next
 * SectionAlignment boundary after the previous section's end, raw data at FileAlignment-aligned offsets after the
 * end of the file, VirtualSize the data length, SizeOfRawData rounded to FileAlignment. NumberOfSections,
 * SizeOfImage (the last section's end rounded to SectionAlignment) and SizeOfInitializedData (plus each VirtualSize,
 * as ukify counts) follow. The checksum is left for setPeChecksum.
 */
export function appendSections(input: Buffer, sections: readonly NewSection[], what: string): AppendResult {
  for (const s of sections) {
    const bad = checkSectionName(s.name);
    if (bad) throw new PeEditError(what, bad);
    if (s.data.length === 0) throw new PeEditError(what, `section ${s.name} would be empty`);
  }
  let pe = parsePe(input, what);
  if (pe.numberOfSections + sections.length > 96) {
    throw new PeEditError(what, `${pe.numberOfSections + sections.length} sections; PE/COFF allows at most 96`);
  }
  const grown = growHeaders(input, pe, sections.length, what);
  pe = parsePe(grown.file, what);

  let nextVa = roundUp(Math.max(...pe.sections.map((s) => s.virtualAddress + sectionExtent(s))), pe.sectionAlignment);
  let fileEnd = roundUp(grown.file.length, pe.fileAlignment);
  const placed: PlacedSection[] = [];
  for (const s of sections) {
    const virtualSize = Math.max(s.data.length, s.virtualSize ?? 0);
    placed.push({
      name: s.name, virtualAddress: nextVa, virtualSize, pointerToRawData: fileEnd,
      sizeOfRawData: roundUp(s.data.length, pe.fileAlignment), characteristics: s.characteristics,
    });
    nextVa = roundUp(nextVa + virtualSize, pe.sectionAlignment);
    fileEnd += roundUp(s.data.length, pe.fileAlignment);
  }
  const sizeOfImage = nextVa;
  if (sizeOfImage > MAX_SIZE_OF_IMAGE || fileEnd > 0xffff_ffff) {
    throw new PeEditError(what, `the result would be ${hex(sizeOfImage)} bytes in memory; stubemu's loader takes at most ${hex(MAX_SIZE_OF_IMAGE)}`);
  }

  const out = Buffer.alloc(fileEnd);
  grown.file.copy(out);
  placed.forEach((p, i) => {
    const h = pe.sectionTableEnd + i * IMAGE_SECTION_HEADER.size;
    out.fill(0, h, h + IMAGE_SECTION_HEADER.size);
    out.write(p.name, h + SEC('Name'), 8, 'latin1');
    out.writeUInt32LE(p.virtualSize, h + SEC('VirtualSize'));
    out.writeUInt32LE(p.virtualAddress, h + SEC('VirtualAddress'));
    out.writeUInt32LE(p.sizeOfRawData, h + SEC('SizeOfRawData'));
    out.writeUInt32LE(p.pointerToRawData, h + SEC('PointerToRawData'));
    out.writeUInt32LE(p.characteristics, h + SEC('Characteristics'));
    sections[i].data.copy(out, p.pointerToRawData);
  });
  out.writeUInt16LE(pe.numberOfSections + sections.length, coffAt(pe, 'NumberOfSections'));
  out.writeUInt32LE(sizeOfImage, optAt(pe, 'SizeOfImage'));
  const initialized = pe.sizeOfInitializedData + placed.reduce((n, p) => n + p.virtualSize, 0);
  out.writeUInt32LE(initialized >>> 0, optAt(pe, 'SizeOfInitializedData'));
  return { file: out, placed, headerGrowth: grown.growth };
}

/**
 * The PE image checksum (the algorithm of imagehlp CheckSumMappedFile): the file as 16-bit little-endian words
 * (an odd last byte padded with zero), the CheckSum field itself read as zero, summed with the carry folded back
 * into 16 bits after every add, plus the file length.
 */
export function peChecksum(file: Buffer, checkSumOffset: number): number {
  let sum = 0;
  const words = file.length >> 1;
  for (let i = 0; i < words; i++) {
    const at = i * 2;
    if (at >= checkSumOffset && at < checkSumOffset + 4) continue;
    sum += file[at] | (file[at + 1] << 8);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (file.length & 1) {
    sum += file[file.length - 1];
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ((sum & 0xffff) + file.length) >>> 0;
}

/** Writes the recomputed checksum into the optional header (in place) and returns it. */
export function setPeChecksum(file: Buffer, what: string): number {
  const pe = parsePe(file, what);
  const sum = peChecksum(file, pe.checkSumFileOffset);
  file.writeUInt32LE(sum, pe.checkSumFileOffset);
  return sum;
}
