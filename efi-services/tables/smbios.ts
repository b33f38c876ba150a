// SMBIOS 3.5 (DMTF DSP0134 3.5.0): the 64-bit "_SM3_" entry point and the structures a VM firmware describes,
// installed as SMBIOS3_TABLE_GUID. Type 11 carries settable OEM strings (systemd reads io.systemd.* from them).
import { createHash } from 'node:crypto';
import { CpuidResult } from '../../core/board';
import { GUID, guidToBytes } from '../../core/guid';
import { FirmwareOptions } from '../firmware-options';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { EfiRuntimeServicesData } from '../boot/memory-types';

export type Allocate = (size: number, memType: number) => bigint;

export const SMBIOS_MAJOR = 3;
export const SMBIOS_MINOR = 5;
export const SMBIOS_DOCREV = 0;

export interface SmbiosOptions {
  /** Type 11 OEM strings in order (1..255 non-empty strings); no type 11 structure when empty. */
  type11Strings?: readonly string[];
  /** Type 0 BIOS vendor and version; release date as mm/dd/yyyy (DSP0134 §7.1). */
  vendor?: string;
  biosVersion?: string;
  biosReleaseDate?: string;
  /** Types 1, 2, 3: system manufacturer, product, version and serial number. */
  manufacturer?: string;
  product?: string;
  version?: string;
  serialNumber?: string;
  /** Type 1 UUID; by default a name-based (version 5) UUID of manufacturer, product and serial number. */
  uuid?: string;
  /** RAM size for types 16, 17 and 19; RAM is one range starting at address 0. */
  memoryBytes: number | bigint;
  /** The processor type 4 describes (the board's CPUID answers). */
  cpuid: (leaf: number, subleaf: number) => CpuidResult;
  /** Whether ACPI tables are provided (type 0 characteristics extension byte 1, bit 0). */
  acpi?: boolean;
}

export interface SmbiosTables {
  /** The SMBIOS 3.0 entry point, to be installed as configuration table SMBIOS3_TABLE_GUID. */
  entryPoint: bigint;
  table: bigint;
  length: number;
}

/** SMBIOS 3.0 entry point structure (DSP0134 §5.2.2, Table 2): 24 bytes. */
export const SMBIOS3_ENTRY_POINT = {
  AnchorString: 0, Checksum: 5, Length: 6, MajorVersion: 7, MinorVersion: 8, DocRev: 9, Revision: 10,
  StructureTableMaximumSize: 12, StructureTableAddress: 16, size: 24,
} as const;
/** Entry Point Revision 01h: the SMBIOS 3.0 entry point structure (DSP0134 Table 2). */
const ENTRY_POINT_REVISION = 1;

/** Namespace of the default system UUID (a fixed value, so reports are reproducible). */
const UUID_NAMESPACE = '2b7c3d7e-5a61-4f0e-9c1d-73747562656d';

/** Handle value meaning "no structure" / "not provided" (DSP0134 §7.5, §7.17). */
const NO_HANDLE = 0xffff;
const NOT_PROVIDED = 0xfffe;

/** A structure being built: formatted area (after the 4-byte header) and its string set. */
class Structure {
  readonly strings: string[] = [];
  readonly body: Buffer;

  constructor(readonly type: number, length: number) {
    this.body = Buffer.alloc(length - 4);
  }

  /** Stores the string number of `s` at formatted-area offset `offset`; "" is string number 0 (none). */
  str(offset: number, s: string | undefined): void {
    if (s === undefined || s === '') return;
    if (s.includes('\0')) throw new Error(`SMBIOS string contains NUL: ${JSON.stringify(s)}`);
    this.strings.push(s);
    if (this.strings.length > 255) throw new Error('SMBIOS structure has more than 255 strings');
    this.body[offset - 4] = this.strings.length;
  }

  u8(offset: number, v: number): void { this.body[offset - 4] = v & 0xff; }
  u16(offset: number, v: number): void { this.body.writeUInt16LE(v & 0xffff, offset - 4); }
  u32(offset: number, v: number): void { this.body.writeUInt32LE(v >>> 0, offset - 4); }
  u64(offset: number, v: bigint): void { this.body.writeBigUInt64LE(BigInt.asUintN(64, v), offset - 4); }
  bytes(offset: number, b: Uint8Array): void { this.body.set(b, offset - 4); }

  /** Header, formatted area, strings each NUL-terminated, and the closing NUL (two NULs without strings). */
  encode(handle: number): Buffer {
    const header = Buffer.from([this.type, this.body.length + 4, handle & 0xff, handle >> 8]);
    const strings = this.strings.length === 0
      ? Buffer.alloc(2)
      : Buffer.concat([...this.strings.map((s) => Buffer.from(`${s}\0`, 'utf8')), Buffer.alloc(1)]);
    return Buffer.concat([header, this.body, strings]);
  }
}

/**
 * Handles as the guest of a QEMU q35 + OVMF machine sees them: QEMU 7.2 hw/smbios/smbios.c numbers each type from a
 * fixed base (T1_BASE 0x100, T2_BASE 0x200, T11_BASE 0xe00, ...; the Nth instance of a type is base + N) and OVMF
 * keeps those handles; edk2 SmbiosDxe adds its own end-of-table structure, which Linux shows with handle 0xfeff
 * (/sys/firmware/dmi/entries/127-0 on QEMU 7.2 + OVMF 2022.11). systemd-stub 261+ measures types 1, 2 and 11
 * including their handles into PCR 1, so they must match for the conformance check.
 */
const HANDLE_BASE: Readonly<Record<number, number>> = {
  0: 0x0000, 1: 0x0100, 2: 0x0200, 3: 0x0300, 4: 0x0400, 11: 0x0e00, 16: 0x1000, 17: 0x1100, 19: 0x1300, 127: 0xfeff,
};

/** The default type 1 UUID for an identity (used when `uuid` is not given; the conformance run passes it to QEMU). */
export function defaultSystemUuid(manufacturer: string, product: string, serial: string): string {
  return nameBasedUuid(`${manufacturer}\0${product}\0${serial}`);
}

/** UUID version 5 (RFC 9562 §5.5): SHA-1 of namespace and name. */
function nameBasedUuid(name: string): string {
  const ns = Buffer.from(UUID_NAMESPACE.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function cpuidString(regs: readonly number[]): string {
  const b = Buffer.alloc(4 * regs.length);
  regs.forEach((r, i) => b.writeUInt32LE(r >>> 0, 4 * i));
  return b.toString('latin1').replace(/\0+$/, '').trim();
}

/** The structures in table order, before handles are assigned; `link` fields are filled by the caller. */
function structures(o: SmbiosOptions): { s: Structure; links: [offset: number, target: number][] }[] {
  const manufacturer = o.manufacturer ?? 'stubemu';
  const product = o.product ?? 'stubemu virtual machine';
  const version = o.version ?? '1.0';
  const serial = o.serialNumber ?? '';
  const ram = BigInt(o.memoryBytes);
  const out: { s: Structure; links: [number, number][] }[] = [];
  const add = (s: Structure, links: [number, number][] = []) => out.push({ s, links }) - 1;

  // Type 0, BIOS Information (§7.1), 1Ah bytes.
  const t0 = new Structure(0, 0x1a);
  t0.str(0x04, o.vendor ?? 'stubemu');
  t0.str(0x05, o.biosVersion ?? '1.0');
  t0.u16(0x06, 0); // no legacy BIOS starting segment on UEFI systems
  t0.str(0x08, o.biosReleaseDate ?? '01/01/2024');
  t0.u64(0x0a, 1n << 3n); // BIOS Characteristics are not supported (as QEMU)
  t0.u8(0x12, o.acpi === false ? 0 : 1); // extension byte 1: ACPI supported
  t0.u8(0x13, (1 << 3) | (1 << 4)); // extension byte 2: UEFI supported; the table describes a virtual machine
  t0.u8(0x14, 1);
  t0.u8(0x15, 0);
  t0.u8(0x16, 0xff); // no embedded controller firmware
  t0.u8(0x17, 0xff);
  add(t0);

  // Type 1, System Information (§7.2), 1Bh bytes; UUID in the SMBIOS 2.6+ byte order (as EFI_GUID).
  const t1 = new Structure(1, 0x1b);
  t1.str(0x04, manufacturer);
  t1.str(0x05, product);
  t1.str(0x06, version);
  t1.str(0x07, serial);
  t1.bytes(0x08, guidToBytes(o.uuid ?? defaultSystemUuid(manufacturer, product, serial)));
  t1.u8(0x18, 0x06); // Wake-up Type: Power Switch
  t1.str(0x1a, 'Virtual Machine');
  add(t1);

  // Type 3, System Enclosure (§7.4), 15h + n*m + 1 bytes with no contained elements.
  const t3 = new Structure(3, 0x16);
  t3.str(0x04, manufacturer);
  t3.u8(0x05, 0x01); // Other
  t3.u8(0x09, 0x03); // Boot-up State: Safe
  t3.u8(0x0a, 0x03); // Power Supply State: Safe
  t3.u8(0x0b, 0x03); // Thermal State: Safe
  t3.u8(0x0c, 0x02); // Security Status: Unknown
  // Type 2, Baseboard (§7.3), 0Fh bytes; Chassis Handle links to type 3.
  const t2 = new Structure(2, 0x0f);
  t2.str(0x04, manufacturer);
  t2.str(0x05, product);
  t2.str(0x06, version);
  t2.u8(0x09, 0x01); // Feature Flags: hosting board
  t2.u8(0x0d, 0x0a); // Board Type: Motherboard
  const i2 = add(t2);
  const i3 = add(t3);
  out[i2].links.push([0x0b, i3]);

  // Type 4, Processor (§7.5), 30h bytes (SMBIOS 3.0 to 3.5); identity from the machine's CPUID answers.
  const cpuid = o.cpuid;
  const [eax1, , , edx1] = cpuid(1, 0);
  const [, vb, vc, vd] = cpuid(0, 0);
  const t4 = new Structure(4, 0x30);
  t4.str(0x04, 'CPU 0');
  t4.u8(0x05, 0x03); // Central Processor
  t4.u8(0x06, 0x01); // Processor Family: Other
  t4.str(0x07, cpuidString([vb, vd, vc]));
  t4.u64(0x08, (BigInt(edx1 >>> 0) << 32n) | BigInt(eax1 >>> 0));
  t4.str(0x10, cpuidString([0x8000_0002, 0x8000_0003, 0x8000_0004].flatMap((l) => [...cpuid(l, 0)])));
  t4.u16(0x14, 2000); // Max Speed, MHz (as QEMU)
  t4.u16(0x16, 2000);
  t4.u8(0x18, 0x41); // socket populated, CPU enabled
  t4.u8(0x19, 0x01); // Processor Upgrade: Other
  t4.u16(0x1a, NO_HANDLE);
  t4.u16(0x1c, NO_HANDLE);
  t4.u16(0x1e, NO_HANDLE);
  t4.u8(0x23, 1);
  t4.u8(0x24, 1);
  t4.u8(0x25, 1);
  t4.u16(0x26, 1 << 2); // 64-bit capable
  t4.u16(0x28, 0x01);
  t4.u16(0x2a, 1);
  t4.u16(0x2c, 1);
  t4.u16(0x2e, 1);
  add(t4);

  // Type 11, OEM Strings (§7.12), 5 bytes: Count then the strings.
  const oem = o.type11Strings ?? [];
  if (oem.length > 255) throw new Error('SMBIOS type 11 holds at most 255 strings');
  if (oem.length > 0) {
    const t11 = new Structure(11, 0x05);
    oem.forEach((s) => {
      if (s === '') throw new Error('SMBIOS type 11 strings must not be empty');
      t11.str(0x04, s);
    });
    t11.u8(0x04, oem.length);
    add(t11);
  }

  // Type 16, Physical Memory Array (§7.17), 17h bytes: capacity in KiB, or 8000_0000h and the extended field.
  const kib = ram / 1024n;
  const t16 = new Structure(16, 0x17);
  t16.u8(0x04, 0x03); // Location: System board
  t16.u8(0x05, 0x03); // Use: System memory
  t16.u8(0x06, 0x03); // Memory Error Correction: None
  if (kib < 0x8000_0000n) t16.u32(0x07, Number(kib));
  else {
    t16.u32(0x07, 0x8000_0000);
    t16.u64(0x0f, ram);
  }
  t16.u16(0x0b, NOT_PROVIDED);
  t16.u16(0x0d, 1);
  const i16 = add(t16);

  // Type 17, Memory Device (§7.18), 5Ch bytes (SMBIOS 3.3+): Size in MiB, or 7FFFh and Extended Size.
  const mib = ram / (1024n * 1024n);
  const t17 = new Structure(17, 0x5c);
  t17.u16(0x06, NOT_PROVIDED);
  t17.u16(0x08, 64);
  t17.u16(0x0a, 64);
  if (mib < 0x7fffn) t17.u16(0x0c, Number(mib));
  else {
    t17.u16(0x0c, 0x7fff);
    t17.u32(0x1c, Number(mib & 0x7fff_ffffn));
  }
  t17.u8(0x0e, 0x09); // Form Factor: DIMM
  t17.str(0x10, 'DIMM 0');
  t17.u8(0x12, 0x07); // Memory Type: RAM
  t17.u16(0x13, 1 << 1); // Type Detail: Other
  t17.str(0x17, manufacturer);
  t17.u8(0x28, 0x03); // Memory Technology: DRAM
  t17.u16(0x29, 1 << 3); // Operating Mode Capability: Volatile memory
  t17.u64(0x3c, ram); // Volatile Size
  add(t17, [[0x04, i16]]);

  // Type 19, Memory Array Mapped Address (§7.20), 1Fh bytes: KiB addresses, or FFFF_FFFFh and the extended ones.
  const t19 = new Structure(19, 0x1f);
  if (kib <= 0xffff_ffffn) {
    t19.u32(0x04, 0);
    t19.u32(0x08, Number(kib - 1n));
  } else {
    t19.u32(0x04, 0xffff_ffff);
    t19.u32(0x08, 0xffff_ffff);
    t19.u64(0x0f, 0n);
    t19.u64(0x17, ram - 1n);
  }
  t19.u8(0x0e, 1); // Partition Width
  add(t19, [[0x0c, i16]]);

  // Type 127, End-of-Table (§7.46).
  add(new Structure(127, 4));
  return out;
}

/** The structure table bytes; handles are HANDLE_BASE of the type plus the instance number, as on QEMU + OVMF. */
export function encodeSmbiosStructures(o: SmbiosOptions): Buffer {
  const list = structures(o);
  const seen = new Map<number, number>();
  const handles = list.map(({ s }) => {
    const base = HANDLE_BASE[s.type];
    if (base === undefined) throw new Error(`SMBIOS type ${s.type} has no handle base`);
    const n = seen.get(s.type) ?? 0;
    seen.set(s.type, n + 1);
    return base + n;
  });
  list.forEach(({ s, links }) => links.forEach(([offset, target]) => s.u16(offset, handles[target])));
  return Buffer.concat(list.map(({ s }, i) => s.encode(handles[i])));
}

/** The 24-byte entry point with its checksum (sum of all bytes is zero). */
export function encodeSmbios3EntryPoint(table: bigint, maxSize: number): Buffer {
  const e = Buffer.alloc(SMBIOS3_ENTRY_POINT.size);
  e.write('_SM3_', SMBIOS3_ENTRY_POINT.AnchorString, 'latin1');
  e[SMBIOS3_ENTRY_POINT.Length] = SMBIOS3_ENTRY_POINT.size;
  e[SMBIOS3_ENTRY_POINT.MajorVersion] = SMBIOS_MAJOR;
  e[SMBIOS3_ENTRY_POINT.MinorVersion] = SMBIOS_MINOR;
  e[SMBIOS3_ENTRY_POINT.DocRev] = SMBIOS_DOCREV;
  e[SMBIOS3_ENTRY_POINT.Revision] = ENTRY_POINT_REVISION;
  e.writeUInt32LE(maxSize >>> 0, SMBIOS3_ENTRY_POINT.StructureTableMaximumSize);
  e.writeBigUInt64LE(table, SMBIOS3_ENTRY_POINT.StructureTableAddress);
  let sum = 0;
  for (const b of e) sum = (sum + b) & 0xff;
  e[SMBIOS3_ENTRY_POINT.Checksum] = (0x100 - sum) & 0xff;
  return e;
}

/**
 * Writes the structure table and the entry point to EfiRuntimeServicesData (where edk2 SmbiosDxe puts its SMBIOS
 * 3.0 table; the OS reads it after ExitBootServices).
 */
export function buildSmbiosTables(platform: Platform, allocate: Allocate, opts: SmbiosOptions): SmbiosTables {
  const bytes = encodeSmbiosStructures(opts);
  const table = allocate(bytes.length, EfiRuntimeServicesData);
  platform.mem.write(table, bytes);
  const entryPoint = allocate(SMBIOS3_ENTRY_POINT.size, EfiRuntimeServicesData);
  platform.mem.write(entryPoint, encodeSmbios3EntryPoint(table, bytes.length));
  return { entryPoint, table, length: bytes.length };
}

/** One parsed structure: `formatted` is the whole formatted area including the 4-byte header. */
export interface SmbiosStructure {
  type: number;
  length: number;
  handle: number;
  formatted: Buffer;
  /** String 1 is strings[0]. */
  strings: string[];
  /** Offset of the structure in the table. */
  offset: number;
}

/** Walks a structure table up to and including type 127 (or the end of `bytes`); throws on a malformed one. */
export function parseSmbios(bytes: Buffer): SmbiosStructure[] {
  const out: SmbiosStructure[] = [];
  let o = 0;
  while (o + 4 <= bytes.length) {
    const type = bytes[o];
    const length = bytes[o + 1];
    if (length < 4 || o + length > bytes.length) throw new Error(`SMBIOS structure at ${o}: bad length ${length}`);
    const strings: string[] = [];
    let p = o + length;
    if (bytes[p] === 0) {
      if (bytes[p + 1] !== 0) throw new Error(`SMBIOS structure at ${o}: an empty string set must be two NULs`);
      p += 2;
    } else {
      for (;;) {
        const end = bytes.indexOf(0, p);
        if (end < 0) throw new Error(`SMBIOS structure at ${o}: unterminated string set`);
        if (end === p) {
          p++;
          break;
        }
        strings.push(bytes.toString('utf8', p, end));
        p = end + 1;
      }
    }
    if (p > bytes.length) throw new Error(`SMBIOS structure at ${o}: string set runs past the table`);
    out.push({ type, length, handle: bytes.readUInt16LE(o + 2), formatted: bytes.subarray(o, o + length), strings, offset: o });
    o = p;
    if (type === 127) break;
  }
  return out;
}

/** The string a string-number field at `offset` of `s` names; undefined for 0 (none). */
export function smbiosString(s: SmbiosStructure, offset: number): string | undefined {
  const n = s.formatted[offset];
  return n === 0 ? undefined : s.strings[n - 1];
}

/** Module entry (platform-protocols.ts): SMBIOS 3.0 as configuration table SMBIOS3_TABLE_GUID, with `options.smbiosOemStrings` as type 11. */
export function install(ctx: InstallContext, options: FirmwareOptions): void {
  const smbios = {
    memoryBytes: Number(ctx.memoryBytes),
    cpuid: ctx.cpuid,
    ...(options.smbiosOemStrings ? { type11Strings: [...options.smbiosOemStrings] } : {}),
  };
  ctx.configTables.install(GUID.SMBIOS3_TABLE, buildSmbiosTables(ctx.platform, ctx.pages, smbios).entryPoint);
}
