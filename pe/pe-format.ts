// PE/COFF structures as binary-parser tables with field offsets and a size assertion beside each (Microsoft PE/COFF spec §2–§6, STYLE 9).
import { Parser } from 'binary-parser';

/** A field as the PE/COFF spec lists it: a little-endian integer, or a fixed run of bytes. */
export type FieldSpec =
  | readonly [name: string, type: 'u8' | 'u16' | 'u32' | 'u64']
  | readonly [name: string, type: 'bytes', length: number];

type FieldValue<S> = S extends readonly [string, 'u64'] ? bigint : S extends readonly [string, 'bytes', number] ? Buffer : number;

/** The decoded record: one property per field, named as in the spec. */
export type StructValue<F extends readonly FieldSpec[]> = { readonly [S in F[number] as S[0]]: FieldValue<S> };

const WIDTH = { u8: 1, u16: 2, u32: 4, u64: 8 } as const;

/** One structure: the binary-parser definition, the offset of every field and the total size, all from one field list. */
export class StructDef<F extends readonly FieldSpec[]> {
  readonly size: number;
  readonly parser: Parser;
  private readonly offsets = new Map<string, number>();

  constructor(readonly name: string, readonly fields: F) {
    let p = new Parser().endianness('little');
    let at = 0;
    for (const f of fields) {
      this.offsets.set(f[0], at);
      switch (f[1]) {
        case 'u8': p = p.uint8(f[0]); break;
        case 'u16': p = p.uint16le(f[0]); break;
        case 'u32': p = p.uint32le(f[0]); break;
        case 'u64': p = p.uint64le(f[0]); break;
        case 'bytes': p = p.array(f[0], { type: 'uint8', length: f[2] }); break;
      }
      at += f[1] === 'bytes' ? f[2] : WIDTH[f[1]];
    }
    this.size = at;
    this.parser = p;
  }

  offsetOf(field: F[number][0]): number {
    const o = this.offsets.get(field);
    if (o === undefined) throw new Error(`${this.name} has no field ${field}`);
    return o;
  }

  /** Decodes the structure at `offset`; the caller has checked that `size` bytes are there. */
  parse(buf: Buffer, offset: number): StructValue<F> {
    const raw = this.parser.parse(buf.subarray(offset, offset + this.size)) as Record<string, unknown>;
    for (const f of this.fields) if (f[1] === 'bytes') raw[f[0]] = Buffer.from(raw[f[0]] as number[]);
    return raw as StructValue<F>;
  }
}

function struct<const F extends readonly FieldSpec[]>(name: string, fields: F): StructDef<F> {
  return new StructDef(name, fields);
}

/** Fails at load time when a table disagrees with the spec's size or with binary-parser's own count. */
function assertSize(def: { readonly name: string; readonly size: number; readonly parser: Parser }, specSize: number): void {
  if (def.size !== specSize || def.parser.sizeOf() !== specSize) {
    throw new Error(`${def.name}: table is ${def.size} bytes (binary-parser: ${def.parser.sizeOf()}), the spec says ${specSize}`);
  }
}

// MS-DOS 2.0 header (PE/COFF §2: only e_magic and e_lfanew at 0x3c matter to a loader).
export const IMAGE_DOS_HEADER = struct('IMAGE_DOS_HEADER', [
  ['e_magic', 'u16'], ['e_cblp', 'u16'], ['e_cp', 'u16'], ['e_crlc', 'u16'], ['e_cparhdr', 'u16'],
  ['e_minalloc', 'u16'], ['e_maxalloc', 'u16'], ['e_ss', 'u16'], ['e_sp', 'u16'], ['e_csum', 'u16'],
  ['e_ip', 'u16'], ['e_cs', 'u16'], ['e_lfarlc', 'u16'], ['e_ovno', 'u16'], ['e_res', 'bytes', 8],
  ['e_oemid', 'u16'], ['e_oeminfo', 'u16'], ['e_res2', 'bytes', 20], ['e_lfanew', 'u32'],
]);
assertSize(IMAGE_DOS_HEADER, 64);

// The signature at e_lfanew that opens IMAGE_NT_HEADERS64 (PE/COFF §3.2).
export const IMAGE_NT_SIGNATURE_FIELD = struct('IMAGE_NT_HEADERS64', [['Signature', 'u32']]);
assertSize(IMAGE_NT_SIGNATURE_FIELD, 4);

// COFF file header (PE/COFF §3.3).
export const IMAGE_FILE_HEADER = struct('IMAGE_FILE_HEADER', [
  ['Machine', 'u16'], ['NumberOfSections', 'u16'], ['TimeDateStamp', 'u32'], ['PointerToSymbolTable', 'u32'],
  ['NumberOfSymbols', 'u32'], ['SizeOfOptionalHeader', 'u16'], ['Characteristics', 'u16'],
]);
assertSize(IMAGE_FILE_HEADER, 20);

// PE32+ optional header without its data directories (PE/COFF §3.4.1–§3.4.2).
export const IMAGE_OPTIONAL_HEADER64 = struct('IMAGE_OPTIONAL_HEADER64', [
  ['Magic', 'u16'], ['MajorLinkerVersion', 'u8'], ['MinorLinkerVersion', 'u8'], ['SizeOfCode', 'u32'],
  ['SizeOfInitializedData', 'u32'], ['SizeOfUninitializedData', 'u32'], ['AddressOfEntryPoint', 'u32'],
  ['BaseOfCode', 'u32'], ['ImageBase', 'u64'], ['SectionAlignment', 'u32'], ['FileAlignment', 'u32'],
  ['MajorOperatingSystemVersion', 'u16'], ['MinorOperatingSystemVersion', 'u16'],
  ['MajorImageVersion', 'u16'], ['MinorImageVersion', 'u16'],
  ['MajorSubsystemVersion', 'u16'], ['MinorSubsystemVersion', 'u16'], ['Win32VersionValue', 'u32'],
  ['SizeOfImage', 'u32'], ['SizeOfHeaders', 'u32'], ['CheckSum', 'u32'], ['Subsystem', 'u16'],
  ['DllCharacteristics', 'u16'], ['SizeOfStackReserve', 'u64'], ['SizeOfStackCommit', 'u64'],
  ['SizeOfHeapReserve', 'u64'], ['SizeOfHeapCommit', 'u64'], ['LoaderFlags', 'u32'], ['NumberOfRvaAndSizes', 'u32'],
]);
assertSize(IMAGE_OPTIONAL_HEADER64, 112);

// One optional-header data directory entry (PE/COFF §3.4.3).
export const IMAGE_DATA_DIRECTORY = struct('IMAGE_DATA_DIRECTORY', [['VirtualAddress', 'u32'], ['Size', 'u32']]);
assertSize(IMAGE_DATA_DIRECTORY, 8);

// Section table entry (PE/COFF §4); VirtualSize is the Misc union member images use.
export const IMAGE_SECTION_HEADER = struct('IMAGE_SECTION_HEADER', [
  ['Name', 'bytes', 8], ['VirtualSize', 'u32'], ['VirtualAddress', 'u32'], ['SizeOfRawData', 'u32'],
  ['PointerToRawData', 'u32'], ['PointerToRelocations', 'u32'], ['PointerToLinenumbers', 'u32'],
  ['NumberOfRelocations', 'u16'], ['NumberOfLinenumbers', 'u16'], ['Characteristics', 'u32'],
]);
assertSize(IMAGE_SECTION_HEADER, 40);

// Base relocation block header; TypeOffset WORDs follow it (PE/COFF §6.6.1).
export const IMAGE_BASE_RELOCATION = struct('IMAGE_BASE_RELOCATION', [['VirtualAddress', 'u32'], ['SizeOfBlock', 'u32']]);
assertSize(IMAGE_BASE_RELOCATION, 8);

/** COFF symbol table records are 18 bytes; the string table follows them (PE/COFF §5.4, §5.6). */
export const IMAGE_SIZEOF_SYMBOL = 18;

export const IMAGE_DOS_SIGNATURE = 0x5a4d; // "MZ"
export const IMAGE_NT_SIGNATURE = 0x00004550; // "PE\0\0"
export const IMAGE_NT_OPTIONAL_HDR32_MAGIC = 0x10b;
export const IMAGE_NT_OPTIONAL_HDR64_MAGIC = 0x20b;
export const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
export const IMAGE_NUMBEROF_DIRECTORY_ENTRIES = 16;

// COFF Characteristics (PE/COFF §3.3.2).
export const IMAGE_FILE_RELOCS_STRIPPED = 0x0001;
export const IMAGE_FILE_EXECUTABLE_IMAGE = 0x0002;
export const IMAGE_FILE_LINE_NUMS_STRIPPED = 0x0004;
export const IMAGE_FILE_LOCAL_SYMS_STRIPPED = 0x0008;
export const IMAGE_FILE_LARGE_ADDRESS_AWARE = 0x0020;
export const IMAGE_FILE_DEBUG_STRIPPED = 0x0200;
export const IMAGE_FILE_DLL = 0x2000;

// Windows subsystems a UEFI loader accepts (PE/COFF §3.4.2; UEFI 2.10 §2.1.1).
export const IMAGE_SUBSYSTEM_EFI_APPLICATION = 10;
export const IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER = 11;
export const IMAGE_SUBSYSTEM_EFI_RUNTIME_DRIVER = 12;
export const EFI_SUBSYSTEM_NAMES: Readonly<Record<number, string>> = {
  [IMAGE_SUBSYSTEM_EFI_APPLICATION]: 'EFI_APPLICATION',
  [IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER]: 'EFI_BOOT_SERVICE_DRIVER',
  [IMAGE_SUBSYSTEM_EFI_RUNTIME_DRIVER]: 'EFI_RUNTIME_DRIVER',
};

// DllCharacteristics (PE/COFF §3.4.2).
export const IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA = 0x0020;
export const IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE = 0x0040;
export const IMAGE_DLLCHARACTERISTICS_NX_COMPAT = 0x0100;

// Section flags (PE/COFF §4.1).
export const IMAGE_SCN_CNT_CODE = 0x00000020;
export const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040;
export const IMAGE_SCN_CNT_UNINITIALIZED_DATA = 0x00000080;
export const IMAGE_SCN_MEM_DISCARDABLE = 0x02000000;
export const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
export const IMAGE_SCN_MEM_READ = 0x40000000;
export const IMAGE_SCN_MEM_WRITE = 0x80000000;

/** Data directory indices in spec order (PE/COFF §3.4.3). */
export const IMAGE_DIRECTORY_ENTRY = {
  EXPORT: 0, IMPORT: 1, RESOURCE: 2, EXCEPTION: 3, SECURITY: 4, BASERELOC: 5, DEBUG: 6, ARCHITECTURE: 7,
  GLOBALPTR: 8, TLS: 9, LOAD_CONFIG: 10, BOUND_IMPORT: 11, IAT: 12, DELAY_IMPORT: 13, COM_DESCRIPTOR: 14, RESERVED: 15,
} as const;
export const DATA_DIRECTORY_NAMES: readonly string[] = Object.keys(IMAGE_DIRECTORY_ENTRY);

// Base relocation types (PE/COFF §6.6.2); an x64 image uses only ABSOLUTE (padding) and DIR64.
export const IMAGE_REL_BASED_ABSOLUTE = 0;
export const IMAGE_REL_BASED_DIR64 = 10;
export const IMAGE_REL_BASED_NAMES: Readonly<Record<number, string>> = {
  0: 'IMAGE_REL_BASED_ABSOLUTE', 1: 'IMAGE_REL_BASED_HIGH', 2: 'IMAGE_REL_BASED_LOW', 3: 'IMAGE_REL_BASED_HIGHLOW',
  4: 'IMAGE_REL_BASED_HIGHADJ', 5: 'IMAGE_REL_BASED_MIPS_JMPADDR', 7: 'IMAGE_REL_BASED_THUMB_MOV32',
  9: 'IMAGE_REL_BASED_MIPS_JMPADDR16', 10: 'IMAGE_REL_BASED_DIR64',
};
