// `stubemu diff` on the same UKI contents built with Debian's systemd-stub 254 and 257: the CLI runs both images
// (same options) and must show the PCR 11 difference that comes from the stubs' own .sbat sections — computed here
// from the two files — and the different call sequences. A run diffed with itself is identical (exit 0).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildUki } from '../src/uki/build';
import { makeTestInitrd } from '../src/initrd/cpio';
import { ReportDiff } from '../src/diff/compare';
import { fixture, FixtureId } from './helpers/fixtures';
import { openFile } from './helpers/browser';
import { expectedPcr11, peSections, sha256 } from './helpers/uki-measure';

const CLI = join(__dirname, '..', 'src', 'cli.js');
const HELLO = join(__dirname, '..', '..', 'samples', 'build', 'hello.efi');
const dir = mkdtempSync(join(tmpdir(), 'stubemu-diff-'));

function uki(stub: FixtureId): Buffer {
  return buildUki({
    stub: fixture(stub, 'linuxx64.efi.stub'),
    stubName: 'linuxx64.efi.stub',
    linux: fixture('kernel-6.1-cloud', 'vmlinuz'),
    linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }],
    cmdline: Buffer.from('console=ttyS0 root=/dev/vda1'),
    osRelease: Buffer.from('ID=debian\n'),
  }).image;
}

test('stub 254 vs 257: the .sbat measurement into PCR 11 differs, .uname does not, and the call sequences differ', async (t) => {
  t.timeout(600_000, 'two UKI boots on a loaded 2-core machine');
  const a = uki('stub-254');
  const b = uki('stub-257');
  writeFileSync(join(dir, 'a.efi'), a);
  writeFileSync(join(dir, 'b.efi'), b);
  const r = spawnSync(process.execPath, [CLI, 'diff', join(dir, 'a.efi'), join(dir, 'b.efi'), '--json', '--html', join(dir, 'diff.html'), '--', '--load-options', 'console=ttyS0'], { encoding: 'utf8', timeout: 540_000 });
  t.is(r.status, 1, r.stderr);
  const d = JSON.parse(r.stdout) as ReportDiff;
  t.false(d.identical);

  // What the stubs measured, from the files: the .sbat sections differ, the kernel's .uname is the same.
  const sa = peSections(a);
  const sb = peSections(b);
  t.not(sha256(sa.get('.sbat')!), sha256(sb.get('.sbat')!));
  t.is(sha256(sa.get('.uname')!), sha256(sb.get('.uname')!));
  const events = d.measurements.aligned!;
  const dataEvent = (name: string) => events.filter((e) => e.op === 'same' && e.a.pcr === 11 && e.a.data === JSON.stringify(name))[1];
  const sbat = dataEvent('.sbat');
  t.truthy(sbat, 'the .sbat data events are aligned');
  if (sbat?.op !== 'same') return;
  t.deepEqual(sbat.changes.find((c) => c.field === 'sha256'), { field: 'sha256', a: sha256(sa.get('.sbat')!), b: sha256(sb.get('.sbat')!) });
  const uname = dataEvent('.uname');
  t.true(uname?.op === 'same' && uname.changes.length === 0 && uname.a.digests.sha256 === sha256(sa.get('.uname')!));
  // No other PCR 11 event differs, and the final PCR 11 values are the ones the sections give.
  t.deepEqual(events.filter((e) => (e.op !== 'same' || e.changes.length > 0) && (e.op === 'only-b' ? e.b : e.a).pcr === 11).length, 1);
  t.deepEqual(d.measurements.pcrs.find((p) => p.bank === 'sha256' && p.pcr === 11), { bank: 'sha256', pcr: 11, a: expectedPcr11(a).pcr11, b: expectedPcr11(b).pcr11 });

  // Call sequences: every call of each run is in the alignment once, and they differ. systemd 257 added
  // multi-profile UKIs and sets StubProfile; 254 does not.
  const rows = d.calls.aligned!;
  t.is(rows.filter((x) => x.op !== 'only-b').length, d.calls.total.a);
  t.is(rows.filter((x) => x.op !== 'only-a').length, d.calls.total.b);
  t.true(d.calls.onlyA > 0 && d.calls.onlyB > 0);
  const stubProfile = (x: { service: string; args: string }) => x.service === 'RuntimeServices.SetVariable' && x.args.includes('VariableName="StubProfile"');
  t.true(rows.some((x) => x.op === 'only-b' && stubProfile(x.b)));
  t.false(rows.some((x) => x.op !== 'only-b' && stubProfile(x.a)));
  t.true(d.variables.final.some((v) => v.field.endsWith(':StubProfile') && v.a === undefined && v.b !== undefined));

  // The HTML form in the browser: the verdict, and the PCR 11 row with both values.
  const page = await openFile(join(dir, 'diff.html'));
  try {
    t.deepEqual(page.errors, []);
    t.deepEqual(page.network, []);
    t.is(await page.page.locator('#diff-verdict').textContent(), 'different');
    const row = page.page.locator('#diff-pcrs tr[data-bank="sha256"][data-pcr="11"] td.hash');
    t.deepEqual(await row.allTextContents(), [expectedPcr11(a).pcr11, expectedPcr11(b).pcr11]);
    t.true(await page.page.locator('#diff-calls tr[data-op="only-b"]').count() === d.calls.onlyB);
  } finally {
    await page.close();
  }
});

test('the same image run twice is identical: exit 0', (t) => {
  const r = spawnSync(process.execPath, [CLI, 'diff', HELLO, HELLO], { encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /: identical\n/);
});

test('a file that is neither a report nor an image is bad input: exit 2', (t) => {
  const f = join(dir, 'junk.txt');
  writeFileSync(f, 'hello');
  const r = spawnSync(process.execPath, [CLI, 'diff', f, f], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /not a stubemu run report|not JSON/);
});
