// Unit tests for the memory map model (split/convert/merge, placement, FreePages rules) and the pool on top of it.
import test from 'ava';
import { MemoryMap } from '../efi-services/boot/memory-map';
import {
  AllocateAddress, AllocateAnyPages, AllocateMaxAddress, EFI_MEMORY_RUNTIME, EFI_MEMORY_UC, EfiBootServicesData,
  EfiConventionalMemory, EfiLoaderCode, EfiLoaderData, EfiMemoryMappedIO, EfiReservedMemoryType,
  EfiRuntimeServicesData, memoryTypeName,
} from '../efi-services/boot/memory-types';
import { Pool } from '../efi-services/boot/pool';
import { EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EfiError } from '../core/status';
import { GuestMemory } from '../core/guest-memory';

const MiB = 0x100000n;
const P = 0x1000n;
const WB4 = 0xfn; // UC|WC|WT|WB, written out independently of RAM_ATTRIBUTES

type Row = [type: number, start: bigint, pages: bigint, attribute?: bigint];

function rows(map: MemoryMap): Row[] {
  return map.descriptors().map((d) => {
    if (d.virtualStart !== 0n) throw new Error('VirtualStart must be 0 before SetVirtualAddressMap');
    return [d.type, d.physicalStart, d.numberOfPages, d.attribute];
  });
}

function status(f: () => unknown): bigint | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof EfiError) return e.status;
    throw e;
  }
}

/** RAM [1 MiB, 2 MiB). */
function small(): MemoryMap {
  return new MemoryMap([{ start: MiB, end: 2n * MiB }]);
}

test('RAM ranges start as conventional memory; touching ranges merge', (t) => {
  const map = new MemoryMap([
    { start: 3n * MiB, end: 4n * MiB },
    { start: MiB, end: 2n * MiB },
    { start: 2n * MiB, end: 0x280000n },
  ]);
  t.deepEqual(rows(map), [
    [EfiConventionalMemory, MiB, 0x180n, WB4],
    [EfiConventionalMemory, 3n * MiB, 0x100n, WB4],
  ]);
  t.throws(() => new MemoryMap([{ start: 0x800n, end: MiB }]));
  t.throws(() => new MemoryMap([{ start: 0n, end: MiB }, { start: 0x80000n, end: 2n * MiB }]));
});

test('AllocateAnyPages is top-down and splits the free range; mapKey changes', (t) => {
  const map = small();
  const key0 = map.mapKey;
  const a = map.allocatePages(AllocateAnyPages, EfiLoaderData, 3n);
  t.is(a, 2n * MiB - 3n * P);
  t.not(map.mapKey, key0);
  t.deepEqual(rows(map), [
    [EfiConventionalMemory, MiB, 0x100n - 3n, WB4],
    [EfiLoaderData, a, 3n, WB4],
  ]);
  // Same type directly below merges into one descriptor; another type gets its own.
  const b = map.allocatePages(AllocateAnyPages, EfiLoaderData, 2n);
  t.is(b, a - 2n * P);
  const c = map.allocatePages(AllocateAnyPages, EfiLoaderCode, 1n);
  t.is(c, b - P);
  t.deepEqual(rows(map), [
    [EfiConventionalMemory, MiB, 0x100n - 6n, WB4],
    [EfiLoaderCode, c, 1n, WB4],
    [EfiLoaderData, b, 5n, WB4],
  ]);
  t.deepEqual(map.allocations().map((r) => [r.start, r.pages, r.type, r.owner]), [
    [c, 1n, EfiLoaderCode, 'guest'], [b, 2n, EfiLoaderData, 'guest'], [a, 3n, EfiLoaderData, 'guest'],
  ]);
});

test('AllocateMaxAddress keeps the highest byte at or below the limit, rounding the limit down to a page', (t) => {
  const map = small();
  const a = map.allocatePages(AllocateMaxAddress, EfiLoaderData, 2n, 0x140fffn);
  t.is(a, 0x13f000n);
  const b = map.allocatePages(AllocateMaxAddress, EfiLoaderData, 1n, 0x130800n);
  t.is(b, 0x12f000n); // the page 0x130000..0x130fff would end above 0x130800
  const c = map.allocatePages(AllocateMaxAddress, EfiLoaderData, 1n, 0x130000n);
  t.is(c, 0x12e000n); // highest byte 0x12ffff: 0x12f000 is taken, so the next page down
  t.is(status(() => map.allocatePages(AllocateMaxAddress, EfiLoaderData, 1n, MiB - 1n)), EFI_OUT_OF_RESOURCES);
  t.is(status(() => map.allocatePages(AllocateMaxAddress, EfiLoaderData, 1n, 0xfffn)), EFI_OUT_OF_RESOURCES);
});

test('AllocateAddress needs every page free and page-aligned, else EFI_NOT_FOUND', (t) => {
  const map = small();
  t.is(map.allocatePages(AllocateAddress, EfiLoaderCode, 4n, 0x180000n), 0x180000n);
  const key = map.mapKey;
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 1n, 0x183000n)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 2n, 0x17f000n)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 1n, 0x170800n)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 2n, 2n * MiB - P)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 1n, 0x10000n)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 0n, 0x170000n)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderCode, 1n << 52n, 0x170000n)), EFI_NOT_FOUND);
  t.is(map.mapKey, key, 'refused requests leave the map alone');
  t.is(map.allocatePages(AllocateAddress, EfiLoaderCode, 1n, 0x17f000n), 0x17f000n);
  t.deepEqual(rows(map), [
    [EfiConventionalMemory, MiB, 0x7fn, WB4],
    [EfiLoaderCode, 0x17f000n, 5n, WB4],
    [EfiConventionalMemory, 0x184000n, 0x7cn, WB4],
  ]);
});

test('exhaustion and zero pages give EFI_OUT_OF_RESOURCES; page 0 is never handed out', (t) => {
  const map = small();
  t.is(status(() => map.allocatePages(AllocateAnyPages, EfiLoaderData, 0x101n)), EFI_OUT_OF_RESOURCES);
  t.is(status(() => map.allocatePages(AllocateAnyPages, EfiLoaderData, 0n)), EFI_OUT_OF_RESOURCES);
  t.is(map.allocatePages(AllocateAnyPages, EfiLoaderData, 0x100n), MiB);
  t.is(status(() => map.allocatePages(AllocateAnyPages, EfiLoaderData, 1n)), EFI_OUT_OF_RESOURCES);

  const low = new MemoryMap([{ start: 0n, end: 3n * P }]);
  t.is(status(() => low.allocatePages(AllocateAnyPages, EfiLoaderData, 3n)), EFI_OUT_OF_RESOURCES);
  t.is(low.allocatePages(AllocateAnyPages, EfiLoaderData, 2n), P);
  t.is(low.allocatePages(AllocateAddress, EfiLoaderData, 1n, 0n), 0n, 'AllocateAddress may name page 0');
});

test('memory types the spec refuses are EFI_INVALID_PARAMETER; OEM and OS types are allowed', (t) => {
  const map = small();
  for (const bad of [7, 14, 15, 16, 0x1234, 0x6fffffff]) {
    t.is(status(() => map.allocatePages(AllocateAnyPages, bad, 1n)), EFI_INVALID_PARAMETER, memoryTypeName(bad));
  }
  t.is(status(() => map.allocatePages(3, EfiLoaderData, 1n)), EFI_INVALID_PARAMETER);
  const oem = map.allocatePages(AllocateAnyPages, 0x70000000, 1n);
  const os = map.allocatePages(AllocateAnyPages, 0xffffffff, 1n);
  t.is(map.typeAt(oem), 0x70000000);
  t.is(map.typeAt(os), 0xffffffff);
  t.is(memoryTypeName(0x70000001), 'OemReserved(0x70000001)');
  t.is(memoryTypeName(0x80000000), 'OsReserved(0x80000000)');
  t.is(memoryTypeName(EfiRuntimeServicesData), 'EfiRuntimeServicesData');
});

test('runtime types carry EFI_MEMORY_RUNTIME until freed', (t) => {
  const map = small();
  const a = map.allocatePages(AllocateAnyPages, EfiRuntimeServicesData, 2n);
  t.deepEqual(rows(map)[1], [EfiRuntimeServicesData, a, 2n, WB4 | (1n << 63n)]);
  t.is(EFI_MEMORY_RUNTIME, 1n << 63n);
  map.freePages(a, 2n);
  t.deepEqual(rows(map), [[EfiConventionalMemory, MiB, 0x100n, WB4]]);
});

test('freeing returns pages to conventional memory and merges back', (t) => {
  const map = small();
  const a = map.allocatePages(AllocateAnyPages, EfiLoaderData, 4n);
  const b = map.allocatePages(AllocateAnyPages, EfiBootServicesData, 1n);
  map.freePages(a, 4n);
  t.deepEqual(rows(map), [
    [EfiConventionalMemory, MiB, 0xfbn, WB4],
    [EfiBootServicesData, b, 1n, WB4],
    [EfiConventionalMemory, a, 4n, WB4],
  ]);
  const key = map.mapKey;
  map.freePages(b, 1n);
  t.not(map.mapKey, key);
  t.deepEqual(rows(map), [[EfiConventionalMemory, MiB, 0x100n, WB4]]);
  t.deepEqual(map.allocations(), []);
});

test('a partial free is allowed when every page is allocated, and the record follows', (t) => {
  const map = small();
  const a = map.allocatePages(AllocateAnyPages, EfiLoaderData, 4n);
  map.freePages(a + P, 2n);
  t.deepEqual(rows(map).slice(1), [
    [EfiLoaderData, a, 1n, WB4],
    [EfiConventionalMemory, a + P, 2n, WB4],
    [EfiLoaderData, a + 3n * P, 1n, WB4],
  ]);
  t.deepEqual(map.allocations().map((r) => [r.start, r.pages]), [[a, 1n], [a + 3n * P, 1n]]);
  t.is(status(() => map.freePages(a, 2n)), EFI_NOT_FOUND, 'second page is already free');
  t.true(map.isAllocated(a, 1n));
  t.false(map.isAllocated(a, 2n));
  map.freePages(a, 1n);
  map.freePages(a + 3n * P, 1n);
  t.deepEqual(rows(map), [[EfiConventionalMemory, MiB, 0x100n, WB4]]);

  // One free may span two adjacent guest allocations.
  const x = map.allocatePages(AllocateAnyPages, EfiLoaderData, 2n);
  const y = map.allocatePages(AllocateAnyPages, EfiLoaderCode, 2n);
  t.is(y, x - 2n * P);
  map.freePages(y + P, 2n);
  t.deepEqual(map.allocations().map((r) => [r.start, r.pages, r.type]), [[y, 1n, EfiLoaderCode], [x + P, 1n, EfiLoaderData]]);
});

test('FreePages refuses memory it did not hand out with the spec status', (t) => {
  const map = small();
  const mem = new GuestMemory(Buffer.alloc(Number(2n * MiB)), [{ start: 0n, end: 2n * MiB }]);
  const pool = new Pool(map, mem);
  const a = map.allocatePages(AllocateAnyPages, EfiLoaderData, 2n);
  const fw = map.allocatePages(AllocateAnyPages, EfiBootServicesData, 1n, undefined, 'firmware');
  const p = pool.allocate(EfiBootServicesData, 64, 'guest');
  const key = map.mapKey;

  t.is(status(() => map.freePages(a + 0x10n, 1n)), EFI_INVALID_PARAMETER);
  t.is(status(() => map.freePages(a, 0n)), EFI_INVALID_PARAMETER);
  t.is(status(() => map.freePages(0xffff_ffff_ffff_f000n, 2n)), EFI_INVALID_PARAMETER);
  t.is(status(() => map.freePages(MiB, 1n)), EFI_NOT_FOUND, 'never allocated');
  t.is(status(() => map.freePages(a, 3n)), EFI_NOT_FOUND, 'runs past the allocation into other memory');
  t.is(status(() => map.freePages(a - P, 2n)), EFI_NOT_FOUND, 'starts in free memory');
  t.is(status(() => map.freePages(fw, 1n)), EFI_NOT_FOUND, 'firmware memory');
  t.is(status(() => map.freePages(p & ~0xfffn, 1n)), EFI_NOT_FOUND, 'pool memory');
  t.is(status(() => map.freePages(0x4000_0000n, 1n)), EFI_NOT_FOUND, 'outside the map');
  t.is(map.mapKey, key);
  t.notThrows(() => map.freePages(a, 2n));
  t.is(status(() => map.freePages(a, 2n)), EFI_NOT_FOUND, 'double free');
  const err = t.throws(() => map.freePages(p & ~0xfffn, 1n), { instanceOf: EfiError });
  t.regex(err!.message, /pool memory/);
});

test('addRegion describes MMIO outside RAM and reserves free RAM, refusing memory in use', (t) => {
  const map = small();
  map.addRegion(0xfe000000n, 0x10n, EfiMemoryMappedIO, EFI_MEMORY_UC | EFI_MEMORY_RUNTIME);
  map.addRegion(0x110000n, 2n, EfiReservedMemoryType, WB4);
  t.deepEqual(rows(map), [
    [EfiConventionalMemory, MiB, 0x10n, WB4],
    [EfiReservedMemoryType, 0x110000n, 2n, WB4],
    [EfiConventionalMemory, 0x112000n, 0xeen, WB4],
    [EfiMemoryMappedIO, 0xfe000000n, 0x10n, 1n | (1n << 63n)],
  ]);
  t.throws(() => map.addRegion(0x111000n, 1n, EfiReservedMemoryType, WB4));
  t.is(status(() => map.freePages(0x110000n, 2n)), EFI_NOT_FOUND);
  t.is(status(() => map.allocatePages(AllocateAddress, EfiLoaderData, 1n, 0xfe000000n)), EFI_NOT_FOUND);
  t.is(map.typeAt(0xfe00f000n), EfiMemoryMappedIO);
  t.is(map.typeAt(0xfe010000n), undefined);
});

test('onChange hears every change with the new map key', (t) => {
  const map = small();
  const keys: number[] = [];
  map.onChange.push((k) => keys.push(k));
  const a = map.allocatePages(AllocateAnyPages, EfiLoaderData, 1n);
  map.freePages(a, 1n);
  t.is(status(() => map.freePages(a, 1n)), EFI_NOT_FOUND);
  t.is(keys.length, 2);
  t.is(keys[1], map.mapKey);
  t.true(keys[0] < keys[1]);
});

// --- Pool ---

function poolWorld(): { map: MemoryMap; pool: Pool; mem: GuestMemory } {
  const map = small();
  const mem = new GuestMemory(Buffer.alloc(Number(2n * MiB)), [{ start: 0n, end: 2n * MiB }]);
  return { map, mem, pool: new Pool(map, mem) };
}

test('pool blocks are 8-byte aligned, distinct, non-overlapping and zero-filled', (t) => {
  const { pool, mem } = poolWorld();
  mem.fill(MiB, Number(MiB), 0xcc);
  const sizes = [0, 1, 7, 8, 13, 100, 4095, 8000, 20000, 3, 64];
  const blocks = sizes.map((s) => ({ a: pool.allocate(EfiBootServicesData, s, 'guest'), s }));
  for (const { a, s } of blocks) {
    t.is(a % 8n, 0n);
    t.is(pool.sizeOf(a), s);
    t.true(mem.read(a, s).every((x) => x === 0), `block of ${s} bytes is zeroed`);
  }
  const spans = blocks.map(({ a, s }) => [a, a + BigInt(Math.max(s, 1))] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
  for (let i = 1; i < spans.length; i++) t.true(spans[i - 1][1] <= spans[i][0], 'no overlap');
  t.is(new Set(blocks.map((b) => b.a)).size, blocks.length);
});

test('pool pages appear in the memory map with the pool type; large blocks get their own pages', (t) => {
  const { map, pool } = poolWorld();
  const a = pool.allocate(EfiBootServicesData, 100, 'guest');
  const b = pool.allocate(EfiLoaderData, 100, 'guest');
  t.is(map.typeAt(a), EfiBootServicesData);
  t.is(map.typeAt(b), EfiLoaderData);
  t.is(map.allocationAt(a)?.owner, 'pool');
  const big = pool.allocate(EfiLoaderData, 0x5000, 'guest');
  t.is(big & 0xfffn, 0n);
  t.deepEqual(map.allocationAt(big), { start: big, pages: 5n, type: EfiLoaderData, owner: 'pool' });
  t.is(pool.free(big), 'ok');
  t.is(map.typeAt(big), EfiConventionalMemory);
  t.is(pool.free(big), 'double-free');
});

test('pool frees: bad pointers, double frees and firmware blocks are told apart', (t) => {
  const { map, pool } = poolWorld();
  const a = pool.allocate(EfiBootServicesData, 32, 'guest');
  const fw = pool.allocate(EfiBootServicesData, 32, 'firmware');
  const fwPage = map.allocatePages(AllocateAnyPages, EfiBootServicesData, 1n, undefined, 'firmware');
  t.is(pool.free(a + 8n), 'not-allocated');
  t.is(pool.free(0x123456n), 'not-allocated');
  t.is(pool.free(fw), 'firmware-owned');
  t.is(pool.free(fw + 8n), 'firmware-owned');
  t.is(pool.free(fwPage), 'firmware-owned');
  t.is(pool.free(a), 'ok');
  t.is(pool.free(a), 'double-free');
  t.is(pool.sizeOf(a), undefined);
  t.is(pool.free(fw, 'firmware'), 'ok');
  t.is(status(() => pool.allocate(EfiConventionalMemory, 8, 'guest')), EFI_INVALID_PARAMETER);
  t.is(status(() => pool.allocate(EfiBootServicesData, 4n * MiB, 'guest')), EFI_OUT_OF_RESOURCES);
});

test('freed pool space is reused and re-zeroed; the same calls give the same addresses', (t) => {
  const run = () => {
    const { pool, mem } = poolWorld();
    const a = pool.allocate(EfiLoaderData, 40, 'guest');
    const b = pool.allocate(EfiLoaderData, 40, 'guest');
    mem.fill(a, 40, 0x5a);
    pool.free(a);
    const c = pool.allocate(EfiLoaderData, 24, 'guest');
    return { a, b, c, zero: mem.read(c, 24).every((x) => x === 0), again: pool.free(a) };
  };
  const r1 = run();
  t.is(r1.c, r1.a);
  t.true(r1.zero);
  t.is(r1.again, 'ok', 'the address was handed out again, so freeing it is legitimate');
  t.deepEqual(run(), r1);
});
