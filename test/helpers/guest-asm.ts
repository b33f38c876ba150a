// A little x86-64 assembler for EFI entry points in machine-level tests (hand-assembled, no toolchain needed).
import { slotOffset } from '../../core/abi';
import { EFI_BOOT_SERVICES } from '../../efi-services/tables/boot-services-decl';
import { ST } from '../../efi-services/tables/system-table';
import { le32, le64 } from './guest-code';

export type Reg = 'rax' | 'rcx' | 'rdx' | 'r8' | 'r9';
export const REG: Record<Reg, [code: number, ext: boolean]> = { rax: [0, false], rcx: [1, false], rdx: [2, false], r8: [0, true], r9: [1, true] };
export const bs = (member: string): number => slotOffset(EFI_BOOT_SERVICES, member);
/** EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL.OutputString: after Reset (UEFI 2.10 §12.4). */
export const OUTPUT_STRING = 8;

/**
 * A little x86-64 assembler for EFI entry points: a prologue that keeps ImageHandle in r12, SystemTable in r13,
 * BootServices in rbx and a counter in r14, 0x68 bytes of frame (RSP 16-aligned at calls; locals at
 * [rsp+0x30, rsp+0x68)), RIP-relative data appended after the code, and labels for jumps.
 */
export class Asm {
  private readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string }[] = [];
  private readonly data: { label: string; bytes: Buffer }[] = [];

  emit(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }

  get here(): number {
    return this.bytes.length;
  }

  label(name: string): this {
    this.labels.set(name, this.bytes.length);
    return this;
  }

  /** Offset of a code label from the start of .text. */
  offsetOf(name: string): number {
    const at = this.labels.get(name);
    if (at === undefined) throw new Error(`no label ${name}`);
    return at;
  }

  /** Bytes placed after the code, 8-aligned, addressed with leaRip. */
  dataLabel(name: string, bytes: Uint8Array): this {
    this.data.push({ label: name, bytes: Buffer.from(bytes) });
    return this;
  }

  private rel32(label: string): this {
    this.fixups.push({ at: this.bytes.length, label });
    return this.emit(0, 0, 0, 0);
  }

  prologue(): this {
    // push rbx; push r12; push r13; push r14; sub rsp, 0x68; mov r12, rcx; mov r13, rdx; mov rbx, [rdx+BootServices]
    return this.emit(0x53, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x48, 0x83, 0xec, 0x68, 0x49, 0x89, 0xcc, 0x49, 0x89, 0xd5, 0x48, 0x8b, 0x5a, ST.BootServices);
  }

  /** Returns RAX to the caller. */
  epilogue(): this {
    return this.emit(0x48, 0x83, 0xc4, 0x68, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5b, 0xc3);
  }

  movImm(r: Reg, v: bigint | number): this {
    const [c, ext] = REG[r];
    return this.emit(ext ? 0x49 : 0x48, 0xb8 + c, ...le64(BigInt(v)));
  }

  /** lea r, [rsp+d] */
  leaStack(r: Reg, d: number): this {
    const [c, ext] = REG[r];
    return this.emit(ext ? 0x4c : 0x48, 0x8d, 0x44 | (c << 3), 0x24, d);
  }

  /** mov r, [rsp+d] */
  loadStack(r: Reg, d: number): this {
    const [c, ext] = REG[r];
    return this.emit(ext ? 0x4c : 0x48, 0x8b, 0x44 | (c << 3), 0x24, d);
  }

  /** mov [rsp+d], r */
  storeStack(d: number, r: Reg): this {
    const [c, ext] = REG[r];
    return this.emit(ext ? 0x4c : 0x48, 0x89, 0x44 | (c << 3), 0x24, d);
  }

  /** mov qword [rsp+d], imm32 (sign-extended) */
  storeStackImm(d: number, v: number): this {
    return this.emit(0x48, 0xc7, 0x44, 0x24, d, ...le32(v));
  }

  /** lea r, [rip+label] */
  leaRip(r: Reg, label: string): this {
    const [c, ext] = REG[r];
    return this.emit(ext ? 0x4c : 0x48, 0x8d, 0x05 | (c << 3)).rel32(label);
  }

  /** call [rbx+member]: a boot service. */
  callBs(member: string): this {
    return this.emit(0xff, 0x93, ...le32(bs(member)));
  }

  jmp(label: string): this {
    return this.emit(0xe9).rel32(label);
  }

  /** test rax, rax; jnz label */
  jnzRax(label: string): this {
    return this.emit(0x48, 0x85, 0xc0, 0x0f, 0x85).rel32(label);
  }

  build(): number[] {
    const out = [...this.bytes];
    const where = new Map(this.labels);
    for (const d of this.data) {
      while (out.length % 8) out.push(0);
      where.set(d.label, out.length);
      out.push(...d.bytes);
    }
    for (const f of this.fixups) {
      const target = where.get(f.label);
      if (target === undefined) throw new Error(`no label ${f.label}`);
      le32(target - (f.at + 4)).forEach((b, i) => (out[f.at + i] = b));
    }
    return out;
  }
}
