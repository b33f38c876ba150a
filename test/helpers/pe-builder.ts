// Writes PE32+ EFI images from a spec for tests. Field offsets are typed in here from the PE/COFF spec on purpose,
// independently of emulator/pe's tables, so a wrong table there cannot be hidden by the same mistake here.

export const DIR64 = 10;
export const ABSOLUTE = 0;

export interface SectionSpec {
  /** Longer than 8 bytes: written as "/NNN" with a COFF string table at the end of the file. */
  name: string;
  data: Uint8Array;
  /** Default: data.length. */
  virtualSize?: number;
  /** Default: the next SectionAlignment boundary after the previous section (or the headers). */
  virtualAddress?: number;
  characteristics?: number;
  /** Byte that fills SizeOfRawData beyond data (default 0), to see whether a loader copies it. */
  rawPadByte?: number;
}

/** A base relocation: a DIR64 at `rva` unless `type` says otherwise. */
export type RelocSpec = number | { rva: number; type: number };

export interface PeSpec {
  sections: SectionSpec[];
  /** Written as a ".reloc" section after the others, one block per 4 KiB page, padded to 4 bytes with ABSOLUTE. */
  relocations?: RelocSpec[];
  /** Default: the first section's VirtualAddress. */
  entryPoint?: number;
  imageBase?: bigint;
  subsystem?: number;
  machine?: number;
  timeDateStamp?: number;
  characteristics?: number;
  dllCharacteristics?: number;
  sectionAlignment?: number;
  fileAlignment?: number;
  numberOfRvaAndSizes?: number;
  linkerVersion?: [number, number];
  osVersion?: [number, number];
  imageVersion?: [number, number];
  subsystemVersion?: [number, number];
  win32VersionValue?: number;
  checkSum?: number;
  sizeOfCode?: number;
  sizeOfInitializedData?: number;
  sizeOfUninitializedData?: number;
  baseOfCode?: number;
  stackReserve?: bigint;
  stackCommit?: bigint;
  heapReserve?: bigint;
  heapCommit?: bigint;
  loaderFlags?: number;
  /** Default: just past the last section, rounded up to SectionAlignment. */
  sizeOfImage?: number;
  /** e_lfanew; default 0x80 (after a DOS stub message). */
  peOffset?: number;
  /** Extra data directories by index (the builder sets BASERELOC and SECURITY itself). */
  dataDirectories?: Record<number, { virtualAddress: number; size: number }>;
  /** Appended last, 8-aligned, and named by the SECURITY directory (a file offset). */
  certificate?: Uint8Array;
}

export interface BuiltSection {
  name: string;
  headerOffset: number;
  virtualAddress: number;
  virtualSize: number;
  pointerToRawData: number;
  sizeOfRawData: number;
  /** The SizeOfRawData bytes as written to the file (data plus padding). */
  raw: Buffer;
}

export interface BuiltPe {
  file: Buffer;
  peOffset: number;
  coffOffset: number;
  optOffset: number;
  dataDirOffset: number;
  sectionTableOffset: number;
  sizeOfHeaders: number;
  sizeOfImage: number;
  entryPoint: number;
  imageBase: bigint;
  sections: BuiltSection[];
  reloc?: BuiltSection;
  stringTableOffset?: number;
  certificateOffset?: number;
}

// PE/COFF spec offsets (§3.3 COFF header, §3.4 PE32+ optional header, §4 section header).
export const COFF = { Machine: 0, NumberOfSections: 2, TimeDateStamp: 4, PointerToSymbolTable: 8, NumberOfSymbols: 12, SizeOfOptionalHeader: 16, Characteristics: 18 } as const;
export const OPT = {
  Magic: 0, MajorLinkerVersion: 2, MinorLinkerVersion: 3, SizeOfCode: 4, SizeOfInitializedData: 8, SizeOfUninitializedData: 12,
  AddressOfEntryPoint: 16, BaseOfCode: 20, ImageBase: 24, SectionAlignment: 32, FileAlignment: 36,
  MajorOperatingSystemVersion: 40, MinorOperatingSystemVersion: 42, MajorImageVersion: 44, MinorImageVersion: 46,
  MajorSubsystemVersion: 48, MinorSubsystemVersion: 50, Win32VersionValue: 52, SizeOfImage: 56, SizeOfHeaders: 60,
  CheckSum: 64, Subsystem: 68, DllCharacteristics: 70, SizeOfStackReserve: 72, SizeOfStackCommit: 80,
  SizeOfHeapReserve: 88, SizeOfHeapCommit: 96, LoaderFlags: 104, NumberOfRvaAndSizes: 108, DataDirectory: 112,
} as const;
export const SEC = { Name: 0, VirtualSize: 8, VirtualAddress: 12, SizeOfRawData: 16, PointerToRawData: 20, PointerToRelocations: 24, PointerToLinenumbers: 28, NumberOfRelocations: 32, NumberOfLinenumbers: 34, Characteristics: 36 } as const;
export const SECTION_HEADER_SIZE = 40;

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Base relocation blocks for `relocs`, grouped by page in ascending order (PE/COFF §6.6). */
export function relocationBlocks(relocs: readonly RelocSpec[]): Buffer {
  const byPage = new Map<number, number[]>();
  for (const r of relocs) {
    const { rva, type } = typeof r === 'number' ? { rva: r, type: DIR64 } : r;
    const page = rva & ~0xfff;
    if (!byPage.has(page)) byPage.set(page, []);
    byPage.get(page)!.push((type << 12) | (rva & 0xfff));
  }
  const parts: Buffer[] = [];
  for (const page of [...byPage.keys()].sort((a, b) => a - b)) {
    const entries = byPage.get(page)!;
    if (entries.length % 2 !== 0) entries.push(ABSOLUTE << 12);
    const b = Buffer.alloc(8 + 2 * entries.length);
    b.writeUInt32LE(page, 0);
    b.writeUInt32LE(b.length, 4);
    entries.forEach((e, i) => b.writeUInt16LE(e, 8 + 2 * i));
    parts.push(b);
  }
  return Buffer.concat(parts);
}

export function buildPe(spec: PeSpec): BuiltPe {
  const fileAlignment = spec.fileAlignment ?? 0x200;
  const sectionAlignment = spec.sectionAlignment ?? 0x1000;
  const nDirs = spec.numberOfRvaAndSizes ?? 16;
  const peOffset = spec.peOffset ?? 0x80;
  const coffOffset = peOffset + 4;
  const optOffset = coffOffset + 20;
  const sizeOfOptionalHeader = 112 + 8 * nDirs;
  const dataDirOffset = optOffset + 112;
  const sectionTableOffset = optOffset + sizeOfOptionalHeader;

  const all: SectionSpec[] = [...spec.sections];
  const relocData = spec.relocations ? relocationBlocks(spec.relocations) : undefined;
  if (relocData) all.push({ name: '.reloc', data: relocData, characteristics: 0x42000040 });
  const sizeOfHeaders = alignUp(sectionTableOffset + SECTION_HEADER_SIZE * all.length, fileAlignment);

  // Long names go to the string table; offsets count from its start, whose first 4 bytes hold its size.
  const strings: Buffer[] = [];
  let stringTableSize = 4;
  const nameFields = all.map((s) => {
    const bytes = Buffer.from(s.name, 'latin1');
    if (bytes.length <= 8) return bytes;
    const ref = Buffer.from(`/${stringTableSize}`, 'latin1');
    strings.push(Buffer.concat([bytes, Buffer.from([0])]));
    stringTableSize += bytes.length + 1;
    return ref;
  });

  let rawCursor = sizeOfHeaders;
  let vaCursor = alignUp(sizeOfHeaders, sectionAlignment);
  const built: BuiltSection[] = all.map((s, i) => {
    const sizeOfRawData = alignUp(s.data.length, fileAlignment);
    const raw = Buffer.alloc(sizeOfRawData, s.rawPadByte ?? 0);
    raw.set(s.data, 0);
    const virtualAddress = s.virtualAddress ?? vaCursor;
    const virtualSize = s.virtualSize ?? s.data.length;
    const pointerToRawData = sizeOfRawData === 0 ? 0 : rawCursor;
    rawCursor += sizeOfRawData;
    vaCursor = alignUp(virtualAddress + Math.max(virtualSize, sizeOfRawData), sectionAlignment);
    return { name: s.name, headerOffset: sectionTableOffset + i * SECTION_HEADER_SIZE, virtualAddress, virtualSize, pointerToRawData, sizeOfRawData, raw };
  });
  const imageEnd = Math.max(...built.map((s) => s.virtualAddress + (s.virtualSize || s.sizeOfRawData)));
  const sizeOfImage = spec.sizeOfImage ?? alignUp(imageEnd, sectionAlignment);

  const stringTableOffset = strings.length ? rawCursor : undefined;
  let end = rawCursor + (strings.length ? stringTableSize : 0);
  const certificateOffset = spec.certificate ? alignUp(end, 8) : undefined;
  if (spec.certificate) end = certificateOffset! + spec.certificate.length;

  const f = Buffer.alloc(end);
  // MS-DOS header and stub (PE/COFF §2).
  f.write('MZ', 0, 'latin1');
  f.write('This program cannot be run in DOS mode.\r\r\n$', 0x4e, 'latin1');
  f.writeUInt32LE(peOffset, 0x3c);
  f.write('PE\0\0', peOffset, 'latin1');

  const c = (field: keyof typeof COFF): number => coffOffset + COFF[field];
  f.writeUInt16LE(spec.machine ?? 0x8664, c('Machine'));
  f.writeUInt16LE(all.length, c('NumberOfSections'));
  f.writeUInt32LE(spec.timeDateStamp ?? 0, c('TimeDateStamp'));
  f.writeUInt32LE(stringTableOffset ?? 0, c('PointerToSymbolTable'));
  f.writeUInt32LE(0, c('NumberOfSymbols'));
  f.writeUInt16LE(sizeOfOptionalHeader, c('SizeOfOptionalHeader'));
  f.writeUInt16LE(spec.characteristics ?? 0x0222, c('Characteristics'));

  const o = (field: keyof typeof OPT): number => optOffset + OPT[field];
  const entryPoint = spec.entryPoint ?? built[0].virtualAddress;
  const imageBase = spec.imageBase ?? 0x1_4000_0000n;
  f.writeUInt16LE(0x20b, o('Magic'));
  f.writeUInt8(spec.linkerVersion?.[0] ?? 2, o('MajorLinkerVersion'));
  f.writeUInt8(spec.linkerVersion?.[1] ?? 40, o('MinorLinkerVersion'));
  f.writeUInt32LE(spec.sizeOfCode ?? 0, o('SizeOfCode'));
  f.writeUInt32LE(spec.sizeOfInitializedData ?? 0, o('SizeOfInitializedData'));
  f.writeUInt32LE(spec.sizeOfUninitializedData ?? 0, o('SizeOfUninitializedData'));
  f.writeUInt32LE(entryPoint, o('AddressOfEntryPoint'));
  f.writeUInt32LE(spec.baseOfCode ?? built[0].virtualAddress, o('BaseOfCode'));
  f.writeBigUInt64LE(imageBase, o('ImageBase'));
  f.writeUInt32LE(sectionAlignment, o('SectionAlignment'));
  f.writeUInt32LE(fileAlignment, o('FileAlignment'));
  f.writeUInt16LE(spec.osVersion?.[0] ?? 0, o('MajorOperatingSystemVersion'));
  f.writeUInt16LE(spec.osVersion?.[1] ?? 0, o('MinorOperatingSystemVersion'));
  f.writeUInt16LE(spec.imageVersion?.[0] ?? 0, o('MajorImageVersion'));
  f.writeUInt16LE(spec.imageVersion?.[1] ?? 0, o('MinorImageVersion'));
  f.writeUInt16LE(spec.subsystemVersion?.[0] ?? 0, o('MajorSubsystemVersion'));
  f.writeUInt16LE(spec.subsystemVersion?.[1] ?? 0, o('MinorSubsystemVersion'));
  f.writeUInt32LE(spec.win32VersionValue ?? 0, o('Win32VersionValue'));
  f.writeUInt32LE(sizeOfImage, o('SizeOfImage'));
  f.writeUInt32LE(sizeOfHeaders, o('SizeOfHeaders'));
  f.writeUInt32LE(spec.checkSum ?? 0, o('CheckSum'));
  f.writeUInt16LE(spec.subsystem ?? 10, o('Subsystem'));
  f.writeUInt16LE(spec.dllCharacteristics ?? 0, o('DllCharacteristics'));
  f.writeBigUInt64LE(spec.stackReserve ?? 0n, o('SizeOfStackReserve'));
  f.writeBigUInt64LE(spec.stackCommit ?? 0n, o('SizeOfStackCommit'));
  f.writeBigUInt64LE(spec.heapReserve ?? 0n, o('SizeOfHeapReserve'));
  f.writeBigUInt64LE(spec.heapCommit ?? 0n, o('SizeOfHeapCommit'));
  f.writeUInt32LE(spec.loaderFlags ?? 0, o('LoaderFlags'));
  f.writeUInt32LE(nDirs, o('NumberOfRvaAndSizes'));

  const dirs: Record<number, { virtualAddress: number; size: number }> = { ...spec.dataDirectories };
  const reloc = relocData ? built[built.length - 1] : undefined;
  if (reloc) dirs[5] = { virtualAddress: reloc.virtualAddress, size: relocData!.length };
  if (spec.certificate) dirs[4] = { virtualAddress: certificateOffset!, size: spec.certificate.length };
  for (const [i, d] of Object.entries(dirs)) {
    if (Number(i) >= nDirs) throw new Error(`pe-builder: data directory ${i} needs NumberOfRvaAndSizes > ${i}`);
    f.writeUInt32LE(d.virtualAddress, dataDirOffset + 8 * Number(i));
    f.writeUInt32LE(d.size, dataDirOffset + 8 * Number(i) + 4);
  }

  built.forEach((s, i) => {
    const h = s.headerOffset;
    nameFields[i].copy(f, h + SEC.Name);
    f.writeUInt32LE(s.virtualSize, h + SEC.VirtualSize);
    f.writeUInt32LE(s.virtualAddress, h + SEC.VirtualAddress);
    f.writeUInt32LE(s.sizeOfRawData, h + SEC.SizeOfRawData);
    f.writeUInt32LE(s.pointerToRawData, h + SEC.PointerToRawData);
    f.writeUInt32LE(all[i].characteristics ?? 0x60000020, h + SEC.Characteristics);
    s.raw.copy(f, s.pointerToRawData);
  });
  if (stringTableOffset !== undefined) {
    f.writeUInt32LE(stringTableSize, stringTableOffset);
    Buffer.concat(strings).copy(f, stringTableOffset + 4);
  }
  if (spec.certificate) f.set(spec.certificate, certificateOffset!);

  return {
    file: f, peOffset, coffOffset, optOffset, dataDirOffset, sectionTableOffset, sizeOfHeaders, sizeOfImage,
    entryPoint, imageBase, sections: built.slice(0, spec.sections.length), reloc, stringTableOffset, certificateOffset,
  };
}
