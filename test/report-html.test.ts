// The HTML report of a real run: Debian's systemd-stub 257 UKI with the Linux 6.1 kernel, run by the CLI under a
// pseudo-terminal (`script`) with --json and --html, the page opened from file:// in Debian's chromium. Values are
// checked against the JSON report and against PCR 11 computed here from the UKI's own sections.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildUki } from '../src/uki/build';
import { makeTestInitrd } from '../src/initrd/cpio';
import { RunReport } from '../src/report-html/model';
import { fixture } from './helpers/fixtures';
import { openFile, OpenedPage } from './helpers/browser';
import { tool } from './helpers/tools';
import { expectedPcr11 } from './helpers/uki-measure';

const CLI = join(__dirname, '..', 'src', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'stubemu-report-html-'));
const CMDLINE = 'console=ttyS0 root=/dev/vda1 stubemu=report';
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

let uki: Buffer;
let report: RunReport;
let terminal: string;
let seconds: number;
let opened: OpenedPage;

test.before(async (t) => {
  t.timeout(300_000, 'one UKI boot on a loaded 2-core machine');
  uki = buildUki({
    stub: fixture('stub-257', 'linuxx64.efi.stub'),
    stubName: 'linuxx64.efi.stub',
    linux: fixture('kernel-6.1-cloud', 'vmlinuz'),
    linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }],
    cmdline: Buffer.from(CMDLINE),
    osRelease: Buffer.from('ID=debian\nVERSION_ID=13\n'),
  }).image;
  writeFileSync(join(dir, 'uki.efi'), uki);
  // One boot for the whole file: under a pseudo-terminal, so the progress line shows too.
  const t0 = Date.now();
  terminal = execFileSync(tool('script'), ['-qefc', `${sq(process.execPath)} ${sq(CLI)} run ${sq(join(dir, 'uki.efi'))} --json ${sq(join(dir, 'run.json'))} --html ${sq(join(dir, 'run.html'))}`, '/dev/null'], { encoding: 'utf8', timeout: 240_000 });
  seconds = (Date.now() - t0) / 1000;
  report = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunReport;
  opened = await openFile(join(dir, 'run.html'));
});

test.after.always(async () => {
  await opened?.close();
});

test('the run reached ExitBootServices and its report has a trace (--html implies --trace)', (t) => {
  t.is(report.outcome.kind, 'exit-boot-services');
  t.true(Array.isArray(report.calls.trace) && report.calls.trace.length === report.calls.total);
  t.true(report.calls.trace!.every((c, i) => typeof c.micros === 'number' && (i === 0 || c.micros >= report.calls.trace![i - 1].micros!)), 'virtual times never go back');
});

test('the page renders from file:// with no console errors and no network requests', async (t) => {
  t.deepEqual(opened.errors, []);
  t.deepEqual(opened.network, []);
  const html = readFileSync(join(dir, 'run.html'), 'utf8');
  t.false(/(src|href)="(https?:)?\/\//.test(html), 'no external resources');
  const box = await opened.page.locator('#memory-svg').boundingBox();
  t.truthy(box && box.width > 500 && box.height > 100, 'the memory map is drawn');
});

test('summary: image, outcome and call count from the report', async (t) => {
  const p = opened.page;
  t.is(await p.locator('#summary-image').textContent(), 'uki.efi');
  t.true((await p.locator('#summary-outcome').textContent())!.includes(String(report.outcome.returnAddress)));
  t.is(Number(await p.locator('#summary-calls').textContent()), report.calls.total);
  t.is(await p.locator('#images-table tbody tr').count(), report.images!.length);
});

test('timeline: one mark per traced call, one lane per calling image (the stub and its kernel)', async (t) => {
  const p = opened.page;
  t.is(await p.locator('#timeline-svg rect.call').count(), report.calls.trace!.length);
  const lanes = await p.locator('#timeline-svg text.lane-label').allTextContents();
  t.true(lanes.includes('uki.efi') && lanes.includes('uki.efi:.linux'), lanes.join(', '));
  // StartImage of the kernel ran guest code until ExitBootServices: drawn as a span.
  const start = report.calls.trace!.find((c) => c.service === 'BootServices.StartImage')!;
  t.is(await p.locator(`#timeline-svg rect.span[data-seq="${start.seq}"]`).count(), 1);
  t.is(await p.locator('#calls-table tbody tr').count(), report.calls.trace!.length);
  // The filter hides the rows that do not match.
  await p.locator('input[data-filter="calls-table"]').fill('ExitBootServices');
  t.is(await p.locator('#calls-table tbody tr:visible').count(), report.calls.counts['BootServices.ExitBootServices']);
  await p.locator('input[data-filter="calls-table"]').fill('');
});

test('memory map: every descriptor drawn and listed, kernel and initrd of the hand-off marked', async (t) => {
  const p = opened.page;
  t.is(await p.locator('#memory-table tbody tr').count(), report.memoryMap!.length);
  for (const type of new Set(report.memoryMap!.map((d) => d.type))) t.true(await p.locator(`#memory-svg rect.mem[data-name="${type}"]`).count() > 0, type);
  t.true(await p.locator('#memory-svg rect.marker.kernel').count() > 0);
  t.true(await p.locator('#memory-svg rect.marker.initrd').count() > 0);
  t.true(await p.locator('#memory-svg rect.section[data-name=".linux"]').count() > 0);
  t.is(await p.locator('#handoff-cmdline').textContent(), CMDLINE);
  t.true((await p.locator('#handoff-initrd').textContent())!.startsWith(report.handoff!.initrd!.address));
});

test('sections: each UKI section with the services that got pointers into it', async (t) => {
  const p = opened.page;
  t.is(await p.locator('#sections-table tbody tr').count(), report.imageSections!.length);
  const linux = await p.locator('#sections-table tr[data-section=".linux"] td.passed-to').textContent();
  t.true(linux!.includes('BootServices.LoadImage(SourceBuffer)'), linux!);
  t.true(linux!.includes('Tcg2.HashLogExtendEvent(DataToHash)'), linux!);
});

test('measurements: every event listed, the PCR replay agrees, and PCR 11 is what the UKI sections give', async (t) => {
  const p = opened.page;
  t.is(await p.locator('#tcg-events tbody tr').count(), report.eventLog!.length);
  t.is(await p.locator('#pcr-replay td.bad').count(), 0);
  t.is((await p.locator('#replay-verdict').getAttribute('class'))!.includes('ok'), true);
  const replayed = await p.locator('#pcr-replay tr[data-bank="sha256"][data-pcr="11"] td.replayed').textContent();
  t.is(replayed, expectedPcr11(uki).pcr11);
  t.is(await p.locator('#pcr-replay tr[data-bank="sha256"][data-pcr="11"] td.reported').textContent(), report.pcrs!.sha256['11']);
});

test('variables and hand-off tables', async (t) => {
  const p = opened.page;
  t.is(await p.locator('#variables-table tbody tr').count(), report.variables!.length);
  t.is(await p.locator('#variable-changes tbody tr').count(), report.variableChanges!.length);
  const hdr = report.handoff!.bootParams!.setupHeader!;
  t.is(await p.locator('#setup-header tbody tr').count(), Object.keys(hdr).length);
  t.true((await p.locator('#setup-header').textContent())!.includes(hdr.ramdisk_image));
});

test('stubemu report renders the same page from the JSON report', (t) => {
  execFileSync(process.execPath, [CLI, 'report', join(dir, 'run.json'), '-o', join(dir, 'again.html')], { stdio: 'pipe' });
  t.is(readFileSync(join(dir, 'again.html'), 'utf8'), readFileSync(join(dir, 'run.html'), 'utf8'));
});

test('progress on the terminal: an updating line once the run passes one second, erased before the summary', (t) => {
  const lines = terminal.split(/\r|\n/);
  const progress = lines.filter((l) => /^\x1b\[Kstubemu: \d+\.\d s, \d+ service calls, (running |loading the image)/.test(l));
  const summary = lines.find((l) => l.includes('ExitBootServices succeeded'));
  t.truthy(summary);
  t.false(summary!.includes('service calls, running'), 'the summary is on a clean line');
  if (seconds > 2) {
    t.true(progress.length >= 2, `a ${seconds.toFixed(1)} s run drew ${progress.length} progress lines`);
    t.true(progress.some((l) => l.includes('uki.efi')), 'names the image running');
    const first = Number(/stubemu: (\d+\.\d) s/.exec(progress[0])![1]);
    t.true(first >= 1.0, `the first line comes after one second (${first} s)`);
  } else {
    t.pass(`the run took ${seconds.toFixed(1)} s: too short to require progress lines`);
  }
});
