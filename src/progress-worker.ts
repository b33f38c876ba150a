// The drawing side of src/progress.ts: a worker thread that redraws the progress line every interval from the
// shared state, under the shared lock, while the main thread is inside the CPU engine.
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { CLEAR_LINE, progressText, SLOT, withLock } from './progress';

const d = workerData as { shared: SharedArrayBuffer; fd: number; columns?: number; delayMs: number; intervalMs: number; started: number };
const words = new Int32Array(d.shared, 0, SLOT.words);
const text = new Uint8Array(d.shared, SLOT.words * 4);

const timer = setInterval(() => {
  const elapsed = Date.now() - d.started;
  if (elapsed < d.delayMs) return;
  withLock(words, () => {
    if (words[SLOT.stopped]) {
      clearInterval(timer);
      return;
    }
    const [region, last] = Buffer.from(text.subarray(0, words[SLOT.textLength])).toString('utf8').split('\n');
    writeSync(d.fd, CLEAR_LINE + progressText({ calls: words[SLOT.calls], region: region ?? '', lastService: last || undefined }, elapsed, d.columns));
    words[SLOT.drawn] = 1;
  });
}, d.intervalMs);
