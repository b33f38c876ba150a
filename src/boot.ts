// The library's entry: boot(image, options) runs the guest in a worker process (the CLI's isolation, src/worker.ts)
// and resolves to Report v1; a crash of the CPU emulator rejects the promise instead of killing the caller.
import { fork } from 'node:child_process';
import { basename, join } from 'node:path';
import { ConsoleStream, RunOptions } from './api';
import { BadInput } from './bad-input';
import { Report } from './report';
import { engineCrashMessage, workerEnv } from './worker';

/** runImage's options without the image; `imageName` defaults to the file's name (or "image.efi" for bytes). */
export interface BootOptions extends Omit<RunOptions, 'image' | 'imageName'> {
  imageName?: string;
}

/** The worker process died of a signal: Unicorn crashed natively. No report exists. */
export class EngineCrashError extends Error {
  constructor(readonly signal: string, message: string) {
    super(message);
    this.name = 'EngineCrashError';
  }
}

/** Parent → worker: what to run. Functions cannot cross the process boundary; console output comes back as messages. */
export interface BootRequest {
  path?: string;
  image?: Uint8Array;
  imageName: string;
  options: Omit<BootOptions, 'onConsole' | 'imageName'>;
  console: boolean;
}

/** Worker → parent. */
export type BootMessage =
  | { type: 'console'; text: string; stream: ConsoleStream }
  | { type: 'report'; json: string }
  | { type: 'error'; badInput: boolean; message: string; stack?: string };

/**
 * Boots `image` (a path or the file's bytes) in a fresh worker process and resolves to its report, as
 * `stubemu run --json` writes it. Rejects with BadInput for inputs the CLI exits 2 on, with EngineCrashError when
 * the emulator crashed, and with an Error for anything else that stopped the worker.
 */
export function boot(image: string | Uint8Array, options: BootOptions = {}): Promise<Report> {
  const { onConsole, imageName, ...rest } = options;
  const name = imageName ?? (typeof image === 'string' ? basename(image) : 'image.efi');
  const request: BootRequest = {
    ...(typeof image === 'string' ? { path: image } : { image }),
    imageName: name,
    options: rest,
    console: onConsole !== undefined,
  };
  return new Promise<Report>((resolve, reject) => {
    const child = fork(join(__dirname, 'boot-worker.js'), [], {
      env: workerEnv(process.env),
      // Like the CLI's worker: a plain node, not the caller's flags (an --inspect port would be taken twice).
      execArgv: [],
      // Buffers, bigints (epochSeconds) and nested options cross as they are.
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: Report | undefined;
    let failure: Error | undefined;
    child.on('message', (m: BootMessage) => {
      if (m.type === 'console') onConsole?.(m.text, m.stream);
      else if (m.type === 'report') report = JSON.parse(m.json) as Report;
      else {
        failure = m.badInput ? new BadInput(m.message) : new Error(`stubemu worker: ${m.message}`);
        if (!m.badInput && m.stack) failure.stack = m.stack;
      }
    });
    child.on('error', (e) => {
      failure ??= e;
    });
    // 'close' comes after the process ended and its channels closed, so every message has been handled.
    child.on('close', (code, signal) => {
      if (signal !== null) reject(new EngineCrashError(signal, engineCrashMessage(name, signal)));
      else if (failure) reject(failure);
      else if (report) resolve(report);
      else reject(new Error(`stubemu worker: exited with code ${code} and no report`));
    });
    child.send(request);
  });
}
