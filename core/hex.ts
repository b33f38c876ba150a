// The one way stubemu writes an address or a 64-bit value in messages and reports: lowercase hex, 0x, no padding.
export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}
