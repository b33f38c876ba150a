// ACPI 6.3 tables for the emulated PC (RSDP, XSDT, FADT, DSDT, MADT), installed as EFI_ACPI_20_TABLE_GUID.
//
// The FADT declares a HW-reduced ACPI platform (ACPI 6.3 §4.1, FADT Flags bit 20), as QEMU's microvm does:
// stubemu emulates no PM1 event/control blocks, PM timer, SCI or SMI command port, and a PC-style FADT would
// make Linux's ACPICA poke those I/O ports. With HW_REDUCED_ACPI Linux x86 takes acpi_generic_reduced_hw_init
// (no legacy PIC, no PIT), and a FACS is optional (FADT FIRMWARE_CTRL/X_FIRMWARE_CTRL: "if both are zero there is
// no FACS"), so none is built. The IA-PC boot flags say no 8042, no VGA and no CMOS RTC, so Linux probes none of
// them. No RSDT is built: RSDP revision 2 points at the XSDT, which Linux and every ACPI 2.0+ OS prefer.
import { GUID } from '../../core/guid';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { EfiACPIReclaimMemory } from '../boot/memory-types';

export type Allocate = (size: number, memType: number) => bigint;

export interface AcpiOptions {
  /** OEMID of every header and the RSDP: 6 ASCII characters, space padded. */
  oemId?: string;
  /** OEM Table ID: 8 ASCII characters, space padded. */
  oemTableId?: string;
  oemRevision?: number;
  /** Creator ID: 4 ASCII characters (the tool that made the table; for the DSDT the AML compiler). */
  creatorId?: string;
  creatorRevision?: number;
  /** Local APIC and I/O APIC physical addresses (the PC defaults). */
  localApicAddress?: number;
  ioApicAddress?: number;
}

export interface AcpiTableInfo {
  signature: string;
  address: bigint;
  length: number;
}

export interface AcpiTables {
  /** The RSDP, to be installed as configuration table EFI_ACPI_20_TABLE_GUID (UEFI 2.10 §4.6). */
  rsdp: bigint;
  tables: AcpiTableInfo[];
}

/** RSDP (ACPI 6.3 §5.2.5.3): ACPI 1.0 part (20 bytes, Checksum) and the 2.0+ extension (36, Extended Checksum). */
export const RSDP = { Signature: 0, Checksum: 8, OemId: 9, Revision: 15, RsdtAddress: 16, Length: 20, XsdtAddress: 24, ExtendedChecksum: 32, size: 36, v1Size: 20 } as const;
/** System description table header (ACPI 6.3 §5.2.6, Table 5-29). */
export const SDT_HEADER = { Signature: 0, Length: 4, Revision: 8, Checksum: 9, OemId: 10, OemTableId: 16, OemRevision: 24, CreatorId: 28, CreatorRevision: 32, size: 36 } as const;
/** FADT fields stubemu sets (ACPI 6.3 §5.2.9, Table 5-34); the table is 276 bytes since ACPI 6.0. */
export const FADT = {
  FirmwareCtrl: 36, Dsdt: 40, PreferredPmProfile: 45, IaPcBootArch: 109, Flags: 112, MinorVersion: 131,
  XFirmwareCtrl: 132, XDsdt: 140, size: 276,
} as const;
/** MADT (ACPI 6.3 §5.2.12, Table 5-43): header, Local Interrupt Controller Address, Flags, then structures. */
export const MADT = { LocalApicAddress: 36, Flags: 40, size: 44 } as const;

const FADT_REVISION = 6;
const FADT_MINOR_REVISION = 3;
const MADT_REVISION = 5;
const XSDT_REVISION = 1;
/** DSDT revision 2: integers are 64 bits (ACPI 6.3 §5.2.11.1). */
const DSDT_REVISION = 2;

/** FADT Flags (ACPI 6.3 Table 5-35). */
const FADT_WBINVD = 1 << 0;
const FADT_PROC_C1 = 1 << 2;
const FADT_PWR_BUTTON = 1 << 4; // no fixed-feature power button
const FADT_SLP_BUTTON = 1 << 5; // no fixed-feature sleep button
const FADT_HW_REDUCED_ACPI = 1 << 20;
/** IA-PC Boot Architecture Flags (ACPI 6.3 Table 5-36); bit 1 (8042) stays clear: no keyboard controller. */
const IAPC_VGA_NOT_PRESENT = 1 << 2;
const IAPC_CMOS_RTC_NOT_PRESENT = 1 << 5;

/** MADT interrupt controller structure types (ACPI 6.3 Table 5-45). */
const MADT_LOCAL_APIC = 0;
const MADT_IO_APIC = 1;
const MADT_INTERRUPT_SOURCE_OVERRIDE = 2;
const MADT_LOCAL_APIC_NMI = 4;

/**
 * A minimal definition block (ACPI 6.3 §20.2.5.1 DefScope): `Scope (\_SB) {}`. ScopeOp, PkgLength 6 (itself and
 * the 5-byte NameString), RootChar '\', NameSeg "_SB_".
 */
export const DSDT_AML = Buffer.from([0x10, 0x06, 0x5c, 0x5f, 0x53, 0x42, 0x5f]);

/** The byte that makes `bytes` sum to zero modulo 256 when stored in a zero checksum field. */
export function acpiChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

function ascii(text: string, width: number, what: string): Buffer {
  if (text.length > width || !/^[\x20-\x7e]*$/.test(text)) throw new Error(`ACPI ${what} must be up to ${width} printable ASCII characters: ${JSON.stringify(text)}`);
  return Buffer.from(text.padEnd(width, ' '), 'latin1');
}

interface Ids {
  oemId: Buffer;
  oemTableId: Buffer;
  oemRevision: number;
  creatorId: Buffer;
  creatorRevision: number;
}

/** A table with its header filled and its checksum set; `body` is everything after the 36-byte header. */
function sdt(signature: string, revision: number, body: Buffer, ids: Ids): Buffer {
  const t = Buffer.alloc(SDT_HEADER.size + body.length);
  t.write(signature, SDT_HEADER.Signature, 'latin1');
  t.writeUInt32LE(t.length, SDT_HEADER.Length);
  t[SDT_HEADER.Revision] = revision;
  ids.oemId.copy(t, SDT_HEADER.OemId);
  ids.oemTableId.copy(t, SDT_HEADER.OemTableId);
  t.writeUInt32LE(ids.oemRevision >>> 0, SDT_HEADER.OemRevision);
  ids.creatorId.copy(t, SDT_HEADER.CreatorId);
  t.writeUInt32LE(ids.creatorRevision >>> 0, SDT_HEADER.CreatorRevision);
  body.copy(t, SDT_HEADER.size);
  t[SDT_HEADER.Checksum] = acpiChecksum(t);
  return t;
}

function fadtBody(dsdt: bigint): Buffer {
  const f = Buffer.alloc(FADT.size);
  if (dsdt < 1n << 32n) f.writeUInt32LE(Number(dsdt), FADT.Dsdt);
  f.writeUInt16LE(IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT, FADT.IaPcBootArch);
  f.writeUInt32LE((FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_HW_REDUCED_ACPI) >>> 0, FADT.Flags);
  f[FADT.MinorVersion] = FADT_MINOR_REVISION;
  f.writeBigUInt64LE(dsdt, FADT.XDsdt);
  return f.subarray(SDT_HEADER.size);
}

/** One Local APIC for CPU 0, the I/O APIC, ISA IRQ0 → GSI 2 and LINT1 as NMI on all CPUs, as QEMU's PC MADT. */
function madtBody(localApic: number, ioApic: number): Buffer {
  const b = Buffer.alloc(MADT.size - SDT_HEADER.size + 8 + 12 + 10 + 6);
  b.writeUInt32LE(localApic >>> 0, 0);
  b.writeUInt32LE(0, 4); // no PCAT_COMPAT: there is no dual-8259 PIC
  let o = 8;
  // Processor Local APIC (§5.2.12.2): ACPI Processor UID 0, APIC ID 0, Enabled.
  b.set([MADT_LOCAL_APIC, 8, 0, 0], o);
  b.writeUInt32LE(1, o + 4);
  o += 8;
  // I/O APIC (§5.2.12.3): ID 0, address, GSI base 0.
  b.set([MADT_IO_APIC, 12, 0, 0], o);
  b.writeUInt32LE(ioApic >>> 0, o + 4);
  b.writeUInt32LE(0, o + 8);
  o += 12;
  // Interrupt Source Override (§5.2.12.5): ISA bus 0, IRQ 0 → GSI 2, flags 0 (conforms to the bus).
  b.set([MADT_INTERRUPT_SOURCE_OVERRIDE, 10, 0, 0], o);
  b.writeUInt32LE(2, o + 4);
  b.writeUInt16LE(0, o + 8);
  o += 10;
  // Local APIC NMI (§5.2.12.7): all processors (UID 0xFF), flags 0, LINT1.
  b.set([MADT_LOCAL_APIC_NMI, 6, 0xff, 0, 0, 1], o);
  return b;
}

const align16 = (n: number) => (n + 15) & ~15;

/**
 * Lays the tables out in one EfiACPIReclaimMemory allocation (16-byte aligned each) and writes them to guest
 * memory. The XSDT lists the FADT and the MADT; the DSDT is reached through the FADT only (ACPI 6.3 §5.2.8).
 */
export function buildAcpiTables(platform: Platform, allocate: Allocate, opts: AcpiOptions = {}): AcpiTables {
  const ids: Ids = {
    oemId: ascii(opts.oemId ?? 'STUBEM', 6, 'OEMID'),
    oemTableId: ascii(opts.oemTableId ?? 'STUBEMU', 8, 'OEM Table ID'),
    oemRevision: opts.oemRevision ?? 1,
    creatorId: ascii(opts.creatorId ?? 'SEMU', 4, 'Creator ID'),
    creatorRevision: opts.creatorRevision ?? 1,
  };
  const entries = 2;
  const sizes = {
    rsdp: RSDP.size,
    xsdt: SDT_HEADER.size + 8 * entries,
    fadt: FADT.size,
    madt: SDT_HEADER.size + madtBody(0, 0).length,
    dsdt: SDT_HEADER.size + DSDT_AML.length,
  };
  const order = ['rsdp', 'xsdt', 'fadt', 'madt', 'dsdt'] as const;
  const offsets = {} as Record<(typeof order)[number], number>;
  let total = 0;
  for (const k of order) {
    offsets[k] = total;
    total += align16(sizes[k]);
  }
  const base = allocate(total, EfiACPIReclaimMemory);
  const at = (k: (typeof order)[number]) => base + BigInt(offsets[k]);

  const dsdt = sdt('DSDT', DSDT_REVISION, DSDT_AML, ids);
  const fadt = sdt('FACP', FADT_REVISION, fadtBody(at('dsdt')), ids);
  const madt = sdt('APIC', MADT_REVISION, madtBody(opts.localApicAddress ?? 0xfee0_0000, opts.ioApicAddress ?? 0xfec0_0000), ids);
  const xsdtBody = Buffer.alloc(8 * entries);
  xsdtBody.writeBigUInt64LE(at('fadt'), 0);
  xsdtBody.writeBigUInt64LE(at('madt'), 8);
  const xsdt = sdt('XSDT', XSDT_REVISION, xsdtBody, ids);

  const rsdp = Buffer.alloc(RSDP.size);
  rsdp.write('RSD PTR ', RSDP.Signature, 'latin1');
  ids.oemId.copy(rsdp, RSDP.OemId);
  rsdp[RSDP.Revision] = 2;
  rsdp.writeUInt32LE(RSDP.size, RSDP.Length);
  rsdp.writeBigUInt64LE(at('xsdt'), RSDP.XsdtAddress);
  rsdp[RSDP.Checksum] = acpiChecksum(rsdp.subarray(0, RSDP.v1Size));
  rsdp[RSDP.ExtendedChecksum] = acpiChecksum(rsdp);

  const built = { rsdp, xsdt, fadt, madt, dsdt };
  for (const k of order) platform.mem.write(at(k), built[k]);
  return {
    rsdp: at('rsdp'),
    tables: (['xsdt', 'fadt', 'madt', 'dsdt'] as const).map((k) => ({
      signature: built[k].toString('latin1', 0, 4),
      address: at(k),
      length: built[k].length,
    })),
  };
}

/** Module entry (platform-protocols.ts): the ACPI 2.0+ tables as configuration table ACPI_20_TABLE_GUID (UEFI 2.10 §4.6). */
export function install(ctx: InstallContext): void {
  ctx.configTables.install(GUID.ACPI_20_TABLE, buildAcpiTables(ctx.platform, ctx.pages).rsdp);
}
