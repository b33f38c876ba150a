// Time as the board's devices see it: the firmware's virtual clock plus the time the guest spent on port I/O.
// Each port access takes PORT_ACCESS_NANOS (an ISA bus cycle is about 1 µs, why Linux delays with port 0x80), so
// a guest polling the PIT or the PM timer sees time move, deterministically, without a host clock.
import { BoardClock, PlatformClock } from '../../core/board';

export const PORT_ACCESS_NANOS = 1000n;

export class PlatformTime implements PlatformClock {
  /** Port I/O time not yet folded into the firmware clock. */
  private pendingNanos = 0n;
  /** The firmware's clock, once it is attached (before: time 0 and the default --time). */
  clock: BoardClock = { nowMicros: 0n, epochSeconds: 1704067200n, advance: () => {} };

  nowNanos(): bigint {
    return this.clock.nowMicros * 1000n + this.pendingNanos;
  }

  /** One port access happened. */
  portAccess(): void {
    this.pendingNanos += PORT_ACCESS_NANOS;
  }

  /**
   * Moves the whole microseconds of port I/O time into the firmware clock. Called on entry to a service (never
   * from inside a CPU hook: the clock's listeners fire timer events, which may call guest code).
   */
  settle(): void {
    const micros = this.pendingNanos / 1000n;
    if (micros === 0n) return;
    this.pendingNanos -= micros * 1000n;
    this.clock.advance(micros);
  }
}

/** Ticks of a clock of `numerator / denominator` Hz after `nanos` ns (exact integer arithmetic). */
export const ticksAt = (nanos: bigint, numerator: bigint, denominator: bigint): bigint => (nanos * numerator) / (denominator * 1_000_000_000n);
