// The one way a guest runs outside the caller's process (the CLI's `run`/`verify` and the library's boot()):
// Unicorn 2.0.1 can crash natively (SIGSEGV/SIGABRT) on some self-modifying guest code, and that must end in a
// clear error, not a dead caller.

/** Set in the environment of a worker process: it runs the guest itself instead of starting another worker. */
export const WORKER_ENV = 'STUBEMU_WORKER';

/** What to say when the worker running `imageName` died of `signal`. */
export function engineCrashMessage(imageName: string, signal: string): string {
  return `${imageName}: fault: the CPU emulator (Unicorn 2.0.1) crashed with ${signal}; `
    + `this happens when guest code rewrites instructions it is executing, which the engine mishandles; no report was written`;
}
