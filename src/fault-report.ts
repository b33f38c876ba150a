// What a guest fault report holds: registers, the faulting bytes, a call trace recovered from the stack.
import { RegisterFile } from '../core/registers';
import { GuestMemory } from '../core/guest-memory';
import { GuestFault } from '../core/outcomes';
import { LoadedImage } from '../efi-services/boot/images';

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

export interface FaultReport {
  reason: string;
  rip: string;
  registers: Record<string, string>;
  instructionBytes?: string;
  /** Return addresses found on the stack that follow a call instruction in a loaded image, innermost first. */
  callTrace: string[];
  /** Firmware services and guest calls active when the fault happened, outermost first. */
  firmwareStack: string[];
  [key: string]: unknown;
}

export function faultReport(
  f: GuestFault,
  mem: GuestMemory,
  images: readonly LoadedImage[],
  symbolize: (a: bigint) => string,
  firmwareStack: readonly string[],
): FaultReport {
  const regs: RegisterFile = f.regs;
  const registers: Record<string, string> = {};
  for (const [k, v] of Object.entries(regs)) registers[k] = hex(v as bigint);
  let instructionBytes: string | undefined;
  for (let n = 16; n > 0 && instructionBytes === undefined; n--) {
    if (mem.isMapped(regs.rip, n)) instructionBytes = mem.read(regs.rip, n).toString('hex');
  }
  return {
    reason: f.reason,
    rip: symbolize(regs.rip),
    ...f.extra,
    registers,
    ...(instructionBytes !== undefined ? { instructionBytes } : {}),
    callTrace: stackTrace(mem, regs.rsp, images, symbolize),
    firmwareStack: [...firmwareStack],
  };
}

/**
 * Scans up to 4 KiB of stack for return addresses: values inside an image that directly follow a
 * `call rel32` (E8) or an indirect `call` (FF /2) — the heuristic debuggers use without unwind data.
 */
function stackTrace(mem: GuestMemory, rsp: bigint, images: readonly LoadedImage[], symbolize: (a: bigint) => string): string[] {
  const out: string[] = [];
  for (let off = 0n; off < 4096n && out.length < 16; off += 8n) {
    if (!mem.isMapped(rsp + off, 8)) break;
    const v = mem.u64(rsp + off);
    if (!images.some((i) => !i.unloaded && v >= i.base + 2n && v < i.base + BigInt(i.size))) continue;
    if (followsCall(mem, v)) out.push(symbolize(v));
  }
  return out;
}

function followsCall(mem: GuestMemory, ret: bigint): boolean {
  if (mem.isMapped(ret - 5n, 5) && mem.u8(ret - 5n) === 0xe8) return true;
  for (const len of [2n, 3n, 6n, 7n]) {
    if (!mem.isMapped(ret - len, Number(len))) continue;
    const b = mem.read(ret - len, Number(len));
    const i = b[0] >= 0x40 && b[0] <= 0x4f ? 1 : 0; // REX prefix
    if (b[i] === 0xff && ((b[i + 1] >> 3) & 7) === 2) return true;
  }
  return false;
}
