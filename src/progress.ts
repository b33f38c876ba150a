// The progress line of long runs: when stderr is a terminal and a run passes one second, one line updated in
// place (elapsed time, service calls, the image and section running, the last service). Nothing otherwise.
//
// The guest runs synchronously inside the CPU engine for seconds at a time (the kernel's EFI stub decompressing
// itself), so the main thread cannot draw. A worker thread draws every 100 ms from a state the run updates at
// every service call and CPU stop; both sides write to the terminal only while holding one lock in shared memory,
// so guest console output and the line never interleave.
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export interface ProgressState {
  calls: number;
  /** `image:section` the guest is running (or returned to), `firmware`, or `outside images`; '' before it runs. */
  region: string;
  lastService: string | undefined;
}

/** The line for a state after `elapsedMs`, cut to the terminal's width (a wrapped line cannot be redrawn). */
export function progressText(s: ProgressState, elapsedMs: number, columns: number | undefined): string {
  const where = s.region ? `running ${s.region}${s.lastService ? `, last ${s.lastService}` : ''}` : 'loading the image';
  const text = `stubemu: ${(elapsedMs / 1000).toFixed(1)} s, ${s.calls} service calls, ${where}`;
  const width = Math.max(20, (columns || 80) - 1);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export const CLEAR_LINE = '\r\x1b[K';

/** Shared memory layout: Int32 words, then the state's strings as UTF-8. */
export const SLOT = { lock: 0, drawn: 1, stopped: 2, calls: 3, textLength: 4, words: 8 } as const;
export const TEXT_BYTES = 1024;

/** A spin lock on one Int32 of shared memory; the critical sections are a few writes long. */
export function withLock<T>(words: Int32Array, fn: () => T): T {
  while (Atomics.compareExchange(words, SLOT.lock, 0, 1) !== 0) Atomics.wait(words, SLOT.lock, 1, 1);
  try {
    return fn();
  } finally {
    Atomics.store(words, SLOT.lock, 0);
    Atomics.notify(words, SLOT.lock);
  }
}

export interface ProgressOptions {
  /** Nothing is drawn before the run is this old (ms). */
  delayMs?: number;
  /** One redraw per this many ms. */
  intervalMs?: number;
}

export class ProgressLine {
  private readonly shared = new SharedArrayBuffer(SLOT.words * 4 + TEXT_BYTES);
  private readonly words = new Int32Array(this.shared, 0, SLOT.words);
  private readonly text = new Uint8Array(this.shared, SLOT.words * 4);
  private readonly worker: Worker;

  private constructor(private readonly fd: number, columns: number | undefined, o: ProgressOptions) {
    this.worker = new Worker(join(__dirname, 'progress-worker.js'), {
      workerData: { shared: this.shared, fd, columns, delayMs: o.delayMs ?? 1000, intervalMs: o.intervalMs ?? 100, started: Date.now() },
    });
    this.worker.unref();
  }

  /** A progress line on stderr when it is a terminal and the user did not ask for quiet; otherwise none. */
  static forTerminal(out: { isTTY?: boolean; columns?: number; fd?: number }, quiet: boolean, o: ProgressOptions = {}): ProgressLine | undefined {
    return out.isTTY && !quiet ? new ProgressLine(out.fd ?? 2, out.columns, o) : undefined;
  }

  update(s: ProgressState): void {
    const bytes = Buffer.from(`${s.region}\n${s.lastService ?? ''}`, 'utf8').subarray(0, TEXT_BYTES);
    withLock(this.words, () => {
      this.words[SLOT.calls] = s.calls;
      this.text.set(bytes);
      this.words[SLOT.textLength] = bytes.length;
    });
  }

  /** Runs `write` (other output to the terminal) with the line erased, so the two never mix. */
  around(write: () => void): void {
    withLock(this.words, () => {
      this.eraseLocked();
      write();
    });
  }

  /** Erases the line for good: the run is over. */
  stop(): void {
    withLock(this.words, () => {
      this.words[SLOT.stopped] = 1;
      this.eraseLocked();
    });
    void this.worker.terminate();
  }

  private eraseLocked(): void {
    if (this.words[SLOT.drawn] === 0) return;
    writeSync(this.fd, CLEAR_LINE);
    this.words[SLOT.drawn] = 0;
  }
}
