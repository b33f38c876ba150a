// The progress line: its text, the drawing worker with a real (short) run through a stand-in terminal, and the
// CLI printing nothing of it when stderr is not a terminal, with --quiet, or before one second has passed.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { ProgressLine, progressText } from '../src/progress';
import { tool } from './helpers/tools';

const CLI = join(__dirname, '..', 'src', 'cli.js');
const HELLO = join(__dirname, '..', '..', 'samples', 'build', 'hello.efi');

test('the line: elapsed, calls, region, last service; cut to the terminal width', (t) => {
  const s = { calls: 155, region: 'uki.efi:.linux:.text', lastService: 'BootServices.AllocatePages' };
  t.is(progressText(s, 7340, 200), 'stubemu: 7.3 s, 155 service calls, running uki.efi:.linux:.text, last BootServices.AllocatePages');
  const cut = progressText(s, 7340, 40);
  t.is(cut.length, 39);
  t.true(cut.endsWith('…'));
  t.is(progressText({ calls: 0, region: '', lastService: undefined }, 1100, 200), 'stubemu: 1.1 s, 0 service calls, loading the image');
});

test('a run draws the line from the worker and erases it at the end', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'stubemu-progress-')), 'tty');
  const fd = openSync(file, 'w');
  const line = ProgressLine.forTerminal({ isTTY: true, fd, columns: 200 }, false, { delayMs: 0, intervalMs: 5 })!;
  const r = runImage({ image: readFileSync(HELLO), imageName: 'hello.efi', onProgress: (p) => line.update(p) });
  // The worker draws while the run goes on; a short run may end first, so give it a few intervals.
  await new Promise((resolve) => setTimeout(resolve, 100));
  line.stop();
  closeSync(fd);
  const out = readFileSync(file, 'utf8');
  const drawn = out.split('\r\x1b[K').filter(Boolean);
  t.true(drawn.length > 0, out);
  t.true(drawn.every((l) => /^stubemu: \d+\.\d s, \d+ service calls, (running |loading the image$)/.test(l)), out);
  t.true(drawn.some((l) => l.includes(`${(r.report.calls as { total: number }).total} service calls`) && l.includes('hello.efi')), out);
  t.true(out.endsWith('\r\x1b[K'), 'erased at the end');
  t.is(ProgressLine.forTerminal({ isTTY: false }, false), undefined);
  t.is(ProgressLine.forTerminal({ isTTY: true }, true), undefined);
});

test('not a terminal, --quiet, or a run shorter than a second: no progress output', (t) => {
  const piped = spawnSync(process.execPath, [CLI, 'run', HELLO], { encoding: 'utf8' });
  t.is(piped.status, 0);
  t.false(piped.stderr.includes('\x1b[K'), piped.stderr);
  t.regex(piped.stderr, /^stubemu: hello\.efi: returned EFI_SUCCESS; \d+ service calls in [\d.]+ s\n$/);
  // On a terminal: hello.efi usually ends within a second, so nothing is drawn; on a loaded machine it may not,
  // but no line may come before one second. --quiet never draws.
  for (const extra of ['', ' --quiet']) {
    const tty = execFileSync(tool('script'), ['-qefc', `'${process.execPath}' '${CLI}' run '${HELLO}'${extra}`, '/dev/null'], { encoding: 'utf8' });
    const drawn = [...tty.matchAll(/stubemu: (\d+\.\d) s, \d+ service calls, (running |loading the image)/g)].map((m) => Number(m[1]));
    if (extra) t.deepEqual(drawn, [], tty);
    else t.true(drawn.every((s) => s >= 1.0), tty);
    t.true(tty.includes('hello.efi: returned EFI_SUCCESS'));
  }
});
