// Port I/O as the board sees it: the interface both CPU engines call for IN/OUT (and INS/OUTS, one element at a time).
export type PortSize = 1 | 2 | 4;

export interface PortIo {
  /** IN of `size` bytes from `port`: the value (only the low `size` bytes count). */
  read(port: number, size: PortSize): number;
  /** OUT of the low `size` bytes of `value` to `port`. */
  write(port: number, size: PortSize, value: number): void;
}

/** A device behind a range of ports; `offset` is from the range's first port. */
export interface PortDevice {
  readonly name: string;
  read(offset: number, size: PortSize): number;
  write(offset: number, size: PortSize, value: number): void;
}

/** All ones in the low `size` bytes: what the floating ISA/LPC bus returns where no device answers. */
export const floating = (size: PortSize): number => (size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1);
