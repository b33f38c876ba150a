// Guest physical memory as one host Buffer (guest address == buffer offset); every access is bounds-checked.

export class GuestMemoryError extends Error {
  constructor(readonly address: bigint, readonly length: number, readonly access: 'read' | 'write') {
    super(`${access} of ${length} byte(s) at 0x${address.toString(16)} is outside guest RAM`);
  }
}

export interface Range {
  start: bigint;
  /** exclusive */
  end: bigint;
}

export class GuestMemory {
  /** Called after the host wrote bytes that the guest may execute. */
  onCodeWrite: (address: bigint, length: number) => void = () => {};

  constructor(readonly ram: Buffer, readonly mapped: readonly Range[]) {}

  get size(): bigint {
    return BigInt(this.ram.length);
  }

  isMapped(address: bigint, length: number): boolean {
    if (address < 0n || length < 0) return false;
    const end = address + BigInt(length);
    return this.mapped.some((r) => address >= r.start && end <= r.end);
  }

  /** Offset into `ram` for [address, address+length), or a GuestMemoryError. */
  private at(address: bigint, length: number, access: 'read' | 'write'): number {
    if (!this.isMapped(address, length)) throw new GuestMemoryError(address, length, access);
    return Number(address);
  }

  u8(a: bigint): number { return this.ram[this.at(a, 1, 'read')]; }
  u16(a: bigint): number { return this.ram.readUInt16LE(this.at(a, 2, 'read')); }
  u32(a: bigint): number { return this.ram.readUInt32LE(this.at(a, 4, 'read')); }
  u64(a: bigint): bigint { return this.ram.readBigUInt64LE(this.at(a, 8, 'read')); }
  setU8(a: bigint, v: number): void { this.ram[this.at(a, 1, 'write')] = v & 0xff; }
  setU16(a: bigint, v: number): void { this.ram.writeUInt16LE(v & 0xffff, this.at(a, 2, 'write')); }
  setU32(a: bigint, v: number): void { this.ram.writeUInt32LE(v >>> 0, this.at(a, 4, 'write')); }
  setU64(a: bigint, v: bigint): void { this.ram.writeBigUInt64LE(BigInt.asUintN(64, v), this.at(a, 8, 'write')); }

  /** A live view (no copy) of guest bytes; writes through it are not seen as code writes. */
  view(a: bigint, length: number): Buffer {
    const o = this.at(a, length, 'read');
    return this.ram.subarray(o, o + length);
  }

  /** A copy of guest bytes. */
  read(a: bigint, length: number): Buffer {
    return Buffer.from(this.view(a, length));
  }

  write(a: bigint, data: Uint8Array, mayBeCode = false): void {
    const o = this.at(a, data.length, 'write');
    this.ram.set(data, o);
    if (mayBeCode) this.onCodeWrite(a, data.length);
  }

  /**
   * With `mayBeCode`, onCodeWrite is told only when a byte changes: the guest often clears memory that is already
   * zero (fresh pool memory), and dropping translated code costs a flush and a re-translation of everything hot.
   */
  fill(a: bigint, length: number, value: number, mayBeCode = false): void {
    const o = this.at(a, length, 'write');
    const changed = mayBeCode && !this.holdsOnly(o, length, value & 0xff);
    this.ram.fill(value & 0xff, o, o + length);
    if (changed) this.onCodeWrite(a, length);
  }

  /** memmove semantics (overlap allowed), as CopyMem requires (UEFI 2.10 §7.5.3). onCodeWrite as for fill. */
  copy(dest: bigint, src: bigint, length: number, mayBeCode = false): void {
    const s = this.at(src, length, 'read');
    const d = this.at(dest, length, 'write');
    const changed = mayBeCode && this.ram.compare(this.ram, s, s + length, d, d + length) !== 0;
    this.ram.copyWithin(d, s, s + length);
    if (changed) this.onCodeWrite(dest, length);
  }

  /** Whether ram[offset, offset+length) holds only `value`. */
  private holdsOnly(offset: number, length: number, value: number): boolean {
    const chunk = Math.min(length, 65536);
    const pattern = Buffer.alloc(chunk, value);
    for (let at = 0; at < length; at += chunk) {
      const n = Math.min(chunk, length - at);
      if (this.ram.compare(pattern, 0, n, offset + at, offset + at + n) !== 0) return false;
    }
    return true;
  }

  /** A NUL-terminated UCS-2 string; at most `maxChars` characters are read. */
  utf16z(a: bigint, maxChars = 1 << 20): string {
    let s = '';
    for (let i = 0; i < maxChars; i++) {
      const c = this.u16(a + BigInt(2 * i));
      if (c === 0) return s;
      s += String.fromCharCode(c);
    }
    throw new GuestMemoryError(a, maxChars * 2, 'read');
  }

  /** Byte length of a NUL-terminated UCS-2 string including the terminator. */
  utf16zSize(a: bigint, maxChars = 1 << 20): number {
    return (this.utf16z(a, maxChars).length + 1) * 2;
  }

  asciiz(a: bigint, maxChars = 1 << 20): string {
    let s = '';
    for (let i = 0; i < maxChars; i++) {
      const c = this.u8(a + BigInt(i));
      if (c === 0) return s;
      s += String.fromCharCode(c);
    }
    throw new GuestMemoryError(a, maxChars, 'read');
  }

  setUtf16z(a: bigint, s: string): void {
    this.write(a, encodeUtf16z(s));
  }
}

export function encodeUtf16z(s: string): Buffer {
  const b = Buffer.alloc((s.length + 1) * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16LE(s.charCodeAt(i), 2 * i);
  return b;
}
