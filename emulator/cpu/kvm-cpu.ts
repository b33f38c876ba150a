// Cpu backed by the host's KVM (/dev/kvm): guest code runs on the real processor, the firmware stays in TypeScript.
//
// How the Cpu contract maps onto KVM (Documentation/virt/kvm/api.rst):
// - Traps: the firmware fills its trap regions with HLT (traits.trapByte); with no in-kernel interrupt controller
//   HLT ends KVM_RUN (KVM_EXIT_HLT). One-byte stop ranges over other bytes (RDTSC sites) use the debug registers.
//   (int3 would need KVM_GUESTDBG_USE_SW_BP, which PVM hosts, KVM without hardware virtualisation, do not offer.)
// - CPU exceptions are delivered by the processor through the guest IDT, whose vectors point into the trap region:
//   the HLT there says which vector fired, and the exception frame on the stack gives the faulting state back.
// - protect('none') leaves a hole in the KVM memory slots: a write there becomes KVM_EXIT_MMIO and a fault.
// - There is no instruction counter: a periodic timer interrupts KVM_RUN so the host can check its time budget.
import { PortIo, PortSize } from '../q35/port-io';
import { cpuid } from '../cpuid';
import { CODE64_SELECTOR, DATA_SELECTOR } from '../machine-state';
import { Cpu, CpuTraits, readRegisterFile, StopReason, writeRegisterFile } from './cpu';
import { Reg, RegisterFile } from '../../core/registers';
import {
  addressOf, EXIT, GUESTDBG, ioctl, KVM, KvmError, mapAnonymous, mapRunArea, openKvm, REGS_ORDER, REGS_SIZE, RUN,
  SliceTimer, SREGS, wasInterrupted, libc, lastError,
} from './kvm-ffi';

const MSR_EFER = 0xc000_0080;
/** Three pages KVM needs on Intel hosts (KVM_SET_TSS_ADDR); above the largest guest RAM stubemu allows. */
const TSS_ADDRESS = 0xfffb_d000;
/** How often KVM_RUN is interrupted so the time budget can be checked. */
const SLICE_MS = 50;
/** Vectors that push an error code (Intel SDM vol. 3 §6.13). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
const HW_BREAKPOINTS = 4;
const HLT = 0xf4;

interface Ram { start: bigint; end: bigint; host: Buffer }
interface Hole { start: bigint; end: bigint }
interface Slot { id: number; start: bigint; size: bigint; host: Buffer }

const kvmRegIndex = new Map<string, number>(REGS_ORDER.map((r, i) => [r, i * 8]));

let verdict: { problem: string | undefined } | undefined;

/** Why KVM cannot be used here, or undefined; found out once per process (the probe starts a VM). */
export function kvmProblem(): string | undefined {
  verdict ??= { problem: findKvmProblem() };
  return verdict.problem;
}

function findKvmProblem(): string | undefined {
  let fd = -1;
  try {
    fd = openKvm();
    const v = ioctl(fd, KVM.GET_API_VERSION, 0, 'KVM_GET_API_VERSION');
    if (v !== KVM.API_VERSION) return `/dev/kvm speaks API version ${v}, not ${KVM.API_VERSION}`;
    if (ioctl(fd, KVM.CHECK_EXTENSION, KVM.CAP_SET_GUEST_DEBUG, 'KVM_CHECK_EXTENSION') <= 0) return 'KVM lacks KVM_CAP_SET_GUEST_DEBUG';
  } catch (e) {
    return (e as Error).message;
  } finally {
    if (fd >= 0) libc().close(fd);
  }
  return (require('./kvm-probe') as typeof import('./kvm-probe')).probeKvm();
}

export class KvmCpu implements Cpu {
  readonly traits: CpuTraits = { name: 'kvm', countsInstructions: false, trapByte: HLT, resumesSlices: true };
  private readonly kvm: number;
  private readonly vm: number;
  private readonly vcpu: number;
  private readonly run_: Buffer;
  private readonly regs = Buffer.alloc(REGS_SIZE);
  private readonly sregs = Buffer.alloc(SREGS.size);
  private regsState: 'stale' | 'clean' | 'dirty' = 'stale';
  private sregsState: 'stale' | 'clean' | 'dirty' = 'stale';
  private readonly ram: Ram[] = [];
  private holes: Hole[] = [];
  private slots: Slot[] = [];
  private readonly softStops: { begin: bigint; end: bigint }[] = [];
  private readonly hwStops: (bigint | undefined)[] = new Array(HW_BREAKPOINTS).fill(undefined);
  private readonly timer: SliceTimer;
  private closed = false;

  private portIo?: PortIo;

  constructor() {
    this.kvm = openKvm();
    try {
      this.vm = ioctl(this.kvm, KVM.CREATE_VM, 0, 'KVM_CREATE_VM');
      ioctl(this.vm, KVM.SET_TSS_ADDR, TSS_ADDRESS, 'KVM_SET_TSS_ADDR');
      this.vcpu = ioctl(this.vm, KVM.CREATE_VCPU, 0, 'KVM_CREATE_VCPU');
      const runSize = ioctl(this.kvm, KVM.GET_VCPU_MMAP_SIZE, 0, 'KVM_GET_VCPU_MMAP_SIZE');
      this.run_ = mapRunArea(this.vcpu, runSize);
      this.setCpuid();
      this.initSegments();
      this.setGuestDebug();
      this.timer = new SliceTimer(SLICE_MS);
    } catch (e) {
      libc().close(this.kvm);
      throw e;
    }
  }

  allocateRam(size: number): Buffer {
    return mapAnonymous(size);
  }

  mapRam(address: bigint, host: Buffer): void {
    if ((addressOf(host) & 0xfffn) !== 0n || (address & 0xfffn) !== 0n || host.length % 4096 !== 0) {
      throw new KvmError(`mapRam(0x${address.toString(16)}): KVM maps whole pages of page-aligned host memory (use allocateRam)`);
    }
    this.ram.push({ start: address, end: address + BigInt(host.length), host });
    this.ram.sort((a, b) => (a.start < b.start ? -1 : 1));
    this.updateSlots();
  }

  protect(address: bigint, size: number, access: 'none' | 'rw' | 'rwx'): void {
    const start = address & ~0xfffn;
    const end = (address + BigInt(size) + 0xfffn) & ~0xfffn;
    if (access === 'rw') throw new KvmError('the KVM engine cannot make guest RAM non-executable (protect "rw")');
    this.holes = this.holes.filter((h) => h.end <= start || h.start >= end);
    if (access === 'none') this.holes.push({ start, end });
    this.updateSlots();
  }

  /**
   * Not offered: a watch needs every access to the hole to exit, and PVM hosts complete reads of unmapped guest
   * memory with zeros and cannot emulate SSE stores into it. Section first-access is then reported as unknown.
   */
  watch(): boolean {
    return false;
  }

  addStopRange(begin: bigint, end: bigint): () => void {
    const bytes = this.bytesAt(begin, Number(end - begin));
    if (bytes && bytes.every((b) => b === HLT)) {
      const r = { begin, end };
      this.softStops.push(r);
      return () => {
        const i = this.softStops.indexOf(r);
        if (i >= 0) this.softStops.splice(i, 1);
      };
    }
    if (end - begin !== 1n) throw new KvmError(`stop range 0x${begin.toString(16)}+${end - begin}: KVM stops on HLT bytes or single addresses`);
    // One debug register per address; when all four are taken the oldest gives way (its RDTSC then reads the
    // processor's TSC, which the report's determinism does not cover).
    const free = this.hwStops.indexOf(undefined);
    if (free >= 0) this.hwStops[free] = begin;
    else {
      this.hwStops.shift();
      this.hwStops.push(begin);
    }
    this.setGuestDebug();
    return () => {
      const j = this.hwStops.indexOf(begin);
      if (j >= 0) {
        this.hwStops[j] = undefined;
        this.setGuestDebug();
      }
    };
  }

  readReg(r: Reg): bigint {
    const g = kvmRegIndex.get(r);
    if (g !== undefined) return this.loadRegs().readBigUInt64LE(g);
    const s = this.loadSregs();
    return s.readBigUInt64LE(SREGS[r as 'cr0' | 'cr2' | 'cr3' | 'cr4']);
  }

  writeReg(r: Reg, v: bigint): void {
    const value = BigInt.asUintN(64, v);
    const g = kvmRegIndex.get(r);
    if (g !== undefined) {
      this.loadRegs().writeBigUInt64LE(value, g);
      this.regsState = 'dirty';
      return;
    }
    this.loadSregs().writeBigUInt64LE(value, SREGS[r as 'cr0' | 'cr2' | 'cr3' | 'cr4']);
    this.sregsState = 'dirty';
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
    const s = this.loadSregs();
    for (const [at, t] of [[SREGS.gdt, gdt], [SREGS.idt, idt]] as const) {
      s.writeBigUInt64LE(t.base, at);
      s.writeUInt16LE(t.limit, at + 8);
    }
    this.sregsState = 'dirty';
  }

  writeMsr(index: number, value: bigint): void {
    if (index === MSR_EFER) {
      this.loadSregs().writeBigUInt64LE(value, SREGS.efer);
      this.sregsState = 'dirty';
      return;
    }
    const b = msrBuffer(index, value);
    if (ioctl(this.vcpu, KVM.SET_MSRS, b, `wrmsr 0x${index.toString(16)}`) !== 1) throw new KvmError(`wrmsr 0x${index.toString(16)}: refused`);
  }

  readMsr(index: number): bigint {
    if (index === MSR_EFER) return this.loadSregs().readBigUInt64LE(SREGS.efer);
    const b = msrBuffer(index, 0n);
    if (ioctl(this.vcpu, KVM.GET_MSRS, b, `rdmsr 0x${index.toString(16)}`) !== 1) throw new KvmError(`rdmsr 0x${index.toString(16)}: refused`);
    return b.readBigUInt64LE(16);
  }

  /** Real hardware keeps code and data coherent: nothing is cached on the host side. */
  invalidateCode(): void {}

  /** Time slices come from the periodic timer: SLICE_MS, or `sliceMs` when the profiler asks for it. */
  run(_count: number, sliceMs?: number): StopReason {
    this.timer.setPeriod(sliceMs ?? SLICE_MS);
    for (;;) {
      this.flush();
      const r = libc().ioctlValue(this.vcpu, KVM.RUN, 0);
      this.regsState = 'stale';
      this.sregsState = 'stale';
      if (r < 0) {
        if (wasInterrupted()) return { kind: 'interrupted', rip: this.readReg('rip') };
        throw new KvmError(`KVM_RUN: ${lastError()}`);
      }
      const stop = this.exit();
      if (stop) return stop;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer.close();
    libc().close(this.vcpu);
    libc().close(this.vm);
    libc().close(this.kvm);
  }

  // --- exits ---

  /** Handles the exit in kvm_run; a StopReason ends run(), undefined re-enters the guest. */
  private exit(): StopReason | undefined {
    const reason = this.run_.readUInt32LE(RUN.exitReason);
    const u = RUN.union;
    switch (reason) {
      case EXIT.DEBUG: {
        const exception = this.run_.readUInt32LE(u);
        const pc = this.run_.readBigUInt64LE(u + 8);
        // Resuming at this address re-triggers the stop (PVM ignores RFLAGS.RF): the caller removes the stop
        // first when the instruction is to run after all, as the machine does for a changed RDTSC site.
        if (exception === 1 && this.hwStops.includes(pc)) return { kind: 'trap', rip: pc };
        return { kind: 'exception', vector: exception, rip: pc, detail: 'debug exception' };
      }
      case EXIT.HLT: {
        // RIP is past the HLT: a trap slot (a service, or an exception vector), or the guest's own HLT.
        const pc = this.readReg('rip') - 1n;
        const vector = this.vectorAt(pc);
        if (vector !== undefined) return this.exceptionFromFrame(vector);
        if (this.softStops.some((s) => pc >= s.begin && pc < s.end)) {
          this.writeReg('rip', pc);
          return { kind: 'trap', rip: pc };
        }
        return { kind: 'exception', vector: 13, rip: pc, detail: 'hlt with interrupts off: the processor would stop forever' };
      }
      case EXIT.MMIO: {
        const address = this.run_.readBigUInt64LE(u);
        const write = this.run_[u + 20] !== 0;
        return this.holeAccess(address, write ? 'write' : 'read');
      }
      case EXIT.INTERNAL_ERROR: {
        // Most often an instruction fetch from a hole (KVM cannot execute from MMIO).
        const rip = this.readReg('rip');
        if (this.holeAt(rip)) return this.holeAccess(rip, 'fetch');
        if (this.bytesAt(rip, 1)?.[0] === 0xcc) return { kind: 'exception', vector: 3, rip, detail: 'int3' };
        const sub = this.run_.readUInt32LE(u);
        return { kind: 'exception', vector: 13, rip, detail: `KVM could not emulate the instruction (internal error ${sub})` };
      }
      case EXIT.IO: {
        // struct kvm_run.io: direction (0 in, 1 out), size, port, count (INS/OUTS), data_offset in kvm_run.
        const dir = this.run_[u];
        const size = this.run_[u + 1] as PortSize;
        const port = this.run_.readUInt16LE(u + 2);
        const count = this.run_.readUInt32LE(u + 4);
        const dataOffset = Number(this.run_.readBigUInt64LE(u + 8));
        for (let i = 0; i < count; i++) {
          const at = dataOffset + i * size;
          if (dir === 0) {
            const v = this.portIo ? this.portIo.read(port, size) : 0; // without a board: reads see 0
            for (let b = 0; b < size; b++) this.run_[at + b] = (v >>> (8 * b)) & 0xff;
          } else {
            let v = 0;
            for (let b = size - 1; b >= 0; b--) v = v * 256 + this.run_[at + b];
            this.portIo?.write(port, size, v);
          }
        }
        return undefined;
      }
      case EXIT.SHUTDOWN:
        return { kind: 'exception', vector: 8, rip: this.readReg('rip'), detail: 'triple fault: an exception could not be delivered (unusable stack or IDT)' };
      case EXIT.INTR:
        return { kind: 'interrupted', rip: this.readReg('rip') };
      case EXIT.FAIL_ENTRY:
        throw new KvmError(`KVM could not enter the guest (hardware reason 0x${this.run_.readBigUInt64LE(u).toString(16)})`);
      default:
        throw new KvmError(`unexpected KVM exit ${reason}`);
    }
  }

  /** A guest access that fell into a hole (a guard page) or outside RAM. */
  private holeAccess(address: bigint, access: 'read' | 'write' | 'fetch'): StopReason {
    const rip = this.readReg('rip');
    const h = this.holeAt(address);
    const canonical = address < 0x0000_8000_0000_0000n || address >= 0xffff_8000_0000_0000n;
    return {
      // KVM reports guest-physical addresses; the firmware's page tables map them 1:1.
      kind: 'exception',
      vector: canonical ? 14 : 13,
      rip,
      address,
      access,
      // KVM completes the access in its instruction emulator before it exits, so RIP may already be past it.
      detail: `${h ? 'access to a protected page' : 'page not present'}; KVM: RIP may be past the instruction`,
    };
  }

  /** The vector whose IDT gate points at `pc`, if any (our IDT sends every vector to its own trap slot). */
  private vectorAt(pc: bigint): number | undefined {
    const s = this.loadSregs();
    const base = s.readBigUInt64LE(SREGS.idt);
    const limit = s.readUInt16LE(SREGS.idt + 8);
    const idt = this.bytesAt(base, limit + 1);
    if (!idt) return undefined;
    // Every service call ends here too: decode the gates only when the IDT's bytes changed.
    if (!this.idtCache || !this.idtCache.bytes.equals(idt)) {
      const targets = new Map<bigint, number>();
      for (let v = 0; v * 16 + 15 <= limit; v++) {
        const g = idt.subarray(v * 16, v * 16 + 16);
        const target = BigInt(g.readUInt16LE(0)) | (BigInt(g.readUInt16LE(6)) << 16n) | (BigInt(g.readUInt32LE(8)) << 32n);
        if ((g[5] & 0x80) !== 0 && !targets.has(target)) targets.set(target, v);
      }
      this.idtCache = { bytes: Buffer.from(idt), targets };
    }
    return this.idtCache.targets.get(pc);
  }

  private idtCache?: { bytes: Buffer; targets: Map<bigint, number> };

  /** The processor delivered `vector` through the IDT: read its frame and put the faulting state back. */
  private exceptionFromFrame(vector: number): StopReason {
    const rsp = this.readReg('rsp');
    const hasCode = ERROR_CODE_VECTORS.has(vector);
    const frame = this.bytesAt(rsp, (hasCode ? 8 : 0) + 40);
    if (!frame) return { kind: 'exception', vector, rip: this.readReg('rip'), detail: 'exception frame outside RAM' };
    const o = hasCode ? 8 : 0;
    const errorCode = hasCode ? Number(frame.readBigUInt64LE(0) & 0xffff_ffffn) : undefined;
    const rip = frame.readBigUInt64LE(o);
    this.writeReg('rip', rip);
    this.writeReg('rflags', frame.readBigUInt64LE(o + 16));
    this.writeReg('rsp', frame.readBigUInt64LE(o + 24));
    if (vector === 14) {
      const cr2 = this.readReg('cr2');
      const e = errorCode ?? 0;
      const access = (e & 0x10) !== 0 || cr2 === rip ? 'fetch' : (e & 2) !== 0 ? 'write' : 'read';
      return { kind: 'exception', vector, rip, address: cr2, access, detail: (e & 1) !== 0 ? 'access to a protected page' : 'page not present', errorCode };
    }
    const detail = vector === 6 ? 'invalid opcode' : vector === 13 ? 'general protection (a non-canonical address or a privileged operation)' : 'cpu exception';
    return { kind: 'exception', vector, rip, detail, errorCode };
  }

  // --- state ---

  private loadRegs(): Buffer {
    if (this.regsState === 'stale') {
      ioctl(this.vcpu, KVM.GET_REGS, this.regs, 'KVM_GET_REGS');
      this.regsState = 'clean';
    }
    return this.regs;
  }

  private loadSregs(): Buffer {
    if (this.sregsState === 'stale') {
      ioctl(this.vcpu, KVM.GET_SREGS, this.sregs, 'KVM_GET_SREGS');
      this.sregsState = 'clean';
    }
    return this.sregs;
  }

  private flush(): void {
    if (this.sregsState === 'dirty') ioctl(this.vcpu, KVM.SET_SREGS, this.sregs, 'KVM_SET_SREGS');
    if (this.regsState === 'dirty') ioctl(this.vcpu, KVM.SET_REGS, this.regs, 'KVM_SET_REGS');
    this.sregsState = 'clean';
    this.regsState = 'clean';
  }

  /** Long mode flat segments as the firmware's GDT describes them (machine-state.ts), TR a busy 64-bit TSS. */
  private initSegments(): void {
    const s = this.loadSregs();
    const seg = (at: number, selector: number, type: number, code: boolean) => {
      s.writeBigUInt64LE(0n, at);
      s.writeUInt32LE(0xffff_ffff, at + 8);
      s.writeUInt16LE(selector, at + 12);
      Buffer.from([type, 1, 0, code ? 0 : 1, 1, code ? 1 : 0, 1, 0, 0, 0]).copy(s, at + 14);
    };
    seg(SREGS.segment.cs, CODE64_SELECTOR, 0xb, true);
    for (const r of ['ds', 'es', 'fs', 'gs', 'ss'] as const) seg(SREGS.segment[r], DATA_SELECTOR, 0x3, false);
    const tr = SREGS.segment.tr;
    s.writeBigUInt64LE(0n, tr);
    s.writeUInt32LE(0x67, tr + 8);
    s.writeUInt16LE(0, tr + 12);
    Buffer.from([0xb, 1, 0, 0, 0, 0, 0, 0, 0, 0]).copy(s, tr + 14);
    s[SREGS.segment.ldt + 22] = 1; // unusable
    this.sregsState = 'dirty';
  }

  /** CPUID answers from emulator/cpuid.ts, the same processor identity as the Unicorn engine presents. */
  private setCpuid(): void {
    const leaves: [number, number, number][] = []; // leaf, subleaf, KVM_CPUID_FLAG_SIGNIFCANT_INDEX
    for (let l = 0; l <= cpuid(0, 0)[0]; l++) leaves.push([l, 0, l === 4 || l === 7 ? 1 : 0]);
    leaves.push([0x4000_0000, 0, 0]);
    for (let l = 0x8000_0000; l <= cpuid(0x8000_0000, 0)[0]; l++) leaves.push([l, 0, 0]);
    // struct kvm_cpuid2 { u32 nent, padding; struct kvm_cpuid_entry2 { u32 function, index, flags, eax, ebx, ecx, edx, padding[3]; } }
    const b = Buffer.alloc(8 + 40 * leaves.length);
    b.writeUInt32LE(leaves.length, 0);
    leaves.forEach(([leaf, sub, flags], i) => {
      const at = 8 + 40 * i;
      const [a, bx, c, d] = cpuid(leaf, sub);
      b.writeUInt32LE(leaf >>> 0, at);
      b.writeUInt32LE(sub, at + 4);
      b.writeUInt32LE(flags, at + 8);
      b.writeUInt32LE(a >>> 0, at + 12);
      b.writeUInt32LE(bx >>> 0, at + 16);
      b.writeUInt32LE(c >>> 0, at + 20);
      b.writeUInt32LE(d >>> 0, at + 24);
    });
    ioctl(this.vcpu, KVM.SET_CPUID2, b, 'KVM_SET_CPUID2');
  }

  /** DR0-3 hold the hardware stops (execute breakpoints, DR7 L0-L3). */
  private setGuestDebug(): void {
    const b = Buffer.alloc(72); // struct kvm_guest_debug { u32 control, pad; u64 debugreg[8] }
    let dr7 = 0n;
    this.hwStops.forEach((a, i) => {
      if (a === undefined) return;
      b.writeBigUInt64LE(a, 8 + 8 * i);
      dr7 |= 1n << BigInt(2 * i);
    });
    b.writeBigUInt64LE(dr7, 8 + 8 * 7);
    b.writeUInt32LE(dr7 !== 0n ? GUESTDBG.ENABLE | GUESTDBG.USE_HW_BP : 0, 0);
    ioctl(this.vcpu, KVM.SET_GUEST_DEBUG, b, 'KVM_SET_GUEST_DEBUG');
  }

  // --- memory ---

  private holeAt(a: bigint): Hole | undefined {
    return this.holes.find((h) => a >= h.start && a < h.end);
  }

  /** A live view of guest-physical bytes, or undefined when the range is not inside one RAM mapping. */
  private bytesAt(a: bigint, n: number): Buffer | undefined {
    const r = this.ram.find((m) => a >= m.start && a + BigInt(n) <= m.end);
    if (!r) return undefined;
    const o = Number(a - r.start);
    return r.host.subarray(o, o + n);
  }

  /** KVM memory slots = RAM minus holes; rebuilt when either changes (rare: mappings, guard pages, watches). */
  private updateSlots(): void {
    const want: Omit<Slot, 'id'>[] = [];
    const holes = [...this.holes].sort((a, b) => (a.start < b.start ? -1 : 1));
    for (const m of this.ram) {
      let at = m.start;
      for (const h of holes) {
        if (h.end <= at || h.start >= m.end) continue;
        if (h.start > at) want.push({ start: at, size: h.start - at, host: m.host.subarray(Number(at - m.start), Number(h.start - m.start)) });
        at = h.end > at ? h.end : at;
      }
      if (at < m.end) want.push({ start: at, size: m.end - at, host: m.host.subarray(Number(at - m.start)) });
    }
    const same = (s: Slot, w: Omit<Slot, 'id'>) => s.start === w.start && s.size === w.size;
    for (const s of this.slots) if (!want.some((w) => same(s, w))) this.setSlot(s.id, 0n, 0n, undefined);
    const kept = this.slots.filter((s) => want.some((w) => same(s, w)));
    const used = new Set(kept.map((s) => s.id));
    for (const w of want) {
      if (kept.some((s) => same(s, w))) continue;
      let id = 0;
      while (used.has(id)) id++;
      used.add(id);
      this.setSlot(id, w.start, w.size, w.host);
      kept.push({ id, ...w });
    }
    this.slots = kept;
  }

  private setSlot(id: number, start: bigint, size: bigint, host: Buffer | undefined): void {
    // struct kvm_userspace_memory_region { u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr; }
    const b = Buffer.alloc(32);
    b.writeUInt32LE(id, 0);
    b.writeBigUInt64LE(start, 8);
    b.writeBigUInt64LE(size, 16);
    b.writeBigUInt64LE(host ? addressOf(host) : 0n, 24);
    ioctl(this.vm, KVM.SET_USER_MEMORY_REGION, b, `KVM_SET_USER_MEMORY_REGION(slot ${id})`);
  }
}

function msrBuffer(index: number, value: bigint): Buffer {
  const b = Buffer.alloc(24); // struct kvm_msrs { u32 nmsrs, pad; struct kvm_msr_entry { u32 index, reserved; u64 data; } }
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(index, 8);
  b.writeBigUInt64LE(value, 16);
  return b;
}
