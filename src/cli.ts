#!/usr/bin/env node
// The stubemu command's entry. `run` and `verify` execute the guest in a child process (this file again, with
// WORKER_ENV set); every command's work is in cli-main.ts. The parent of a guest run only starts the child and
// waits, so this file loads nothing else: the firmware, the engine and the report modules load once, in the child.
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { EXIT } from './exit-codes';
import { oneLine } from './guest-text';
import { engineCrashMessage, WORKER_ENV, workerEnv } from './worker';

/** The command line without isolation (the child's side, and the commands that run no guest). */
export function main(argv: string[]): number {
  return (require('./cli-main') as typeof import('./cli-main')).main(argv);
}

/**
 * `run` and `verify` execute the guest in a child process: Unicorn 2.0.1 can crash natively (SIGSEGV/SIGABRT) on
 * some self-modifying guest code, and that must end in a clear report, not a dead stubemu.
 */
function isolated(argv: string[]): number {
  const r = spawnSync(process.execPath, [__filename, ...argv], { stdio: 'inherit', env: workerEnv(process.env) });
  if (r.error) throw r.error;
  if (r.signal !== null) {
    const what = argv.find((a, i) => i > 0 && !a.startsWith('-')) ?? 'the image';
    process.stderr.write(`stubemu: ${engineCrashMessage(oneLine(basename(what)), r.signal)}\n`);
    return EXIT.fault;
  }
  return r.status ?? EXIT.fault;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const guestRun = argv[0] === 'run' || argv[0] === 'verify';
  process.exitCode = guestRun && process.env[WORKER_ENV] !== '1' && !argv.includes('--help') ? isolated(argv) : main(argv);
}
