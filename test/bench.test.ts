// The parts of `npm run bench`: statistics, touched pages, the large initrd, floor, targets, options, command lines.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCpio, TEST_INIT_SCRIPT, makeTestInitrd } from '../src/initrd/cpio';
import { buildUki } from '../src/uki/build';
import { BenchCase, BENCH_CMDLINE, makeLargeInitrd, pseudoRandomBytes } from '../src/bench/cases';
import { floorBytes, floorInputs, floorOnce } from '../src/bench/floor';
import { DEFAULT_PCR_BANKS } from '../efi-services/tcg/pcr-banks';
import { BenchUsageError, parseBenchArgs } from '../src/bench/options';
import { qemuArgs } from '../src/bench/qemu';
import { evaluateTargets, TARGETS } from '../src/bench/results';
import { median, summarize } from '../src/bench/stats';
import { cliArgs, countResidentPages, countTouchedPages, measureChild, measureInProcess } from '../src/bench/stubemu';
import { renderTable } from '../src/bench/table';
import { fixture } from './helpers/fixtures';

test('median and spread', (t) => {
  t.is(median([5, 1, 3]), 3);
  t.is(median([4, 1, 3, 2]), 2.5);
  const s = summarize([10, 12, 8, 11, 9]);
  t.deepEqual([s.n, s.median, s.min, s.max], [5, 10, 8, 12]);
  t.is(s.relativeSpread, 0.4);
  t.throws(() => median([]));
});

test('touched pages: a page counts when any of its bytes is non-zero, also in a partial last page', (t) => {
  const ram = Buffer.alloc(5 * 4096 + 100);
  ram[0] = 1; // page 0
  ram[3 * 4096 + 4095] = 0x80; // the last byte of page 3
  ram[5 * 4096 + 99] = 7; // the 100-byte tail
  t.is(countTouchedPages(ram), 3);
  // A view at an odd offset takes the byte path and sees the same bytes.
  const shifted = Buffer.alloc(ram.length + 1);
  ram.copy(shifted, 1);
  t.is(countTouchedPages(shifted.subarray(1)), 3);
  t.is(countTouchedPages(Buffer.alloc(8192)), 0);
});

test('resident pages: a page counts once written, whatever the value; pages only read do not', (t) => {
  // 64 MiB comes from a fresh anonymous mapping (calloc above the mmap threshold): nothing is resident yet but
  // the allocator's header in the first page.
  const ram = Buffer.alloc(64 << 20);
  const before = countResidentPages(ram);
  if (before === undefined) return t.fail('no readable /proc/self/pagemap');
  t.true(before <= 2, `${before} pages resident before any write`);
  ram[10 * 4096] = 1;
  ram[20 * 4096 + 4095] = 0x80;
  ram[30 * 4096 + 7] = 0; // a store of zero (BSS clearing) makes the page resident too
  // With transparent huge pages "always" a write may bring in 2 MiB; the machine's setting decides.
  const thpAlways = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').includes('[always]');
  const written = countResidentPages(ram)! - before;
  if (thpAlways) t.true(written >= 3);
  else t.is(written, 3);
  // A page only read maps the shared zero page on most kernels, which is not this process's own. Some hosts (a
  // microVM kernel seen here) back even a read fault with a private page: learn which from a separate buffer first.
  const probe = Buffer.alloc(8 << 20);
  const probeBefore = countResidentPages(probe)!;
  let sum = probe[4 * 4096 + 100];
  const readFaultsResident = countResidentPages(probe)! > probeBefore;
  for (let i = 40 * 4096; i < 41 * 4096; i++) sum += ram[i];
  t.is(sum, 0);
  const afterRead = countResidentPages(ram)! - before;
  if (readFaultsResident) t.true(afterRead > written, 'this host makes read pages resident; the count shows it');
  else t.is(afterRead, written, 'a page only read is not counted');
  t.is(countTouchedPages(ram), 2, 'the zero-written page holds no non-zero byte');
  // The non-zero scan read every page: still no more resident pages (where reads do not fault pages in).
  if (!readFaultsResident) t.is(countResidentPages(ram)! - before, written);
  // A view counts the host pages it spans: page 20's last byte (shifted by the allocator header) is inside.
  if (!thpAlways && !readFaultsResident) t.is(countResidentPages(ram.subarray(15 * 4096, 25 * 4096)), 1);
});

test('the pseudo-random initrd payload is deterministic, seeded, and wrapped as a newc archive', (t) => {
  const a = pseudoRandomBytes(1 << 16, 'x');
  t.is(a.length, 1 << 16);
  t.true(a.equals(pseudoRandomBytes(1 << 16, 'x')));
  t.false(a.equals(pseudoRandomBytes(1 << 16, 'y')));
  // Incompressible-looking: every byte value occurs, none more than 3× its expected 256 times.
  const counts = new Array<number>(256).fill(0);
  for (const b of a) counts[b]++;
  t.true(Math.min(...counts) > 0 && Math.max(...counts) < 3 * 256);
  const initrd = makeLargeInitrd(1 << 20, 'seed');
  const { entries } = readCpio(initrd);
  t.deepEqual(entries.map((e) => e.path), ['init', 'usr', 'usr/lib', 'usr/lib/bench', 'usr/lib/bench/payload.bin']);
  t.is(entries[0].data.toString(), TEST_INIT_SCRIPT);
  t.true(entries[4].data.equals(pseudoRandomBytes(1 << 20, 'seed')));
});

function ukiCase(): BenchCase {
  const image = buildUki({
    stub: fixture('stub-252', 'linuxx64.efi.stub'), stubName: 'linuxx64.efi.stub', linux: fixture('kernel-6.1-cloud', 'vmlinuz'), linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }], cmdline: Buffer.from(BENCH_CMDLINE), osRelease: Buffer.from('ID=debian\n'),
  }).image;
  return { id: 'uki', group: 'uki', description: 'test', image, imagePath: '/nonexistent/uki.efi', bootsLinux: true };
}

test('floor of a UKI: the sections systemd-stub 252 measures, hashed per bank; .linux and .initrd copied', (t) => {
  const f = floorInputs(ukiCase());
  // .uname is in the UKI but systemd 252 does not measure it.
  t.deepEqual(f.measured.map((b) => b.name), ['.linux', '.osrel', '.cmdline', '.initrd']);
  t.deepEqual(f.copied.map((b) => b.name), ['.linux', '.initrd']);
  const vmlinuz = fixture('kernel-6.1-cloud', 'vmlinuz');
  t.true(f.measured[0].data.equals(vmlinuz));
  t.is(f.measured[2].data.toString(), BENCH_CMDLINE);
  t.true(f.copied[1].data.equals(makeTestInitrd()));
  const total = f.measured.reduce((n, b) => n + b.data.length, 0);
  t.deepEqual(floorBytes(f), { hashed: total * DEFAULT_PCR_BANKS.length, copied: vmlinuz.length + makeTestInitrd().length });
  const { ms, digests } = floorOnce(f);
  t.true(ms > 0);
  t.is(digests.length, 4 * DEFAULT_PCR_BANKS.length);
  t.is(digests[0], createHash('sha1').update(vmlinuz).digest('hex'));
  t.is(digests[1], createHash('sha256').update(vmlinuz).digest('hex'));
});

test('floor of a bare kernel: image and initrd; of another image: the image', (t) => {
  const image = Buffer.from('kernel bytes');
  const initrd = Buffer.from('initrd bytes!');
  const k = floorInputs({ id: 'kernel', group: 'kernel', description: '', image, imagePath: '', initrd, bootsLinux: true });
  t.deepEqual(k.measured.map((b) => b.data), [image, initrd]);
  t.deepEqual(floorBytes(k, ['sha256']), { hashed: 25, copied: 25 });
  const s = floorInputs({ id: 'sample:x', group: 'samples', description: '', image, imagePath: '', bootsLinux: false });
  t.deepEqual(s.measured.map((b) => b.name), ['image']);
});

test('targets: met or not met at their bounds, undefined without a figure', (t) => {
  const base = { childToEbsMs: 100, runImageMs: 50, floorMs: 10, peakRssMiB: 300, touchedMiB: 100 };
  t.deepEqual(evaluateTargets({ ...base, qemuToKernelMs: 100 * TARGETS.qemuSpeedup }).qemu, { value: 20, met: true });
  t.false(evaluateTargets({ ...base, qemuToKernelMs: 1999 }).qemu.met);
  t.deepEqual(evaluateTargets({ ...base, qemuToKernelMs: undefined }).qemu, { value: undefined, met: undefined });
  const r = evaluateTargets({ ...base, qemuToKernelMs: undefined });
  t.deepEqual(r.floor, { value: 5, met: true });
  t.deepEqual(r.rss, { value: 200, met: true });
  t.false(evaluateTargets({ ...base, qemuToKernelMs: undefined, runImageMs: 51, peakRssMiB: 301 }).floor.met);
  t.false(evaluateTargets({ ...base, qemuToKernelMs: undefined, peakRssMiB: 301 }).rss.met);
});

test('options: defaults, a case list in canonical order, refusals', (t) => {
  const d = parseBenchArgs([]);
  t.deepEqual([d.runs, d.cases, d.qemu, d.json], [5, ['uki', 'uki64', 'kernel', 'samples', 'uki-xz', 'uki612'], true, undefined]);
  const o = parseBenchArgs(['--runs', '3', '--cases', 'kernel,uki', '--no-qemu', '--json', 'out.json']);
  t.deepEqual([o.runs, o.cases, o.qemu, o.json], [3, ['uki', 'kernel'], false, 'out.json']);
  t.throws(() => parseBenchArgs(['--runs', '2']), { instanceOf: BenchUsageError });
  t.throws(() => parseBenchArgs(['--cases', 'uki,floppy']), { instanceOf: BenchUsageError, message: /floppy/ });
  t.throws(() => parseBenchArgs(['--frobnicate']), { instanceOf: BenchUsageError });
});

test('table: first column left, others right, widths from the widest cell', (t) => {
  t.is(renderTable(['case', 'time'], [['a', '1 s'], ['longer', '10 s']]), 'case    time\n------  ----\na        1 s\nlonger  10 s');
});

test('command lines: stubemu run and QEMU for a UKI and for a bare kernel with its initrd', (t) => {
  const tools = { qemu: 'qemu', swtpm: 'swtpm', ovmfCode: '/c.fd', ovmfVars: '/v.fd' };
  const uki: BenchCase = { id: 'uki', group: 'uki', description: '', image: Buffer.alloc(0), imagePath: '/d/uki.efi', bootsLinux: true };
  t.deepEqual(cliArgs(uki).slice(0, 3), ['run', '/d/uki.efi', '--quiet']);
  const ua = qemuArgs(uki, tools, '/t/vars.fd', '/t/sock', '/t/esp');
  t.true(ua.includes('file=fat:rw:/t/esp,format=raw'));
  t.true(ua.includes('tpm-tis,tpmdev=tpm0') && ua.includes('socket,id=chrtpm,path=/t/sock'));
  t.deepEqual(ua.slice(ua.indexOf('-nic'), ua.indexOf('-nic') + 2), ['-nic', 'none']);
  t.false(ua.includes('-kernel'));
  const kernel: BenchCase = { ...uki, id: 'kernel', group: 'kernel', imagePath: '/d/vmlinuz', initrdPath: '/d/initrd.cpio', loadOptions: BENCH_CMDLINE };
  const ka = qemuArgs(kernel, tools, '/t/vars.fd', '/t/sock', '/t/esp');
  t.deepEqual(ka.slice(-6), ['-kernel', '/d/vmlinuz', '-initrd', '/d/initrd.cpio', '-append', BENCH_CMDLINE]);
  const ca = cliArgs(kernel);
  t.deepEqual(ca.slice(ca.indexOf('--initrd')), ['--initrd', '/d/initrd.cpio', '--load-options', BENCH_CMDLINE]);
});

test('a sample measured in a child and in-process: the same service calls, RSS and touched pages reported', async (t) => {
  const path = join(__dirname, '..', '..', 'samples', 'build', 'hello.efi');
  const c: BenchCase = { id: 'sample:hello', group: 'samples', description: '', image: readFileSync(path), imagePath: path, bootsLinux: false };
  const scratch = mkdtempSync(join(tmpdir(), 'bench-test-'));
  try {
    const child = await measureChild(c, scratch);
    const inProcess = measureInProcess(c);
    t.is(child.exitCode, 0, child.summary);
    t.is(inProcess.outcome, 'returned');
    t.is(child.calls, inProcess.calls);
    t.true(inProcess.calls > 0);
    t.true(child.toSummaryMs <= child.toExitMs);
    t.true(child.maxRssKiB > 10 * 1024, `peak RSS ${child.maxRssKiB} KiB`);
    // The firmware's own tables alone fill several pages; far less than the 1 GiB of guest RAM.
    t.true(inProcess.touchedPages > 4 && inProcess.touchedPages < (1 << 30) / 4096);
    t.true(inProcess.stops >= inProcess.calls);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
