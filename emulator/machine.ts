// The run loop: executes guest code, turns trap hits into typed service calls (one dispatcher, STYLE 5),
// and lets the firmware call guest functions from inside a service (nested runs).
import { CallInfo, FunctionDecl, ServiceFn } from '../efi-services/abi';
import { guidFromBytes } from '../efi-services/guid';
import { EFI_UNSUPPORTED, EfiError, statusName } from '../efi-services/status';
import { ARG_REGS, decodeArg, frameFor, stackArgOffset } from './calling-convention';
import { CallLog } from './call-log';
import { Cpu, StopReason } from './cpu/cpu';
import { GuestMemory, GuestMemoryError } from './guest-memory';
import { GuestFault, RunEnd } from './signals';
import { GuestProfile } from './guest-profile';

export interface TrapRegion {
  base: bigint;
  size: number;
}

interface Trap {
  owner: string;
  decl: FunctionDecl;
  impl?: ServiceFn;
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

const SLOT = 16n;
/** Instructions per uninterrupted counted run; the wall clock is checked between chunks. */
const CHUNK = 50_000_000;
/** Wall time of an uncounted KVM run before the machine checks the time budget (KVM resumes slices exactly). */
const SLICE_MS = 250;

export class Machine {
  private readonly traps = new Map<bigint, Trap>();
  private nextSlot: bigint[];
  /** Nested guest calls return here (slot 0 of the boot trap region). */
  readonly returnTrap: bigint;
  private depth = 0;
  private readonly started = Date.now();
  /** Renders a guest address as image+offset; set by the firmware. */
  symbolize: (address: bigint) => string = (a) => `0x${a.toString(16)}`;
  /** Called before every service call (the firmware advances its clock, rejects calls after ExitBootServices). */
  beforeCall: (service: string, runtime: boolean) => string | undefined = () => undefined;
  /** Sees every service call's decoded arguments before it runs (pointer tracking for the report). */
  onCall: (service: string, decl: FunctionDecl, args: readonly bigint[]) => void = () => {};
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
  /** Sees CPU exceptions first: undefined = dealt with, the run goes on; else the exception to report. */
  onException?: (stop: Extract<StopReason, { kind: 'exception' }>) => Extract<StopReason, { kind: 'exception' }> | undefined;
  /** Stack of the services currently being executed (outermost first), for fault reports. */
  readonly activeCalls: string[] = [];

  constructor(
    readonly cpu: Cpu,
    readonly mem: GuestMemory,
    private readonly bootRegion: TrapRegion,
    private readonly runtimeRegion: TrapRegion,
    readonly log: CallLog,
    readonly budget: Budget,
  ) {
    for (const r of [bootRegion, runtimeRegion]) {
      mem.fill(r.base, r.size, cpu.traits.trapByte); // int3 (Unicorn) or hlt (KVM): a slot never really executes
      cpu.addStopRange(r.base, r.base + BigInt(r.size));
    }
    this.returnTrap = bootRegion.base;
    this.nextSlot = [bootRegion.base + SLOT, runtimeRegion.base];
  }

  isTrapAddress(a: bigint): boolean {
    return [this.bootRegion, this.runtimeRegion].some((r) => a >= r.base && a < r.base + BigInt(r.size));
  }

  /** Allocates a trap slot that runs `impl` (Platform.trap). */
  trap(owner: string, decl: FunctionDecl, impl: ServiceFn | undefined, runtime = false): bigint {
    const region = runtime ? this.runtimeRegion : this.bootRegion;
    const i = runtime ? 1 : 0;
    const a = this.nextSlot[i];
    if (a + SLOT > region.base + BigInt(region.size)) throw new Error(`firmware trap region full (${owner}.${decl.name})`);
    this.nextSlot[i] = a + SLOT;
    this.traps.set(a, { owner, decl, impl });
    return a;
  }

  /**
   * Calls guest code at `fn` with the Microsoft x64 convention and runs it until it returns (Platform.callGuest).
   * All registers are restored afterwards, also when an exception (Exit, a fault, the end of the run) unwinds.
   */
  callGuest(fn: bigint, args: readonly bigint[], why: string): bigint {
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
      this.activeCalls.push(why);
      this.depth++;
      return this.runUntilReturn(rsp + 8n);
    } finally {
      this.depth--;
      this.activeCalls.pop();
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
        // The board may complete the access itself (page 0 as OVMF has it, null-page.ts).
        const left = this.onException ? this.onException(stop) : stop;
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
      else this.dispatch(stop.rip);
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

  private dispatch(rip: bigint): void {
    const trap = this.traps.get(rip);
    const regs = this.cpu.readAll();
    if (!trap) {
      throw new GuestFault(`jump into the firmware trap region at 0x${rip.toString(16)}, where no service lives`, regs);
    }
    const service = `${trap.owner}.${trap.decl.name}`;
    let ret: bigint;
    try {
      ret = this.mem.u64(regs.rsp);
    } catch {
      throw new GuestFault(`${service} called with an unusable stack (RSP 0x${regs.rsp.toString(16)})`, regs);
    }
    const caller = this.symbolize(ret);
    const raw = (i: number): bigint => (i < 4 ? regs[ARG_REGS[i]] : this.mem.u64(regs.rsp + stackArgOffset(i)));
    let args: bigint[];
    try {
      args = trap.decl.args.map((a, i) => decodeArg(raw(i), a.type));
    } catch (e) {
      throw new GuestFault(`${service} called from ${caller}: its stack arguments are outside guest RAM`, regs);
    }
    const entry = this.log.begin(service, caller, this.depth, () => this.renderArgs(trap.decl, args));
    const info: CallInfo = {
      name: service,
      caller: ret,
      stackPointer: regs.rsp,
      vararg: (i) => raw(trap.decl.args.length + i),
      note: (text) => {
        if (entry) (entry.notes ??= []).push(text);
      },
    };
    this.onCall(service, trap.decl, args);
    const refused = this.beforeCall(service, trap.owner === 'RuntimeServices');
    let status: bigint | undefined;
    this.activeCalls.push(`${service} from ${caller}`);
    this.log.enter(service, caller);
    try {
      if (refused !== undefined) {
        this.log.guestError(service, caller, refused);
        status = EFI_UNSUPPORTED;
      } else if (!trap.impl) {
        this.log.markUnimplemented(service);
        status = EFI_UNSUPPORTED;
      } else {
        const r = trap.impl(args, info);
        status = r === undefined ? undefined : BigInt.asUintN(64, r);
      }
    } catch (e) {
      if (e instanceof EfiError) status = e.status;
      else if (e instanceof GuestMemoryError) {
        throw new GuestFault(`${service} called from ${caller} with a pointer outside guest RAM: ${e.message}`, regs, {
          service,
          arguments: this.renderArgs(trap.decl, args),
        });
      } else throw e;
    } finally {
      this.activeCalls.pop();
      this.log.leave();
    }
    if (entry && trap.decl.returns !== 'VOID') entry.status = trap.decl.returns === 'EFI_STATUS' ? statusName(status ?? 0n) : `0x${(status ?? 0n).toString(16)}`;
    // Return to the caller as its `call` expects: RAX = result, pop the return address.
    if (trap.decl.returns !== 'VOID') this.cpu.writeReg('rax', status ?? 0n);
    this.cpu.writeReg('rsp', regs.rsp + 8n);
    this.cpu.writeReg('rip', ret);
  }

  private renderArgs(decl: FunctionDecl, args: readonly bigint[]): Record<string, string> {
    const out: Record<string, string> = {};
    decl.args.forEach((a, i) => {
      const v = args[i];
      let text = `0x${v.toString(16)}`;
      try {
        if (a.type === 'GUID_PTR' && v !== 0n) text = guidAt(this.mem, v);
        else if (a.type === 'STR16' && v !== 0n) text = JSON.stringify(this.mem.utf16z(v, 512));
        else if (a.type === 'STATUS') text = statusName(v);
        else if (a.type === 'BOOLEAN') text = v ? 'TRUE' : 'FALSE';
        else if (a.type === 'UINT32' || a.type === 'ENUM' || a.type === 'UINT16' || a.type === 'UINT8') text = v.toString();
      } catch {
        text += ' (unreadable)';
      }
      out[a.name] = text;
    });
    return out;
  }
}

function guidAt(mem: GuestMemory, a: bigint): string {
  return guidFromBytes(mem.view(a, 16));
}
