// EFI_MEMORY_ATTRIBUTE_PROTOCOL (UEFI 2.10 §37.7): per-page RP/XP/RO state kept host-side and reported. The Linux
// EFI stub clears XP on the kernel image through it. Unicorn 2.0.1 has no NX, so XP is recorded but never
// enforced; RO and RP are enforced only through the optional `protect` callback.
import { hex } from '../../core/hex';
import { GUID } from '../../core/guid';
import { fn, tableDecl } from '../../core/abi';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_NO_MAPPING, EFI_SUCCESS, EFI_UNSUPPORTED, EfiStatus } from '../../core/status';
import { EFI_MEMORY_RO, EFI_MEMORY_RP, EFI_MEMORY_XP, EFI_PAGE_MASK, EFI_PAGE_SHIFT } from '../boot/memory-types';

export const EFI_MEMORY_ATTRIBUTE_PROTOCOL_GUID = GUID.MEMORY_ATTRIBUTE;

export const EFI_MEMORY_ATTRIBUTE_PROTOCOL = tableDecl({
  name: 'EFI_MEMORY_ATTRIBUTE_PROTOCOL',
  traceName: 'MemoryAttribute',
  headerSize: 0,
  members: [
    fn('GetMemoryAttributes', 'This:PTR', 'BaseAddress:UINT64', 'Length:UINT64', 'Attributes:PTR'),
    fn('SetMemoryAttributes', 'This:PTR', 'BaseAddress:UINT64', 'Length:UINT64', 'Attributes:UINT64'),
    fn('ClearMemoryAttributes', 'This:PTR', 'BaseAddress:UINT64', 'Length:UINT64', 'Attributes:UINT64'),
  ],
});

/** The only attributes this protocol gets, sets or clears (UEFI 2.10 §37.7). */
export const MEMORY_ACCESS_MASK = EFI_MEMORY_RP | EFI_MEMORY_XP | EFI_MEMORY_RO;

export interface MemoryAttributeOptions {
  /**
   * Applies the resulting RP|XP|RO of [address, address+size) to the CPU, called once per run of pages whose
   * attributes changed. Without it nothing is enforced; the state is still kept and reported.
   */
  protect?: (address: bigint, size: bigint, attributes: bigint) => void;
  /** Whether a range is system memory the protocol may describe (edk2 ArmPkg: RegionIsSystemMemory). */
  isSystemMemory?: (base: bigint, length: bigint) => boolean;
}

export interface MemoryAttributeChange {
  operation: 'set' | 'clear';
  base: bigint;
  length: bigint;
  attributes: bigint;
  /** Whether a `protect` callback applied the change to the CPU. */
  enforced: boolean;
}

/** The per-page model behind the protocol; every page starts with no RP, XP or RO. */
export class MemoryAttributes {
  /** Changes that succeeded, in call order, for the report. */
  readonly changes: MemoryAttributeChange[] = [];
  /** Page number → attributes; pages absent have none. */
  private readonly pages = new Map<bigint, bigint>();

  constructor(private readonly isSystemMemory: (base: bigint, length: bigint) => boolean, private readonly protect?: MemoryAttributeOptions['protect']) {}

  /** GetMemoryAttributes after the pointer check: the attributes common to every page of the range. */
  get(base: bigint, length: bigint): { status: EfiStatus; attributes?: bigint } {
    const bad = this.checkRange(base, length);
    if (bad !== undefined) return { status: bad };
    let common: bigint | undefined;
    for (let p = base >> EFI_PAGE_SHIFT; p < (base + length) >> EFI_PAGE_SHIFT; p++) {
      const a = this.pages.get(p) ?? 0n;
      if (common === undefined) common = a;
      else if (a !== common) return { status: EFI_NO_MAPPING };
    }
    return { status: EFI_SUCCESS, attributes: common };
  }

  set(base: bigint, length: bigint, attributes: bigint): EfiStatus {
    return this.update('set', base, length, attributes);
  }

  clear(base: bigint, length: bigint, attributes: bigint): EfiStatus {
    return this.update('clear', base, length, attributes);
  }

  /** Maximal runs of pages with the same non-zero attributes, in address order. */
  ranges(): { base: bigint; length: bigint; attributes: bigint }[] {
    const out: { base: bigint; length: bigint; attributes: bigint }[] = [];
    for (const p of [...this.pages.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const a = this.pages.get(p)!;
      const last = out[out.length - 1];
      if (last && last.attributes === a && last.base + last.length === p << EFI_PAGE_SHIFT) last.length += 1n << EFI_PAGE_SHIFT;
      else out.push({ base: p << EFI_PAGE_SHIFT, length: 1n << EFI_PAGE_SHIFT, attributes: a });
    }
    return out;
  }

  /**
   * Set/ClearMemoryAttributes: Length 0 and attributes outside RP|XP|RO are EFI_INVALID_PARAMETER (UEFI 2.10
   * §37.7); so is a range not on page boundaries (the attributes are per page; patina and the ArmPkg page table
   * code refuse it too); a range that is not system memory is EFI_UNSUPPORTED, as edk2 ArmPkg CpuDxe answers.
   * Attributes 0 changes nothing and succeeds, as in edk2.
   */
  private update(operation: 'set' | 'clear', base: bigint, length: bigint, attributes: bigint): EfiStatus {
    if (length === 0n || (attributes & ~MEMORY_ACCESS_MASK) !== 0n) return EFI_INVALID_PARAMETER;
    const bad = this.checkRange(base, length);
    if (bad !== undefined) return bad;
    const runs: { first: bigint; count: bigint; attributes: bigint }[] = [];
    for (let p = base >> EFI_PAGE_SHIFT; p < (base + length) >> EFI_PAGE_SHIFT; p++) {
      const old = this.pages.get(p) ?? 0n;
      const now = operation === 'set' ? old | attributes : old & ~attributes;
      if (now === old) continue;
      if (now === 0n) this.pages.delete(p);
      else this.pages.set(p, now);
      const last = runs[runs.length - 1];
      if (last && last.attributes === now && last.first + last.count === p) last.count++;
      else runs.push({ first: p, count: 1n, attributes: now });
    }
    for (const r of runs) this.protect?.(r.first << EFI_PAGE_SHIFT, r.count << EFI_PAGE_SHIFT, r.attributes);
    this.changes.push({ operation, base, length, attributes, enforced: this.protect !== undefined });
    return EFI_SUCCESS;
  }

  private checkRange(base: bigint, length: bigint): EfiStatus | undefined {
    if (length === 0n) return EFI_INVALID_PARAMETER;
    if ((base & EFI_PAGE_MASK) !== 0n || (length & EFI_PAGE_MASK) !== 0n) return EFI_INVALID_PARAMETER;
    if (base + length > 1n << 64n || !this.isSystemMemory(base, length)) return EFI_UNSUPPORTED;
    return undefined;
  }
}

export interface MemoryAttributeProtocol {
  handle: bigint;
  protocol: bigint;
  state: MemoryAttributes;
}

/** Installs the protocol on a new handle (edk2 CpuDxe installs it on its own handle). */
export function installMemoryAttributeProtocol(
  platform: Platform,
  db: { install(handle: bigint, guid: string, iface: bigint): bigint },
  opts: MemoryAttributeOptions = {},
): MemoryAttributeProtocol {
  const mem = platform.mem;
  const isSystemMemory = opts.isSystemMemory
    ?? ((base, length) => base + length <= mem.size && mem.isMapped(base, Number(length)));
  const state = new MemoryAttributes(isSystemMemory, opts.protect);
  const protocol = buildInterface(platform, EFI_MEMORY_ATTRIBUTE_PROTOCOL, {
    GetMemoryAttributes: ([, base, length, out]) => {
      if (length === 0n || out === 0n) return EFI_INVALID_PARAMETER;
      const r = state.get(base, length);
      if (r.attributes !== undefined) mem.setU64(out, r.attributes);
      return r.status;
    },
    SetMemoryAttributes: ([, base, length, attributes], call) => {
      const s = state.set(base, length, attributes);
      if (s === EFI_SUCCESS) call.note(`set ${hex(attributes)} on [${hex(base)}, ${hex(base + length)})${opts.protect ? '' : ' (recorded, not enforced)'}`);
      return s;
    },
    ClearMemoryAttributes: ([, base, length, attributes], call) => {
      const s = state.clear(base, length, attributes);
      if (s === EFI_SUCCESS) call.note(`cleared ${hex(attributes)} on [${hex(base)}, ${hex(base + length)})${opts.protect ? '' : ' (recorded, not enforced)'}`);
      return s;
    },
  });
  const handle = db.install(0n, EFI_MEMORY_ATTRIBUTE_PROTOCOL_GUID, protocol);
  return { handle, protocol, state };
}

/** Module entry (platform-protocols.ts): the protocol over guest RAM; attributes are recorded, not enforced. */
export function install(ctx: InstallContext): MemoryAttributeProtocol {
  return installMemoryAttributeProtocol(ctx.platform, ctx.db, {
    isSystemMemory: (base, length) => ctx.platform.mem.isMapped(base, Number(length)),
  });
}
