// The firmware's virtual clock: deterministic time that moves only when the firmware says so.
// It advances by 1 µs per service call, by Stall()'s argument, and jumps to the next timer when the
// guest waits (WaitForEvent); GetTime reads `epoch + now`.

export class VirtualClock {
  private micros = 0n;
  private readonly listeners: ((nowMicros: bigint) => void)[] = [];

  /** `epochSeconds`: what GetTime reports at the start of the run (seconds since 1970-01-01T00:00:00Z). */
  constructor(public epochSeconds: bigint = 1704067200n /* 2024-01-01T00:00:00Z */) {}

  get nowMicros(): bigint {
    return this.micros;
  }

  /** Moves time forward and lets listeners (timer events) react. */
  advance(micros: bigint): void {
    if (micros <= 0n) return;
    this.micros += micros;
    for (const l of this.listeners) l(this.micros);
  }

  onAdvance(listener: (nowMicros: bigint) => void): void {
    this.listeners.push(listener);
  }
}
