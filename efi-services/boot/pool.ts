// AllocatePool/FreePool backing store (UEFI 2.10 §7.2): per-type arenas of pool pages, bookkeeping kept on the host.
import { GuestMemory } from '../../core/guest-memory';
import { EFI_INVALID_PARAMETER, EfiError } from '../../core/status';
import { AllocationLimitError, MemoryMap } from './memory-map';
import { AllocateAnyPages, bytesToPages, EFI_PAGE_SIZE, isAllocatableType, memoryTypeName } from './memory-types';
import { OrderedTree, Summary } from './ordered-tree';

/** Who may free a pool allocation: buffers handed to the guest (including ones a service returns) are 'guest'. */
export type PoolOwner = 'guest' | 'firmware';

export type PoolFreeResult = 'ok' | 'double-free' | 'not-allocated' | 'firmware-owned';

export interface PoolAllocation {
  address: bigint;
  /** Bytes the caller asked for. */
  size: number;
  type: number;
  owner: PoolOwner;
}

interface Block extends PoolAllocation {
  /** Bytes taken from the arena (size rounded up to the alignment), or the page count for a large block. */
  span: bigint;
  pages?: bigint;
}

interface Extent {
  start: bigint;
  /** exclusive */
  end: bigint;
}

/** UEFI 2.10 AllocatePool: "All allocations are eight-byte aligned." */
export const POOL_ALIGNMENT = 8n;
/** Blocks at least this large get pages of their own (edk2 likewise gives large pool requests whole pages). */
export const POOL_LARGE_BLOCK = 4n * BigInt(EFI_PAGE_SIZE);
/** Pages added to a type's arena when it runs out. */
export const POOL_ARENA_PAGES = 16n;
/**
 * Live pool allocations at most (stubemu's limit, as MAX_PAGE_ALLOCATIONS for pages): a guest allocating in a loop
 * without freeing gets EFI_OUT_OF_RESOURCES before the host-side records grow without bound.
 */
export const MAX_POOL_ALLOCATIONS = 1 << 16;
/**
 * Freed block addresses the pool remembers, most recent first, to tell a double free from a bad pointer. Not a spec
 * limit: the record is host memory, so a guest that allocates and frees in a loop cannot grow it without bound. A
 * double free within this many FreePool calls is reported as one; an older one reads as a pointer not allocated.
 */
export const POOL_FREED_HISTORY = 4096;

/** Per subtree of free arena extents: the longest, so first fit is found without a scan. */
const LONGEST: Summary<Extent, bigint> = {
  of: (x) => x.end - x.start,
  join: (a, b) => (a > b ? a : b),
};

export class Pool {
  private readonly live = new OrderedTree<Block>((b) => b.address);
  /** Free space in the arenas of each pool type, by address. */
  private readonly arenaFree = new Map<number, OrderedTree<Extent, bigint>>();
  /** The last POOL_FREED_HISTORY freed addresses: a ring, and for each remembered address its slot in the ring. */
  private readonly freedRing: (bigint | undefined)[];
  private readonly freedSlot = new Map<bigint, number>();
  private freedNext = 0;
  private forgot = false;

  private readonly maxLive: number;
  /** How many freed addresses the pool remembers (POOL_FREED_HISTORY unless configured). */
  readonly freedHistory: number;

  constructor(
    private readonly map: MemoryMap, private readonly mem: GuestMemory, o: { maxAllocations?: number; freedHistory?: number } = {},
  ) {
    this.maxLive = o.maxAllocations ?? MAX_POOL_ALLOCATIONS;
    this.freedHistory = Math.max(1, o.freedHistory ?? POOL_FREED_HISTORY);
    this.freedRing = new Array<bigint | undefined>(this.freedHistory);
  }

  /** Whether some freed address has left the history, so 'not-allocated' may also be a double free from long ago. */
  get forgetsFrees(): boolean {
    return this.forgot;
  }

  /**
   * AllocatePool: an 8-byte aligned, zero-filled block of `poolType` (zero is not promised by the spec but keeps
   * runs reproducible). A zero-byte request gets a distinct block, as edk2 does. Throws EfiError.
   */
  allocate(poolType: number, size: number | bigint, owner: PoolOwner): bigint {
    if (!isAllocatableType(poolType)) {
      throw new EfiError(EFI_INVALID_PARAMETER, `AllocatePool: pool type ${memoryTypeName(poolType)} cannot be allocated`);
    }
    if (this.live.size >= this.maxLive) {
      throw new AllocationLimitError(`AllocatePool: ${this.live.size} pool allocations are live, stubemu's limit; free some first`);
    }
    const bytes = BigInt(size);
    const span = bytes === 0n ? POOL_ALIGNMENT : (bytes + POOL_ALIGNMENT - 1n) & ~(POOL_ALIGNMENT - 1n);
    let block: Block;
    if (span >= POOL_LARGE_BLOCK) {
      const pages = bytesToPages(span);
      const address = this.map.allocatePages(AllocateAnyPages, poolType, pages, undefined, 'pool');
      block = { address, size: Number(bytes), type: poolType, owner, span, pages };
    } else {
      const address = this.carve(poolType, span);
      block = { address, size: Number(bytes), type: poolType, owner, span };
    }
    this.mem.fill(block.address, Number(span), 0);
    // Handed out again: freeing it is legitimate once more (its ring slot is dropped when the ring passes it).
    this.freedSlot.delete(block.address);
    this.live.set(block);
    return block.address;
  }

  /**
   * FreePool: only the exact address AllocatePool returned, once. `by` is who is freeing: the guest may not free
   * firmware-owned pool or pages.
   */
  free(address: bigint, by: PoolOwner = 'guest'): PoolFreeResult {
    const block = this.live.get(address);
    if (!block) {
      if (this.freedSlot.has(address)) return 'double-free';
      if (by === 'guest' && this.isFirmwareMemory(address)) return 'firmware-owned';
      return 'not-allocated';
    }
    if (block.owner === 'firmware' && by === 'guest') return 'firmware-owned';
    this.live.delete(address);
    this.remember(address);
    if (block.pages !== undefined) this.map.freePages(address, block.pages, 'pool');
    else this.release(block.type, { start: address, end: address + block.span });
    return 'ok';
  }

  /** Requested size of the live allocation starting at `address`. */
  sizeOf(address: bigint): number | undefined {
    return this.live.get(address)?.size;
  }

  /** Live allocations by address (for leak reports). */
  allocations(): PoolAllocation[] {
    return this.live.values()
      .map(({ address, size, type, owner }) => ({ address, size, type, owner }));
  }

  /** First fit in the type's arenas; grows the arena by whole pages when nothing fits. */
  private carve(type: number, span: bigint): bigint {
    const fits = (longest: bigint) => longest >= span;
    let e = this.arenaFree.get(type)?.first(fits);
    if (!e) {
      const start = this.map.allocatePages(AllocateAnyPages, type, POOL_ARENA_PAGES, undefined, 'pool');
      this.release(type, { start, end: start + POOL_ARENA_PAGES * BigInt(EFI_PAGE_SIZE) });
      e = this.arenaFree.get(type)!.first(fits)!;
    }
    const extents = this.arenaFree.get(type)!;
    extents.delete(e.start);
    if (e.start + span < e.end) extents.set({ start: e.start + span, end: e.end });
    return e.start;
  }

  /** Returns an extent to the type's free list, joining neighbours (arena pages of one type stay pool-owned). */
  private release(type: number, x: Extent): void {
    let extents = this.arenaFree.get(type);
    if (!extents) this.arenaFree.set(type, (extents = new OrderedTree<Extent, bigint>((e) => e.start, LONGEST)));
    let { start, end } = x;
    const after = extents.get(end);
    if (after) {
      extents.delete(after.start);
      end = after.end;
    }
    const before = extents.floor(start - 1n);
    if (before && before.end === start) start = before.start;
    extents.set({ start, end });
  }

  /** Keeps `address` in the ring of recent frees, dropping the oldest one the ring still holds. */
  private remember(address: bigint): void {
    const slot = this.freedNext;
    const old = this.freedRing[slot];
    if (old !== undefined && this.freedSlot.get(old) === slot) {
      this.freedSlot.delete(old);
      this.forgot = true;
    }
    this.freedRing[slot] = address;
    this.freedSlot.set(address, slot);
    this.freedNext = (slot + 1) % this.freedRing.length;
  }

  /** Inside a firmware pool block or firmware pages. */
  private isFirmwareMemory(address: bigint): boolean {
    if (this.map.allocationAt(address)?.owner === 'firmware') return true;
    // Live blocks do not overlap, so only the one starting at or below `address` can hold it.
    const b = this.live.floor(address);
    return b !== undefined && b.owner === 'firmware' && address < b.address + b.span;
  }
}
