// Microsoft x64 calling convention (the UEFI ABI, UEFI 2.10 §2.3.4): argument slots and frame layout.
import { ARG_BITS, ArgType } from './abi';
import { Reg } from './registers';

/** The first four integer arguments travel in these registers. */
export const ARG_REGS: readonly Reg[] = ['rcx', 'rdx', 'r8', 'r9'];

/** At a callee's first instruction RSP points at the return address; argument i ≥ 4 is at RSP + 8 + 32 + 8(i-4). */
export function stackArgOffset(i: number): bigint {
  return BigInt(8 + 32 + 8 * (i - 4));
}

/** Masks a raw register or stack value to the declared width (a UINT32 argument ignores the upper half). */
export function decodeArg(raw: bigint, type: ArgType): bigint {
  const bits = ARG_BITS[type];
  return bits === 64 ? BigInt.asUintN(64, raw) : BigInt.asUintN(bits, raw);
}

/**
 * Where a call frame for `argCount` arguments goes below `rsp`: returns the RSP to set at the callee's entry
 * (pointing at the return address slot). UEFI requires RSP ≡ 8 (mod 16) there, i.e. 16-byte aligned before the call.
 */
export function frameFor(rsp: bigint, argCount: number, reserve = 128n): bigint {
  const stackArgs = BigInt(Math.max(0, argCount - 4));
  const aligned = (rsp - reserve - 32n - 8n * stackArgs) & ~0xfn;
  return aligned - 8n;
}
