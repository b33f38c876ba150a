// What the firmware needs from the machine under it (STYLE 1, like efiloader's platform traits): RAM, trap
// slots, the registers at a trap, nested guest calls and the processor's set-up. emulator/machine.ts is the
// board with a CPU; tests build the whole firmware on CPU-less ones (test/helpers/fake-board.ts).
import { GuestMemory, Range } from './guest-memory';
import { Reg, RegisterFile } from './registers';

/** A page-aligned range of firmware code whose 16-byte slots stop the guest instead of executing. */
export interface TrapRegion {
  base: bigint;
  size: number;
}

/** Firmware-owned memory the board's processor set-up lives in (the firmware's memory map describes it). */
export interface BoardMemory {
  /** Zeroed bytes, 8-byte aligned (EfiBootServicesData pool). */
  pool(bytes: number): bigint;
  /** Zeroed whole pages (EfiBootServicesData). */
  pages(count: number): bigint;
}

/** CPUID leaf output: EAX, EBX, ECX, EDX (Intel SDM vol. 2A). */
export type CpuidResult = readonly [eax: number, ebx: number, ecx: number, edx: number];

/** The firmware's virtual clock as the board's timers read it (PIT, PM timer, RTC). */
export interface BoardClock {
  readonly nowMicros: bigint;
  readonly epochSeconds: bigint;
  advance(micros: bigint): void;
}

/** Time as the board's devices and RDTSC see it: the firmware clock plus time the guest spent on port I/O. */
export interface PlatformClock {
  nowNanos(): bigint;
  /** Moves the port I/O time into the firmware clock; at a service call, never inside the CPU. */
  settle(): void;
}

export interface Board {
  readonly mem: GuestMemory;
  /** Guest RAM, in address order; the memory map starts as conventional memory over exactly these ranges. */
  readonly ram: readonly Range[];
  /**
   * Makes the regions stop the guest: executing a slot calls `onTrap(slot)`, which sets the registers the guest
   * resumes with. `returnTrap` (inside a region) is where nested guest calls return (callGuest).
   */
  setTraps(regions: readonly TrapRegion[], returnTrap: bigint, onTrap: (rip: bigint) => void): void;
  readAll(): RegisterFile;
  writeReg(reg: Reg, value: bigint): void;
  /**
   * Calls guest code at `fn` with the Microsoft x64 convention and runs it until it returns to the return trap;
   * returns RAX. All registers are restored afterwards, also when an exception unwinds the run.
   */
  callGuest(fn: bigint, args: readonly bigint[]): bigint;
  /** Long mode as firmware leaves it: a GDT, an IDT whose 256 vectors enter `vectors[i]`, identity paging. */
  setUpProcessor(memory: BoardMemory, vectors: readonly bigint[]): void;
  /** Makes [address, address + size) inaccessible (the stack's guard page). */
  protect(address: bigint, size: number, access: 'none'): void;
  /** RDTSC at these offsets from `base` reads `rdtsc` instead of the host's counter; returns how many are new. */
  trapRdtsc(base: bigint, offsets: readonly number[]): number;
  /** The time stamp counter RDTSC reads; set by the firmware (its virtual clock). */
  rdtsc: () => bigint;
  /** Renders a guest address (image+offset) in the board's messages; set by the firmware. */
  symbolize: (address: bigint) => string;
  /** Drives the board's timers from the firmware's clock (boards without devices leave it out). */
  attachClock?(clock: BoardClock): PlatformClock;
  /** The processor's identity (SMBIOS type 4 describes it). */
  cpuid(leaf: number, subleaf: number): CpuidResult;
}

/** The first address above RAM. */
export function ramTop(board: Pick<Board, 'ram'>): bigint {
  return board.ram[board.ram.length - 1].end;
}
