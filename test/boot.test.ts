// boot(): the guest runs in a worker process and the promise resolves to the same report runImage gives; bad input
// and a crashed engine reject it while the caller lives on. Serial: the crash test finds its worker among this
// process's children.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boot, EngineCrashError } from '../src/boot';
import { runImage } from '../src/api';
import { BadInput } from '../src/bad-input';
import { reportJson } from '../src/report';
import { codeImage } from './helpers/guest-code';
import { versionLines } from '../src/version';
import { engineInfo } from '../emulator/cpu/create-cpu';

const ROOT = join(__dirname, '..', '..');
const HELLO = join(ROOT, 'samples', 'build', 'hello.efi');

/** This process's children, from /proc (field 4 of /proc/PID/stat is the parent; the name before it may hold spaces). */
function childPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test.serial('boot(path) resolves to the report runImage gives in-process, byte for byte, with the console streamed', async (t) => {
  const seen: string[] = [];
  const report = await boot(HELLO, { memoryBytes: 256 << 20, onConsole: (text) => seen.push(text) });
  const direct = runImage({ image: readFileSync(HELLO), imageName: 'hello.efi', memoryBytes: 256 << 20 });
  t.is(report.outcome.kind, 'returned');
  t.is(reportJson(report), reportJson(direct.report));
  t.is(seen.join(''), report.console);
  t.regex(report.console, /Hello from stubemu sample/);
});

test.serial('boot(bytes) with options: imageName, bigint time and initrd cross to the worker', async (t) => {
  const report = await boot(readFileSync(HELLO), { imageName: 'x.efi', epochSeconds: 1_700_000_000n, initrds: [Buffer.from('abcd')], memoryBytes: 256 << 20 });
  t.is(report.image.name, 'x.efi');
  t.deepEqual(report.options.initrds, [{ size: 4, sha256: createHash('sha256').update('abcd').digest('hex') }]);
});

test.serial('boot() rejects bad input with BadInput', async (t) => {
  await t.throwsAsync(boot(Buffer.from('not a PE file at all')), { instanceOf: BadInput });
  await t.throwsAsync(boot(join(ROOT, 'does-not-exist.efi')), { instanceOf: BadInput, message: /cannot read/ });
});

test.serial('a worker killed by a signal (as when Unicorn crashes) rejects with EngineCrashError; the caller goes on', async (t) => {
  // jmp $ with a long budget: the worker is busy in the engine when it dies, like a native crash of Unicorn.
  const running = boot(codeImage([0xeb, 0xfe]), { imageName: 'spin.efi', memoryBytes: 64 << 20, timeoutSeconds: 60 });
  const crashed = t.throwsAsync(running, { instanceOf: EngineCrashError, message: new RegExp(`^spin\\.efi: fault: the CPU emulator \\(${engineInfo('unicorn').version.replace(/\./g, '\\.')}\\) crashed with SIGSEGV`) });
  let worker: number | undefined;
  for (let i = 0; i < 100 && worker === undefined; i++) {
    await new Promise((r) => setTimeout(r, 100));
    worker = childPids().find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('boot-worker.js'));
  }
  t.truthy(worker, 'the worker process was found');
  await new Promise((r) => setTimeout(r, 500));
  process.kill(worker!, 'SIGSEGV');
  const e = await crashed;
  t.is(e?.signal, 'SIGSEGV');
});

test.serial('versionLines(): "stubemu <package version>" first', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.is(versionLines()[0], `stubemu ${pkg.version}`);
});
