// The board: guest RAM on a CPU, trap slots that stop the guest, the run loop with its budgets, nested guest
// calls, the processor's set-up and RDTSC. It knows nothing of EFI: a trap is handed to the firmware's dispatcher.
import { Board, BoardMemory, TrapRegion } from '../core/board';
import { ARG_REGS, frameFor, stackArgOffset } from '../core/calling-convention';
import { GuestMemory, Range } from '../core/guest-memory';
import { GuestFault, RunEnd } from '../core/outcomes';
import { Reg, RegisterFile } from '../core/registers';
import { Cpu, StopReason } from './cpu/cpu';
import { cpuid } from './cpuid';
import { GuestProfile } from './guest-profile';
import { GDT_BYTES, IDT_BYTES, initMachineState, nullPagePte, pageTablePages } from './machine-state';
import { NullPage } from './null-page';
import { PlatformTime } from './q35/platform-time';
import { Q35Ports } from './q35/q35-ports';
import { BoardClock, PlatformClock } from '../core/board';

export interface MachineOptions {
  /** Keep page 0 unmapped: every access faults (OVMF with NULL pointer detection). Default: zeros, accesses listed. */
  strictNull?: boolean;
  /** Bytes the guest sends out of the COM1 UART. */
  onSerial?: (text: string) => void;
}

export interface Budget {
  /**
   * Instructions the guest may execute between two firmware calls (and in total per stretch of chunks). Unset:
   * no count (counting instruments every instruction); the time budget bounds the run.
   */
  maxInstructions?: number;
  /** Wall-clock limit of the whole run in milliseconds. */
  timeoutMs: number;
}

/** Instructions per uninterrupted counted run; the wall clock is checked between chunks. */
const CHUNK = 50_000_000;
/** Wall time of an uncounted KVM run before the machine checks the time budget (KVM resumes slices exactly). */
const SLICE_MS = 250;

/** Why `bytes` cannot be guest RAM (a multiple of 2 MiB, 64 MiB to 4094 MiB, below the 4 GiB limit of a Buffer), or undefined. */
export function memorySizeProblem(bytes: number): string | undefined {
  const ok = Number.isInteger(bytes) && bytes % (2 << 20) === 0 && bytes >= 64 << 20 && bytes <= 4 * 2 ** 30 - 2 * 2 ** 20;
  return ok ? undefined : `--memory must be a multiple of 2 MiB between 64 MiB and 4094 MiB (got ${bytes} bytes)`;
}

export class Machine implements Board {
  readonly mem: GuestMemory;
  readonly ram: readonly Range[];
  private returnTrap = -1n;
  private onTrap: (rip: bigint) => void = () => {};
  private readonly started = Date.now();
  /** Renders a guest address as image+offset; set by the firmware. */
  symbolize: (address: bigint) => string = (a) => `0x${a.toString(16)}`;
  /** RDTSC sites (found by scanning loaded images) and the removers of their stop points. */
  private readonly rdtscSites = new Map<bigint, () => void>();
  /** The time stamp counter RDTSC reads: virtual, so runs are reproducible (Unicorn's own follows the host). */
  rdtsc: () => bigint = () => 0n;
  /** Where the run's wall time went: inside Unicorn, or in firmware services (host side). */
  readonly stats = { emulationMs: 0, serviceMs: 0, stops: 0 };
  /** The sampling profiler, when the run has one (--profile). */
  profile?: GuestProfile;
  /** Sees where the guest is after every stop (service call, instruction chunk, time slice): the progress line. */
  onProgress?: (rip: bigint) => void;

  /** A PC's RAM of `memoryBytes` (see memorySizeProblem) on `cpu`, run within `budget`. */
  /** The q35 board's I/O ports (emulator/q35), on the platform time. */
  readonly ports: Q35Ports;
  private readonly time = new PlatformTime();
  /** Page 0 as OVMF has it, every access recorded; absent with strictNull (accesses fault). */
  nullPage?: NullPage;

  constructor(readonly cpu: Cpu, memoryBytes: number, readonly budget: Budget, private readonly options: MachineOptions = {}) {
    const problem = memorySizeProblem(memoryBytes);
    if (problem) throw new Error(problem);
    // RAM: everything but the NULL page and the legacy VGA/BIOS hole, as a PC has it.
    this.ram = [{ start: 0x1000n, end: 0xa0000n }, { start: 0x100000n, end: BigInt(memoryBytes) }];
    const host = cpu.allocateRam(memoryBytes);
    this.mem = new GuestMemory(host, this.ram);
    for (const r of this.ram) cpu.mapRam(r.start, host.subarray(Number(r.start), Number(r.end)));
    // Page 0 is RAM to the CPU (zeros, as OVMF leaves it) unless strictNull; the firmware itself never uses it.
    if (!options.strictNull) cpu.mapRam(0n, host.subarray(0, 0x1000));
    this.mem.onCodeWrite = (a, n) => cpu.invalidateCode(a, n);
    this.ports = new Q35Ports(this.time, { memoryBytes, onSerial: options.onSerial });
    cpu.setPortIo(this.ports);
  }

  attachClock(clock: BoardClock): PlatformClock {
    this.time.clock = clock;
    return this.time;
  }

  setTraps(regions: readonly TrapRegion[], returnTrap: bigint, onTrap: (rip: bigint) => void): void {
    for (const r of regions) {
      this.mem.fill(r.base, r.size, this.cpu.traits.trapByte); // int3 (Unicorn) or hlt (KVM): a slot never really executes
      this.cpu.addStopRange(r.base, r.base + BigInt(r.size));
    }
    this.returnTrap = returnTrap;
    this.onTrap = onTrap;
  }

  readAll(): RegisterFile {
    return this.cpu.readAll();
  }

  writeReg(reg: Reg, value: bigint): void {
    this.cpu.writeReg(reg, value);
  }

  protect(address: bigint, size: number, access: 'none'): void {
    this.cpu.protect(address, size, access);
  }

  cpuid(leaf: number, subleaf: number) {
    return cpuid(leaf, subleaf);
  }

  setUpProcessor(memory: BoardMemory, vectors: readonly bigint[]): void {
    const top = this.ram[this.ram.length - 1].end;
    const gdt = memory.pool(GDT_BYTES);
    const idt = memory.pool(IDT_BYTES);
    const pageTables = memory.pages(pageTablePages(top));
    initMachineState(this.cpu, this.mem, { gdt, idt, pageTables, ramTop: top, ram: this.ram, vectors });
    if (!this.options.strictNull) this.nullPage = new NullPage(this.cpu, this.mem, nullPagePte(pageTables));
  }

  /**
   * Calls guest code at `fn` with the Microsoft x64 convention and runs it until it returns (Board.callGuest).
   * All registers are restored afterwards, also when an exception (Exit, a fault, the end of the run) unwinds.
   */
  callGuest(fn: bigint, args: readonly bigint[]): bigint {
    const saved = this.cpu.readAll();
    const rsp = frameFor(saved.rsp, args.length);
    try {
      this.mem.setU64(rsp, this.returnTrap);
      args.forEach((v, i) => {
        if (i < 4) this.cpu.writeReg(ARG_REGS[i], v);
        else this.mem.setU64(rsp + stackArgOffset(i), v);
      });
      this.cpu.writeReg('rsp', rsp);
      this.cpu.writeReg('rip', fn);
      return this.runUntilReturn(rsp + 8n);
    } finally {
      this.cpu.writeAll(saved);
    }
  }

  private runUntilReturn(expectedRsp: bigint): bigint {
    let executed = 0;
    for (;;) {
      const t0 = performance.now();
      const max = this.budget.maxInstructions;
      const count = max === undefined ? 0 : Math.min(CHUNK, max - executed);
      const stop = this.cpu.traits.resumesSlices
        ? this.cpu.run(count, this.profile?.intervalMs ?? (max === undefined ? SLICE_MS : undefined))
        : this.cpu.run(count, undefined, {
            deadlineMs: this.budget.timeoutMs > 0 ? Math.max(1, this.budget.timeoutMs - (Date.now() - this.started)) : undefined,
            sampleMs: this.profile?.intervalMs,
            onSample: (rip) => this.profile?.sample(rip),
          });
      this.stats.emulationMs += performance.now() - t0;
      this.stats.stops++;
      if (stop.kind === 'count' && max !== undefined) {
        executed += count;
        if (executed >= max) {
          throw new RunEnd('budget', {
            which: 'instructions',
            limit: max,
            rip: this.symbolize(stop.rip),
            message: `the guest ran ${max} instructions without calling the firmware`,
          });
        }
        this.checkTime(stop.rip);
        continue;
      }
      if (stop.kind === 'interrupted' && !this.cpu.traits.resumesSlices) {
        // The deadline ended the run for good (run-watch.ts): the time budget is spent.
        throw this.timeBudgetEnd(stop.rip);
      }
      if (stop.kind === 'interrupted' || stop.kind === 'count') {
        // A time slice: the engine cannot count (KVM), or the profiler took a sample. Instructions run in the
        // slice are not known, so the instruction budget restarts (documented with --profile).
        this.profile?.sample(stop.rip);
        this.checkTime(stop.rip);
        continue;
      }
      if (stop.kind === 'exception') {
        // Page 0 as OVMF has it: the access is recorded and completed (null-page.ts), the run goes on.
        const left = this.nullPage ? this.nullPage.handle(stop) : stop;
        if (left === undefined) continue;
        throw this.fault(left);
      }
      // A trap: a service call, or the return of a nested call.
      executed = 0;
      if (stop.rip === this.returnTrap) {
        const rsp = this.cpu.readReg('rsp');
        if (rsp === expectedRsp) return this.cpu.readReg('rax');
        throw new GuestFault(
          `returned to the firmware with an unbalanced stack (RSP 0x${rsp.toString(16)}, expected 0x${expectedRsp.toString(16)})`,
          this.cpu.readAll(),
        );
      }
      const t1 = performance.now();
      const before = this.stats.emulationMs + this.stats.serviceMs;
      if (this.rdtscSites.has(stop.rip)) this.emulateRdtsc(stop.rip);
      else this.onTrap(stop.rip);
      // Time of nested guest runs (and of the services they call) is already counted where it happened.
      this.stats.serviceMs += performance.now() - t1 - (this.stats.emulationMs + this.stats.serviceMs - before);
      // After the call the guest resumes at the return address: that is where it is, not the trap slot.
      this.checkTime(this.cpu.readReg('rip'));
    }
  }

  /** Makes the `rdtsc` candidates at these offsets from `base` stop the CPU so the machine answers them. */
  trapRdtsc(base: bigint, offsets: readonly number[]): number {
    let n = 0;
    for (const off of offsets) {
      const a = base + BigInt(off);
      if (!this.rdtscSites.has(a)) {
        this.rdtscSites.set(a, this.cpu.addStopRange(a, a + 1n));
        n++;
      }
    }
    return n;
  }

  /** RDTSC (Intel SDM vol. 2B): EDX:EAX = the counter; the stop hook fires before the instruction runs. */
  private emulateRdtsc(rip: bigint): void {
    if (!this.mem.isMapped(rip, 2) || this.mem.u16(rip) !== 0x310f) {
      // The bytes changed since the scan: not an rdtsc any more, let the instruction run.
      this.rdtscSites.get(rip)!();
      this.rdtscSites.delete(rip);
      return;
    }
    const tsc = this.rdtsc();
    this.cpu.writeReg('rax', tsc & 0xffff_ffffn);
    this.cpu.writeReg('rdx', (tsc >> 32n) & 0xffff_ffffn);
    this.cpu.writeReg('rip', rip + 2n);
  }

  private checkTime(rip: bigint): void {
    this.onProgress?.(rip);
    if (this.budget.timeoutMs > 0 && Date.now() - this.started > this.budget.timeoutMs) throw this.timeBudgetEnd(rip);
  }

  private timeBudgetEnd(rip: bigint): RunEnd {
    return new RunEnd('budget', {
      which: 'time',
      limit: this.budget.timeoutMs,
      rip: this.symbolize(rip),
      message: `the run took longer than ${this.budget.timeoutMs / 1000} s`,
    });
  }

  private fault(stop: Extract<StopReason, { kind: 'exception' }>): GuestFault {
    const names: Record<number, string> = {
      0: '#DE divide error', 1: '#DB debug', 3: '#BP breakpoint', 4: '#OF overflow', 5: '#BR bound range',
      6: '#UD invalid opcode', 7: '#NM device not available', 8: '#DF double fault', 10: '#TS invalid TSS',
      11: '#NP segment not present', 12: '#SS stack fault', 13: '#GP general protection', 14: '#PF page fault',
      16: '#MF x87 error', 17: '#AC alignment check', 18: '#MC machine check', 19: '#XM SIMD exception',
    };
    const name = names[stop.vector] ?? `vector ${stop.vector}`;
    const where = this.symbolize(stop.rip);
    let reason = `${name} at ${where}`;
    if (stop.address !== undefined) reason += `: ${stop.access ?? 'access'} of 0x${stop.address.toString(16)} (${stop.detail})`;
    else if (stop.detail) reason += ` (${stop.detail})`;
    const extra: Record<string, unknown> = { vector: stop.vector, exception: name };
    if (stop.errorCode !== undefined) extra.errorCode = stop.errorCode;
    if (stop.address !== undefined) {
      extra.address = `0x${stop.address.toString(16)}`;
      extra.access = stop.access;
      if (stop.errorCode !== undefined) {
        // the engine reported the processor's own error code
      } else if (stop.vector === 14) {
        // #PF error code (Intel SDM vol. 3 §4.7): P=0 not present, W/R, I/D for fetches.
        const present = stop.detail !== 'page not present';
        extra.errorCode = (present ? 1 : 0) | (stop.access === 'write' ? 2 : 0) | (stop.access === 'fetch' ? 0x10 : 0);
      } else if (stop.vector === 13) {
        extra.errorCode = 0; // non-canonical accesses raise #GP(0)
      }
    }
    const regs = this.cpu.readAll();
    // CR2 holds the faulting linear address of a #PF (Intel SDM vol. 3 §4.7); engines that find the fault before
    // the processor would (Unicorn's unmapped-memory hook) leave it unset, so it is set from the fault here.
    if (stop.vector === 14 && stop.address !== undefined) regs.cr2 = stop.address;
    return new GuestFault(reason, regs, extra);
  }
}
