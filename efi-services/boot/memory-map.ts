// The UEFI memory map: descriptors ordered by start address, changed only by split/convert/merge (STYLE 8).
import { Range } from '../../core/guest-memory';
import { EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EfiError } from '../../core/status';
import {
  AllocateAddress, AllocateAnyPages, AllocateMaxAddress, EFI_MEMORY_RUNTIME, EFI_PAGE_MASK, EFI_PAGE_SIZE,
  EfiConventionalMemory, isAllocatableType, isRuntimeType, memoryTypeName, pagesToBytes, RAM_ATTRIBUTES,
} from './memory-types';
import { OrderedTree, Summary } from './ordered-tree';

const ADDRESS_LIMIT = 1n << 64n;
const PAGE = BigInt(EFI_PAGE_SIZE);

/**
 * Live page allocations one map keeps at most. Not a spec limit: every allocation is host bookkeeping, so a guest
 * that allocates pages one at a time in a loop gets EFI_OUT_OF_RESOURCES here instead of slowing the host down
 * without bound. Boot loaders and the Linux EFI stub make a few dozen.
 */
export const MAX_PAGE_ALLOCATIONS = 1 << 16;

/** EFI_OUT_OF_RESOURCES because stubemu's bookkeeping limit was reached, not because memory ran out: a guest error. */
export class AllocationLimitError extends EfiError {
  constructor(message: string) {
    super(EFI_OUT_OF_RESOURCES, message);
  }
}

/** EFI_MEMORY_DESCRIPTOR (UEFI 2.10 §7.2.3) as the host sees it. */
export interface MemoryDescriptor {
  type: number;
  physicalStart: bigint;
  virtualStart: bigint;
  numberOfPages: bigint;
  attribute: bigint;
}

/** Who may free a page allocation: the guest through FreePages, the pool, or the firmware itself. */
export type PageOwner = 'guest' | 'firmware' | 'pool';

/** Host-side record of one AllocatePages-style allocation; the guest cannot forge these. */
export interface PageAllocation {
  start: bigint;
  pages: bigint;
  type: number;
  owner: PageOwner;
}

interface Entry {
  start: bigint;
  /** exclusive */
  end: bigint;
  type: number;
  attribute: bigint;
}

/** Per subtree of descriptors: the largest free range AllocateAnyPages could use (page 0 excluded), -1 if none. */
const FREE_SPAN: Summary<Entry, bigint> = {
  of: (e) => (e.type === EfiConventionalMemory ? e.end - max(e.start, PAGE) : -1n),
  join: max,
};

const OWNER_BIT: Record<PageOwner, number> = { guest: 1, firmware: 2, pool: 4 };

/**
 * Per subtree of page allocations (disjoint, by start): where they begin and end, how far the first run of touching
 * allocations reaches, and who owns them. FreePages and isAllocated read coverage and owners from it without a scan.
 */
interface AllocationRun {
  start: bigint;
  end: bigint;
  /** End of the allocations that touch one another from `start` on: equals `end` when there is no gap. */
  through: bigint;
  owners: number;
}

const ALLOCATION_RUN: Summary<PageAllocation, AllocationRun> = {
  of: (r) => {
    const end = r.start + pagesToBytes(r.pages);
    return { start: r.start, end, through: end, owners: OWNER_BIT[r.owner] };
  },
  join: (a, b) => ({
    start: a.start,
    end: b.end,
    through: a.through === a.end && a.end === b.start ? b.through : a.through,
    owners: a.owners | b.owners,
  }),
};

/**
 * Both the descriptors and the page allocations are kept in ordered trees, so AllocatePages, FreePages and each
 * conversion cost O(log n) in the number of descriptors and allocations (plus the pieces a conversion joins, which
 * it removes): a guest that alternates memory types up to MAX_PAGE_ALLOCATIONS does not cost the host O(n^2).
 */
export class MemoryMap {
  /** Bumped on every change; ExitBootServices compares it with the guest's MapKey (UEFI 2.10 §7.4.6). */
  get mapKey(): number {
    return this.key;
  }
  /** Called after every change with the new map key (for EFI_EVENT_GROUP_MEMORY_MAP_CHANGE later). */
  readonly onChange: ((mapKey: number) => void)[] = [];

  private readonly entries = new OrderedTree<Entry, bigint>((e) => e.start, FREE_SPAN);
  private readonly records = new OrderedTree<PageAllocation, AllocationRun>((r) => r.start, ALLOCATION_RUN);
  // Starts at 1 so a guest that passes an unset (zero) MapKey to ExitBootServices is refused.
  private key = 1;

  private readonly maxAllocations: number;

  /** `ram`: page-aligned, non-overlapping ranges that start as EfiConventionalMemory. */
  constructor(ram: readonly Range[], o: { maxAllocations?: number } = {}) {
    this.maxAllocations = o.maxAllocations ?? MAX_PAGE_ALLOCATIONS;
    let last: Entry | undefined;
    for (const r of [...ram].sort((a, b) => (a.start < b.start ? -1 : 1))) {
      if ((r.start & EFI_PAGE_MASK) !== 0n || (r.end & EFI_PAGE_MASK) !== 0n || r.end <= r.start) {
        throw new Error(`RAM range 0x${r.start.toString(16)}-0x${r.end.toString(16)} is not page-aligned`);
      }
      if (last && r.start < last.end) throw new Error(`RAM range at 0x${r.start.toString(16)} overlaps another`);
      last = last && last.end === r.start
        ? { ...last, end: r.end }
        : { start: r.start, end: r.end, type: EfiConventionalMemory, attribute: RAM_ATTRIBUTES };
      this.entries.set(last);
    }
  }

  /** Tree nodes the map has visited since construction: the host work its calls cost, which tests count. */
  get visited(): number {
    return this.entries.visited + this.records.visited;
  }

  /**
   * AllocatePages (UEFI 2.10 §7.2): converts free pages to `memType` and returns their start. AllocateAnyPages and
   * AllocateMaxAddress take the highest free range that fits (top-down, as edk2 FindFreePages does); `address` is
   * the inclusive limit for AllocateMaxAddress and the exact start for AllocateAddress. Throws EfiError.
   */
  allocatePages(allocType: number, memType: number, pages: bigint, address?: bigint, owner: PageOwner = 'guest'): bigint {
    if (allocType !== AllocateAnyPages && allocType !== AllocateMaxAddress && allocType !== AllocateAddress) {
      throw new EfiError(EFI_INVALID_PARAMETER, `AllocatePages: invalid allocation type ${allocType}`);
    }
    if (!isAllocatableType(memType)) {
      throw new EfiError(EFI_INVALID_PARAMETER, `AllocatePages: memory type ${memoryTypeName(memType)} cannot be allocated`);
    }
    if (this.records.size >= this.maxAllocations) {
      throw new AllocationLimitError(`AllocatePages: ${this.records.size} page allocations are live, stubemu's limit; free some first`);
    }
    const size = pagesToBytes(pages);
    let start: bigint;
    if (allocType === AllocateAddress) {
      const at = address ?? 0n;
      // edk2 and U-Boot answer EFI_NOT_FOUND for a misaligned, empty or wrapping AllocateAddress request.
      if ((at & EFI_PAGE_MASK) !== 0n || pages === 0n || at + size > ADDRESS_LIMIT || !this.isFree(at, at + size)) {
        throw new EfiError(EFI_NOT_FOUND, `AllocatePages: 0x${at.toString(16)} (${pages} pages) is not free`);
      }
      start = at;
    } else {
      // AllocateMaxAddress: the highest byte may equal the limit; a limit inside a page drops that page (edk2).
      const limit = allocType === AllocateMaxAddress ? ((address ?? 0n) + 1n) & ~EFI_PAGE_MASK : ADDRESS_LIMIT;
      const found = pages === 0n ? undefined : this.findTopDown(size, limit);
      if (found === undefined) {
        throw new EfiError(EFI_OUT_OF_RESOURCES, `AllocatePages: no ${pages} free pages below 0x${limit.toString(16)}`);
      }
      start = found;
    }
    this.convert(start, start + size, memType);
    this.records.set({ start, pages, type: memType, owner });
    return start;
  }

  /**
   * FreePages (UEFI 2.10 §7.2): returns pages that `owner` allocated to EfiConventionalMemory. Part of an
   * allocation may be freed when every page of the range is allocated (edk2 CoreConvertPages allows it).
   */
  freePages(address: bigint, pages: bigint, owner: PageOwner = 'guest'): void {
    const what = `FreePages: 0x${address.toString(16)} (${pages} pages)`;
    if ((address & EFI_PAGE_MASK) !== 0n) throw new EfiError(EFI_INVALID_PARAMETER, `${what} is not page-aligned`);
    const end = address + pagesToBytes(pages);
    if (pages === 0n || end > ADDRESS_LIMIT) throw new EfiError(EFI_INVALID_PARAMETER, `${what}: invalid page count`);
    // The usual call frees exactly one allocation, found by its start.
    const exact = this.records.get(address);
    if (exact && exact.pages === pages && exact.owner === owner) {
      this.records.delete(address);
      this.convert(address, end, EfiConventionalMemory);
      return;
    }
    // Otherwise the range must be covered by `owner`'s allocations; the subtree summaries answer without a scan.
    const from = this.firstRecordKey(address);
    const run = this.records.summarize(from, end);
    const others = ~OWNER_BIT[owner];
    if (run && (run.owners & others) !== 0) {
      const foreign = this.records.first((s) => (s.owners & others) !== 0, from, end)!;
      throw new EfiError(EFI_NOT_FOUND, `${what} is ${foreign.owner} memory, not allocated with AllocatePages`);
    }
    if (!run || run.start > address || run.through < end) {
      throw new EfiError(EFI_NOT_FOUND, `${what} ${this.describeGap(address, run && run.start <= address ? run.through : address)}`);
    }
    // Each allocation removed here was added by one AllocatePages: the work is paid for once.
    for (const r of this.records.between(from, end)) {
      const rEnd = r.start + pagesToBytes(r.pages);
      this.records.delete(r.start);
      if (r.start < address) this.records.set({ ...r, pages: (address - r.start) / PAGE });
      if (rEnd > end) this.records.set({ ...r, start: end, pages: (rEnd - end) / PAGE });
    }
    this.convert(address, end, EfiConventionalMemory);
  }

  /**
   * Describes firmware-owned non-RAM or reserved space (MMIO, reserved, ACPI NVS). Overlapped RAM must still be
   * free; the region is not a page allocation and FreePages refuses it.
   */
  addRegion(start: bigint, pages: bigint, type: number, attribute: bigint): void {
    const end = start + pagesToBytes(pages);
    if ((start & EFI_PAGE_MASK) !== 0n || pages <= 0n || end > ADDRESS_LIMIT) {
      throw new Error(`addRegion: 0x${start.toString(16)} (${pages} pages) is not a page-aligned range`);
    }
    for (let e = this.entryAfter(start); e && e.start < end; e = this.entries.ceiling(e.end)) {
      if (e.type !== EfiConventionalMemory) {
        throw new Error(`addRegion: 0x${start.toString(16)} (${pages} pages) overlaps memory in use`);
      }
    }
    this.split(start);
    this.split(end);
    for (const e of this.entries.between(start, end)) this.entries.delete(e.start);
    this.entries.set({ start, end, type, attribute });
    this.mergeAround(start, end);
    this.changed();
  }

  /** The map as GetMemoryMap reports it: sorted, adjacent equal descriptors merged, VirtualStart 0 as in edk2. */
  descriptors(): MemoryDescriptor[] {
    return this.entries.values().map((e) => ({
      type: e.type,
      physicalStart: e.start,
      virtualStart: 0n,
      numberOfPages: (e.end - e.start) / PAGE,
      attribute: e.attribute,
    }));
  }

  /** Page allocations currently live, by start address. */
  allocations(): PageAllocation[] {
    return this.records.values().map((r) => ({ ...r }));
  }

  /** The page allocation containing `address`, if any. */
  allocationAt(address: bigint): PageAllocation | undefined {
    const r = this.records.floor(address);
    return r && address < r.start + pagesToBytes(r.pages) ? { ...r } : undefined;
  }

  /** Memory type at `address`, or undefined when the map does not describe it. */
  typeAt(address: bigint): number | undefined {
    return this.entryAt(address)?.type;
  }

  /** Whether every page of the range belongs to a live page allocation (any owner). */
  isAllocated(start: bigint, pages: bigint): boolean {
    const first = start & ~EFI_PAGE_MASK;
    const end = start + pagesToBytes(pages);
    if (pages <= 0n) return false;
    const run = this.records.summarize(this.firstRecordKey(first), end);
    return run !== undefined && run.start <= first && run.through >= end;
  }

  /** Key from which the allocations overlapping [address, …) start: the one containing `address`, if any. */
  private firstRecordKey(address: bigint): bigint {
    const r = this.records.floor(address);
    return r && r.start + pagesToBytes(r.pages) > address ? r.start : address;
  }

  private entryAt(address: bigint): Entry | undefined {
    const e = this.entries.floor(address);
    return e && address < e.end ? e : undefined;
  }

  /** The descriptor containing `address`, else the first one above it. */
  private entryAfter(address: bigint): Entry | undefined {
    return this.entryAt(address) ?? this.entries.ceiling(address);
  }

  private isFree(start: bigint, end: bigint): boolean {
    for (let at = start; at < end;) {
      const e = this.entryAt(at);
      if (!e || e.type !== EfiConventionalMemory) return false;
      at = e.end;
    }
    return true;
  }

  /** The highest free range that holds `size` bytes below `limit`, as a top-down scan of the map would find it. */
  private findTopDown(size: bigint, limit: bigint): bigint | undefined {
    let below = limit;
    // At most one descriptor straddles the limit; it only has its part below the limit to offer.
    const straddling = this.entries.floor(limit - 1n);
    if (straddling && straddling.end > limit) {
      // Page 0 is never handed out: edk2 FindFreePages uses 0 as "not found", and 0 is NULL to the guest.
      if (straddling.type === EfiConventionalMemory && limit - max(straddling.start, PAGE) >= size) return limit - size;
      below = straddling.start;
    }
    const e = this.entries.last((free) => free >= size, undefined, below);
    return e && e.end - size;
  }

  /** Changes the type of [start, end), which the caller checked is described; the attribute follows the type. */
  private convert(start: bigint, end: bigint, type: number): void {
    this.split(start);
    this.split(end);
    for (const e of this.entries.between(start, end)) {
      const attribute = isRuntimeType(type) ? e.attribute | EFI_MEMORY_RUNTIME : e.attribute & ~EFI_MEMORY_RUNTIME;
      this.entries.set({ ...e, type, attribute });
    }
    this.mergeAround(start, end);
    this.changed();
  }

  /** Makes `at` a descriptor boundary. */
  private split(at: bigint): void {
    const e = this.entryAt(at);
    if (!e || e.start === at) return;
    this.entries.set({ ...e, end: at });
    this.entries.set({ ...e, start: at });
  }

  /**
   * Joins neighbours that touch and have the same type and attribute, from the descriptor before `start` to the one
   * at `end`: the rest of the map was merged before the change.
   */
  private mergeAround(start: bigint, end: bigint): void {
    let a = this.entries.floor(start - 1n) ?? this.entries.ceiling(start);
    while (a) {
      const b = this.entries.ceiling(a.start + 1n);
      if (!b || b.start > end) return;
      if (a.end === b.start && a.type === b.type && a.attribute === b.attribute) {
        this.entries.delete(b.start);
        a = { ...a, end: b.end };
        this.entries.set(a);
      } else a = b;
    }
  }

  private changed(): void {
    this.key++;
    for (const f of this.onChange) f(this.key);
  }

  /** Why [start, end) is not wholly allocated, for the guest-error report: `at` is the first page no allocation holds. */
  private describeGap(start: bigint, at: bigint): string {
    const type = this.typeAt(at);
    const where = at === start ? '' : ` at 0x${at.toString(16)}`;
    if (type === undefined) return `is outside the memory map${where}`;
    if (type === EfiConventionalMemory) return `was not allocated (free${where}; already freed?)`;
    return `is ${memoryTypeName(type)}${where}, not allocated with AllocatePages`;
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
