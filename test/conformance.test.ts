// The conformance check: parsing and comparison units, then a live slice of the matrix booted in QEMU + OVMF +
// swtpm and in stubemu. The slice is the live check that stubemu's PCR 4 application digests are what OVMF
// measured (it replaced a digest pasted into test/authenticode.test.ts).
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EV } from '../efi-services/tcg/event-data';
import { ParsedEvent } from '../efi-services/tcg/event-log';
import { ensureQemuTools } from '../src/bench/qemu';
import { readCpioArchives, writeCpio, S_IFREG } from '../src/initrd/cpio';
import { CASES, selectCases } from '../src/conformance/cases';
import { compareEvents, compareImageLoads, compareValue, EVENT_CHECKS, imageLoadSummary } from '../src/conformance/compare';
import { conformanceInitrd, INIT_SCRIPT, MARK } from '../src/conformance/guest-init';
import { knownDifference } from '../src/conformance/known';
import { MACHINE } from '../src/conformance/machine';
import { bootInQemu, conformanceQemuArgs } from '../src/conformance/qemu-boot';
import { runCase } from '../src/conformance/run-case';
import { parseGuestReport } from '../src/conformance/serial';
import { unpackedFiles } from '../src/conformance/stubemu-boot';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

function ev(pcr: number, type: number, data: string, digest = data): ParsedEvent {
  return {
    offset: 0, size: 0, pcr, type, data: Buffer.from(data),
    digests: [{ algorithmId: 0x000b, bank: 'sha256', digest: sha256(digest) }, { algorithmId: 0x0004, bank: 'sha1', digest: createHash('sha1').update(digest).digest() }],
  };
}

const pcr = (n: number) => EVENT_CHECKS.find((c) => c.pcr === n)!;

test('identical event sequences compare identical, counting only the PCR checked', (t) => {
  const a = [ev(11, EV.IPL, '.linux'), ev(12, EV.IPL, 'x'), ev(11, EV.IPL, '.initrd')];
  const r = compareEvents(pcr(11), a, a.map((e) => ({ ...e })));
  t.deepEqual([r.status, r.detail], ['identical', '2 events']);
});

test('the first difference names the event, its position and both sides', (t) => {
  const a = [ev(11, EV.IPL, '.linux'), ev(11, EV.IPL, '.cmdline')];
  const b = [ev(11, EV.IPL, '.linux'), ev(11, EV.IPL, '.cmdline', 'other')];
  const r = compareEvents(pcr(11), a, b);
  t.is(r.status, 'different');
  t.regex(r.detail, /^event 2 \(sha256 digest\): expected EV_IPL sha256:[0-9a-f]{16}… "\.cmdline", got EV_IPL/);
  t.regex(compareEvents(pcr(11), a, a.slice(0, 1)).detail, /^event 2: expected EV_IPL .*, got nothing \(stubemu has 1\)/);
  t.regex(compareEvents(pcr(11), a.slice(0, 1), a).detail, /^event 2: expected no more events \(OVMF has 1\)/);
  const data = compareEvents(pcr(11), [ev(11, EV.IPL, 'a', 'd')], [ev(11, EV.IPL, 'b', 'd')]);
  t.regex(data.detail, /\(event data\)/);
});

test('PCR 4 compares only application digests; image event data (addresses, device paths) is not compared', (t) => {
  const app = (data: string, digest: string) => ev(4, EV.EFI_BOOT_SERVICES_APPLICATION, data, digest);
  const a = [ev(4, EV.EFI_ACTION, 'Calling EFI Application from Boot Option'), app('at 0x1000', 'uki'), app('at 0x2000', 'linux')];
  const b = [app('at 0x9000', 'uki'), ev(4, EV.SEPARATOR, '\0\0\0\0'), app('at 0xa000', 'linux')];
  t.is(compareEvents(pcr(4), a, b).status, 'identical');
  t.is(compareEvents(pcr(4), a, [app('x', 'uki'), app('y', 'other')]).status, 'different');
});

test('PCR 4 image data compares length, link-time address and file path, not the location or the disk nodes', (t) => {
  const filePath = (p: string) => { const b = Buffer.from(`${p}\0`, 'utf16le'); const h = Buffer.from([4, 4, 0, 0]); h.writeUInt16LE(4 + b.length, 2); return Buffer.concat([h, b]); };
  const disk = (n: number) => Buffer.from([1, 1, 6, 0, n, 1]);
  const end = Buffer.from([0x7f, 0xff, 4, 0]);
  const load = (at: bigint, length: bigint, dp: Buffer) => {
    const d = Buffer.alloc(32);
    d.writeBigUInt64LE(at, 0); d.writeBigUInt64LE(length, 8); d.writeBigUInt64LE(0x1000n, 16); d.writeBigUInt64LE(BigInt(dp.length), 24);
    return { ...ev(4, EV.EFI_BOOT_SERVICES_APPLICATION, 'x', 'uki'), data: Buffer.concat([d, dp]) };
  };
  const dp = (n: number) => Buffer.concat([disk(n), filePath('\\EFI\\BOOT\\BOOTX64.EFI'), end]);
  t.is(imageLoadSummary(load(1n, 100n, dp(0)).data), 'ImageLengthInMemory 100, ImageLinkTimeAddress 0x1000, path \\EFI\\BOOT\\BOOTX64.EFI');
  t.is(compareImageLoads('i', [load(0x1000n, 100n, dp(0))], [load(0x9000n, 100n, dp(1))]).status, 'identical');
  const r = compareImageLoads('i', [load(1n, 100n, dp(0))], [load(1n, 120n, dp(0))]);
  t.regex(r.detail, /^image 1: expected ImageLengthInMemory 100, .*got ImageLengthInMemory 120,/);
});

test('compareValue: identical, different, and which side did not report', (t) => {
  t.is(compareValue('cmdline', 'a b', 'a b').status, 'identical');
  t.is(compareValue('cmdline', 'a b', 'a').detail, 'expected "a b", got "a"');
  t.is(compareValue('cmdline', undefined, 'a').status, 'missing');
  t.regex(compareValue('cmdline', 'a', undefined).detail, /stubemu/);
});

test('the guest report is read between markers; a garbled log is refused, kernel lines among base64 are skipped', (t) => {
  const log = Buffer.from('event log bytes '.repeat(20));
  const b64 = log.toString('base64').match(/.{1,76}/g)!;
  const serial = [
    'OVMF noise', `${MARK} begin`, `${MARK} cmdline ${Buffer.from('console=ttyS0 quiet\n').toString('base64')}`,
    `${MARK} initrd 1234 ${'ab'.repeat(32)}  -`, `${MARK} files-begin`, `${'cd'.repeat(32)}  ./init`, `${'ef'.repeat(32)}  ./bin/busybox`, `${MARK} files-end`,
    `${MARK} eventlog ${log.length} ${sha256(log).toString('hex')}  -`, `${MARK} eventlog-base64-begin`,
    b64[0], '[    3.1] random: crng init done', ...b64.slice(1), `${MARK} eventlog-base64-end`, `${MARK} end`,
  ].join('\r\n');
  const g = parseGuestReport(serial);
  t.is(g.cmdline, 'console=ttyS0 quiet');
  t.deepEqual(g.initrd, { size: 1234, sha256: 'ab'.repeat(32) });
  t.deepEqual(g.files, { init: 'cd'.repeat(32), 'bin/busybox': 'ef'.repeat(32) });
  t.true(g.eventLog?.equals(log));
  t.deepEqual(g.problems, []);
  t.true(g.complete);
  const garbled = parseGuestReport(serial.replace(b64[2], b64[2].replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))));
  t.is(garbled.eventLog, undefined);
  t.regex(garbled.problems.join('\n'), /garbled/);
  t.false(parseGuestReport('OVMF noise only').complete);
});

test('the conformance initrd holds busybox and /init; unpackedFiles lets later archives override earlier files', (t) => {
  const busybox = Buffer.from('not really busybox');
  const files = unpackedFiles(conformanceInitrd(busybox));
  t.deepEqual(files, { 'bin/busybox': sha256(busybox).toString('hex'), init: sha256(INIT_SCRIPT).toString('hex') });
  t.true(INIT_SCRIPT.includes('poweroff -f') && INIT_SCRIPT.includes('/sys/kernel/security/tpm0/binary_bios_measurements'));
  const two = Buffer.concat([writeCpio([{ path: 'a', mode: S_IFREG | 0o644, data: '1' }]), writeCpio([{ path: 'a', mode: S_IFREG | 0o644, data: '2' }])]);
  t.is(readCpioArchives(two).length, 2);
  t.deepEqual(unpackedFiles(two), { a: sha256('2').toString('hex') });
});

test('QEMU gets the machine stubemu models: memory, SMBIOS identity, TPM on tpm-tis, the ESP read-only', (t) => {
  const args = conformanceQemuArgs({ qemu: 'q', swtpm: 's', ovmfCode: 'CODE', ovmfVars: 'VARS' }, 'vars', 'sock', '/esp').join(' ');
  t.true(args.includes(`-m ${MACHINE.memoryMiB}`));
  t.true(args.includes(`manufacturer=${MACHINE.smbios.manufacturer},product=${MACHINE.smbios.product}`));
  t.true(args.includes('-device tpm-tis,tpmdev=tpm0'));
  t.true(args.includes('file=fat:/esp,format=raw,if=virtio,readonly=on'));
  t.true(args.includes('if=pflash,format=raw,unit=0,readonly=on,file=CODE'));
});

test('the matrix has the cases issue #10 names', (t) => {
  const has = (stub: string, kernel: string) => CASES.some((c) => c.stub === stub && c.kernel === kernel);
  t.true(has('stub-252', 'kernel-6.1') && has('stub-252', 'kernel-6.1-cloud') && has('stub-257', 'kernel-6.12-cloud') && has('stub-262', 'kernel-7-cloud'));
  t.true(CASES.some((c) => c.cmdline === undefined && c.loaderOptions === undefined));
  t.true(CASES.some((c) => c.loaderOptions !== undefined));
  t.throws(() => selectCases(['nope']), { message: /unknown case nope/ });
  t.true(CASES.some((c) => c.secureBootShim && c.inTestSlice));
});

test('the Secure Boot row runs OVMF with SMM and an SMM-only varstore flash, as its secboot build requires', (t) => {
  const args = conformanceQemuArgs({ qemu: 'q', swtpm: 's', ovmfCode: 'CODE', ovmfVars: 'VARS' }, 'VARS', 'SOCK', '/esp', true);
  t.is(args[args.indexOf('-machine') + 1], 'q35,smm=on');
  t.true(args.includes('driver=cfi.pflash01,property=secure,value=on'));
  t.is(conformanceQemuArgs({ qemu: 'q', swtpm: 's', ovmfCode: 'CODE', ovmfVars: 'VARS' }, 'VARS', 'SOCK', '/esp')[1], 'q35');
});

test.serial('live: a boot that never reaches /init ends at the timeout and says why, with the serial tail', async (t) => {
  t.timeout(120_000);
  const tools = ensureQemuTools((l) => t.log(l));
  if (typeof tools === 'string') return t.fail(`the reference cannot run: ${tools}`);
  const esp = mkdtempSync(join(tmpdir(), 'stubemu-conformance-test-'));
  try {
    // No BOOTX64.EFI: OVMF finds nothing to boot and waits in its setup UI.
    const r = await bootInQemu(esp, tools, 15_000);
    // The tail may be empty: under load OVMF prints nothing on the serial port within 15 s.
    t.regex(r.failure ?? '', /^timed out after 15 s; serial tail: "/);
    t.true(r.ms < 30_000);
    t.is(parseGuestReport(r.serial).complete, false);
  } finally {
    rmSync(esp, { recursive: true, force: true });
  }
});

test.serial('live: a QEMU that cannot be started is a failure with the reason', async (t) => {
  const tools = ensureQemuTools((l) => t.log(l));
  if (typeof tools === 'string') return t.fail(`the reference cannot run: ${tools}`);
  const r = await bootInQemu('/nonexistent-esp', { ...tools, qemu: '/nonexistent/qemu-system-x86_64' }, 15_000);
  t.regex(r.failure ?? '', /^cannot start QEMU: .*ENOENT/);
});

// The live slice: real OVMF against stubemu. Missing tools fail the test (scripts/setup.sh installs them).
for (const c of selectCases(undefined, true)) {
  test.serial(`live: ${c.id} in stubemu equals QEMU + OVMF + swtpm`, async (t) => {
    t.timeout(600_000);
    const tools = ensureQemuTools((l) => t.log(l));
    if (typeof tools === 'string') return t.fail(`the reference cannot run: ${tools}`);
    const r = await runCase(c, tools, { qemuTimeoutSeconds: 300, stubemuTimeoutSeconds: 300 });
    t.log(`QEMU ${(r.timings.qemuMs / 1000).toFixed(1)} s, stubemu ${(r.timings.stubemuMs / 1000).toFixed(1)} s`);
    t.deepEqual(r.problems, []);
    // The PCR 4 application digests (the UKI, systemd-boot, the kernel the stub loads) must be what OVMF measured.
    const apps = r.checks.find((k) => k.check === 'PCR 4 apps')!;
    t.is(apps.status, 'identical', apps.detail);
    t.regex(apps.detail, /^[1-9]\d* events?$/);
    if (c.secureBootShim) {
      // Secure Boot policy, separator, the db entry that allowed shim, shim's SbatLevel and the MokList entry that
      // allowed the UKI: PCR 7 event for event as OVMF logged it.
      const pcr7 = r.checks.find((k) => k.check === 'PCR 7')!;
      t.is(pcr7.status, 'identical', pcr7.detail);
      t.regex(pcr7.detail, /^(9|[1-9]\d) events$/);
    }
    for (const k of r.checks) {
      const known = knownDifference(k.check);
      if (k.status === 'identical') continue;
      if (known && k.status === 'different') t.log(`known difference ${k.check}: ${k.detail}`);
      else t.fail(`${k.check}: ${k.status}: ${k.detail}`);
    }
  });
}
