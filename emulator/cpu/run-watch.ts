// A helper thread beside Unicorn runs: ends a run at the time budget's deadline (uc_emu_stop) and samples RIP
// for the profiler without stopping the guest.
//
// Why not stop and resume in slices: Unicorn 2.1.1 skips restoring the program counter from the translation
// block when a run ends by uc_emu_stop (cpu_tb_exec trusts a code hook to have synced it), and chained blocks
// do not store RIP, so a resumed run restarts from a stale RIP (measured: wrong results, hangs). Its own
// uc_emu_start timeout also sleeps the whole timeout even when the run ended at once. So a run is never
// interrupted to be resumed: the deadline stop is final (the run ends "budget exhausted"), and samples are read
// while the guest runs (RIP as last stored by the engine: at the granularity of its block exits).
import { Worker } from 'node:worker_threads';

const STATE = 0; // IDLE, RUNNING, STOPPING (the helper is inside uc_emu_stop), STOPPED (the deadline stopped this run)
const DEADLINE_US = 1; // microseconds from the run's start to its deadline; 0: none
const SAMPLE_US = 2; // sampling interval in microseconds; 0: no sampling
const ADDR_LO = 3; // uc_engine * of the current run
const ADDR_HI = 4;
const GEN = 5; // bumped at every run start: what the helper waits on
const SAMPLES = 6; // samples taken in this run (at most RING)
const READY = 7; // 1 once the helper has loaded koffi and the library
const RING_AT = 8; // RIP samples, two words each
const RING = 4096;
const IDLE = 0;
const RUNNING = 1;
const STOPPING = 2;
const STOPPED = 3;

const HELPER = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const lib = koffi.load(workerData.library);
const stop = lib.func('int uc_emu_stop(uint64_t uc)');
const regRead = lib.func('int uc_reg_read(uint64_t uc, int regid, _Out_ void *value)');
const s = new Int32Array(workerData.shared);
const rip = new BigUint64Array(1);
Atomics.store(s, ${READY}, 1);
Atomics.notify(s, ${READY});
let seen = 0;
for (;;) {
  Atomics.wait(s, ${GEN}, seen);
  const gen = Atomics.load(s, ${GEN});
  seen = gen;
  const t0 = performance.now();
  const deadlineUs = Atomics.load(s, ${DEADLINE_US});
  const sampleUs = Atomics.load(s, ${SAMPLE_US});
  const uc = (BigInt(Atomics.load(s, ${ADDR_HI}) >>> 0) << 32n) | BigInt(Atomics.load(s, ${ADDR_LO}) >>> 0);
  let nextSample = sampleUs ? t0 + sampleUs / 1000 : Infinity;
  const deadline = deadlineUs ? t0 + deadlineUs / 1000 : Infinity;
  for (;;) {
    if (Atomics.load(s, ${GEN}) !== gen || Atomics.load(s, ${STATE}) !== ${RUNNING}) break;
    const now = performance.now();
    if (now >= deadline) {
      if (Atomics.compareExchange(s, ${STATE}, ${RUNNING}, ${STOPPING}) === ${RUNNING}) {
        if (Atomics.load(s, ${GEN}) !== gen) { Atomics.store(s, ${STATE}, ${RUNNING}); Atomics.notify(s, ${STATE}); break; } // a later run
        stop(uc);
        Atomics.store(s, ${STATE}, ${STOPPED});
        Atomics.notify(s, ${STATE});
      }
      break;
    }
    if (now >= nextSample) {
      // Under STOPPING the engine cannot be closed: the main thread waits for the state to leave it.
      if (Atomics.compareExchange(s, ${STATE}, ${RUNNING}, ${STOPPING}) === ${RUNNING}) {
        if (Atomics.load(s, ${GEN}) !== gen) { Atomics.store(s, ${STATE}, ${RUNNING}); Atomics.notify(s, ${STATE}); break; } // a later run
        regRead(uc, ${41 /* UC_X86_REG_RIP */}, rip);
        Atomics.store(s, ${STATE}, ${RUNNING});
        Atomics.notify(s, ${STATE});
        const n = Atomics.load(s, ${SAMPLES});
        if (n < ${RING}) {
          Atomics.store(s, ${RING_AT} + 2 * n, Number(rip[0] & 0xffffffffn) | 0);
          Atomics.store(s, ${RING_AT} + 2 * n + 1, Number(rip[0] >> 32n) | 0);
          Atomics.store(s, ${SAMPLES}, n + 1);
        }
      }
      nextSample += sampleUs / 1000;
      continue;
    }
    Atomics.wait(s, ${STATE}, ${RUNNING}, Math.min(deadline, nextSample) - now);
  }
}
`;

export class RunWatch {
  private readonly shared = new SharedArrayBuffer(4 * (RING_AT + 2 * RING));
  private readonly s = new Int32Array(this.shared);

  private ready = false;

  /**
   * Starts the helper thread and returns at once: its start (a V8 isolate, koffi, the library: ~100 ms) overlaps
   * the firmware's set-up and image loading, and the first run waits for it (arm).
   */
  constructor(library: string) {
    const w = new Worker(HELPER, { eval: true, workerData: { shared: this.shared, library, koffi: require.resolve('koffi') } });
    w.unref();
    // A process that exits while a worker is inside koffi's loading aborts (napi_throw at teardown); parked in
    // Atomics.wait it ends cleanly. So a process that never ran a guest waits for the helper before it exits.
    process.once('exit', () => {
      if (!this.ready) Atomics.wait(this.s, READY, 0, 10_000);
    });
  }

  /** Waits until the helper has loaded koffi and the library. */
  private awaitReady(): void {
    if (this.ready) return;
    if (Atomics.wait(this.s, READY, 0, 10_000) === 'timed-out') throw new Error('the Unicorn run watch thread did not start within 10 s');
    this.ready = true;
  }

  /** A run of `engine` (its address) is about to start: stop it after `deadlineMs`, sample every `sampleMs`. */
  arm(engine: bigint, deadlineMs: number | undefined, sampleMs: number | undefined): void {
    this.awaitReady();
    const us = (ms: number | undefined) => (ms === undefined ? 0 : Math.max(1, Math.min(0x7fff_ffff, Math.round(ms * 1000))));
    Atomics.store(this.s, ADDR_LO, Number(engine & 0xffff_ffffn) | 0);
    Atomics.store(this.s, ADDR_HI, Number(engine >> 32n) | 0);
    Atomics.store(this.s, DEADLINE_US, us(deadlineMs));
    Atomics.store(this.s, SAMPLE_US, us(sampleMs));
    Atomics.store(this.s, SAMPLES, 0);
    Atomics.store(this.s, STATE, RUNNING);
    Atomics.add(this.s, GEN, 1);
    Atomics.notify(this.s, GEN);
  }

  /** The run returned: whether the deadline stopped it, and the RIP samples taken. */
  disarm(): { stopped: boolean; samples: bigint[] } {
    let stopped = false;
    for (;;) {
      const was = Atomics.compareExchange(this.s, STATE, RUNNING, IDLE);
      if (was === RUNNING) {
        Atomics.notify(this.s, STATE);
        break;
      }
      if (was === STOPPED) {
        Atomics.store(this.s, STATE, IDLE);
        stopped = true;
        break;
      }
      if (was === IDLE) break;
      Atomics.wait(this.s, STATE, STOPPING, 1);
    }
    const n = Atomics.load(this.s, SAMPLES);
    const samples: bigint[] = [];
    for (let i = 0; i < n; i++) {
      samples.push((BigInt(this.s[RING_AT + 2 * i + 1] >>> 0) << 32n) | BigInt(this.s[RING_AT + 2 * i] >>> 0));
    }
    return { stopped, samples };
  }
}

const watches = new Map<string, RunWatch>();

/** One helper thread per process and library, started by the first engine: runs never overlap on one thread. */
export function runWatch(library: string): RunWatch {
  let w = watches.get(library);
  if (!w) watches.set(library, (w = new RunWatch(library)));
  return w;
}
