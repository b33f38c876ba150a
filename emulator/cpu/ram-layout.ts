// Guest RAM as the list of mappings an engine maps: cut wherever a protection starts or ends, never merged again,
// so changing a range's rights changes whole mappings (Unicorn 2.1.x crashes once uc_mem_protect splits RAM).

export type Access = 'none' | 'rw' | 'rwx';

export interface Segment {
  start: bigint;
  /** exclusive */
  end: bigint;
  /** The host bytes behind [start, end) (a view of the caller's buffer). */
  host: Buffer;
  access: Access;
}

export class RamLayout {
  private list: Segment[] = [];

  /** Host memory `host` at guest physical `address`, all rights (page-aligned, not overlapping what is there). */
  add(address: bigint, host: Buffer): void {
    const end = address + BigInt(host.length);
    if ((address | end) & 0xfffn) throw new Error(`guest RAM at 0x${address.toString(16)} is not page-aligned`);
    if (this.list.some((s) => address < s.end && s.start < end)) throw new Error(`guest RAM at 0x${address.toString(16)} overlaps mapped RAM`);
    this.list.push({ start: address, end, host, access: 'rwx' });
    this.list.sort((a, b) => (a.start < b.start ? -1 : 1));
  }

  /** Gives [address, address+size) (page-aligned) the rights `access`; the parts outside RAM are ignored. */
  protect(address: bigint, size: number, access: Access): void {
    const end = address + BigInt(size);
    if ((address | end) & 0xfffn) throw new Error(`protected range 0x${address.toString(16)}+0x${size.toString(16)} is not page-aligned`);
    this.cut(address);
    this.cut(end);
    for (const s of this.list) if (s.start >= address && s.end <= end) s.access = access;
  }

  /** The mappings, in address order (segments are replaced, never changed in place, when a cut moves them). */
  segments(): readonly Segment[] {
    return this.list.map((s) => ({ ...s }));
  }

  private cut(at: bigint): void {
    const i = this.list.findIndex((s) => at > s.start && at < s.end);
    if (i < 0) return;
    const s = this.list[i];
    const n = Number(at - s.start);
    this.list.splice(i, 1, { ...s, end: at, host: s.host.subarray(0, n) }, { ...s, start: at, host: s.host.subarray(n) });
  }
}
