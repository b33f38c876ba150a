// The one way a guest runs outside the caller's process (the CLI's `run`/`verify` and the library's boot()):
// Unicorn 2.0.1 can crash natively (SIGSEGV/SIGABRT) on some self-modifying guest code, and that must end in a
// clear error, not a dead caller.
import { engineInfo } from '../emulator/cpu/create-cpu';

/** Set in the environment of a worker process: it runs the guest itself instead of starting another worker. */
export const WORKER_ENV = 'STUBEMU_WORKER';

/**
 * glibc's malloc marks the memory it maps for large blocks MADV_HUGEPAGE (glibc.malloc.hugetlb=1, glibc 2.35+;
 * ignored by older or other C libraries): the image file, its copies and the report's buffers are then faulted in
 * 2 MiB at a time. First touches of fresh pages dominate a run's host time on a virtual machine (docs/bench.md:
 * 64 MiB allocated and touched in 525 ms without, 29-86 ms with). No byte changes.
 */
const MALLOC_TUNABLE = 'glibc.malloc.hugetlb=1';

/** The environment of a worker process: the caller's, WORKER_ENV set, and the malloc tunable added. */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tunables = env.GLIBC_TUNABLES;
  const withHuge = tunables === undefined || tunables === '' ? MALLOC_TUNABLE
    : tunables.includes('glibc.malloc.hugetlb=') ? tunables : `${tunables}:${MALLOC_TUNABLE}`;
  return { ...env, [WORKER_ENV]: '1', GLIBC_TUNABLES: withHuge };
}

/** What to say when the worker running `imageName` died of `signal`. */
export function engineCrashMessage(imageName: string, signal: string): string {
  return `${imageName}: fault: the CPU emulator (${engineVersionText()}) crashed with ${signal}; `
    + `this happens when guest code rewrites instructions it is executing, which the engine mishandles; no report was written`;
}

/** "Unicorn 2.1.1" as loaded, for a crash message; the plain name when the library cannot even be loaded. */
function engineVersionText(): string {
  try {
    return engineInfo('unicorn').version;
  } catch {
    return 'Unicorn';
  }
}
