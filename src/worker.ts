// The one way a guest runs outside the caller's process (the CLI's `run`/`verify` and the library's boot()):
// Unicorn 2.0.1 can crash natively (SIGSEGV/SIGABRT) on some self-modifying guest code, and that must end in a
// clear error, not a dead caller.
import { engineInfo } from '../emulator/cpu/create-cpu';

/** Set in the environment of a worker process: it runs the guest itself instead of starting another worker. */
export const WORKER_ENV = 'STUBEMU_WORKER';

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
