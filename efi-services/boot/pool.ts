// AllocatePool/FreePool backing store (UEFI 2.10 §7.2): per-type arenas of pool pages, bookkeeping kept on the host.
import { GuestMemory } from '../../emulator/guest-memory';
import { EFI_INVALID_PARAMETER, EfiError } from '../status';
import { AllocationLimitError, MemoryMap } from './memory-map';
import { AllocateAnyPages, bytesToPages, EFI_PAGE_SIZE, isAllocatableType, memoryTypeName } from './memory-types';

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

export class Pool {
  private readonly live = new Map<bigint, Block>();
  private readonly freed = new Map<bigint, Block>();
  /** Free space in the arenas of each pool type, sorted by address. */
  private readonly arenaFree = new Map<number, Extent[]>();

  private readonly maxLive: number;

  constructor(private readonly map: MemoryMap, private readonly mem: GuestMemory, o: { maxAllocations?: number } = {}) {
    this.maxLive = o.maxAllocations ?? MAX_POOL_ALLOCATIONS;
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
    this.freed.delete(block.address);
    this.live.set(block.address, block);
    return block.address;
  }

  /**
   * FreePool: only the exact address AllocatePool returned, once. `by` is who is freeing: the guest may not free
   * firmware-owned pool or pages.
   */
  free(address: bigint, by: PoolOwner = 'guest'): PoolFreeResult {
    const block = this.live.get(address);
    if (!block) {
      if (this.freed.has(address)) return 'double-free';
      if (by === 'guest' && this.isFirmwareMemory(address)) return 'firmware-owned';
      return 'not-allocated';
    }
    if (block.owner === 'firmware' && by === 'guest') return 'firmware-owned';
    this.live.delete(address);
    this.freed.set(address, block);
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
    return [...this.live.values()]
      .sort((a, b) => (a.address < b.address ? -1 : 1))
      .map(({ address, size, type, owner }) => ({ address, size, type, owner }));
  }

  /** First fit in the type's arenas; grows the arena by whole pages when nothing fits. */
  private carve(type: number, span: bigint): bigint {
    let extents = this.arenaFree.get(type) ?? [];
    let i = extents.findIndex((e) => e.end - e.start >= span);
    if (i < 0) {
      const start = this.map.allocatePages(AllocateAnyPages, type, POOL_ARENA_PAGES, undefined, 'pool');
      this.release(type, { start, end: start + POOL_ARENA_PAGES * BigInt(EFI_PAGE_SIZE) });
      extents = this.arenaFree.get(type)!;
      i = extents.findIndex((e) => e.end - e.start >= span);
    }
    const e = extents[i];
    const address = e.start;
    e.start += span;
    if (e.start === e.end) extents.splice(i, 1);
    return address;
  }

  /** Returns an extent to the type's free list, joining neighbours (arena pages of one type stay pool-owned). */
  private release(type: number, x: Extent): void {
    const extents = this.arenaFree.get(type) ?? [];
    this.arenaFree.set(type, extents);
    let i = extents.findIndex((e) => e.start > x.start);
    if (i < 0) i = extents.length;
    extents.splice(i, 0, { ...x });
    if (i + 1 < extents.length && extents[i].end === extents[i + 1].start) {
      extents[i].end = extents[i + 1].end;
      extents.splice(i + 1, 1);
    }
    if (i > 0 && extents[i - 1].end === extents[i].start) {
      extents[i - 1].end = extents[i].end;
      extents.splice(i, 1);
    }
  }

  /** Inside a firmware pool block or firmware pages. */
  private isFirmwareMemory(address: bigint): boolean {
    if (this.map.allocationAt(address)?.owner === 'firmware') return true;
    for (const b of this.live.values()) {
      if (b.owner === 'firmware' && address >= b.address && address < b.address + b.span) return true;
    }
    return false;
  }
}
