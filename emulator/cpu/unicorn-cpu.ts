// Cpu backed by Unicorn 2.0.1: guest RAM is host memory (uc_mem_map_ptr), traps are range-bounded code hooks.
import * as koffi from 'koffi';
import { cpuid } from '../cpuid';
import { Cpu, CpuTraits, readRegisterFile, Reg, RegisterFile, StopReason, writeRegisterFile } from './cpu';
import { UC, UC_X86_REG, unicorn } from './unicorn-ffi';

/** A non-canonical address: never executed, so `until` never ends a run by itself. */
const NEVER = 0xdead_beef_dead_0000n;

export class UnicornCpu implements Cpu {
  readonly traits: CpuTraits = { name: 'unicorn', countsInstructions: true, trapByte: 0xcc };
  private readonly u = unicorn();
  private readonly uc: unknown;
  private readonly callbacks: bigint[] = [];
  private readonly mapped: Buffer[] = [];
  private pending: StopReason | undefined;
  private readonly scratch = new BigUint64Array(1);
  private closed = false;
  private watches: { start: bigint; end: bigint; cb: (access: 'read' | 'write' | 'fetch', address: bigint, rip: bigint) => void }[] = [];

  constructor() {
    const out: unknown[] = [null];
    this.check(this.u.uc_open(UC.ARCH_X86, UC.MODE_64, out), 'uc_open');
    this.uc = out[0];
    this.hook(UC.HOOK_INTR, this.u.HookIntr, (_uc: unknown, intno: number) => {
      const rip = this.readReg('rip');
      if (intno === 3 && this.stopRanges.some((r) => rip - 1n >= r.begin && rip - 1n < r.end)) {
        // The int3 of a trap slot ran: its stop hook was skipped because a timeout's stop request was pending
        // (Unicorn 2.0.1 drops hooks then). It is the same trap.
        this.writeReg('rip', rip - 1n);
        this.pending ??= { kind: 'trap', rip: rip - 1n };
        this.u.uc_emu_stop(this.uc);
        return;
      }
      const ex: StopReason = { kind: 'exception', vector: intno, rip, detail: 'cpu exception' };
      if (intno === 14) {
        // With paging on, Unicorn raises an instruction fetch from a page the tables do not map as #PF
        // through the interrupt hook, with CR2 = RIP = the target.
        ex.address = this.readReg('cr2');
        if (ex.address === rip) {
          ex.access = 'fetch';
          ex.detail = 'page not present';
        }
      }
      this.pending ??= ex;
      this.u.uc_emu_stop(this.uc);
    });
    // CPUID answers come from emulator/cpuid.ts, not from the engine's CPU model (returning 1 replaces the instruction).
    const cpuidCb = koffi.register(() => {
      const [a, b, c, d] = cpuid(Number(this.readReg('rax') & 0xffffffffn), Number(this.readReg('rcx') & 0xffffffffn));
      this.writeReg('rax', BigInt(a));
      this.writeReg('rbx', BigInt(b));
      this.writeReg('rcx', BigInt(c));
      this.writeReg('rdx', BigInt(d));
      return 1;
    }, koffi.pointer(this.u.HookCpuid));
    this.callbacks.push(cpuidCb);
    this.check(this.u.uc_hook_add(this.uc, new BigUint64Array(1), UC.HOOK_INSN, cpuidCb, null, 1n, 0n, 'int', UC.X86_INS_CPUID), 'uc_hook_add(CPUID)');
    this.hook(UC.HOOK_MEM_INVALID, this.u.HookMem, (_uc: unknown, type: number, address: bigint) => {
      const access = type === UC.MEM_WRITE_UNMAPPED || type === UC.MEM_WRITE_PROT ? 'write'
        : type === UC.MEM_FETCH_UNMAPPED || type === UC.MEM_FETCH_PROT ? 'fetch' : 'read';
      const unmapped = type === UC.MEM_READ_UNMAPPED || type === UC.MEM_WRITE_UNMAPPED || type === UC.MEM_FETCH_UNMAPPED;
      const a = BigInt.asUintN(64, BigInt(address));
      if (!unmapped) {
        const w = this.watches.find((x) => a >= x.start && a < x.end);
        if (w) {
          // A watched range: note the first access, open the pages and let the instruction run.
          this.watches = this.watches.filter((x) => x !== w);
          this.protect(w.start, Number(w.end - w.start), 'rwx');
          w.cb(access, a, this.readReg('rip'));
          return true;
        }
      }
      const canonical = a < 0x0000_8000_0000_0000n || a >= 0xffff_8000_0000_0000n;
      // What the identity-mapped machine would raise: #GP(0) for a non-canonical address,
      // #PF for a page the page tables do not map (unmapped) or map without the right (guard pages).
      this.pending ??= {
        kind: 'exception',
        vector: canonical ? 14 : 13,
        rip: this.readReg('rip'),
        address: a,
        access,
        detail: canonical ? (unmapped ? 'page not present' : 'access to a protected page') : 'non-canonical address',
      };
      return false;
    });
  }

  private hook(type: number, proto: koffi.TypeObject, fn: (...args: any[]) => unknown, begin = 1n, end = 0n): void {
    const cb = koffi.register(fn, koffi.pointer(proto));
    this.callbacks.push(cb);
    const hh = new BigUint64Array(1);
    this.check(this.u.uc_hook_add(this.uc, hh, type, cb, null, begin, end), 'uc_hook_add');
  }

  private check(err: number, what: string): void {
    if (err !== UC.ERR_OK) throw new Error(`${what}: ${this.u.uc_strerror(err)}`);
  }

  allocateRam(size: number): Buffer {
    return Buffer.alloc(size);
  }

  mapRam(address: bigint, host: Buffer): void {
    this.mapped.push(host); // keep the backing store alive while Unicorn points into it
    this.check(this.u.uc_mem_map_ptr(this.uc, address, host.length, UC.PROT_ALL, host), `uc_mem_map_ptr(0x${address.toString(16)})`);
  }

  protect(address: bigint, size: number, access: 'none' | 'rw' | 'rwx'): void {
    const perms = access === 'none' ? UC.PROT_NONE : access === 'rw' ? UC.PROT_READ | UC.PROT_WRITE : UC.PROT_ALL;
    this.check(this.u.uc_mem_protect(this.uc, address, size, perms), 'uc_mem_protect');
  }

  watch(address: bigint, size: number, onFirstAccess: (access: 'read' | 'write' | 'fetch', address: bigint, rip: bigint) => void): boolean {
    const start = address & ~0xfffn;
    const end = (address + BigInt(size) + 0xfffn) & ~0xfffn;
    this.protect(start, Number(end - start), 'none');
    this.watches.push({ start, end, cb: onFirstAccess });
    return true;
  }

  /** One registered callback serves every stop range (koffi callbacks are a limited resource). */
  private stopCallback?: bigint;
  private readonly stopRanges: { begin: bigint; end: bigint }[] = [];

  addStopRange(begin: bigint, end: bigint): () => void {
    this.stopCallback ??= (() => {
      const cb = koffi.register((_uc: unknown, address: bigint) => {
        this.pending ??= { kind: 'trap', rip: BigInt(address) };
        this.u.uc_emu_stop(this.uc);
      }, koffi.pointer(this.u.HookCode));
      this.callbacks.push(cb);
      return cb;
    })();
    const hh = new BigUint64Array(1);
    this.check(this.u.uc_hook_add(this.uc, hh, UC.HOOK_CODE, this.stopCallback, null, begin, end - 1n), 'uc_hook_add(stop range)');
    this.invalidateCode(begin, Number(end - begin));
    const handle = hh[0];
    const range = { begin, end };
    this.stopRanges.push(range);
    return () => {
      this.stopRanges.splice(this.stopRanges.indexOf(range), 1);
      this.check(this.u.uc_hook_del(this.uc, handle), 'uc_hook_del');
      this.invalidateCode(begin, Number(end - begin));
    };
  }

  readReg(r: Reg): bigint {
    this.u.uc_reg_read(this.uc, UC_X86_REG[r], this.scratch);
    return this.scratch[0];
  }

  writeReg(r: Reg, v: bigint): void {
    this.check(this.u.uc_reg_write(this.uc, UC_X86_REG[r], new BigUint64Array([BigInt.asUintN(64, v)])), `write ${r}`);
  }

  readAll(): RegisterFile {
    return readRegisterFile((r) => this.readReg(r));
  }

  writeAll(regs: Partial<RegisterFile>): void {
    writeRegisterFile(regs, (r, v) => this.writeReg(r, v));
  }

  setDescriptorTables(gdt: { base: bigint; limit: number }, idt: { base: bigint; limit: number }): void {
    for (const [reg, t] of [[UC_X86_REG.gdtr, gdt], [UC_X86_REG.idtr, idt]] as const) {
      const mmr = Buffer.alloc(24); // uc_x86_mmr { u16 selector; u64 base; u32 limit; u32 flags }
      mmr.writeBigUInt64LE(t.base, 8);
      mmr.writeUInt32LE(t.limit, 16);
      this.check(this.u.uc_reg_write(this.uc, reg, mmr), 'write descriptor table');
    }
  }

  writeMsr(index: number, value: bigint): void {
    const msr = Buffer.alloc(16); // uc_x86_msr { u32 rid; u64 value }
    msr.writeUInt32LE(index, 0);
    msr.writeBigUInt64LE(value, 8);
    this.check(this.u.uc_reg_write(this.uc, UC_X86_REG.msr, msr), `wrmsr 0x${index.toString(16)}`);
  }

  readMsr(index: number): bigint {
    const msr = Buffer.alloc(16);
    msr.writeUInt32LE(index, 0);
    this.check(this.u.uc_reg_read(this.uc, UC_X86_REG.msr, msr), `rdmsr 0x${index.toString(16)}`);
    return msr.readBigUInt64LE(8);
  }

  invalidateCode(address: bigint, size: number): void {
    if (size <= 0) return;
    this.check(this.u.uc_ctl(this.uc, UC.CTL_TB_REMOVE_CACHE, 'uint64_t', address, 'uint64_t', address + BigInt(size)), 'uc_ctl(TB_REMOVE_CACHE)');
  }

  run(count: number, sliceMs?: number): StopReason {
    this.pending = undefined;
    const start = this.readReg('rip');
    // A count makes Unicorn 2.0.1 keep RIP exact at memory faults, and is our instruction budget. (Without one,
    // a run stopped by its timeout does not resume correctly in 2.0.1; with one it does.)
    const err = this.u.uc_emu_start(this.uc, start, NEVER, sliceMs ? Math.round(sliceMs * 1000) : 0, count);
    const stop = this.pending as StopReason | undefined;
    if (stop) return stop;
    const rip = this.readReg('rip');
    switch (err) {
      case UC.ERR_OK:
        if (sliceMs && this.timedOut()) return { kind: 'interrupted', rip };
        return { kind: 'count', rip };
      case UC.ERR_INSN_INVALID:
        return { kind: 'exception', vector: 6, rip, detail: 'invalid opcode' };
      case UC.ERR_EXCEPTION:
        return { kind: 'exception', vector: 13, rip, detail: 'unhandled cpu exception' };
      default:
        return { kind: 'exception', vector: 13, rip, detail: `unicorn: ${this.u.uc_strerror(err)}` };
    }
  }

  private timedOut(): boolean {
    const out = new BigUint64Array(1);
    this.check(this.u.uc_query(this.uc, UC.QUERY_TIMEOUT, out), 'uc_query(TIMEOUT)');
    return out[0] !== 0n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.u.uc_close(this.uc);
    for (const cb of this.callbacks) koffi.unregister(cb);
  }
}
