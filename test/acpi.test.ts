// ACPI tables (ACPI 6.3 §5.2) built into guest memory, checked over the bytes read back.
import test from 'ava';
import { EfiACPIReclaimMemory } from '../efi-services/boot/memory-types';
import { buildAcpiTables } from '../efi-services/tables/acpi';
import { FakePlatform } from './helpers/fake-platform';

function setup(opts = {}) {
  const fake = new FakePlatform();
  const allocations: { address: bigint; size: number; memType: number }[] = [];
  const allocate = (size: number, memType: number) => {
    const address = fake.allocate(size);
    allocations.push({ address, size, memType });
    return address;
  };
  const acpi = buildAcpiTables(fake, allocate, opts);
  return { fake, allocations, acpi, mem: fake.mem };
}

/** Sum of bytes modulo 256, computed here rather than with the module's helper. */
function byteSum(b: Buffer): number {
  return b.reduce((s, x) => (s + x) % 256, 0);
}

/** A table read back by its header's Length. */
function tableAt(mem: FakePlatform['mem'], address: bigint): Buffer {
  return mem.read(address, mem.u32(address + 4n));
}

test('RSDP: revision 2, 36 bytes, both checksums, points at the XSDT', (t) => {
  const { acpi, mem } = setup();
  const r = mem.read(acpi.rsdp, 36);
  t.is(r.toString('latin1', 0, 8), 'RSD PTR ');
  t.is(r.toString('latin1', 9, 15), 'STUBEM');
  t.is(r[15], 2);
  t.is(r.readUInt32LE(16), 0, 'no RSDT');
  t.is(r.readUInt32LE(20), 36);
  t.is(byteSum(r.subarray(0, 20)), 0, 'ACPI 1.0 checksum over the first 20 bytes');
  t.is(byteSum(r), 0, 'extended checksum over all 36 bytes');
  const xsdt = r.readBigUInt64LE(24);
  t.is(mem.read(xsdt, 4).toString('latin1'), 'XSDT');
  t.deepEqual(acpi.tables.map((x) => x.signature), ['XSDT', 'FACP', 'APIC', 'DSDT']);
  t.is(acpi.tables[0].address, xsdt);
});

test('every table checksums to zero and its header length matches', (t) => {
  const { acpi, mem } = setup();
  for (const info of acpi.tables) {
    const b = tableAt(mem, info.address);
    t.is(b.toString('latin1', 0, 4), info.signature);
    t.is(b.length, info.length, info.signature);
    t.is(byteSum(b), 0, `${info.signature} checksum`);
    t.is(b.toString('latin1', 10, 16), 'STUBEM');
    t.is(b.toString('latin1', 16, 24), 'STUBEMU ');
  }
});

test('XSDT entries point at the FADT and the MADT', (t) => {
  const { acpi, mem } = setup();
  const xsdt = tableAt(mem, acpi.tables[0].address);
  t.is(xsdt.length, 36 + 16);
  t.is(xsdt[8], 1);
  const entries = [xsdt.readBigUInt64LE(36), xsdt.readBigUInt64LE(44)];
  t.deepEqual(entries.map((a) => mem.read(a, 4).toString('latin1')), ['FACP', 'APIC']);
  t.deepEqual(entries.map((a) => mem.u32(a + 4n)), [276, acpi.tables[2].length]);
});

test('FADT: ACPI 6.3, HW-reduced, X_DSDT and DSDT at the DSDT, no FACS', (t) => {
  const { acpi, mem } = setup();
  const f = tableAt(mem, acpi.tables[1].address);
  t.is(f.length, 276);
  t.is(f[8], 6, 'revision');
  t.is(f[131], 3, 'FADT minor version');
  const flags = f.readUInt32LE(112);
  t.truthy(flags & (1 << 20), 'HW_REDUCED_ACPI');
  t.is(f.readUInt32LE(36), 0, 'FIRMWARE_CTRL');
  t.is(f.readBigUInt64LE(132), 0n, 'X_FIRMWARE_CTRL');
  const dsdt = f.readBigUInt64LE(140);
  t.is(dsdt, acpi.tables[3].address);
  t.is(BigInt(f.readUInt32LE(40)), dsdt, '32-bit DSDT equals X_DSDT below 4 GiB');
  const boot = f.readUInt16LE(109);
  t.is(boot & 0b10, 0, 'no 8042');
  t.truthy(boot & 0b100, 'VGA not present');
  t.truthy(boot & 0b100000, 'CMOS RTC not present');
});

test('DSDT: a definition block holding Scope(\\_SB) with a consistent PkgLength', (t) => {
  const { acpi, mem } = setup();
  const d = tableAt(mem, acpi.tables[3].address);
  t.is(d[8], 2, 'revision 2: 64-bit integers');
  const aml = d.subarray(36);
  t.is(aml[0], 0x10, 'ScopeOp');
  t.is(aml[1], aml.length - 1, 'one-byte PkgLength covers the rest of the block');
  t.is(aml.toString('latin1', 2), '\\_SB_');
});

test('MADT: Local APIC 0, I/O APIC at 0xFEC00000, IRQ0 → GSI 2, structures fill the table', (t) => {
  const { acpi, mem } = setup();
  const m = tableAt(mem, acpi.tables[2].address);
  t.is(m[8], 5);
  t.is(m.readUInt32LE(36), 0xfee00000);
  const seen: Record<number, Buffer> = {};
  let o = 44;
  while (o < m.length) {
    const len = m[o + 1];
    t.true(len >= 2);
    seen[m[o]] = m.subarray(o, o + len);
    o += len;
  }
  t.is(o, m.length, 'structures end exactly at the table end');
  t.deepEqual([...seen[0]], [0, 8, 0, 0, 1, 0, 0, 0], 'Processor Local APIC, enabled');
  t.is(seen[1].readUInt32LE(4), 0xfec00000);
  t.is(seen[1].readUInt32LE(8), 0, 'GSI base');
  t.deepEqual([seen[2][2], seen[2][3], seen[2].readUInt32LE(4)], [0, 0, 2], 'ISA IRQ0 → GSI 2');
  t.deepEqual([...seen[4]], [4, 6, 0xff, 0, 0, 1], 'LINT1 NMI on all processors');
});

test('tables live in one EfiACPIReclaimMemory allocation; options are applied', (t) => {
  const { acpi, allocations } = setup({ oemId: 'ABC', ioApicAddress: 0xfec01000 });
  t.is(allocations.length, 1);
  t.is(allocations[0].memType, EfiACPIReclaimMemory);
  const a = allocations[0];
  for (const x of [{ address: acpi.rsdp, length: 36 }, ...acpi.tables]) {
    t.true(x.address >= a.address && x.address + BigInt(x.length) <= a.address + BigInt(a.size));
    t.is(x.address % 16n, a.address % 16n);
  }
  const { mem, acpi: b } = setup({ oemId: 'ABC', ioApicAddress: 0xfec01000 });
  t.is(mem.read(b.rsdp + 9n, 6).toString('latin1'), 'ABC   ');
  t.is(mem.u32(b.tables[2].address + 44n + 8n + 4n), 0xfec01000);
  t.throws(() => setup({ oemId: 'TOOLONG' }));
});
