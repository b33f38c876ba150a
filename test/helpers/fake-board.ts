// A board without a CPU, for tests: RAM in a Buffer, a register file, and "guest" functions written in
// JavaScript. A test calls a trap slot as guest code would (arguments in RCX, RDX, R8, R9 and on the stack, a
// return address at RSP), and the firmware's real dispatcher runs the service.
import { Board, BoardMemory, CpuidResult, TrapRegion } from '../../core/board';
import { ARG_REGS, frameFor, stackArgOffset } from '../../core/calling-convention';
import { GuestMemory, Range } from '../../core/guest-memory';
import { GENERAL_REGS, Reg, RegisterFile } from '../../core/registers';
import { cpuid } from '../../emulator/cpuid';

/** Where a test's calls return to: a guest address no trap region holds. */
export const GUEST_RETURN = 0x4a4a_0000n;

export class FakeBoard implements Board {
  readonly mem: GuestMemory;
  readonly regs: RegisterFile;
  readonly regions: TrapRegion[] = [];
  private onTrap: (rip: bigint) => void = () => {
    throw new Error('no trap regions set');
  };
  private returnTrap = -1n;
  /** Guest functions the firmware calls (event notifications, Security2): tests install JS stand-ins. */
  readonly guestFunctions = new Map<bigint, (args: readonly bigint[]) => bigint>();
  readonly guestCalls: { fn: bigint; args: readonly bigint[] }[] = [];
  readonly protectedRanges: { address: bigint; size: number }[] = [];
  readonly processor: { vectors: readonly bigint[]; memory: bigint[] }[] = [];
  readonly rdtscSites: bigint[] = [];
  rdtsc: () => bigint = () => 0n;
  symbolize: (address: bigint) => string = (a) => `0x${a.toString(16)}`;

  /** `ram` ranges over one Buffer that ends where the last range ends; RSP starts at `stackTop`. */
  constructor(readonly ram: readonly Range[], stackTop: bigint = ram[ram.length - 1].end) {
    this.mem = new GuestMemory(Buffer.alloc(Number(ram[ram.length - 1].end)), ram);
    this.regs = Object.fromEntries([...GENERAL_REGS, 'cr0', 'cr2', 'cr3', 'cr4'].map((r) => [r, 0n])) as RegisterFile;
    this.regs.rsp = stackTop;
  }

  /** A PC's RAM layout of `bytes` (no NULL page, no legacy hole), as emulator/machine.ts lays it out. */
  static pc(bytes: number): FakeBoard {
    return new FakeBoard([{ start: 0x1000n, end: 0xa0000n }, { start: 0x100000n, end: BigInt(bytes) }]);
  }

  setTraps(regions: readonly TrapRegion[], returnTrap: bigint, onTrap: (rip: bigint) => void): void {
    this.regions.push(...regions);
    this.returnTrap = returnTrap;
    this.onTrap = onTrap;
  }

  readAll(): RegisterFile {
    return { ...this.regs };
  }

  writeReg(reg: Reg, value: bigint): void {
    this.regs[reg] = BigInt.asUintN(64, value);
  }

  /**
   * Runs the JS stand-in installed at `fn`, or the service when `fn` is a trap slot (a firmware function the
   * guest left in place), with the registers saved and restored as the real board does.
   */
  callGuest(fn: bigint, args: readonly bigint[]): bigint {
    const saved = this.readAll();
    try {
      this.guestCalls.push({ fn, args });
      const f = this.guestFunctions.get(fn);
      if (f) return f(args);
      if (this.isTrapAddress(fn)) return this.call(fn, args);
      throw new Error(`no guest function at 0x${fn.toString(16)}`);
    } finally {
      Object.assign(this.regs, saved);
    }
  }

  /** Allocates what the real board allocates (GDT, IDT, page tables for this RAM) so memory maps compare. */
  setUpProcessor(memory: BoardMemory, vectors: readonly bigint[]): void {
    const top = this.ram[this.ram.length - 1].end;
    const gdt = memory.pool(8 * 9);
    const idt = memory.pool(16 * 256);
    const pageTables = memory.pages(3 + Number((top + (1n << 30n) - 1n) >> 30n));
    this.processor.push({ vectors, memory: [gdt, idt, pageTables] });
  }

  protect(address: bigint, size: number): void {
    this.protectedRanges.push({ address, size });
  }

  trapRdtsc(base: bigint, offsets: readonly number[]): number {
    const fresh = offsets.map((o) => base + BigInt(o)).filter((a) => !this.rdtscSites.includes(a));
    this.rdtscSites.push(...fresh);
    return fresh.length;
  }

  cpuid(leaf: number, subleaf: number): CpuidResult {
    return cpuid(leaf, subleaf);
  }

  isTrapAddress(a: bigint): boolean {
    return this.regions.some((r) => a >= r.base && a < r.base + BigInt(r.size));
  }

  /**
   * Calls the function at `address` (a trap slot read from a table) as guest code does, and returns RAX:
   * arguments per the Microsoft x64 convention, `varargs` after them on the stack, the return address at RSP.
   */
  call(address: bigint, args: readonly bigint[], varargs: readonly bigint[] = []): bigint {
    if (!this.isTrapAddress(address) || address === this.returnTrap) throw new Error(`no service at 0x${address.toString(16)}`);
    const all = [...args, ...varargs];
    const saved = this.readAll();
    const rsp = frameFor(saved.rsp, all.length);
    this.mem.setU64(rsp, GUEST_RETURN);
    all.forEach((v, i) => {
      if (i < 4) this.regs[ARG_REGS[i]] = BigInt.asUintN(64, v);
      else this.mem.setU64(rsp + stackArgOffset(i), BigInt.asUintN(64, v));
    });
    this.regs.rsp = rsp;
    this.regs.rip = address;
    this.regs.rax = 0n;
    try {
      this.onTrap(address);
      if (this.regs.rip !== GUEST_RETURN || this.regs.rsp !== rsp + 8n) throw new Error('the service did not return to its caller');
      return this.regs.rax;
    } finally {
      Object.assign(this.regs, { ...saved, rax: this.regs.rax });
    }
  }
}
