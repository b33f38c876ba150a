// The UEFI memory map: descriptors ordered by start address, changed only by split/convert/merge (STYLE 8).
import { Range } from '../../emulator/guest-memory';
import { EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EfiError } from '../status';
import {
  AllocateAddress, AllocateAnyPages, AllocateMaxAddress, EFI_MEMORY_RUNTIME, EFI_PAGE_MASK, EFI_PAGE_SIZE,
  EfiConventionalMemory, isAllocatableType, isRuntimeType, memoryTypeName, pagesToBytes, RAM_ATTRIBUTES,
} from './memory-types';

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

export class MemoryMap {
  /** Bumped on every change; ExitBootServices compares it with the guest's MapKey (UEFI 2.10 §7.4.6). */
  get mapKey(): number {
    return this.key;
  }
  /** Called after every change with the new map key (for EFI_EVENT_GROUP_MEMORY_MAP_CHANGE later). */
  readonly onChange: ((mapKey: number) => void)[] = [];

  private readonly entries: Entry[] = [];
  private readonly records = new Map<bigint, PageAllocation>();
  // Starts at 1 so a guest that passes an unset (zero) MapKey to ExitBootServices is refused.
  private key = 1;

  private readonly maxAllocations: number;

  /** `ram`: page-aligned, non-overlapping ranges that start as EfiConventionalMemory. */
  constructor(ram: readonly Range[], o: { maxAllocations?: number } = {}) {
    this.maxAllocations = o.maxAllocations ?? MAX_PAGE_ALLOCATIONS;
    for (const r of [...ram].sort((a, b) => (a.start < b.start ? -1 : 1))) {
      if ((r.start & EFI_PAGE_MASK) !== 0n || (r.end & EFI_PAGE_MASK) !== 0n || r.end <= r.start) {
        throw new Error(`RAM range 0x${r.start.toString(16)}-0x${r.end.toString(16)} is not page-aligned`);
      }
      const last = this.entries[this.entries.length - 1];
      if (last && r.start < last.end) throw new Error(`RAM range at 0x${r.start.toString(16)} overlaps another`);
      this.entries.push({ start: r.start, end: r.end, type: EfiConventionalMemory, attribute: RAM_ATTRIBUTES });
    }
    this.merge();
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
    this.records.set(start, { start, pages, type: memType, owner });
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
    // The usual call frees exactly one allocation: found by its start, without scanning up to MAX_PAGE_ALLOCATIONS records.
    const exact = this.records.get(address);
    if (exact && exact.pages === pages && exact.owner === owner) {
      this.records.delete(address);
      this.convert(address, end, EfiConventionalMemory);
      return;
    }
    const hit = this.recordsIn(address, end);
    const foreign = hit.find((r) => r.owner !== owner);
    if (foreign) throw new EfiError(EFI_NOT_FOUND, `${what} is ${foreign.owner} memory, not allocated with AllocatePages`);
    const covered = hit.reduce((n, r) => n + (min(end, r.start + pagesToBytes(r.pages)) - max(address, r.start)), 0n);
    if (covered !== end - address) throw new EfiError(EFI_NOT_FOUND, `${what} ${this.describeGap(address, end)}`);
    for (const r of hit) {
      const rEnd = r.start + pagesToBytes(r.pages);
      this.records.delete(r.start);
      if (r.start < address) this.records.set(r.start, { ...r, pages: (address - r.start) / PAGE });
      if (rEnd > end) this.records.set(end, { ...r, start: end, pages: (rEnd - end) / PAGE });
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
    if (this.entries.some((e) => e.start < end && e.end > start && e.type !== EfiConventionalMemory)) {
      throw new Error(`addRegion: 0x${start.toString(16)} (${pages} pages) overlaps memory in use`);
    }
    this.split(start);
    this.split(end);
    const kept = this.entries.filter((e) => e.end <= start || e.start >= end);
    kept.push({ start, end, type, attribute });
    kept.sort((a, b) => (a.start < b.start ? -1 : 1));
    this.entries.splice(0, this.entries.length, ...kept);
    this.changed();
  }

  /** The map as GetMemoryMap reports it: sorted, adjacent equal descriptors merged, VirtualStart 0 as in edk2. */
  descriptors(): MemoryDescriptor[] {
    return this.entries.map((e) => ({
      type: e.type,
      physicalStart: e.start,
      virtualStart: 0n,
      numberOfPages: (e.end - e.start) / PAGE,
      attribute: e.attribute,
    }));
  }

  /** Page allocations currently live, by start address. */
  allocations(): PageAllocation[] {
    return [...this.records.values()].sort((a, b) => (a.start < b.start ? -1 : 1)).map((r) => ({ ...r }));
  }

  /** The page allocation containing `address`, if any. */
  allocationAt(address: bigint): PageAllocation | undefined {
    const r = this.recordsIn(address, address + 1n)[0];
    return r && { ...r };
  }

  /** Memory type at `address`, or undefined when the map does not describe it. */
  typeAt(address: bigint): number | undefined {
    return this.entries.find((e) => address >= e.start && address < e.end)?.type;
  }

  /** Whether every page of the range belongs to a live page allocation (any owner). */
  isAllocated(start: bigint, pages: bigint): boolean {
    const first = start & ~EFI_PAGE_MASK;
    const end = start + pagesToBytes(pages);
    if (pages <= 0n) return false;
    const covered = this.recordsIn(first, end).reduce(
      (n, r) => n + (min(end, r.start + pagesToBytes(r.pages)) - max(first, r.start)), 0n);
    return covered === end - first;
  }

  private isFree(start: bigint, end: bigint): boolean {
    let at = start;
    for (const e of this.entries) {
      if (e.end <= at || e.start >= end) continue;
      if (e.start > at || e.type !== EfiConventionalMemory) return false;
      at = e.end;
      if (at >= end) return true;
    }
    return at >= end;
  }

  private findTopDown(size: bigint, limit: bigint): bigint | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.type !== EfiConventionalMemory) continue;
      // Page 0 is never handed out: edk2 FindFreePages uses 0 as "not found", and 0 is NULL to the guest.
      const bottom = max(e.start, PAGE);
      const top = min(e.end, limit);
      if (top - bottom >= size) return top - size;
    }
    return undefined;
  }

  /** Changes the type of [start, end), which the caller checked is described; the attribute follows the type. */
  private convert(start: bigint, end: bigint, type: number): void {
    this.split(start);
    this.split(end);
    for (const e of this.entries) {
      if (e.start >= start && e.end <= end) {
        e.type = type;
        e.attribute = isRuntimeType(type) ? e.attribute | EFI_MEMORY_RUNTIME : e.attribute & ~EFI_MEMORY_RUNTIME;
      }
    }
    this.changed();
  }

  /** Makes `at` a descriptor boundary. */
  private split(at: bigint): void {
    const i = this.entries.findIndex((e) => at > e.start && at < e.end);
    if (i < 0) return;
    const e = this.entries[i];
    this.entries.splice(i + 1, 0, { ...e, start: at });
    e.end = at;
  }

  /** Joins neighbours that touch and have the same type and attribute. */
  private merge(): void {
    for (let i = this.entries.length - 1; i > 0; i--) {
      const a = this.entries[i - 1];
      const b = this.entries[i];
      if (a.end === b.start && a.type === b.type && a.attribute === b.attribute) {
        a.end = b.end;
        this.entries.splice(i, 1);
      }
    }
  }

  private changed(): void {
    this.merge();
    this.key++;
    for (const f of this.onChange) f(this.key);
  }

  private recordsIn(start: bigint, end: bigint): PageAllocation[] {
    return [...this.records.values()].filter((r) => r.start < end && r.start + pagesToBytes(r.pages) > start);
  }

  /** Why [start, end) is not wholly allocated, for the guest-error report. */
  private describeGap(start: bigint, end: bigint): string {
    for (let at = start; at < end;) {
      const r = this.recordsIn(at, at + 1n)[0];
      if (r) {
        at = r.start + pagesToBytes(r.pages);
        continue;
      }
      const type = this.typeAt(at);
      const where = at === start ? '' : ` at 0x${at.toString(16)}`;
      if (type === undefined) return `is outside the memory map${where}`;
      if (type === EfiConventionalMemory) return `was not allocated (free${where}; already freed?)`;
      return `is ${memoryTypeName(type)}${where}, not allocated with AllocatePages`;
    }
    return 'was not allocated with AllocatePages';
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
