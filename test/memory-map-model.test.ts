// The memory map against a page-by-page reference model on random AllocatePages/FreePages sequences, and its cost per call counted in tree nodes visited.
import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { MAX_PAGE_ALLOCATIONS, MemoryMap, PageOwner } from '../efi-services/boot/memory-map';
import { memoryTypeName } from '../efi-services/boot/memory-types';
import { EfiError } from '../core/status';

// UEFI 2.10 numbers, written out rather than imported so a wrong constant cannot agree with itself.
const ERR = 1n << 63n;
const INVALID_PARAMETER = ERR | 2n;
const OUT_OF_RESOURCES = ERR | 9n;
const NOT_FOUND = ERR | 14n;
const RUNTIME = 1n << 63n;
const WB4 = 0xfn;
const Reserved = 0;
const LoaderCode = 1;
const LoaderData = 2;
const RuntimeData = 6;
const Conventional = 7;
const MMIO = 11;
const AnyPages = 0;
const MaxAddress = 1;
const Address = 2;
const P = 0x1000n;
const LIMIT = 1n << 64n;

/** Guest-visible pages of the random world: RAM [0, 40) and [48, 80) pages (two touching ranges), a reserved hole, MMIO. */
const SPACE = 96;
const RAM = [{ start: 0n, end: 24n * P }, { start: 24n * P, end: 40n * P }, { start: 48n * P, end: 80n * P }];
const REGIONS = [
  { page: 60, pages: 2, type: Reserved, attribute: WB4 },
  { page: 90, pages: 3, type: MMIO, attribute: 1n | RUNTIME },
];

interface Rec { start: bigint; pages: bigint; type: number; owner: PageOwner }
type Outcome = { ok: unknown } | { status: bigint; message: string };

/**
 * The straightforward model: one type and attribute per page, a list of allocations, every question answered by
 * looking at each page. Slow and obviously right; the real map must agree with it on every call.
 */
class Reference {
  readonly type: (number | undefined)[] = new Array(SPACE).fill(undefined);
  readonly attr: bigint[] = new Array(SPACE).fill(0n);
  records: Rec[] = [];
  key = 1;

  constructor(private readonly cap: number) {
    for (const r of RAM) for (let p = Number(r.start / P); p < Number(r.end / P); p++) this.setPage(p, Conventional, WB4);
    for (const g of REGIONS) {
      for (let p = g.page; p < g.page + g.pages; p++) this.setPage(p, g.type, g.attribute);
      this.key++;
    }
  }

  allocate(allocType: number, memType: number, pages: bigint, address: bigint, owner: PageOwner): bigint {
    if (allocType > Address) throw new EfiError(INVALID_PARAMETER, 'AllocatePages: type');
    if (!ALLOCATABLE.includes(memType)) throw new EfiError(INVALID_PARAMETER, 'AllocatePages: memory type');
    if (this.records.length >= this.cap) {
      throw new EfiError(OUT_OF_RESOURCES, `AllocatePages: ${this.records.length} page allocations are live, stubemu's limit; free some first`);
    }
    let start: bigint | undefined;
    if (allocType === Address) {
      if (address % P !== 0n || pages === 0n || address + pages * P > LIMIT || !this.allFree(address / P, pages)) {
        throw new EfiError(NOT_FOUND, `AllocatePages: 0x${address.toString(16)} (${pages} pages) is not free`);
      }
      start = address;
    } else {
      const limit = allocType === MaxAddress ? (address + 1n) / P * P : LIMIT;
      // Highest start first; page 0 is never handed out.
      const top = (limit / P < BigInt(SPACE) ? limit / P : BigInt(SPACE)) - pages;
      for (let s = top; pages > 0n && s >= 1n && start === undefined; s--) if (this.allFree(s, pages)) start = s * P;
      if (start === undefined) throw new EfiError(OUT_OF_RESOURCES, `AllocatePages: no ${pages} free pages below 0x${limit.toString(16)}`);
    }
    this.convert(start, pages, memType);
    this.records.push({ start, pages, type: memType, owner });
    return start;
  }

  free(address: bigint, pages: bigint, owner: PageOwner): void {
    const what = `FreePages: 0x${address.toString(16)} (${pages} pages)`;
    if (address % P !== 0n) throw new EfiError(INVALID_PARAMETER, `${what} is not page-aligned`);
    const end = address + pages * P;
    if (pages === 0n || end > LIMIT) throw new EfiError(INVALID_PARAMETER, `${what}: invalid page count`);
    const exact = this.records.find((r) => r.start === address && r.pages === pages && r.owner === owner);
    const hit = this.records.filter((r) => r.start < end && r.start + r.pages * P > address).sort((a, b) => (a.start < b.start ? -1 : 1));
    // The lowest-addressed allocation of another owner is the one named.
    const foreign = hit.find((r) => r.owner !== owner);
    if (!exact && foreign) throw new EfiError(NOT_FOUND, `${what} is ${foreign.owner} memory, not allocated with AllocatePages`);
    let at = address;
    for (let r = this.recordAt(at); r && at < end; r = this.recordAt(at)) at = r.start + r.pages * P;
    if (at < end) {
      const where = at === address ? '' : ` at 0x${at.toString(16)}`;
      const type = at / P < BigInt(SPACE) ? this.type[Number(at / P)] : undefined;
      if (type === undefined) throw new EfiError(NOT_FOUND, `${what} is outside the memory map${where}`);
      if (type === Conventional) throw new EfiError(NOT_FOUND, `${what} was not allocated (free${where}; already freed?)`);
      throw new EfiError(NOT_FOUND, `${what} is ${memoryTypeName(type)}${where}, not allocated with AllocatePages`);
    }
    const kept: Rec[] = [];
    for (const r of this.records) {
      const rEnd = r.start + r.pages * P;
      if (r.start >= end || rEnd <= address) kept.push(r);
      else {
        if (r.start < address) kept.push({ ...r, pages: (address - r.start) / P });
        if (rEnd > end) kept.push({ ...r, start: end, pages: (rEnd - end) / P });
      }
    }
    this.records = kept;
    this.convert(address, pages, Conventional);
  }

  recordAt(address: bigint): Rec | undefined {
    return this.records.find((r) => address >= r.start && address < r.start + r.pages * P);
  }

  isAllocated(start: bigint, pages: bigint): boolean {
    if (pages <= 0n) return false;
    for (let p = start / P; p * P < start + pages * P; p++) if (!this.recordAt(p * P)) return false;
    return true;
  }

  rows(): [number, bigint, bigint, bigint][] {
    const out: [number, bigint, bigint, bigint][] = [];
    for (let p = 0; p < SPACE; p++) {
      const t = this.type[p];
      if (t === undefined) continue;
      const last = out[out.length - 1];
      if (last && last[1] + last[2] * P === BigInt(p) * P && last[0] === t && last[3] === this.attr[p]) last[2]++;
      else out.push([t, BigInt(p) * P, 1n, this.attr[p]]);
    }
    return out;
  }

  private allFree(first: bigint, pages: bigint): boolean {
    if (first + pages > BigInt(SPACE)) return false;
    for (let p = Number(first); p < Number(first + pages); p++) if (this.type[p] !== Conventional) return false;
    return true;
  }

  private convert(start: bigint, pages: bigint, type: number): void {
    for (let p = Number(start / P); p < Number(start / P + pages); p++) {
      const runtime = type === 5 || type === RuntimeData;
      this.setPage(p, type, runtime ? this.attr[p] | RUNTIME : this.attr[p] & ~RUNTIME);
    }
    this.key++;
  }

  private setPage(p: number, type: number, attribute: bigint): void {
    this.type[p] = type;
    this.attr[p] = attribute;
  }
}

/** Types AllocatePages accepts among those the random calls use (UEFI 2.10 §7.2: not 7, 14, 15, 16..0x6fffffff). */
const ALLOCATABLE = [Reserved, LoaderCode, LoaderData, 3, 4, 5, RuntimeData, 9, 10, MMIO, 0x70000000, 0x80000000];
const TYPES = [...ALLOCATABLE, Conventional, 14, 16];
const OWNERS: PageOwner[] = ['guest', 'firmware', 'pool'];

type Op =
  | { kind: 'allocate'; allocType: number; memType: number; pages: bigint; address: bigint; owner: PageOwner }
  | { kind: 'free'; address: bigint; pages: bigint; owner: PageOwner }
  | { kind: 'freeLive'; index: number; front: number; back: number; owner?: PageOwner }
  | { kind: 'probe'; address: bigint; pages: bigint };

const address = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: SPACE + 4 }).map((p) => BigInt(p) * P) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: BigInt(SPACE + 4) * P }) },
  { weight: 1, arbitrary: fc.constantFrom(LIMIT - P, LIMIT - 1n) },
);
const pages = fc.oneof({ weight: 10, arbitrary: fc.bigInt({ min: 0n, max: 9n }) }, { weight: 1, arbitrary: fc.constantFrom(40n, 1n << 52n) });
const owner = fc.constantFrom(...OWNERS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('allocate' as const), allocType: fc.constantFrom(AnyPages, AnyPages, MaxAddress, Address, 3), memType: fc.constantFrom(...TYPES), pages, address, owner }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('free' as const), address, pages, owner }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('freeLive' as const), index: fc.nat(), front: fc.nat(2), back: fc.integer({ min: -1, max: 2 }), owner: fc.option(owner, { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('probe' as const), address, pages }) },
);

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: f() };
  } catch (e) {
    if (!(e instanceof EfiError)) throw e;
    // AllocatePages' parameter refusals are compared by status: their text names types the model does not spell.
    return { status: e.status, message: e.status === INVALID_PARAMETER && e.message.startsWith('AllocatePages') ? '' : e.message };
  }
}

const show = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

/** Throws (so fast-check shrinks the sequence) when the map and the model disagree. */
function same(what: string, got: unknown, want: unknown, after: Op): void {
  if (!isDeepStrictEqual(got, want)) throw new Error(`${what} after ${show(after)}:\n  map:   ${show(got)}\n  model: ${show(want)}`);
}

function world(cap: number): MemoryMap {
  const map = new MemoryMap(RAM, { maxAllocations: cap });
  for (const g of REGIONS) map.addRegion(BigInt(g.page) * P, BigInt(g.pages), g.type, g.attribute);
  return map;
}

test('random AllocatePages/FreePages sequences: the map agrees with the page-by-page model on every call, descriptor and MapKey', (t) => {
  let calls = 0;
  const kinds = new Set<string>();
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { minLength: 100, maxLength: 300, size: 'max' }), (cap, ops) => {
    const map = world(cap);
    const ref = new Reference(cap);
    for (const o of ops) {
      calls++;
      let got: Outcome, want: Outcome;
      if (o.kind === 'allocate') {
        got = outcome(() => map.allocatePages(o.allocType, o.memType, o.pages, o.address, o.owner));
        want = outcome(() => ref.allocate(o.allocType, o.memType, o.pages, o.address, o.owner));
      } else if (o.kind === 'free') {
        got = outcome(() => map.freePages(o.address, o.pages, o.owner));
        want = outcome(() => ref.free(o.address, o.pages, o.owner));
      } else if (o.kind === 'freeLive') {
        // Part of, all of, or a little past one live allocation, by its owner or another.
        const live = [...ref.records].sort((a, b) => (a.start < b.start ? -1 : 1));
        if (live.length === 0) continue;
        const r = live[o.index % live.length];
        const start = r.start + BigInt(Math.min(o.front, Number(r.pages) - 1)) * P;
        const left = Number((r.start + r.pages * P - start) / P);
        const n = BigInt(o.back < 0 ? left + 1 : left - Math.min(o.back, left - 1));
        const who = o.owner ?? r.owner;
        got = outcome(() => map.freePages(start, n, who));
        want = outcome(() => ref.free(start, n, who));
      } else {
        const a = o.address;
        got = { ok: [map.typeAt(a), map.allocationAt(a), map.isAllocated(a, o.pages)] };
        const rec = ref.recordAt(a);
        want = { ok: [a / P < BigInt(SPACE) ? ref.type[Number(a / P)] : undefined, rec && { ...rec }, ref.isAllocated(a, o.pages)] };
      }
      same('outcome', got, want, o);
      kinds.add('ok' in got ? `${o.kind} ok` : got.message.replace(/0x[0-9a-f]+|\d+/g, 'N') || `${o.kind} invalid parameter`);
      same('descriptors', map.descriptors().map((d) => [d.type, d.physicalStart, d.numberOfPages, d.attribute]), ref.rows(), o);
      same('allocations', map.allocations(), [...ref.records].sort((a, b) => (a.start < b.start ? -1 : 1)), o);
      same('MapKey', map.mapKey, ref.key, o);
    }
  }), { seed: 20251, numRuns: 60, includeErrorInReport: true }));
  t.true(calls > 5000, `${calls} calls compared`);
  // Every refusal FreePages and AllocatePages can give, each success, and each kind of gap and foreign owner.
  t.true(kinds.size >= 18, [...kinds].sort().join('\n'));
});

test('FreePages over several owners names the lowest-addressed foreign allocation', (t) => {
  const map = new MemoryMap([{ start: 0x100000n, end: 0x200000n }]);
  const g = map.allocatePages(AnyPages, LoaderData, 2n, undefined, 'guest');
  const pool = map.allocatePages(AnyPages, LoaderData, 1n, undefined, 'pool');
  const fw = map.allocatePages(AnyPages, LoaderData, 1n, undefined, 'firmware');
  t.is(fw, pool - P);
  const e = t.throws(() => map.freePages(fw, 4n, 'guest'), { instanceOf: EfiError });
  t.is(e?.message, `FreePages: 0x${fw.toString(16)} (4 pages) is firmware memory, not allocated with AllocatePages`);
  t.is(g, pool + P);
});

// --- Cost per call, counted in tree nodes visited (MemoryMap.visited), never timed ---

const RAM_1G = [{ start: 0x100000n, end: 1n << 30n }];

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

test(`alternating memory types up to ${MAX_PAGE_ALLOCATIONS} allocations: the work per AllocatePages and FreePages grows like log n`, (t) => {
  const map = new MemoryMap(RAM_1G);
  const work = (f: () => void) => {
    const before = map.visited;
    f();
    return map.visited - before;
  };
  const got: bigint[] = [];
  const at1k: number[] = [];
  const at64k: number[] = [];
  for (let i = 0; i < MAX_PAGE_ALLOCATIONS; i++) {
    const w = work(() => got.push(map.allocatePages(AnyPages, i % 2 ? LoaderCode : LoaderData, 1n)));
    if (i >= 1024 && i < 1536) at1k.push(w);
    if (i >= MAX_PAGE_ALLOCATIONS - 512) at64k.push(w);
  }
  // Every allocation is its own descriptor: types alternate, so nothing merges.
  t.is(map.descriptors().length, MAX_PAGE_ALLOCATIONS + 1);
  // A scan of the map per call would make the 64Ki-entry calls ~50 times dearer than the 1Ki-entry ones; log n
  // makes them 16/10 as dear (treap depth varies, hence the margin).
  t.true(mean(at64k) < 3 * mean(at1k), `${mean(at64k)} vs ${mean(at1k)} nodes per AllocatePages`);
  t.true(Math.max(...at64k) < 40 * 16, `${Math.max(...at64k)} nodes at most`);

  // Freeing every other allocation leaves 32Ki one-page holes; each FreePages stays cheap.
  const frees: number[] = [];
  for (let i = 0; i < got.length; i += 2) frees.push(work(() => map.freePages(got[i], 1n)));
  t.true(Math.max(...frees) < 40 * 16, `${Math.max(...frees)} nodes at most per FreePages`);

  // A two-page request skips every hole without looking at each; so does a refused FreePages over the whole run.
  const low = got[got.length - 1];
  t.true(work(() => map.allocatePages(AnyPages, RuntimeData, 2n)) < 40 * 16);
  t.true(work(() => t.throws(() => map.freePages(low, BigInt(MAX_PAGE_ALLOCATIONS)))) < 40 * 16);
  t.true(work(() => t.throws(() => map.freePages(got[1], 1n, 'firmware'))) < 40 * 16);
  t.true(work(() => t.false(map.isAllocated(low, BigInt(MAX_PAGE_ALLOCATIONS)))) < 40 * 16);
});

test('freeing one range over many allocations costs each of them once, and the map merges back to one descriptor', (t) => {
  const map = new MemoryMap(RAM_1G);
  const n = 4096;
  let low = 0n;
  for (let i = 0; i < n; i++) low = map.allocatePages(AnyPages, i % 2 ? LoaderCode : LoaderData, 1n);
  const before = map.visited;
  map.freePages(low, BigInt(n));
  const perAllocation = (map.visited - before) / n;
  t.true(perAllocation < 80, `${perAllocation} nodes per allocation freed`);
  t.deepEqual(map.descriptors().map((d) => [d.type, d.physicalStart, d.numberOfPages]), [[Conventional, 0x100000n, ((1n << 30n) - 0x100000n) / P]]);
  t.deepEqual(map.allocations(), []);
});
