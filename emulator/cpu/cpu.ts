// The CPU seen by the rest of stubemu: registers, guest RAM mapping and "run until something happens".
// Only emulator/cpu/ knows which engine is behind it (STYLE: the firmware never imports the CPU).

import { PortIo } from '../q35/port-io';
import { GENERAL_REGS, Reg, RegisterFile } from '../../core/registers';

/** Cpu.readAll in terms of readReg: the general registers, RIP, RFLAGS and CR0/2/3/4 (every engine). */
export function readRegisterFile(readReg: (r: Reg) => bigint): RegisterFile {
  const out = {} as RegisterFile;
  for (const r of [...GENERAL_REGS, 'cr0', 'cr2', 'cr3', 'cr4'] as Reg[]) out[r] = readReg(r);
  return out;
}

/** Cpu.writeAll in terms of writeReg. */
export function writeRegisterFile(regs: Partial<RegisterFile>, writeReg: (r: Reg, v: bigint) => void): void {
  for (const [r, v] of Object.entries(regs) as [Reg, bigint][]) writeReg(r, v);
}

/** Why a run of the CPU ended. */
export type StopReason =
  /** Execution reached an address registered with addStopRange (a firmware trap). */
  | { kind: 'trap'; rip: bigint }
  /** A CPU exception: vector per Intel SDM vol. 3 §6.3 (0 #DE, 3 #BP, 6 #UD, 13 #GP, 14 #PF, ...). */
  | {
      kind: 'exception';
      vector: number;
      rip: bigint;
      address?: bigint;
      access?: 'read' | 'write' | 'fetch';
      detail: string;
      /** The error code the processor pushed, when the engine knows it (KVM does; Unicorn 2.0.1 does not). */
      errorCode?: number;
    }
  /** The run executed `count` instructions without reaching a trap or raising an exception. */
  | { kind: 'count'; rip: bigint }
  /** A time slice ended (engines that cannot count instructions): the host checks its clock and resumes. */
  | { kind: 'interrupted'; rip: bigint };

/** What an engine can and cannot promise; the report and the CLI say it to the user. */
export interface CpuTraits {
  /** `unicorn` or `kvm`. */
  readonly name: string;
  /** The engine and its exact version, e.g. `Unicorn 2.1.1`, when the engine has one. */
  readonly version?: string;
  /** One line on what is wrong with this engine version and what to use instead (slow or broken versions). */
  readonly warning?: string;
  /** The engine counts instructions, so `run(count)` and the instruction budget are exact. */
  readonly countsInstructions: boolean;
  /** The byte firmware trap regions are filled with; executing it must end the run (a stop range). */
  readonly trapByte: number;
  /**
   * A run ended by a time slice resumes exactly where it stopped (KVM). Unicorn 2.1.1 does not (run-watch.ts):
   * its time-ended runs are final, and it samples RIP for the profiler while the guest runs.
   */
  readonly resumesSlices: boolean;
}

/** Bounds of one run for engines that cannot resume time slices. */
export interface RunLimits {
  /** End the run after this much wall time, for good ({kind:'interrupted'}): the time budget's deadline. */
  deadlineMs?: number;
  /** Sample RIP every this many milliseconds while the guest runs (the profiler), without stopping it. */
  sampleMs?: number;
  onSample?: (rip: bigint) => void;
}

export interface Cpu {
  readonly traits: CpuTraits;
  /** Zeroed host memory for guest RAM, in the form mapRam needs (KVM wants page-aligned memory). */
  allocateRam(size: number): Buffer;
  /** Map host memory `host` (which stays owned by the caller) at guest physical `address`. */
  mapRam(address: bigint, host: Buffer): void;
  /** Change access rights of a mapped range (used for guard pages). */
  protect(address: bigint, size: number, access: 'none' | 'rw' | 'rwx'): void;
  /**
   * Reports the first guest access to [address, address+size) (page-aligned) and then lets it proceed: the pages
   * are made inaccessible until touched. Used to learn which parts of an image the guest reads. Returns false when
   * the engine cannot watch memory (nothing changes then).
   */
  watch(address: bigint, size: number, onFirstAccess: (access: 'read' | 'write' | 'fetch', address: bigint, rip: bigint) => void): boolean;
  /** Addresses in [begin, end) end a run with {kind:'trap'} before the instruction there executes; returns a remover. */
  addStopRange(begin: bigint, end: bigint): () => void;
  readReg(r: Reg): bigint;
  writeReg(r: Reg, v: bigint): void;
  readAll(): RegisterFile;
  writeAll(regs: Partial<RegisterFile>): void;
  /** The board's I/O ports: IN/OUT (and INS/OUTS) go to `io`. Without one, reads see 0 and writes are dropped. */
  setPortIo(io: PortIo): void;
  /** Load GDTR/IDTR (base, limit). */
  setDescriptorTables(gdt: { base: bigint; limit: number }, idt: { base: bigint; limit: number }): void;
  writeMsr(index: number, value: bigint): void;
  readMsr(index: number): bigint;
  /** The host changed guest bytes that may hold code: drop cached translations for the range. */
  invalidateCode(address: bigint, size: number): void;
  /**
   * Run from the current RIP until a trap, an exception or `count` instructions have executed (count 0: no count;
   * engines that cannot count end time slices with {kind:'interrupted'} instead). With `sliceMs`, the run also
   * ends with {kind:'interrupted'} after that much wall time (the time budget's checks, the sampling profiler);
   * the next run resumes exactly where it stopped (traits.resumesSlices; otherwise `limits` bound the run).
   */
  run(count: number, sliceMs?: number, limits?: RunLimits): StopReason;
  close(): void;
}
