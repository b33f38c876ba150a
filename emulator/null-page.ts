// Page 0 as OVMF leaves it: RAM that reads as zeros (OVMF's default build does not enable NULL pointer detection,
// PcdNullPointerDetectionPropertyMask = 0), so a loader that reads through a NULL pointer (memtest86+ reading
// LoadOptions when none were given) goes on as on a real machine. stubemu still sees every access: the page tables
// map it, but the engine keeps it inaccessible; each access stops the CPU, is recorded, and the instruction is
// stepped with the page open (a stop point after it; Unicorn), or the page stays open after the first access (KVM,
// branches, instructions the decoder does not know: later accesses are not seen, the report says so). (Not by
// clearing the page table entry: Unicorn 2.1.1 hooks a #PF without delivering it, so its "exception in
// delivery" state remains and the next #PF never completes.) Instruction fetches from page 0 stay faults. `--strict-null` keeps
// the page absent: every access faults, as with NULL detection on.
import { Cpu, StopReason } from './cpu/cpu';
import { GuestMemory } from '../core/guest-memory';
import { decode, GENERAL_REGISTERS } from './cpu/x86-operand';

type Exception = Extract<StopReason, { kind: 'exception' }>;

/** At most this many accesses are listed (the count goes on). */
export const NULL_PAGE_LIST_LIMIT = 256;
const P = 1n, RW = 2n;

export interface NullPageAccess {
  access: 'read' | 'write';
  address: bigint;
  rip: bigint;
}

export class NullPage {
  readonly accesses: NullPageAccess[] = [];
  total = 0;
  /** The access could not be stepped (KVM, a branch, an unknown instruction): the page stayed open after it. */
  leftPresent = false;

  /** `pte`: the page table entry that maps page 0 (machine-state.ts's first 4 KiB page table); page 0 is mapped RAM. */
  constructor(private readonly cpu: Cpu, private readonly mem: GuestMemory, pte: bigint) {
    mem.setU64(pte, P | RW);
    this.open(false);
  }

  /**
   * undefined when `stop` was an access to page 0 that is now done (the run goes on from the current RIP); else the
   * exception to report (`stop` itself, or what the stepped instruction raised instead).
   */
  handle(stop: Exception): Exception | undefined {
    if (stop.vector !== 14 || stop.address === undefined || stop.address >= 0x1000n) return stop;
    // Code at 0 is never meant: a fetch stays the fault it is with NULL detection (not present, I/D = 1).
    if (stop.access === 'fetch') return { ...stop, detail: 'page not present' };
    const access = stop.access === 'write' ? 'write' : 'read';
    this.total++;
    if (this.accesses.length < NULL_PAGE_LIST_LIMIT) this.accesses.push({ access, address: stop.address, rip: stop.rip });
    this.open(true);
    // Step the instruction: a stop point right after it (its length decoded), the page mapped meanwhile. A branch, an
    // instruction the decoder does not know, or an engine without precise stops (KVM) leaves the page mapped.
    const next = this.cpu.traits.countsInstructions ? this.nextInstruction(stop.rip) : undefined;
    if (next === undefined) {
      this.leftPresent = true;
      return undefined;
    }
    const remove = this.cpu.addStopRange(next, next + 1n);
    let step: StopReason;
    try {
      step = this.cpu.run(0);
    } finally {
      remove();
      this.open(false);
    }
    // The instruction faulted for another reason, or touched page 0 again (a string move): handled the same way.
    // A trap reached right after it runs on the machine's next run from RIP.
    return step.kind === 'exception' ? this.handle(step) : undefined;
  }

  /** The address after the (non-branch) instruction at `rip`, or undefined. */
  private nextInstruction(rip: bigint): bigint | undefined {
    if (!this.mem.isMapped(rip, 15)) return undefined;
    // One instruction names at most a base and an index register: read only those.
    const d = decode(this.mem.view(rip, 15), rip, (n) => this.cpu.readReg(GENERAL_REGISTERS[n]));
    return d && !d.branch ? rip + BigInt(d.length) : undefined;
  }

  private open(on: boolean): void {
    this.cpu.protect(0n, 0x1000, on ? 'rwx' : 'none');
  }

}
