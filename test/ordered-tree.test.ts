// The ordered tree under the memory map and the pool, against a sorted array on random operations.
import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { OrderedTree, Summary } from '../efi-services/boot/ordered-tree';

interface Item { key: bigint; weight: bigint }

const HEAVIEST: Summary<Item, bigint> = { of: (i) => i.weight, join: (a, b) => (a > b ? a : b) };

type Op =
  | { kind: 'set'; key: bigint; weight: bigint }
  | { kind: 'delete'; key: bigint }
  | { kind: 'query'; key: bigint; hi: bigint; min: bigint; open: 'none' | 'lo' | 'hi' | 'both' };

const key = fc.bigInt({ min: 0n, max: 60n });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), key, weight: fc.bigInt({ min: -5n, max: 50n }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('query' as const), key, hi: key, min: fc.bigInt({ min: -5n, max: 55n }), open: fc.constantFrom('none' as const, 'lo' as const, 'hi' as const, 'both' as const) }) },
);

test('random sets, deletes and queries: the tree answers as a sorted array does', (t) => {
  let queries = 0;
  t.notThrows(() => fc.assert(fc.property(fc.array(op, { minLength: 50, maxLength: 300, size: 'max' }), (ops) => {
    const tree = new OrderedTree<Item, bigint>((i) => i.key, HEAVIEST);
    let ref: Item[] = [];
    const same = (what: string, a: unknown, b: unknown) => {
      if (!isDeepStrictEqual(a, b)) throw new Error(`${what}: tree ${String(a && JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? Number(v) : v)))} vs array ${String(b && JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? Number(v) : v)))}`);
    };
    for (const o of ops) {
      if (o.kind === 'set') {
        tree.set({ key: o.key, weight: o.weight });
        ref = [...ref.filter((i) => i.key !== o.key), { key: o.key, weight: o.weight }].sort((a, b) => (a.key < b.key ? -1 : 1));
      } else if (o.kind === 'delete') {
        same('delete', tree.delete(o.key), ref.some((i) => i.key === o.key));
        ref = ref.filter((i) => i.key !== o.key);
      } else {
        queries++;
        const lo = o.open === 'lo' || o.open === 'both' ? undefined : o.key;
        const hi = o.open === 'hi' || o.open === 'both' ? undefined : o.hi;
        const inRange = ref.filter((i) => (lo === undefined || i.key >= lo) && (hi === undefined || i.key < hi));
        const heavy = inRange.filter((i) => i.weight >= o.min);
        same('get', tree.get(o.key), ref.find((i) => i.key === o.key));
        same('floor', tree.floor(o.key), ref.filter((i) => i.key <= o.key).at(-1));
        same('ceiling', tree.ceiling(o.key), ref.find((i) => i.key >= o.key));
        same('first', tree.first((w) => w >= o.min, lo, hi), heavy[0]);
        same('last', tree.last((w) => w >= o.min, lo, hi), heavy.at(-1));
        same('between', tree.between(o.key, o.hi), ref.filter((i) => i.key >= o.key && i.key < o.hi));
        same('summarize', tree.summarize(o.key, o.hi), ref.filter((i) => i.key >= o.key && i.key < o.hi).reduce<bigint | undefined>((m, i) => (m === undefined || i.weight > m ? i.weight : m), undefined));
      }
      same('values', tree.values(), ref);
      same('size', tree.size, ref.length);
    }
  }), { seed: 4242, numRuns: 80, includeErrorInReport: true }));
  t.true(queries > 2000, `${queries} queries`);
});

test('a tree of 2^16 keys inserted in descending order stays shallow: floor visits O(log n) nodes', (t) => {
  const tree = new OrderedTree<Item>((i) => i.key);
  for (let k = 1 << 16; k > 0; k--) tree.set({ key: BigInt(k), weight: 0n });
  const before = tree.visited;
  for (let k = 1; k <= 1 << 16; k += 97) t.is(tree.floor(BigInt(k))?.key, BigInt(k));
  const perLookup = (tree.visited - before) / Math.ceil((1 << 16) / 97);
  // A list would take 2^15 steps on average; a balanced tree log2(2^16) = 16 to about 3 times that.
  t.true(perLookup < 64, `${perLookup} nodes per floor`);
});
