// Instruction lengths and memory operands of x86-64 code (Intel SDM vol. 2, opcode maps A-2..A-5), enough to find
// which instruction of a translated block made a memory access when the engine only reports the block's start.

export interface Decoded {
  length: number;
  /** The memory operand's address with the given registers, when the instruction has one (ModRM or implicit). */
  address?: bigint;
  /** A jump, call or return: a translated block ends after it. */
  branch: boolean;
}

type Regs = (n: number) => bigint; // general register by number (0 rax .. 15 r15)

/** The general registers in ModRM/REX numbering (0 rax .. 15 r15), the order `Regs` takes them in. */
export const GENERAL_REGISTERS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

const MODRM_1 = new Set<number>([
  ...[0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38].flatMap((b) => [b, b + 1, b + 2, b + 3]),
  0x62, 0x63, 0x69, 0x6b, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
  0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xf6, 0xf7, 0xfe, 0xff,
]);
const IMM8_1 = new Set<number>([
  0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x6a, 0x6b, 0x80, 0x82, 0x83, 0xa8, 0xc0, 0xc1, 0xc6, 0xcd,
  0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xeb, ...Array.from({ length: 16 }, (_, i) => 0x70 + i), ...Array.from({ length: 8 }, (_, i) => 0xb0 + i),
]);
/** Immediate of operand size (2 with 0x66, else 4). */
const IMMZ_1 = new Set<number>([0x05, 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x68, 0x69, 0x81, 0xa9, 0xc7]);
const NO_MODRM_0F = new Set<number>([
  0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa,
  ...Array.from({ length: 16 }, (_, i) => 0x80 + i), ...Array.from({ length: 8 }, (_, i) => 0xc8 + i),
]);
const IMM8_0F = new Set<number>([0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]);

/** Decodes the instruction at `bytes[0]` (at guest address `rip`); undefined for what this table does not know. */
export function decode(bytes: Uint8Array, rip: bigint, reg: Regs): Decoded | undefined {
  let i = 0;
  let opsize16 = false;
  let addr32 = false;
  let segment = false;
  for (; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x66) opsize16 = true;
    else if (b === 0x67) addr32 = true;
    else if (b === 0x64 || b === 0x65) segment = true;
    else if (![0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26].includes(b)) break;
  }
  let rex = 0;
  if (i < bytes.length && (bytes[i] & 0xf0) === 0x40) rex = bytes[i++];
  if (i >= bytes.length) return undefined;
  const op = bytes[i++];
  let modrm = false;
  let imm = 0;
  let branch = false;
  let implicit: bigint | undefined;
  const w = (rex & 8) !== 0;
  if (op === 0x0f) {
    const op2 = bytes[i++];
    if (op2 === 0x38) {
      i++;
      modrm = true;
    } else if (op2 === 0x3a) {
      i++;
      modrm = true;
      imm = 1;
    } else {
      modrm = !NO_MODRM_0F.has(op2);
      if (IMM8_0F.has(op2)) imm = 1;
      if (op2 >= 0x80 && op2 <= 0x8f) {
        imm = 4;
        branch = true;
      }
    }
  } else {
    if (op === 0xc4 || op === 0xc5 || op === 0x62 || op === 0x8f && (bytes[i] & 0x38) !== 0) return undefined; // VEX/EVEX/XOP
    modrm = MODRM_1.has(op);
    if (IMM8_1.has(op)) imm = 1;
    if (IMMZ_1.has(op)) imm = opsize16 ? 2 : 4;
    if (op >= 0xb8 && op <= 0xbf) imm = w ? 8 : opsize16 ? 2 : 4;
    if (op >= 0xa0 && op <= 0xa3) imm = addr32 ? 4 : 8;
    if (op === 0xc2 || op === 0xca) imm = 2;
    if (op === 0xc8) imm = 3;
    if (op === 0xe8 || op === 0xe9) imm = 4;
    if (op === 0xf6 || op === 0xf7) {
      const r = (bytes[i] >> 3) & 7;
      if (r <= 1) imm = op === 0xf6 ? 1 : opsize16 ? 2 : 4;
    }
    branch = (op >= 0x70 && op <= 0x7f) || [0xc2, 0xc3, 0xca, 0xcb, 0xcf, 0xe8, 0xe9, 0xeb, 0xe0, 0xe1, 0xe2, 0xe3].includes(op)
      || (op === 0xff && [2, 3, 4, 5].includes((bytes[i] >> 3) & 7));
    // Implicit memory operands: the stack and the string instructions.
    if ((op >= 0x50 && op <= 0x57) || op === 0x68 || op === 0x6a || op === 0x9c || op === 0xe8 || (op === 0xff && [2, 6].includes((bytes[i] >> 3) & 7))) implicit = reg(4) - 8n;
    if ((op >= 0x58 && op <= 0x5f) || op === 0x9d || op === 0xc3 || op === 0xc2 || op === 0x8f) implicit = reg(4);
    if (op === 0xa4 || op === 0xa5 || op === 0xaa || op === 0xab || op === 0xae || op === 0xaf) implicit = reg(7);
    if (op === 0xac || op === 0xad || op === 0xa6 || op === 0xa7) implicit = reg(6);
  }
  let address = implicit;
  if (modrm) {
    if (i >= bytes.length) return undefined;
    const m = bytes[i++];
    const mod = m >> 6;
    const rm = m & 7;
    if (mod !== 3) {
      let base: bigint | undefined;
      let index = 0n;
      let disp = 0n;
      if (rm === 4) {
        const sib = bytes[i++];
        const scale = 1n << BigInt(sib >> 6);
        const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
        if (idx !== 4) index = reg(idx) * scale;
        const b = (sib & 7) | ((rex & 1) << 3);
        if ((sib & 7) === 5 && mod === 0) {
          disp = BigInt.asIntN(32, BigInt(readU32(bytes, i)));
          i += 4;
        } else base = reg(b);
      } else if (rm === 5 && mod === 0) {
        disp = BigInt.asIntN(32, BigInt(readU32(bytes, i)));
        i += 4;
        base = -1n; // RIP-relative: resolved once the length is known
      } else base = reg(rm | ((rex & 1) << 3));
      if (mod === 1) disp = BigInt.asIntN(8, BigInt(bytes[i++]));
      if (mod === 2) {
        disp = BigInt.asIntN(32, BigInt(readU32(bytes, i)));
        i += 4;
      }
      const length = i + imm;
      const b = base === -1n ? rip + BigInt(length) : base ?? 0n;
      address = BigInt.asUintN(addr32 ? 32 : 64, b + index + disp);
      if (segment) address = undefined; // FS/GS bases are not known here
    }
  }
  const length = i + imm;
  if (length > bytes.length || length > 15) return undefined;
  return { length, address, branch };
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/**
 * The instruction in the block starting at `start` whose memory operand covers `address`, evaluated with the
 * registers as they are now (those of the faulting instruction): the first one from the block's start that
 * matches, before the block's branch. Undefined when the decoder cannot tell.
 */
export function findAccess(code: Uint8Array, start: bigint, address: bigint, reg: Regs): bigint | undefined {
  let at = 0;
  for (let n = 0; n < 512 && at < code.length; n++) {
    const d = decode(code.subarray(at, at + 15), start + BigInt(at), reg);
    if (!d) return undefined;
    if (d.address !== undefined && address >= d.address && address < d.address + 64n) return start + BigInt(at);
    if (d.branch) return undefined;
    at += d.length;
  }
  return undefined;
}
