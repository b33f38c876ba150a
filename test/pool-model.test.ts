// The pool against a list-based reference on random AllocatePool/FreePool sequences, and its bounded record of freed blocks.
import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { CallInfo, ServiceFn } from '../core/abi';
import { MemoryMap } from '../efi-services/boot/memory-map';
import { memoryServices } from '../efi-services/boot/memory-services';
import { Pool, POOL_FREED_HISTORY, PoolFreeResult, PoolOwner } from '../efi-services/boot/pool';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS, EfiError } from '../core/status';
import { GuestMemory } from '../core/guest-memory';
import { FakePlatform } from './helpers/fake-platform';

// UEFI 2.10 numbers, written out.
const LoaderData = 2;
const BootServicesData = 4;
const RuntimeServicesData = 6;
const AnyPages = 0;
const MiB = 0x100000n;
const PAGE = 0x1000n;

interface RefBlock { address: bigint; size: number; type: number; owner: PoolOwner; span: bigint; pages?: bigint }

/**
 * The pool as a list-minded reader would write it: free extents in a sorted array searched front to back, every
 * free remembered in order. The first fit, the arena growth and the classification of bad frees are the rules the
 * real pool must keep; it only finds things faster and remembers the last `history` frees.
 */
class ReferencePool {
  readonly live = new Map<bigint, RefBlock>();
  private readonly frees: bigint[] = [];
  private readonly extents = new Map<number, { start: bigint; end: bigint }[]>();

  constructor(private readonly map: MemoryMap, private readonly history: number) {}

  allocate(type: number, size: number, owner: PoolOwner): bigint {
    const bytes = BigInt(size);
    const span = bytes === 0n ? 8n : (bytes + 7n) / 8n * 8n;
    let block: RefBlock;
    if (span >= 4n * PAGE) {
      const pages = (span + PAGE - 1n) / PAGE;
      block = { address: this.map.allocatePages(AnyPages, type, pages, undefined, 'pool'), size, type, owner, span, pages };
    } else {
      let list = this.extents.get(type) ?? [];
      let e = list.find((x) => x.end - x.start >= span);
      if (!e) {
        const start = this.map.allocatePages(AnyPages, type, 16n, undefined, 'pool');
        this.release(type, start, start + 16n * PAGE);
        list = this.extents.get(type)!;
        e = list.find((x) => x.end - x.start >= span)!;
      }
      block = { address: e.start, size, type, owner, span };
      e.start += span;
      if (e.start === e.end) list.splice(list.indexOf(e), 1);
    }
    this.live.set(block.address, block);
    return block.address;
  }

  free(address: bigint, by: PoolOwner): PoolFreeResult {
    const block = this.live.get(address);
    if (!block) {
      if (this.frees.slice(-this.history).includes(address)) return 'double-free';
      const inFirmwareBlock = [...this.live.values()].some((b) => b.owner === 'firmware' && address >= b.address && address < b.address + b.span);
      if (by === 'guest' && (this.map.allocationAt(address)?.owner === 'firmware' || inFirmwareBlock)) return 'firmware-owned';
      return 'not-allocated';
    }
    if (block.owner === 'firmware' && by === 'guest') return 'firmware-owned';
    this.live.delete(address);
    this.frees.push(address);
    if (block.pages !== undefined) this.map.freePages(address, block.pages, 'pool');
    else this.release(block.type, address, address + block.span);
    return 'ok';
  }

  private release(type: number, start: bigint, end: bigint): void {
    const list = this.extents.get(type) ?? [];
    this.extents.set(type, list);
    list.push({ start, end });
    list.sort((a, b) => (a.start < b.start ? -1 : 1));
    for (let i = list.length - 1; i > 0; i--) {
      if (list[i - 1].end === list[i].start) {
        list[i - 1].end = list[i].end;
        list.splice(i, 1);
      }
    }
  }
}

type Op =
  | { kind: 'allocate'; type: number; size: number; owner: PoolOwner }
  | { kind: 'freeLive'; index: number; by: PoolOwner }
  | { kind: 'freeAgain'; back: number; by: PoolOwner }
  | { kind: 'freeInterior'; index: number; offset: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('allocate' as const),
    type: fc.constantFrom(LoaderData, BootServicesData, RuntimeServicesData),
    size: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 1, arbitrary: fc.constantFrom(4000, 16376, 16384, 40000, 300000, 2 << 20) }),
    owner: fc.constantFrom<PoolOwner>('guest', 'guest', 'firmware'),
  }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('freeLive' as const), index: fc.nat(), by: fc.constantFrom<PoolOwner>('guest', 'guest', 'firmware') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeAgain' as const), back: fc.nat(12), by: fc.constantFrom<PoolOwner>('guest', 'firmware') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeInterior' as const), index: fc.nat(), offset: fc.integer({ min: 1, max: 20 }) }) },
);

const show = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    if (e instanceof EfiError) return { status: e.status, message: e.message };
    throw e;
  }
}

function ram(): { map: MemoryMap; mem: GuestMemory } {
  return {
    map: new MemoryMap([{ start: MiB, end: 2n * MiB }]),
    mem: new GuestMemory(Buffer.alloc(Number(2n * MiB)), [{ start: 0n, end: 2n * MiB }]),
  };
}

test('random AllocatePool/FreePool sequences: the pool hands out the same addresses and answers the same as the list-based reference', (t) => {
  let calls = 0;
  const kinds = new Set<string>();
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 1, max: 10 }), fc.array(op, { minLength: 100, maxLength: 250, size: 'max' }), (history, ops) => {
    const real = ram();
    const pool = new Pool(real.map, real.mem, { freedHistory: history });
    const refMap = ram().map;
    const ref = new ReferencePool(refMap, history);
    const freed: bigint[] = [];
    for (const o of ops) {
      calls++;
      const live = [...ref.live.keys()].sort((a, b) => (a < b ? -1 : 1));
      let got: unknown, want: unknown;
      if (o.kind === 'allocate') {
        got = outcome(() => pool.allocate(o.type, o.size, o.owner));
        want = outcome(() => ref.allocate(o.type, o.size, o.owner));
      } else {
        let address: bigint;
        let by: PoolOwner = 'guest';
        if (o.kind === 'freeLive') {
          if (live.length === 0) continue;
          address = live[o.index % live.length];
          by = o.by;
        } else if (o.kind === 'freeAgain') {
          if (freed.length === 0) continue;
          address = freed[Math.max(0, freed.length - 1 - o.back)];
          by = o.by;
        } else {
          if (live.length === 0) continue;
          address = live[o.index % live.length] + BigInt(o.offset);
        }
        got = pool.free(address, by);
        want = ref.free(address, by);
        if (want === 'ok') freed.push(address);
      }
      const same = (what: string, a: unknown, b: unknown) => {
        if (!isDeepStrictEqual(a, b)) throw new Error(`${what} after ${show(o)}:\n  pool:      ${show(a)}\n  reference: ${show(b)}`);
      };
      same('outcome', got, want);
      kinds.add(typeof got === 'bigint' ? 'allocated' : typeof got === 'string' ? got : 'refused');
      same('live blocks', pool.allocations(), [...ref.live.values()].sort((a, b) => (a.address < b.address ? -1 : 1))
        .map(({ address, size, type, owner }) => ({ address, size, type, owner })));
      same('memory map', real.map.descriptors(), refMap.descriptors());
    }
  }), { seed: 7331, numRuns: 60, includeErrorInReport: true }));
  t.true(calls > 5000, `${calls} calls compared`);
  t.deepEqual([...kinds].sort(), ['allocated', 'double-free', 'firmware-owned', 'not-allocated', 'ok', 'refused']);
});

test(`the pool remembers the last ${POOL_FREED_HISTORY} frees: a double free within them is reported as one, an older one as a pointer not allocated`, (t) => {
  const { map, mem } = ram();
  const pool = new Pool(map, mem);
  const blocks = Array.from({ length: POOL_FREED_HISTORY + 1 }, () => pool.allocate(LoaderData, 8, 'guest'));
  t.is(new Set(blocks).size, blocks.length);
  for (const b of blocks) t.is(pool.free(b), 'ok');
  t.true(pool.forgetsFrees);
  t.is(pool.free(blocks[0]), 'not-allocated', 'the first free has left the history');
  t.is(pool.free(blocks[1]), 'double-free');
  t.is(pool.free(blocks[POOL_FREED_HISTORY]), 'double-free');
});

test('the ring of freed addresses: a block handed out again may be freed again, and its old slot does not forget the new free', (t) => {
  const { map, mem } = ram();
  const pool = new Pool(map, mem, { freedHistory: 3 });
  const a = pool.allocate(LoaderData, 16, 'guest');
  const b = pool.allocate(LoaderData, 16, 'guest');
  const c = pool.allocate(LoaderData, 16, 'guest');
  t.is(pool.free(a), 'ok'); // ring: a
  t.false(pool.forgetsFrees);
  t.is(pool.allocate(LoaderData, 16, 'guest'), a, 'first fit hands the freed block out again');
  t.is(pool.free(a), 'ok'); // ring: a(stale) a
  t.is(pool.free(b), 'ok'); // ring: a(stale) a b
  t.is(pool.free(c), 'ok'); // ring: c a b: the stale slot went, nothing was forgotten
  t.false(pool.forgetsFrees);
  t.is(pool.free(a), 'double-free');
  const d = pool.allocate(BootServicesData, 64, 'guest'); // another type's arena: a new address
  t.is(pool.free(d), 'ok'); // ring: c d b: a is forgotten
  t.true(pool.forgetsFrees);
  t.is(pool.free(a), 'not-allocated');
  t.is(pool.free(b), 'double-free');
  t.is(pool.free(c), 'double-free');
  t.is(pool.free(d), 'double-free');
});

test('a freed block handed out again and still live is not counted as forgotten when the ring passes its old slot', (t) => {
  const { map, mem } = ram();
  const pool = new Pool(map, mem, { freedHistory: 2 });
  const x = pool.allocate(LoaderData, 8, 'guest');
  const others = [pool.allocate(LoaderData, 8, 'guest'), pool.allocate(LoaderData, 8, 'guest')];
  t.is(pool.free(x), 'ok');
  t.is(pool.allocate(LoaderData, 8, 'guest'), x);
  for (const o of others) t.is(pool.free(o), 'ok');
  t.false(pool.forgetsFrees, 'nothing freed has been forgotten: x is live');
  t.is(pool.free(x), 'ok');
  t.true(pool.forgetsFrees, 'now the first of the others is');
});

test('the history length changes nothing the guest sees for legal calls', (t) => {
  const run = (history: number) => {
    const { map, mem } = ram();
    const pool = new Pool(map, mem, { freedHistory: history });
    const seen: unknown[] = [];
    const live: bigint[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 2 && live.length > 0) {
        const [a] = live.splice((i * 7) % live.length, 1);
        seen.push(pool.free(a));
      } else {
        const a = pool.allocate(i % 2 ? LoaderData : BootServicesData, (i * 37) % 500, 'guest');
        live.push(a);
        seen.push(a);
      }
    }
    return { seen, map: map.descriptors(), live: pool.allocations() };
  };
  const small = run(1);
  t.deepEqual(run(1 << 16), small);
  t.true(small.seen.includes('ok'));
});

test('FreePool: a double free the pool has forgotten is still EFI_INVALID_PARAMETER, and the guest error says it may be one', (t) => {
  const platform = new FakePlatform();
  const map = new MemoryMap([{ start: 0x100000n, end: 0x800000n }]);
  const pool = new Pool(map, platform.mem, { freedHistory: 2 });
  const errors: string[] = [];
  const impl = memoryServices(platform, map, pool, (m) => errors.push(m));
  const info: CallInfo = { name: 'test', caller: 0n, stackPointer: 0n, vararg: () => 0n, note: () => undefined };
  const call = (name: keyof typeof impl, ...args: bigint[]) => (impl[name] as ServiceFn<'EFI_STATUS'>)(args, info);
  const OUT = 0x2000n;
  const blocks: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    t.is(call('AllocatePool', BigInt(LoaderData), 24n, OUT), EFI_SUCCESS);
    blocks.push(platform.mem.u64(OUT));
  }
  t.is(call('FreePool', 0x4321n), EFI_INVALID_PARAMETER);
  for (const b of blocks) t.is(call('FreePool', b), EFI_SUCCESS);
  t.is(call('FreePool', blocks[0]), EFI_INVALID_PARAMETER);
  t.is(call('FreePool', blocks[2]), EFI_INVALID_PARAMETER);
  t.deepEqual(errors, [
    'FreePool: 0x4321 was never allocated',
    `FreePool: 0x${blocks[0].toString(16)} was not allocated, or was freed more than 2 frees ago`,
    `FreePool: 0x${blocks[2].toString(16)} already freed`,
  ]);
});
