// Ordered map keyed by bigint (a treap) with per-subtree summaries: neighbours, free ranges and gaps in O(log n).

/**
 * What a subtree knows about its items: `of` one item, `join` two adjacent runs (left run first). `join` must be
 * associative. Searches by predicate need `p(join(a, b))` to imply `p(a) || p(b)` (true of "max >= x", "bits & m").
 */
export interface Summary<T, S> {
  of(item: T): S;
  join(left: S, right: S): S;
}

interface Node<T, S> {
  key: bigint;
  item: T;
  own: S;
  sum: S;
  priority: number;
  left?: Node<T, S>;
  right?: Node<T, S>;
}

type Pair<T, S> = [Node<T, S> | undefined, Node<T, S> | undefined];

/**
 * Items in key order, at most one per key. Every operation costs O(log n) expected (a treap: a binary search tree by
 * key, a heap by random priority) plus O(k) for the k items it returns. Items are values: replace with `set`, never
 * change a stored item in place, or the summaries go stale.
 */
export class OrderedTree<T, S = undefined> {
  /** Tree nodes visited since construction: tests count this to check the cost per call without a clock. */
  visited = 0;

  private root: Node<T, S> | undefined;
  private count = 0;
  // A fixed seed: the shape (and so the work done) is the same on every run for the same calls.
  private seed = 0x2545f491;

  constructor(private readonly keyOf: (item: T) => bigint, private readonly summary?: Summary<T, S>) {}

  get size(): number {
    return this.count;
  }

  get(key: bigint): T | undefined {
    for (let n = this.root; n; n = key < n.key ? n.left : n.right) {
      this.visited++;
      if (n.key === key) return n.item;
    }
    return undefined;
  }

  /** The item with the greatest key <= `key`. */
  floor(key: bigint): T | undefined {
    let best: Node<T, S> | undefined;
    for (let n = this.root; n;) {
      this.visited++;
      if (n.key <= key) {
        best = n;
        n = n.right;
      } else n = n.left;
    }
    return best?.item;
  }

  /** The item with the least key >= `key`. */
  ceiling(key: bigint): T | undefined {
    let best: Node<T, S> | undefined;
    for (let n = this.root; n;) {
      this.visited++;
      if (n.key >= key) {
        best = n;
        n = n.left;
      } else n = n.right;
    }
    return best?.item;
  }

  /** Inserts `item`, replacing the item with the same key. */
  set(item: T): void {
    const key = this.keyOf(item);
    const own = this.summary ? this.summary.of(item) : (undefined as S);
    if (this.replace(this.root, key, item, own)) return;
    this.count++;
    this.root = this.insert(this.root, { key, item, own, sum: own, priority: this.random() });
  }

  delete(key: bigint): boolean {
    const before = this.count;
    this.root = this.remove(this.root, key);
    return this.count < before;
  }

  /** All items in key order. */
  values(): T[] {
    return this.collect(this.root, []);
  }

  /** Items with keys in [lo, hi), in key order. */
  between(lo: bigint, hi: bigint): T[] {
    return this.within(lo, hi, (n) => this.collect(n, []));
  }

  /** Summary of the items with keys in [lo, hi); undefined when there are none. */
  summarize(lo: bigint, hi: bigint): S | undefined {
    return this.within(lo, hi, (n) => n?.sum);
  }

  /** The lowest-keyed item in [lo, hi) whose own summary satisfies `p`, found by the subtree summaries. */
  first(p: (s: S) => boolean, lo?: bigint, hi?: bigint): T | undefined {
    return this.within(lo, hi, (n) => this.descend(n, p, 'left'));
  }

  /** The highest-keyed item in [lo, hi) whose own summary satisfies `p`. */
  last(p: (s: S) => boolean, lo?: bigint, hi?: bigint): T | undefined {
    return this.within(lo, hi, (n) => this.descend(n, p, 'right'));
  }

  /** Cuts out the keys in [lo, hi) (an open side when undefined), runs `f` on them, and joins the tree again. */
  private within<R>(lo: bigint | undefined, hi: bigint | undefined, f: (n: Node<T, S> | undefined) => R): R {
    const [below, rest] = lo === undefined ? [undefined, this.root] : this.split(this.root, lo);
    const [middle, above] = hi === undefined ? [rest, undefined] : this.split(rest, hi);
    try {
      return f(middle);
    } finally {
      this.root = this.merge(this.merge(below, middle), above);
    }
  }

  private descend(top: Node<T, S> | undefined, p: (s: S) => boolean, side: 'left' | 'right'): T | undefined {
    if (!top || !p(top.sum)) return undefined;
    const other = side === 'left' ? 'right' : 'left';
    // The summaries lead straight to the item: a subtree whose summary satisfies `p` holds one that does.
    for (let n: Node<T, S> = top; ;) {
      this.visited++;
      const near = n[side];
      if (near && p(near.sum)) n = near;
      else if (p(n.own)) return n.item;
      else n = n[other]!;
    }
  }

  private replace(n: Node<T, S> | undefined, key: bigint, item: T, own: S): boolean {
    if (!n) return false;
    this.visited++;
    if (n.key === key) {
      n.item = item;
      n.own = own;
    } else if (!this.replace(key < n.key ? n.left : n.right, key, item, own)) return false;
    this.pull(n);
    return true;
  }

  /** Inserts a new key where its priority puts it on the path to the key. */
  private insert(n: Node<T, S> | undefined, node: Node<T, S>): Node<T, S> {
    if (!n) return node;
    if (node.priority > n.priority) {
      [node.left, node.right] = this.split(n, node.key);
      this.pull(node);
      return node;
    }
    this.visited++;
    if (node.key < n.key) n.left = this.insert(n.left, node);
    else n.right = this.insert(n.right, node);
    this.pull(n);
    return n;
  }

  private remove(n: Node<T, S> | undefined, key: bigint): Node<T, S> | undefined {
    if (!n) return undefined;
    this.visited++;
    if (n.key === key) {
      this.count--;
      return this.merge(n.left, n.right);
    }
    if (key < n.key) n.left = this.remove(n.left, key);
    else n.right = this.remove(n.right, key);
    this.pull(n);
    return n;
  }

  /** [keys < key, keys >= key] */
  private split(n: Node<T, S> | undefined, key: bigint): Pair<T, S> {
    if (!n) return [undefined, undefined];
    this.visited++;
    if (n.key < key) {
      const [a, b] = this.split(n.right, key);
      n.right = a;
      this.pull(n);
      return [n, b];
    }
    const [a, b] = this.split(n.left, key);
    n.left = b;
    this.pull(n);
    return [a, n];
  }

  /** Joins two trees, every key of `a` below every key of `b`. */
  private merge(a: Node<T, S> | undefined, b: Node<T, S> | undefined): Node<T, S> | undefined {
    if (!a) return b;
    if (!b) return a;
    this.visited++;
    if (a.priority > b.priority) {
      a.right = this.merge(a.right, b);
      this.pull(a);
      return a;
    }
    b.left = this.merge(a, b.left);
    this.pull(b);
    return b;
  }

  private pull(n: Node<T, S>): void {
    const s = this.summary;
    if (!s) return;
    let sum = n.own;
    if (n.left) sum = s.join(n.left.sum, sum);
    if (n.right) sum = s.join(sum, n.right.sum);
    n.sum = sum;
  }

  private collect(n: Node<T, S> | undefined, out: T[]): T[] {
    const stack: Node<T, S>[] = [];
    for (;;) {
      while (n) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop();
      if (!top) return out;
      this.visited++;
      out.push(top.item);
      n = top.right;
    }
  }

  /** xorshift32 */
  private random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}
