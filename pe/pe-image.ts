// parsePe: validates an x86_64 PE32+ EFI image (every offset and size bounds-checked) and describes it as a PeImage.
import { hex, PeFormatError } from './pe-error';
import {
  DATA_DIRECTORY_NAMES, EFI_SUBSYSTEM_NAMES, FieldSpec, IMAGE_DATA_DIRECTORY, IMAGE_DIRECTORY_ENTRY, IMAGE_DOS_HEADER,
  IMAGE_DOS_SIGNATURE, IMAGE_FILE_HEADER, IMAGE_FILE_MACHINE_AMD64, IMAGE_NT_OPTIONAL_HDR32_MAGIC,
  IMAGE_NT_OPTIONAL_HDR64_MAGIC, IMAGE_NT_SIGNATURE, IMAGE_NT_SIGNATURE_FIELD, IMAGE_NUMBEROF_DIRECTORY_ENTRIES,
  IMAGE_OPTIONAL_HEADER64, IMAGE_SECTION_HEADER, IMAGE_SIZEOF_SYMBOL, StructDef, StructValue,
} from './pe-format';
import { PeSection, sectionExtent } from './pe-section';

export { PeFormatError } from './pe-error';
export { IMAGE_DIRECTORY_ENTRY } from './pe-format';
export { layoutImage, relocate, RelocationResult } from './pe-loader';
export { PeSection, sectionAt, sectionByName, sectionCopySize, sectionExtent } from './pe-section';

/** More sections than this is a corrupt header (PE/COFF §3.3: "the Windows loader limits the number of sections to 96"). */
export const MAX_SECTIONS = 96;
/** SizeOfImage cap: no EFI stub or UKI comes near it, and it bounds the host buffer layoutImage allocates. */
export const MAX_SIZE_OF_IMAGE = 1 << 30;

export interface PeDataDirectory {
  readonly virtualAddress: number;
  readonly size: number;
  /** Where the entry sits in the file; undefined when NumberOfRvaAndSizes does not reach it (then it reads as zero). */
  readonly fileOffset: number | undefined;
}

export interface PeImage {
  /** The file name used in messages. */
  readonly what: string;
  readonly fileSize: number;
  // Where the headers are: Authenticode hashing and UKI building patch or skip these.
  /** e_lfanew: the "PE\0\0" signature. */
  readonly peHeaderOffset: number;
  readonly coffHeaderOffset: number;
  readonly optionalHeaderOffset: number;
  readonly checkSumFileOffset: number;
  readonly dataDirectoriesOffset: number;
  readonly sectionTableOffset: number;
  /** First byte after the last section header. */
  readonly sectionTableEnd: number;

  // IMAGE_FILE_HEADER
  readonly machine: number;
  readonly numberOfSections: number;
  readonly timeDateStamp: number;
  readonly pointerToSymbolTable: number;
  readonly numberOfSymbols: number;
  readonly sizeOfOptionalHeader: number;
  readonly characteristics: number;

  // IMAGE_OPTIONAL_HEADER64
  readonly magic: number;
  readonly majorLinkerVersion: number;
  readonly minorLinkerVersion: number;
  readonly sizeOfCode: number;
  readonly sizeOfInitializedData: number;
  readonly sizeOfUninitializedData: number;
  readonly addressOfEntryPoint: number;
  readonly baseOfCode: number;
  readonly imageBase: bigint;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly majorOperatingSystemVersion: number;
  readonly minorOperatingSystemVersion: number;
  readonly majorImageVersion: number;
  readonly minorImageVersion: number;
  readonly majorSubsystemVersion: number;
  readonly minorSubsystemVersion: number;
  readonly win32VersionValue: number;
  readonly sizeOfImage: number;
  readonly sizeOfHeaders: number;
  readonly checkSum: number;
  readonly subsystem: number;
  readonly dllCharacteristics: number;
  readonly sizeOfStackReserve: bigint;
  readonly sizeOfStackCommit: bigint;
  readonly sizeOfHeapReserve: bigint;
  readonly sizeOfHeapCommit: bigint;
  readonly loaderFlags: number;
  readonly numberOfRvaAndSizes: number;
  /** Always 16 entries, indexed by IMAGE_DIRECTORY_ENTRY; entries past NumberOfRvaAndSizes read as zero. */
  readonly dataDirectories: readonly PeDataDirectory[];

  readonly sections: readonly PeSection[];
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Reads structures from the file, failing with the field and file offset when one is out of bounds or wrong. */
class FileReader {
  constructor(readonly file: Buffer, readonly what: string) {}

  fail(field: string, fileOffset: number, detail: string): never {
    throw new PeFormatError(this.what, field, { fileOffset }, detail);
  }

  /** `[start, start+size)` must lie in the file; `field` is blamed for it. */
  needInFile(field: string, fieldOffset: number, start: number, size: number, what: string): void {
    if (start + size > this.file.length) {
      const prefix = what === '' ? '' : `${what} `;
      this.fail(field, fieldOffset, `${prefix}${hex(start)}+${hex(size)} is beyond the end of the file (${hex(this.file.length)})`);
    }
  }

  read<F extends readonly FieldSpec[]>(def: StructDef<F>, offset: number, label = def.name): StructValue<F> {
    this.needInFile(label, offset, offset, def.size, `the ${def.size}-byte structure at`);
    return def.parse(this.file, offset);
  }
}

/** Validates `file` as a PE32+ x86_64 EFI image and describes it; a bad file throws PeFormatError. */
export function parsePe(file: Buffer, what = 'image'): PeImage {
  const r = new FileReader(file, what);

  // MS-DOS stub: "MZ" and e_lfanew (PE/COFF §2).
  const dos = r.read(IMAGE_DOS_HEADER, 0);
  if (dos.e_magic !== IMAGE_DOS_SIGNATURE) {
    r.fail('IMAGE_DOS_HEADER.e_magic', 0, `${hex(dos.e_magic)} is not the "MZ" signature (${hex(IMAGE_DOS_SIGNATURE)})`);
  }
  const peHeaderOffset = dos.e_lfanew;
  const coffHeaderOffset = peHeaderOffset + IMAGE_NT_SIGNATURE_FIELD.size;
  r.needInFile('IMAGE_DOS_HEADER.e_lfanew', IMAGE_DOS_HEADER.offsetOf('e_lfanew'), peHeaderOffset,
    IMAGE_NT_SIGNATURE_FIELD.size + IMAGE_FILE_HEADER.size, 'the PE signature and COFF header at');
  const sig = r.read(IMAGE_NT_SIGNATURE_FIELD, peHeaderOffset);
  if (sig.Signature !== IMAGE_NT_SIGNATURE) {
    r.fail('IMAGE_NT_HEADERS64.Signature', peHeaderOffset, `${hex(sig.Signature)} is not the "PE\\0\\0" signature (${hex(IMAGE_NT_SIGNATURE)})`);
  }

  // COFF file header (PE/COFF §3.3).
  const coff = r.read(IMAGE_FILE_HEADER, coffHeaderOffset);
  const coffField = (f: Parameters<typeof IMAGE_FILE_HEADER.offsetOf>[0]): [string, number] =>
    [`IMAGE_FILE_HEADER.${f}`, coffHeaderOffset + IMAGE_FILE_HEADER.offsetOf(f)];
  if (coff.Machine !== IMAGE_FILE_MACHINE_AMD64) {
    r.fail(...coffField('Machine'), `${hex(coff.Machine)} is not IMAGE_FILE_MACHINE_AMD64 (${hex(IMAGE_FILE_MACHINE_AMD64)}); stubemu runs x86_64 images only`);
  }
  if (coff.NumberOfSections === 0 || coff.NumberOfSections > MAX_SECTIONS) {
    r.fail(...coffField('NumberOfSections'), `${coff.NumberOfSections} sections; an image needs 1 to ${MAX_SECTIONS}`);
  }

  // Optional header: magic first, since PE32 lays out the rest differently (PE/COFF §3.4).
  const optionalHeaderOffset = coffHeaderOffset + IMAGE_FILE_HEADER.size;
  const sizeOfOptionalHeader = coff.SizeOfOptionalHeader;
  r.needInFile(...coffField('SizeOfOptionalHeader'), optionalHeaderOffset, sizeOfOptionalHeader, 'the optional header at');
  if (sizeOfOptionalHeader < 2) {
    r.fail(...coffField('SizeOfOptionalHeader'), `${hex(sizeOfOptionalHeader)} leaves no room for the optional header's Magic`);
  }
  const magic = file.readUInt16LE(optionalHeaderOffset);
  if (magic !== IMAGE_NT_OPTIONAL_HDR64_MAGIC) {
    const kind = magic === IMAGE_NT_OPTIONAL_HDR32_MAGIC ? 'PE32 (32-bit)' : 'an unknown optional header kind';
    r.fail('IMAGE_OPTIONAL_HEADER64.Magic', optionalHeaderOffset, `${hex(magic)} is ${kind}; only PE32+ (${hex(IMAGE_NT_OPTIONAL_HDR64_MAGIC)}) is supported`);
  }
  if (sizeOfOptionalHeader < IMAGE_OPTIONAL_HEADER64.size) {
    r.fail(...coffField('SizeOfOptionalHeader'), `${hex(sizeOfOptionalHeader)} is smaller than the ${hex(IMAGE_OPTIONAL_HEADER64.size)}-byte PE32+ optional header`);
  }
  const opt = r.read(IMAGE_OPTIONAL_HEADER64, optionalHeaderOffset);
  const optField = (f: Parameters<typeof IMAGE_OPTIONAL_HEADER64.offsetOf>[0]): [string, number] =>
    [`IMAGE_OPTIONAL_HEADER64.${f}`, optionalHeaderOffset + IMAGE_OPTIONAL_HEADER64.offsetOf(f)];

  const nDirs = opt.NumberOfRvaAndSizes;
  if (nDirs > IMAGE_NUMBEROF_DIRECTORY_ENTRIES) {
    r.fail(...optField('NumberOfRvaAndSizes'), `${nDirs} data directories; at most ${IMAGE_NUMBEROF_DIRECTORY_ENTRIES} are defined`);
  }
  const dataDirectoriesOffset = optionalHeaderOffset + IMAGE_OPTIONAL_HEADER64.size;
  if (sizeOfOptionalHeader < IMAGE_OPTIONAL_HEADER64.size + nDirs * IMAGE_DATA_DIRECTORY.size) {
    r.fail(...coffField('SizeOfOptionalHeader'),
      `${hex(sizeOfOptionalHeader)} is too small for the ${hex(IMAGE_OPTIONAL_HEADER64.size)}-byte PE32+ optional header and ${nDirs} data directories`);
  }
  if (!EFI_SUBSYSTEM_NAMES[opt.Subsystem]) {
    r.fail(...optField('Subsystem'), `${opt.Subsystem} is not an EFI subsystem (10 application, 11 boot service driver, 12 runtime driver)`);
  }
  if (!isPowerOfTwo(opt.FileAlignment)) {
    r.fail(...optField('FileAlignment'), `${hex(opt.FileAlignment)} is not a power of two`);
  }
  if (!isPowerOfTwo(opt.SectionAlignment) || opt.SectionAlignment < opt.FileAlignment) {
    r.fail(...optField('SectionAlignment'), `${hex(opt.SectionAlignment)} must be a power of two no smaller than FileAlignment (${hex(opt.FileAlignment)})`);
  }
  const sizeOfImage = opt.SizeOfImage;
  if (sizeOfImage === 0 || sizeOfImage > MAX_SIZE_OF_IMAGE) {
    r.fail(...optField('SizeOfImage'), `${hex(sizeOfImage)} is outside 1..${hex(MAX_SIZE_OF_IMAGE)}`);
  }
  // The entry point must lie in the image; every EFI subsystem is started through it (UEFI 2.10 §7.4.2 StartImage).
  if (opt.AddressOfEntryPoint === 0 || opt.AddressOfEntryPoint >= sizeOfImage) {
    r.fail(...optField('AddressOfEntryPoint'), `${hex(opt.AddressOfEntryPoint)} is not inside the image (1..${hex(sizeOfImage - 1)})`);
  }

  // Section table right after the optional header, all inside SizeOfHeaders (PE/COFF §4; edk2 PeCoffLoaderGetPeHeader).
  const sectionTableOffset = optionalHeaderOffset + sizeOfOptionalHeader;
  const sectionTableEnd = sectionTableOffset + coff.NumberOfSections * IMAGE_SECTION_HEADER.size;
  r.needInFile(...coffField('NumberOfSections'), sectionTableOffset,
    sectionTableEnd - sectionTableOffset, `the table of ${coff.NumberOfSections} section headers at`);
  const sizeOfHeaders = opt.SizeOfHeaders;
  if (sizeOfHeaders < sectionTableEnd || sizeOfHeaders > file.length || sizeOfHeaders > sizeOfImage) {
    r.fail(...optField('SizeOfHeaders'),
      `${hex(sizeOfHeaders)} must cover the section table (ends at ${hex(sectionTableEnd)}) and lie within the file (${hex(file.length)}) and SizeOfImage (${hex(sizeOfImage)})`);
  }

  const dataDirectories = readDataDirectories(r, dataDirectoriesOffset, nDirs, sizeOfImage);
  const stringTable = findStringTable(file, coff.PointerToSymbolTable, coff.NumberOfSymbols);
  const sections: PeSection[] = [];
  for (let i = 0; i < coff.NumberOfSections; i++) {
    sections.push(readSection(r, i, sectionTableOffset + i * IMAGE_SECTION_HEADER.size, sizeOfImage, sizeOfHeaders, stringTable));
  }
  checkNoOverlap(r, sections);

  return {
    what, fileSize: file.length,
    peHeaderOffset, coffHeaderOffset, optionalHeaderOffset,
    checkSumFileOffset: optionalHeaderOffset + IMAGE_OPTIONAL_HEADER64.offsetOf('CheckSum'),
    dataDirectoriesOffset, sectionTableOffset, sectionTableEnd,
    machine: coff.Machine, numberOfSections: coff.NumberOfSections, timeDateStamp: coff.TimeDateStamp,
    pointerToSymbolTable: coff.PointerToSymbolTable, numberOfSymbols: coff.NumberOfSymbols,
    sizeOfOptionalHeader, characteristics: coff.Characteristics,
    magic, majorLinkerVersion: opt.MajorLinkerVersion, minorLinkerVersion: opt.MinorLinkerVersion,
    sizeOfCode: opt.SizeOfCode, sizeOfInitializedData: opt.SizeOfInitializedData,
    sizeOfUninitializedData: opt.SizeOfUninitializedData, addressOfEntryPoint: opt.AddressOfEntryPoint,
    baseOfCode: opt.BaseOfCode, imageBase: opt.ImageBase, sectionAlignment: opt.SectionAlignment,
    fileAlignment: opt.FileAlignment, majorOperatingSystemVersion: opt.MajorOperatingSystemVersion,
    minorOperatingSystemVersion: opt.MinorOperatingSystemVersion, majorImageVersion: opt.MajorImageVersion,
    minorImageVersion: opt.MinorImageVersion, majorSubsystemVersion: opt.MajorSubsystemVersion,
    minorSubsystemVersion: opt.MinorSubsystemVersion, win32VersionValue: opt.Win32VersionValue,
    sizeOfImage, sizeOfHeaders, checkSum: opt.CheckSum, subsystem: opt.Subsystem,
    dllCharacteristics: opt.DllCharacteristics, sizeOfStackReserve: opt.SizeOfStackReserve,
    sizeOfStackCommit: opt.SizeOfStackCommit, sizeOfHeapReserve: opt.SizeOfHeapReserve,
    sizeOfHeapCommit: opt.SizeOfHeapCommit, loaderFlags: opt.LoaderFlags, numberOfRvaAndSizes: nDirs,
    dataDirectories, sections,
  };
}

/**
 * SECURITY holds a file offset (the attribute certificate table, PE/COFF §4.7), which must lie in the file as edk2
 * checks; every other directory is an RVA range that must lie in SizeOfImage.
 */
function readDataDirectories(r: FileReader, offset: number, count: number, sizeOfImage: number): PeDataDirectory[] {
  const dirs: PeDataDirectory[] = [];
  for (let i = 0; i < IMAGE_NUMBEROF_DIRECTORY_ENTRIES; i++) {
    if (i >= count) {
      dirs.push({ virtualAddress: 0, size: 0, fileOffset: undefined });
      continue;
    }
    const at = offset + i * IMAGE_DATA_DIRECTORY.size;
    const d = r.read(IMAGE_DATA_DIRECTORY, at, `IMAGE_OPTIONAL_HEADER64.DataDirectory[${DATA_DIRECTORY_NAMES[i]}]`);
    const field = `IMAGE_OPTIONAL_HEADER64.DataDirectory[${DATA_DIRECTORY_NAMES[i]}].VirtualAddress`;
    if (d.Size !== 0 && i === IMAGE_DIRECTORY_ENTRY.SECURITY) {
      r.needInFile(field, at, d.VirtualAddress, d.Size, 'the certificate table at file offset');
    } else if (d.Size !== 0 && d.VirtualAddress + d.Size > sizeOfImage) {
      r.fail(field, at, `${hex(d.VirtualAddress)}+${hex(d.Size)} is beyond SizeOfImage (${hex(sizeOfImage)})`);
    }
    dirs.push({ virtualAddress: d.VirtualAddress, size: d.Size, fileOffset: at });
  }
  return dirs;
}

function readSection(r: FileReader, index: number, at: number, sizeOfImage: number, sizeOfHeaders: number,
  stringTable: StringTable | undefined): PeSection {
  const h = r.read(IMAGE_SECTION_HEADER, at, `IMAGE_SECTION_HEADER[${index}]`);
  const field = (f: Parameters<typeof IMAGE_SECTION_HEADER.offsetOf>[0]): [string, number] =>
    [`IMAGE_SECTION_HEADER[${index}].${f}`, at + IMAGE_SECTION_HEADER.offsetOf(f)];
  const s: PeSection = {
    index, name: sectionName(h.Name, r.file, stringTable), rawName: h.Name,
    virtualSize: h.VirtualSize, virtualAddress: h.VirtualAddress, sizeOfRawData: h.SizeOfRawData,
    pointerToRawData: h.PointerToRawData, pointerToRelocations: h.PointerToRelocations,
    pointerToLinenumbers: h.PointerToLinenumbers, numberOfRelocations: h.NumberOfRelocations,
    numberOfLinenumbers: h.NumberOfLinenumbers, characteristics: h.Characteristics, headerFileOffset: at,
  };
  if (s.sizeOfRawData !== 0) {
    r.needInFile(...field('PointerToRawData'), s.pointerToRawData, s.sizeOfRawData, '');
  }
  const extent = sectionExtent(s);
  if (extent !== 0 && s.virtualAddress + extent > sizeOfImage) {
    r.fail(...field('VirtualAddress'), `${hex(s.virtualAddress)}+${hex(extent)} is beyond SizeOfImage (${hex(sizeOfImage)})`);
  }
  if (extent !== 0 && s.virtualAddress < sizeOfHeaders) {
    r.fail(...field('VirtualAddress'), `${hex(s.virtualAddress)} lies inside the headers (SizeOfHeaders ${hex(sizeOfHeaders)})`);
  }
  return s;
}

/** Sections must not share memory: the later one would overwrite the earlier when the image is laid out. */
function checkNoOverlap(r: FileReader, sections: readonly PeSection[]): void {
  const placed = sections.filter((s) => sectionExtent(s) !== 0)
    .sort((a, b) => a.virtualAddress - b.virtualAddress || a.index - b.index);
  for (let i = 1; i < placed.length; i++) {
    const prev = placed[i - 1];
    const cur = placed[i];
    const prevEnd = prev.virtualAddress + sectionExtent(prev);
    if (cur.virtualAddress < prevEnd) {
      r.fail(`IMAGE_SECTION_HEADER[${cur.index}].VirtualAddress`, cur.headerFileOffset + IMAGE_SECTION_HEADER.offsetOf('VirtualAddress'),
        `${cur.name} at ${hex(cur.virtualAddress)}+${hex(sectionExtent(cur))} overlaps section ${prev.index} (${prev.name}) at ${hex(prev.virtualAddress)}..${hex(prevEnd)}`);
    }
  }
}

interface StringTable {
  readonly start: number;
  readonly end: number;
}

/** The COFF string table after the symbol table (PE/COFF §5.6): a UINT32 size (counting itself), then strings. */
function findStringTable(file: Buffer, pointerToSymbolTable: number, numberOfSymbols: number): StringTable | undefined {
  if (pointerToSymbolTable === 0) return undefined;
  const start = pointerToSymbolTable + numberOfSymbols * IMAGE_SIZEOF_SYMBOL;
  if (start + 4 > file.length) return undefined;
  const size = file.readUInt32LE(start);
  if (size < 4 || start + size > file.length) return undefined;
  return { start, end: start + size };
}

/** Up to 8 bytes, NUL-padded; "/NNN" is an offset into the string table, as GNU ld writes for long names (PE/COFF §4). */
function sectionName(raw: Buffer, file: Buffer, table: StringTable | undefined): string {
  const nul = raw.indexOf(0);
  const short = raw.subarray(0, nul < 0 ? raw.length : nul).toString('latin1');
  const m = /^\/(\d{1,7})$/.exec(short);
  if (!m || !table) return short;
  const at = table.start + Number(m[1]);
  if (at < table.start + 4 || at >= table.end) return short;
  const end = file.indexOf(0, at);
  if (end < 0 || end >= table.end) return short;
  return file.subarray(at, end).toString('latin1');
}

/** A plain JSON-able description for reports; 64-bit values as hex strings. */
export function peSummary(pe: PeImage): Record<string, unknown> {
  return {
    file: pe.what,
    fileSize: pe.fileSize,
    machine: hex(pe.machine),
    subsystem: EFI_SUBSYSTEM_NAMES[pe.subsystem] ?? pe.subsystem,
    characteristics: hex(pe.characteristics),
    dllCharacteristics: hex(pe.dllCharacteristics),
    timeDateStamp: pe.timeDateStamp,
    imageBase: hex(pe.imageBase),
    addressOfEntryPoint: hex(pe.addressOfEntryPoint),
    sizeOfImage: hex(pe.sizeOfImage),
    sizeOfHeaders: hex(pe.sizeOfHeaders),
    sectionAlignment: hex(pe.sectionAlignment),
    fileAlignment: hex(pe.fileAlignment),
    checkSum: hex(pe.checkSum),
    imageVersion: `${pe.majorImageVersion}.${pe.minorImageVersion}`,
    subsystemVersion: `${pe.majorSubsystemVersion}.${pe.minorSubsystemVersion}`,
    linkerVersion: `${pe.majorLinkerVersion}.${pe.minorLinkerVersion}`,
    sizeOfStackReserve: hex(pe.sizeOfStackReserve),
    sizeOfStackCommit: hex(pe.sizeOfStackCommit),
    sizeOfHeapReserve: hex(pe.sizeOfHeapReserve),
    sizeOfHeapCommit: hex(pe.sizeOfHeapCommit),
    dataDirectories: pe.dataDirectories.flatMap((d, i) =>
      d.size === 0 ? [] : [{ name: DATA_DIRECTORY_NAMES[i], virtualAddress: hex(d.virtualAddress), size: hex(d.size) }]),
    sections: pe.sections.map((s) => ({
      name: s.name,
      virtualAddress: hex(s.virtualAddress),
      virtualSize: hex(s.virtualSize),
      pointerToRawData: hex(s.pointerToRawData),
      sizeOfRawData: hex(s.sizeOfRawData),
      characteristics: hex(s.characteristics),
    })),
  };
}
