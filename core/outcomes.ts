// Host-side exceptions that unwind nested guest runs: the end of the whole run, Exit() to StartImage, faults.
import { RegisterFile } from './registers';

/** How a run ends (report v1 `outcome.kind`); RunEnd carries the kinds that end it from inside, `refused` is the
 * started image refused by Secure Boot before it ran. */
export type OutcomeKind = 'exit-boot-services' | 'returned' | 'exit' | 'reset' | 'fault' | 'budget' | 'refused';

/** Ends the whole run with an outcome (ExitBootServices success, ResetSystem, budget). */
export class RunEnd extends Error {
  constructor(readonly kind: OutcomeKind, readonly details: Record<string, unknown> = {}) {
    super(`run ended: ${kind}`);
  }
}

/** A guest fault: a CPU exception, or a service handed pointers the firmware cannot use. */
export class GuestFault extends Error {
  constructor(
    readonly reason: string,
    readonly regs: RegisterFile,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(reason);
  }
}

/** Thrown by Exit(): unwinds to the StartImage that started `imageHandle` (UEFI 2.10 §7.4.5). */
export class ImageExit extends Error {
  constructor(
    readonly imageHandle: bigint,
    readonly status: bigint,
    readonly exitDataSize: bigint,
    readonly exitData: bigint,
  ) {
    super('image exit');
  }
}
