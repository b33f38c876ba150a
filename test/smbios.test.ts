// SMBIOS 3.x tables (DSP0134) built into guest memory: entry point, structures walked independently, parser.
import test from 'ava';
import { EfiRuntimeServicesData } from '../efi-services/boot/memory-types';
import { guidFromBytes } from '../core/guid';
import { buildSmbiosTables, encodeSmbiosStructures, parseSmbios, smbiosString, SmbiosOptions } from '../efi-services/tables/smbios';
import { FakePlatform } from './helpers/fake-platform';
import { cpuid } from '../emulator/cpuid';

const MiB = 1024 * 1024;

function build(opts: SmbiosOptions) {
  const fake = new FakePlatform();
  const types: number[] = [];
  const built = buildSmbiosTables(fake, (size, memType) => {
    types.push(memType);
    return fake.allocate(size);
  }, opts);
  return { mem: fake.mem, built, types };
}

interface Walked {
  type: number;
  length: number;
  handle: number;
  at: number;
  strings: string[];
}

/** A walker written for the test: finds each structure's end by scanning for the double NUL, as Linux dmi does. */
function walk(b: Buffer): Walked[] {
  const out: Walked[] = [];
  let o = 0;
  for (;;) {
    const type = b[o];
    const length = b[o + 1];
    let e = o + length;
    while (!(b[e] === 0 && b[e + 1] === 0)) {
      if (++e >= b.length) throw new Error(`structure at ${o} has no double NUL`);
    }
    const area = b.subarray(o + length, e);
    const strings = area.length === 0 ? [] : area.toString('utf8').split('\0');
    out.push({ type, length, handle: b[o + 2] | (b[o + 3] << 8), at: o, strings });
    o = e + 2;
    if (type === 127) break;
  }
  return out;
}

test('entry point: "_SM3_", 24 bytes, checksum, version, table address and size', (t) => {
  const { mem, built, types } = build({ cpuid, memoryBytes: 256 * MiB });
  const e = mem.read(built.entryPoint, 24);
  t.is(e.toString('latin1', 0, 5), '_SM3_');
  t.is(e.reduce((s, x) => (s + x) & 0xff, 0), 0);
  t.is(e[6], 24);
  t.deepEqual([e[7], e[8], e[9], e[10]], [3, 5, 0, 1]);
  t.is(e.readBigUInt64LE(16), built.table);
  t.is(e.readUInt32LE(12), built.length);
  t.deepEqual(types, [EfiRuntimeServicesData, EfiRuntimeServicesData]);
});

test('structures: spec lengths, unique handles, double-NUL terminated, end with type 127', (t) => {
  const { mem, built } = build({ cpuid, memoryBytes: 256 * MiB, type11Strings: ['a=b'] });
  const table = mem.read(built.table, built.length);
  const s = walk(table);
  t.deepEqual(s.map((x) => x.type), [0, 1, 2, 3, 4, 11, 16, 17, 19, 127]);
  t.deepEqual(s.map((x) => x.length), [0x1a, 0x1b, 0x0f, 0x16, 0x30, 0x05, 0x17, 0x5c, 0x1f, 0x04]);
  // Handles as Linux lists them in /sys/firmware/dmi/entries on QEMU 7.2 q35 + OVMF 2022.11 (type 11 at 0x0e00 per
  // QEMU's T11_BASE; the end-of-table structure is added by edk2 SmbiosDxe at 0xfeff).
  t.deepEqual(s.map((x) => x.handle), [0x0000, 0x0100, 0x0200, 0x0300, 0x0400, 0x0e00, 0x1000, 0x1100, 0x1300, 0xfeff]);
  const last = s[s.length - 1];
  t.is(last.at + 4 + 2, table.length, 'the table ends right after the end structure and its two NULs');
  for (const x of s) t.false(x.strings.includes(''), `type ${x.type} has no empty string`);
  const t0 = s[0];
  t.deepEqual(t0.strings, ['stubemu', '1.0', '01/01/2024'], 'vendor, BIOS version, release date');
  t.deepEqual([table[t0.at + 4], table[t0.at + 5], table[t0.at + 8]], [1, 2, 3], 'string numbers in order');
  t.is(table[t0.at + 0x13] & 0b11000, 0b11000, 'UEFI supported; virtual machine');
});

test('type 11 OEM strings are present in order and counted', (t) => {
  const strings = ['io.systemd.credential:foo=bar', 'io.systemd.stub.kernel-cmdline-extra=quiet', 'ünïcode'];
  const { mem, built } = build({ cpuid, memoryBytes: 128 * MiB, type11Strings: strings });
  const table = mem.read(built.table, built.length);
  const t11 = walk(table).find((x) => x.type === 11)!;
  t.is(table[t11.at + 4], 3);
  t.deepEqual(t11.strings, strings);
  t.false(walk(encodeSmbiosStructures({ cpuid, memoryBytes: 128 * MiB })).some((x) => x.type === 11), 'no type 11 without strings');
  t.throws(() => encodeSmbiosStructures({ cpuid, memoryBytes: 128 * MiB, type11Strings: [''] }));
});

test('type 1: manufacturer, product, deterministic version-5 UUID, wake-up type', (t) => {
  const table = encodeSmbiosStructures({ cpuid, memoryBytes: 64 * MiB, product: 'P', serialNumber: 'S1' });
  const again = encodeSmbiosStructures({ cpuid, memoryBytes: 64 * MiB, product: 'P', serialNumber: 'S1' });
  const other = encodeSmbiosStructures({ cpuid, memoryBytes: 64 * MiB, product: 'P', serialNumber: 'S2' });
  const t1 = walk(table).find((x) => x.type === 1)!;
  const f = table.subarray(t1.at, t1.at + t1.length);
  t.is(t1.strings[f[4] - 1], 'stubemu');
  t.is(t1.strings[f[5] - 1], 'P');
  t.is(t1.strings[f[7] - 1], 'S1');
  const uuid = guidFromBytes(f, 8);
  t.is(uuid[14], '5', 'version 5');
  t.true('89ab'.includes(uuid[19]), 'RFC variant');
  t.deepEqual(again, table);
  const o1 = walk(other).find((x) => x.type === 1)!;
  t.notDeepEqual(other.subarray(o1.at + 8, o1.at + 24), f.subarray(8, 24));
  t.is(f[0x18], 6, 'Power Switch');
  const fixed = encodeSmbiosStructures({ cpuid, memoryBytes: 64 * MiB, uuid: '01234567-89ab-cdef-0123-456789abcdef' });
  const ft = walk(fixed).find((x) => x.type === 1)!;
  t.deepEqual([...fixed.subarray(ft.at + 8, ft.at + 12)], [0x67, 0x45, 0x23, 0x01], 'time_low little-endian (SMBIOS 2.6+)');
});

test('types 1 and 2 are byte for byte what QEMU 7.2 + OVMF present for the same identity (PCR 1 of systemd-stub 261+)', (t) => {
  const table = encodeSmbiosStructures({ cpuid, memoryBytes: 64 * MiB, uuid: '01234567-89ab-cdef-0123-456789abcdef' });
  const raw = (type: number) => {
    const s = walk(table).find((x) => x.type === type)!;
    const next = walk(table).find((x) => x.at > s.at)!;
    return table.subarray(s.at, next.at);
  };
  const strs = (...l: string[]) => Buffer.concat([...l.map((x) => Buffer.from(`${x}\0`)), Buffer.alloc(1)]);
  // QEMU -uuid 01234567-89ab-cdef-0123-456789abcdef -smbios type=1,manufacturer=stubemu,product=stubemu virtual
  // machine,version=1.0,family=Virtual Machine: handle 0x0100; strings manufacturer, product, version, then family
  // (serial and SKU absent: 0); wake-up type 06h.
  t.deepEqual(raw(1), Buffer.concat([
    Buffer.from([0x01, 0x1b, 0x00, 0x01, 1, 2, 3, 0,
      0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
      0x06, 0, 4]),
    strs('stubemu', 'stubemu virtual machine', '1.0', 'Virtual Machine'),
  ]));
  // -smbios type=2,manufacturer=stubemu,product=stubemu virtual machine,version=1.0: handle 0x0200, feature flags
  // 01h, no location, chassis handle 0x0300, board type 0Ah, no contained elements.
  t.deepEqual(raw(2), Buffer.concat([
    Buffer.from([0x02, 0x0f, 0x00, 0x02, 1, 2, 3, 0, 0, 0x01, 0, 0x00, 0x03, 0x0a, 0]),
    strs('stubemu', 'stubemu virtual machine', '1.0'),
  ]));
});

test('types 16/17/19 describe the RAM size; handles link types 2→3, 17→16, 19→16', (t) => {
  const table = encodeSmbiosStructures({ cpuid, memoryBytes: 256 * MiB });
  const s = walk(table);
  const at = (type: number) => s.find((x) => x.type === type)!;
  const f = (type: number) => table.subarray(at(type).at, at(type).at + at(type).length);
  t.is(f(16).readUInt32LE(7), 256 * 1024, 'Maximum Capacity in KiB');
  t.is(f(16).readUInt16LE(0x0d), 1);
  t.is(f(17).readUInt16LE(0x0c), 256, 'Size in MiB');
  t.is(f(17).readBigUInt64LE(0x3c), BigInt(256 * MiB), 'Volatile Size');
  t.is(f(19).readUInt32LE(4), 0);
  t.is(f(19).readUInt32LE(8), 256 * 1024 - 1, 'Ending Address in KiB, inclusive');
  t.is(f(2).readUInt16LE(0x0b), at(3).handle);
  t.is(f(17).readUInt16LE(4), at(16).handle);
  t.is(f(19).readUInt16LE(0x0c), at(16).handle);

  const big = encodeSmbiosStructures({ cpuid, memoryBytes: 64n << 30n });
  const b17 = walk(big).find((x) => x.type === 17)!;
  t.is(big.readUInt16LE(b17.at + 0x0c), 0x7fff);
  t.is(big.readUInt32LE(b17.at + 0x1c), 64 * 1024, 'Extended Size in MiB');
});

test('type 4 carries the machine CPUID signature and a brand string', (t) => {
  const table = encodeSmbiosStructures({ cpuid, memoryBytes: 64 * MiB });
  const t4 = walk(table).find((x) => x.type === 4)!;
  t.is(table.readUInt32LE(t4.at + 8), 0x000306c3, 'CPUID.1:EAX');
  t.is(t4.strings[table[t4.at + 7] - 1], 'GenuineIntel');
  t.regex(t4.strings[table[t4.at + 0x10] - 1], /stubemu/);
});

test('parseSmbios agrees with the independent walk and resolves string numbers', (t) => {
  const table = encodeSmbiosStructures({ cpuid, memoryBytes: 256 * MiB, type11Strings: ['x', 'y'], product: 'Prod' });
  const parsed = parseSmbios(table);
  const walked = walk(table);
  t.deepEqual(parsed.map((p) => [p.type, p.length, p.handle, p.offset, p.strings]), walked.map((w) => [w.type, w.length, w.handle, w.at, w.strings]));
  t.is(smbiosString(parsed.find((p) => p.type === 1)!, 5), 'Prod');
  t.is(smbiosString(parsed.find((p) => p.type === 1)!, 6), '1.0');
  t.throws(() => parseSmbios(Buffer.from([1, 4, 0, 0, 0, 7])), undefined, 'single NUL after a structure without strings');
});
