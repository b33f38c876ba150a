// Cpu backed by Unicorn 2.x (2.1.1 by choice, unicorn-library.ts): guest RAM is host memory (uc_mem_map_ptr) laid out
// as separate mappings so protection never splits one (ram-layout.ts), traps are range-bounded code hooks.
import * as koffi from 'koffi';
import { cpuid } from '../cpuid';
import { Cpu, CpuTraits, readRegisterFile, RunLimits, StopReason, writeRegisterFile } from './cpu';
import { Reg, RegisterFile } from '../../core/registers';
import { UC, UC_X86_REG, unicorn } from './unicorn-ffi';
import { Access, RamLayout, Segment } from './ram-layout';
import { RunWatch, runWatch } from './run-watch';
import { faultAccess } from './fault-access';
import { findAccess, GENERAL_REGISTERS } from './x86-operand';
import { allocateHugePageRam } from './host-ram';
import { PortIo, PortSize } from '../q35/port-io';

const PERMS: Record<Access, number> = { none: UC.PROT_NONE, rw: UC.PROT_READ | UC.PROT_WRITE, rwx: UC.PROT_ALL };

/**
 * Translated-code buffer: the kernels' decompressors and the stubs need a few MiB. Unicorn 2.1.1 clears the whole
 * buffer at every translation flush (tcg_region_assign's memset), so the first flush touches all of it: 8 MiB, not
 * 32 (measured: cloud UKI 0.92x, XZ 0.98x, 6.12 0.96x CPU; the same reports).
 */
const TCG_BUFFER_BYTES = 8 * 2 ** 20;

/** A non-canonical address: never executed, so `until` never ends a run by itself. */
const NEVER = 0xdead_beef_dead_0000n;

export class UnicornCpu implements Cpu {
  private readonly u = unicorn();
  readonly traits: CpuTraits = {
    name: 'unicorn',
    version: `Unicorn ${this.u.loaded.versionText}`,
    warning: this.u.loaded.warning,
    countsInstructions: true,
    trapByte: 0xcc,
    resumesSlices: false,
  };
  private readonly uc: unknown;
  /** The uc_engine's address, for the run watch's thread. */
  private readonly address: bigint;
  private readonly callbacks: bigint[] = [];
  private portIo?: PortIo;
  private readonly ram = new RamLayout();
  /** Segments as Unicorn has them mapped now (empty until the first run lays them out). */
  private live: Segment[] = [];
  private pending: StopReason | undefined;
  /** The current run counts instructions (a count hook stores RIP at every instruction: RIP is exact in hooks). */
  private counting = false;
  private readonly scratch = new BigUint64Array(1);
  private closed = false;
  private watches: { start: bigint; end: bigint; cb: (access: 'read' | 'write' | 'fetch', address: bigint, rip: bigint) => void }[] = [];

  constructor() {
    const out: unknown[] = [null];
    this.check(this.u.uc_open(UC.ARCH_X86, UC.MODE_64, out), 'uc_open');
    this.uc = out[0];
    // Unicorn 2.1.1 reserves 1 GiB for translated code and a translation flush (invalidateCode) makes the host
    // touch it all (measured: 1.1 GiB peak RSS); set before the engine initialises on its first use.
    // Unicorn 2.0.x has no UC_CTL_TCG_BUFFER_SIZE (UC_ERR_ARG): it then keeps its own default, with a warning
    // at load time already naming the version to use.
    const sized = this.u.uc_ctl(this.uc, UC.CTL_TCG_BUFFER_SIZE, 'uint32_t', TCG_BUFFER_BYTES);
    if (sized !== UC.ERR_ARG) this.check(sized, 'uc_ctl(TCG_BUFFER_SIZE)');
    this.address = koffi.address(this.uc) as bigint;
    // The run watch's thread starts now, beside the firmware's set-up; the first run waits for it if need be.
    this.watcher();
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
      // #GP in flat 64-bit code (non-canonical addresses, privileged or malformed instructions) pushes 0; the
      // engine does not report the code, and segment-selector #GPs cannot arise with the firmware's flat GDT.
      if (intno === 13) ex.errorCode = 0;
      if (intno === 14) {
        // With paging on, Unicorn raises an instruction fetch from a page the tables do not map as #PF
        // through the interrupt hook, with CR2 = RIP = the target.
        ex.address = this.readReg('cr2');
        ex.detail = 'page not present'; // our page tables map all RAM present: a #PF is a page they leave out
        if (ex.address === rip) ex.access = 'fetch';
        else {
          const bytes = Buffer.alloc(15);
          if (this.u.uc_mem_read(this.uc, rip, bytes, bytes.length) !== UC.ERR_OK) bytes.fill(0x90);
          ex.access = faultAccess(bytes, ex.address, this.readReg('rdi'));
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
    // IN/OUT (and INS/OUTS, one element per call) go to the board's ports (emulator/q35); without a board, the
    // engine's own answer: reads 0.
    const inCb = koffi.register((_uc: unknown, port: number, size: number) => (this.portIo ? this.portIo.read(port, size as PortSize) >>> 0 : 0), koffi.pointer(this.u.HookIn));
    const outCb = koffi.register((_uc: unknown, port: number, size: number, value: number) => this.portIo?.write(port, size as PortSize, value >>> 0), koffi.pointer(this.u.HookOut));
    this.callbacks.push(inCb, outCb);
    this.check(this.u.uc_hook_add(this.uc, new BigUint64Array(1), UC.HOOK_INSN, inCb, null, 1n, 0n, 'int', UC.X86_INS_IN), 'uc_hook_add(IN)');
    this.check(this.u.uc_hook_add(this.uc, new BigUint64Array(1), UC.HOOK_INSN, outCb, null, 1n, 0n, 'int', UC.X86_INS_OUT), 'uc_hook_add(OUT)');
    this.hook(UC.HOOK_MEM_INVALID, this.u.HookMem, (_uc: unknown, type: number, address: bigint) => {
      const access = type === UC.MEM_WRITE_UNMAPPED || type === UC.MEM_WRITE_PROT ? 'write'
        : type === UC.MEM_FETCH_UNMAPPED || type === UC.MEM_FETCH_PROT ? 'fetch' : 'read';
      const unmapped = type === UC.MEM_READ_UNMAPPED || type === UC.MEM_WRITE_UNMAPPED || type === UC.MEM_FETCH_UNMAPPED;
      const a = BigInt.asUintN(64, BigInt(address));
      if (!unmapped) {
        const w = this.watches.find((x) => a >= x.start && a < x.end);
        if (w) {
          // A watched range: note the first access, open the range (a mapping of its own, so no split of guest
          // RAM) and let the instruction proceed. Without a count RIP is the translated block's start here: the
          // accessing instruction is found by decoding the block with the registers as they are (x86-operand.ts).
          this.watches = this.watches.filter((x) => x !== w);
          this.protect(w.start, Number(w.end - w.start), 'rwx');
          const rip = this.readReg('rip');
          w.cb(access, a, this.counting ? rip : this.accessingInstruction(rip, a));
          return true;
        }
      }
      const canonical = a < 0x0000_8000_0000_0000n || a >= 0xffff_8000_0000_0000n;
      // What the identity-mapped machine would raise: #GP(0) for a non-canonical address,
      // #PF for a page the page tables do not map (unmapped) or map without the right (guard pages).
      // Without a count RIP is the block's start here: the faulting instruction is decoded (run() stores it).
      const blockRip = this.readReg('rip');
      this.pending ??= {
        kind: 'exception',
        vector: canonical ? 14 : 13,
        rip: this.counting || access === 'fetch' ? blockRip : this.accessingInstruction(blockRip, a),
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
    return allocateHugePageRam(size);
  }

  mapRam(address: bigint, host: Buffer): void {
    this.ram.add(address, host);
    if (this.live.length > 0) this.relayout();
  }

  /**
   * Rights change on whole mappings only: Unicorn 2.1.x crashes (helper_le_ldq_mmu) once uc_mem_protect has
   * split pointer-mapped RAM, so the layout gives every protected range a mapping of its own. Before the first
   * run this only records the range; after it the affected mappings are replaced whole.
   */
  protect(address: bigint, size: number, access: Access): void {
    this.ram.protect(address, size, access);
    if (this.live.length > 0) this.relayout();
  }

  /** Maps the layout's segments that differ from the live ones (whole mappings only, never a split). */
  private relayout(): void {
    const want = this.ram.segments();
    const same = (a: Segment, b: Segment) => a.start === b.start && a.end === b.end && a.host === b.host;
    const keep = new Set<Segment>();
    for (const w of want) {
      const l = this.live.find((x) => same(x, w));
      if (l) keep.add(l);
    }
    let changed = false;
    for (const l of this.live) {
      if (keep.has(l)) continue;
      this.check(this.u.uc_mem_unmap(this.uc, l.start, Number(l.end - l.start)), `uc_mem_unmap(0x${l.start.toString(16)})`);
      changed = true;
    }
    const next: Segment[] = [];
    for (const w of want) {
      const l = this.live.find((x) => keep.has(x) && same(x, w));
      if (l) {
        if (l.access !== w.access) this.check(this.u.uc_mem_protect(this.uc, w.start, Number(w.end - w.start), PERMS[w.access]), 'uc_mem_protect');
        next.push(w);
        continue;
      }
      this.check(this.u.uc_mem_map_ptr(this.uc, w.start, Number(w.end - w.start), PERMS[w.access], w.host), `uc_mem_map_ptr(0x${w.start.toString(16)})`);
      next.push(w);
    }
    this.live = next;
    // Translations made from a replaced mapping name its old RAM block: drop them all (rare: once per layout change).
    if (changed && this.mayHaveTranslations) {
      this.check(this.u.uc_ctl(this.uc, UC.CTL_TB_FLUSH), 'uc_ctl(TB_FLUSH)');
      this.mayHaveTranslations = false;
    }
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

  setPortIo(io: PortIo): void {
    this.portIo = io;
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

  /**
   * Drops every translation (UC_CTL_TB_FLUSH). Not uc_ctl(UC_CTL_TB_REMOVE_CACHE): in 2.1.1 that walks the page
   * tables from outside a run and leaves the CPU believing an exception is in delivery, so the guest's next
   * exception is reported as a double fault (test/unicorn-engine.test.ts). Not uc_mem_write of the same bytes
   * either: with pointer-mapped RAM it does not drop translations of the page (measured: stale code ran).
   * Guest stores into translated code are Unicorn's own business (QEMU's self-modifying-code detection).
   */
  invalidateCode(address: bigint, size: number): void {
    // Nothing is translated before the first run, nor since a flush until the guest runs again (an image is
    // loaded, then its RDTSC sites trapped: one flush, not one per site).
    if (size <= 0 || this.live.length === 0 || !this.mayHaveTranslations) return;
    this.check(this.u.uc_ctl(this.uc, UC.CTL_TB_FLUSH), 'uc_ctl(TB_FLUSH)');
    this.mayHaveTranslations = false;
  }

  /** The guest ran since the last translation flush, so translated code may exist. */
  private mayHaveTranslations = false;

  run(count: number, sliceMs?: number, limits?: RunLimits): StopReason {
    if (this.live.length === 0) this.relayout();
    this.pending = undefined;
    const start = this.readReg('rip');
    // count 0: no per-instruction hook (a count makes Unicorn instrument every instruction). A helper thread
    // ends the run at the time budget's deadline and samples RIP (run-watch.ts); such an end is final.
    const deadlineMs = limits?.deadlineMs ?? sliceMs;
    const watch = deadlineMs !== undefined || limits?.sampleMs !== undefined ? this.watcher() : undefined;
    watch?.arm(this.address, deadlineMs, limits?.sampleMs);
    this.counting = count > 0;
    this.mayHaveTranslations = true;
    const err = this.u.uc_emu_start(this.uc, start, NEVER, 0, count);
    const watched = watch?.disarm();
    if (watched && limits?.onSample) for (const rip of watched.samples) limits.onSample(rip);
    const stop = this.pending as StopReason | undefined;
    if (stop) {
      // A fault ends the run: RIP in the register file names the faulting instruction, as the report says.
      if (stop.kind === 'exception' && stop.rip !== this.readReg('rip')) this.writeReg('rip', stop.rip);
      return stop;
    }
    const rip = this.readReg('rip');
    switch (err) {
      case UC.ERR_OK:
        return count > 0 && !watched?.stopped ? { kind: 'count', rip } : { kind: 'interrupted', rip };
      case UC.ERR_INSN_INVALID:
        return { kind: 'exception', vector: 6, rip, detail: 'invalid opcode' };
      case UC.ERR_EXCEPTION:
        return { kind: 'exception', vector: 13, rip, detail: 'unhandled cpu exception' };
      default:
        return { kind: 'exception', vector: 13, rip, detail: `unicorn: ${this.u.uc_strerror(err)}` };
    }
  }

  /** The instruction of the block at `blockStart` that accessed `address` (the block's start if not found). */
  private accessingInstruction(blockStart: bigint, address: bigint): bigint {
    const code = Buffer.alloc(2048);
    if (this.u.uc_mem_read(this.uc, blockStart, code, code.length) !== UC.ERR_OK
      && this.u.uc_mem_read(this.uc, blockStart, code.subarray(0, 64), 64) !== UC.ERR_OK) return blockStart;
    const values = GENERAL_REGISTERS.map((r) => this.readReg(r));
    return findAccess(code, blockStart, address, (n) => values[n]) ?? blockStart;
  }

  private watchCache?: RunWatch;
  private watcher(): RunWatch {
    return (this.watchCache ??= runWatch(this.u.loaded.source));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.u.uc_close(this.uc);
    for (const cb of this.callbacks) koffi.unregister(cb);
  }
}
