// Read or write: what a page fault's access was, from the faulting instruction's bytes (Intel SDM vol. 2 opcode
// map). Unicorn 2.1.1 raises a page-table #PF through the interrupt hook without the error code, so the W/R bit
// of the report (Intel SDM vol. 3 §4.7) is decoded here; KVM reads the real error code from the exception frame.

/** Opcodes (one byte) whose memory operand is written (stores, read-modify-writes, pushes, string stores). */
const WRITES = new Set([
  0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31, // ALU r/m, reg
  0x86, 0x87, 0x88, 0x89, 0x8c, 0xc6, 0xc7, 0xa2, 0xa3, // xchg, mov to r/m, mov moffs
  0xaa, 0xab, 0xa4, 0xa5, // stos, movs (the destination; see below)
  0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x68, 0x6a, 0x9c, 0xe8, // push, pushf, call
  0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3, // shifts and rotates of r/m
]);
/** Two-byte opcodes (0F xx) whose memory operand is written. */
const WRITES_0F = new Set([
  0x11, 0x13, 0x17, 0x29, 0x2b, 0x7e, 0x7f, 0xd6, 0xe7, 0xc3, // SSE/MMX stores, movnti
  0xab, 0xb3, 0xbb, 0xba, 0xb0, 0xb1, 0xc0, 0xc1, 0xc7, // bts/btr/btc, cmpxchg, xadd, cmpxchg8b/16b
  0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, // setcc
]);

/**
 * 'write' when the instruction at the fault stores to memory, else 'read'. String moves read [RSI] and write
 * [RDI]: the faulting address tells which.
 */
export function faultAccess(bytes: Uint8Array, address: bigint, rdi: bigint): 'read' | 'write' {
  let i = 0;
  while (i < bytes.length && [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65].includes(bytes[i])) i++;
  if (i < bytes.length && (bytes[i] & 0xf0) === 0x40) i++; // REX
  if (i >= bytes.length) return 'read';
  const op = bytes[i];
  const reg = i + 1 < bytes.length ? (bytes[i + 1] >> 3) & 7 : 0;
  if (op === 0x0f) {
    const op2 = bytes[i + 1];
    if (op2 === 0xba) return (i + 2 < bytes.length && ((bytes[i + 2] >> 3) & 7) >= 5) ? 'write' : 'read'; // bt is a read
    return WRITES_0F.has(op2) ? 'write' : 'read';
  }
  if (op === 0xa4 || op === 0xa5) return (address >> 12n) === (rdi >> 12n) ? 'write' : 'read';
  if (op >= 0x80 && op <= 0x83) return reg === 7 ? 'read' : 'write'; // group 1; /7 is cmp
  if (op === 0xf6 || op === 0xf7) return reg === 2 || reg === 3 ? 'write' : 'read'; // not, neg
  if (op === 0xfe || op === 0xff) return reg <= 1 || reg === 2 || reg === 3 || reg === 6 ? 'write' : 'read'; // inc, dec, call, push
  return WRITES.has(op) ? 'write' : 'read';
}
