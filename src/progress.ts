// The progress line of long runs: when stderr is a terminal and a run passes one second, one line updated in
// place (elapsed time, service calls, the image and section running, the last service). Nothing otherwise.

export interface ProgressState {
  calls: number;
  /** `image:section` the guest is running (or returned to), `firmware`, or `outside images`. */
  region: string;
  lastService: string | undefined;
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Nothing is drawn before the run is this old (ms). */
  delayMs?: number;
  /** At most one redraw per this many ms. */
  intervalMs?: number;
  now?: () => number;
}

export class ProgressLine {
  private readonly started: number;
  private lastDraw = -Infinity;
  private drawn = false;
  private readonly delayMs: number;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly out: ProgressOutput, o: ProgressOptions = {}) {
    this.now = o.now ?? Date.now;
    this.delayMs = o.delayMs ?? 1000;
    this.intervalMs = o.intervalMs ?? 100;
    this.started = this.now();
  }

  /** A progress line on `out` when it is a terminal and the user did not ask for quiet; otherwise none. */
  static forTerminal(out: ProgressOutput, quiet: boolean, o?: ProgressOptions): ProgressLine | undefined {
    return out.isTTY && !quiet ? new ProgressLine(out, o) : undefined;
  }

  update(s: ProgressState): void {
    const t = this.now();
    if (t - this.started < this.delayMs || t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    const text = `stubemu: ${((t - this.started) / 1000).toFixed(1)} s, ${s.calls} service calls, running ${s.region}${s.lastService ? `, last ${s.lastService}` : ''}`;
    // Never wider than the terminal: a wrapped line cannot be redrawn in place.
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    this.out.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    this.drawn = true;
  }

  /** Erases the line (before other output, and at the end of the run). */
  clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
