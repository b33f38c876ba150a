// PCR prediction for systemd-stub 252 UKIs, checked against hashes recomputed here from the section bytes and against systemd-measure; the event-log comparison.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MemfsVolume } from '../efi-services/esp/memfs-volume';
import { readCpio } from '../src/initrd/cpio';
import { authenticodeDigests } from '../efi-services/tcg/authenticode';
import { EV } from '../efi-services/tcg/event-data';
import { Digests, hashAll, PcrBanks } from '../efi-services/tcg/pcr-banks';
import { compareEvents, LoggedEvent, loggedEventsOf } from '../src/pcr/compare';
import { Bank, PcrPredictError, predictPcrs, PredictedEvent } from '../src/pcr/predict';
import { addonUnameMatches, combineMeasuredFlag, mangleStubCmdline, stubCpio, stubRulesFor, UnsupportedStubError } from '../src/pcr/stub-measurements';
import { buildUki } from '../src/uki/build';
import { appendSections } from '../src/uki/pe-sections';
import { fixture, fixturePath, stubIdentity } from './helpers/fixtures';
import { pesignHash, tool } from './helpers/tools';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli-pcr.js');
const MEASURE = tool('systemd-measure');
const TMP = mkdtempSync(join(tmpdir(), 'stubemu-pcr-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

const STUB = fixture('stub-252', 'linuxx64.efi.stub');
const VMLINUZ = fixture('kernel-6.1-cloud', 'vmlinuz');
const CMDLINE = 'console=ttyS0';
const base = { stub: STUB, stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz' };
const UKI_CMDLINE = buildUki({ ...base, cmdline: Buffer.from(CMDLINE) }).image;
const UKI_BARE = buildUki(base).image;

/** The section table read directly (PE/COFF §3, §4), independent of the project's parser. */
function sections(file: Buffer): Map<string, { va: number; vsize: number; raw: number; rawSize: number }> {
  const pe = file.readUInt32LE(0x3c);
  const n = file.readUInt16LE(pe + 6);
  const table = pe + 24 + file.readUInt16LE(pe + 20);
  const out = new Map<string, { va: number; vsize: number; raw: number; rawSize: number }>();
  for (let i = 0; i < n; i++) {
    const h = table + 40 * i;
    out.set(file.toString('latin1', h, h + 8).replace(/\0+$/, ''),
      { vsize: file.readUInt32LE(h + 8), va: file.readUInt32LE(h + 12), rawSize: file.readUInt32LE(h + 16), raw: file.readUInt32LE(h + 20) });
  }
  return out;
}

const sectionData = (file: Buffer, name: string): Buffer => {
  const s = sections(file).get(name)!;
  return file.subarray(s.raw, s.raw + s.vsize);
};
const hash = (bank: string, ...parts: Buffer[]): Buffer => parts.reduce((h, p) => h.update(p), createHash(bank)).digest();
const zero = (bank: string): Buffer => Buffer.alloc(hash(bank).length);

/** PCR 11 as systemd-measure computes it: per section, extend H(name NUL) then H(data). */
function expectedPcr11(bank: string, parts: readonly [string, Buffer][]): string {
  let pcr = zero(bank);
  for (const [name, data] of parts) {
    pcr = hash(bank, pcr, hash(bank, Buffer.from(`${name}\0`)));
    pcr = hash(bank, pcr, hash(bank, data));
  }
  return pcr.toString('hex');
}

test('the Debian UKI with .cmdline: .linux then .cmdline, name and data, into PCR 11 (sha256)', (t) => {
  const p = predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'] });
  t.is(p.stub, stubIdentity());
  const linux = sectionData(UKI_CMDLINE, '.linux');
  t.is(linux.length, VMLINUZ.length);
  t.deepEqual(p.events.filter((e) => e.pcr === 11).map((e) => [e.pcr, e.type, e.description, e.digests.sha256]), [
    [11, 'EV_IPL', '.linux', hash('sha256', Buffer.from('.linux\0')).toString('hex')],
    [11, 'EV_IPL', '.linux', hash('sha256', VMLINUZ).toString('hex')],
    [11, 'EV_IPL', '.cmdline', hash('sha256', Buffer.from('.cmdline\0')).toString('hex')],
    [11, 'EV_IPL', '.cmdline', hash('sha256', Buffer.from(CMDLINE)).toString('hex')],
  ]);
  t.deepEqual(p.pcrs, { sha256: { 11: expectedPcr11('sha256', [['.linux', VMLINUZ], ['.cmdline', Buffer.from(CMDLINE)]]) } });
  t.deepEqual(p.events.map((e) => e.pcr), [4, 11, 11, 11, 11, 4], 'the UKI is measured before the stub runs, the kernel after');
});

test('the Debian UKI without .cmdline, three banks: only .linux is measured (.uname and .sbat are not UKI sections in 252)', (t) => {
  const banks: Bank[] = ['sha1', 'sha384', 'sha512'];
  const p = predictPcrs(UKI_BARE, 'uki', { banks });
  t.true(sections(UKI_BARE).has('.uname'));
  const pcr11 = p.events.filter((e) => e.pcr === 11);
  t.deepEqual(pcr11.map((e) => e.description), ['.linux', '.linux']);
  for (const bank of banks) {
    t.is(p.pcrs[bank]['11'], expectedPcr11(bank, [['.linux', VMLINUZ]]), bank);
    t.is(pcr11[1].digests[bank], hash(bank, VMLINUZ).toString('hex'));
  }
  t.deepEqual(Object.keys(p.pcrs), banks);
});

test('PCR 11 equals systemd-measure calculate (252) for all four default banks', (t) => {
  writeFileSync(join(TMP, 'linux'), sectionData(UKI_CMDLINE, '.linux'));
  writeFileSync(join(TMP, 'cmdline'), sectionData(UKI_CMDLINE, '.cmdline'));
  const r = spawnSync(MEASURE, ['calculate', `--linux=${join(TMP, 'linux')}`, `--cmdline=${join(TMP, 'cmdline')}`, '--phase=', '--json=short'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const measured = JSON.parse(r.stdout) as Record<string, { pcr: number; hash: string }[]>;
  const p = predictPcrs(UKI_CMDLINE, 'uki');
  t.deepEqual(p.banks, ['sha1', 'sha256', 'sha384', 'sha512']);
  for (const bank of p.banks) t.deepEqual(measured[bank], [{ pcr: 11, hash: p.pcrs[bank]['11'] }], bank);
});

test('the stub hashes VirtualSize bytes of memory, and takes the last section whose name starts with the unified name', (t) => {
  const file = appendSections(STUB, [
    { name: '.osrel', data: Buffer.from('ID=first\n'), characteristics: 0x40000040 },
    { name: '.osrelXY', data: Buffer.from('ID=second\n'), characteristics: 0x40000040 },
    { name: '.cmdline', data: Buffer.from('quiet'), characteristics: 0x40000040, virtualSize: 0x300 },
    { name: '.linux', data: VMLINUZ, characteristics: 0x40000020 },
  ], 'stub').file;
  const p = predictPcrs(file, 'crafted', { banks: ['sha256'] });
  const cmdline = Buffer.concat([Buffer.from('quiet'), Buffer.alloc(0x300 - 5)]);
  t.is(p.pcrs.sha256['11'], expectedPcr11('sha256', [['.linux', VMLINUZ], ['.osrel', Buffer.from('ID=second\n')], ['.cmdline', cmdline]]));
  t.deepEqual(p.events.filter((e) => e.pcr === 11).map((e) => e.what), [
    'section name .linux', `section .linux data (${VMLINUZ.length} bytes)`, 'section name .osrel', 'section .osrel data (10 bytes)',
    'section name .cmdline', 'section .cmdline data (768 bytes)',
  ]);
});

test('a kernel with EFI stub 0.x runs through the handover protocol: no PCR 4 event for it, and PCR 11 hashes the whole VirtualSize', (t) => {
  const old = Buffer.from(VMLINUZ);
  old.writeUInt16LE(0, old.readUInt32LE(0x3c) + 24 + 44); // IMAGE_OPTIONAL_HEADER64.MajorImageVersion
  const uki = buildUki({ ...base, linux: old }).image;
  const s = sections(uki).get('.linux')!;
  const memory = Buffer.concat([uki.subarray(s.raw, s.raw + Math.min(s.vsize, s.rawSize)), Buffer.alloc(Math.max(0, s.vsize - s.rawSize))]);
  t.is(memory.length, s.vsize);
  const p = predictPcrs(uki, 'uki', { banks: ['sha256'] });
  t.is(p.pcr4.linux, null);
  t.deepEqual(p.events.map((e) => e.pcr), [4, 11, 11]);
  t.true(p.notes.some((n) => n.includes('handover')));
  t.is(p.pcrs.sha256['11'], expectedPcr11('sha256', [['.linux', memory]]));
});

test('LoadOptions go to PCR 12 as the mangled UTF-16 string with its NUL, unless Secure Boot keeps .cmdline', (t) => {
  const options = 'root=/dev/vda\tquiet \n ';
  const measured = Buffer.from('root=/dev/vda quiet\0', 'utf16le');
  const expected12 = hash('sha256', zero('sha256'), hash('sha256', measured)).toString('hex');

  const p = predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'], loadOptions: options });
  const e12 = p.events.filter((e) => e.pcr === 12);
  t.deepEqual(e12.map((e) => [e.type, e.description, e.digests.sha256]), [['EV_IPL', 'root=/dev/vda quiet', hash('sha256', measured).toString('hex')]]);
  t.is(p.pcrs.sha256['12'], expected12);
  t.is(p.pcrs.sha256['11'], predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'] }).pcrs.sha256['11'], 'PCR 11 still holds the .cmdline section');

  const sb = predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'], loadOptions: options, secureBoot: true });
  t.false(sb.events.some((e) => e.pcr === 12));
  t.is(sb.pcrs.sha256['12'], '00'.repeat(32));
  t.true(sb.notes.some((n) => n.includes('Secure Boot')));

  const sbBare = predictPcrs(UKI_BARE, 'uki', { banks: ['sha256'], loadOptions: options, secureBoot: true });
  t.is(sbBare.pcrs.sha256['12'], expected12, 'without .cmdline Secure Boot still takes LoadOptions');

  const control = predictPcrs(UKI_BARE, 'uki', { banks: ['sha256'], loadOptions: '\x01console=ttyS0' });
  t.false(control.events.some((e) => e.pcr === 12), 'a first character ≤ 0x1F is ignored');
  t.is(mangleStubCmdline('a\0b'), 'a');
});

/** A newc entry written out field by field (buffer-format.rst), for the expected archives. */
function newc(ino: number, mode: number, name: string, data: Buffer, nameSizeHex?: string): Buffer {
  const f = (v: number): string => v.toString(16).padStart(8, '0');
  const head = `070701${f(ino)}${f(mode)}${f(0)}${f(0)}${f(1)}${f(0)}${f(data.length)}${f(0)}${f(0)}${f(0)}${f(0)}${nameSizeHex ?? f(name.length + 1)}${f(0)}${name}\0`;
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  return Buffer.concat([Buffer.from(head, 'latin1'), pad(head.length), data, pad(data.length)]);
}
const TRAILER = newc(0, 0, 'TRAILER!!!', Buffer.alloc(0), '0000000B');

test('stubCpio reproduces pack_cpio byte for byte, and the kernel reads it', (t) => {
  const files = [{ name: 'a.cred', data: Buffer.from('secret') }, { name: 'b.cred', data: Buffer.from('1234') }];
  const cpio = stubCpio(files, '.extra/credentials', 0o500, 0o400);
  t.deepEqual(cpio, Buffer.concat([
    newc(1, 0o40555, '.extra', Buffer.alloc(0)), newc(2, 0o40500, '.extra/credentials', Buffer.alloc(0)),
    newc(3, 0o100400, '.extra/credentials/a.cred', Buffer.from('secret')), newc(4, 0o100400, '.extra/credentials/b.cred', Buffer.from('1234')),
    TRAILER,
  ]));
  t.is(TRAILER.length, 124);
  t.deepEqual(readCpio(cpio).entries.map((e) => [e.path, e.data.toString()]),
    [['.extra', ''], ['.extra/credentials', ''], ['.extra/credentials/a.cred', 'secret'], ['.extra/credentials/b.cred', '1234']]);
});

test('credential and sysext drop-ins on the ESP: PCR 12 and 13, sorted, filtered as the stub does', (t) => {
  const volume = new MemfsVolume({
    '/EFI/Linux/uki.efi': UKI_BARE,
    '/EFI/Linux/uki.efi.extra.d/b.cred': Buffer.from('B'),
    '/EFI/Linux/uki.efi.extra.d/A.CRED': Buffer.from('A'),
    '/EFI/Linux/uki.efi.extra.d/.hidden.cred': Buffer.from('hidden'),
    '/EFI/Linux/uki.efi.extra.d/notes.txt': Buffer.from('no'),
    '/EFI/Linux/uki.efi.extra.d/tools.raw': Buffer.from('squashfs'),
    '/loader/credentials/g.cred': Buffer.from('G'),
  });
  const p = predictPcrs(UKI_BARE, 'uki', { banks: ['sha256'], esp: { volume, imagePath: '\\EFI\\Linux\\uki.efi' } });
  const creds = Buffer.concat([newc(1, 0o40555, '.extra', Buffer.alloc(0)), newc(2, 0o40500, '.extra/credentials', Buffer.alloc(0)),
    newc(3, 0o100400, '.extra/credentials/A.CRED', Buffer.from('A')), newc(4, 0o100400, '.extra/credentials/b.cred', Buffer.from('B')), TRAILER]);
  const global = Buffer.concat([newc(1, 0o40555, '.extra', Buffer.alloc(0)), newc(2, 0o40500, '.extra/global_credentials', Buffer.alloc(0)),
    newc(3, 0o100400, '.extra/global_credentials/g.cred', Buffer.from('G')), TRAILER]);
  const sysext = Buffer.concat([newc(1, 0o40555, '.extra', Buffer.alloc(0)), newc(2, 0o40555, '.extra/sysext', Buffer.alloc(0)),
    newc(3, 0o100444, '.extra/sysext/tools.raw', Buffer.from('squashfs')), TRAILER]);
  const h = (b: Buffer): string => hash('sha256', b).toString('hex');
  t.deepEqual(p.events.filter((e) => e.pcr === 12 || e.pcr === 13).map((e) => [e.pcr, e.description, e.digests.sha256]), [
    [12, 'Credentials initrd', h(creds)], [12, 'Global credentials initrd', h(global)], [13, 'System extension initrd', h(sysext)],
  ]);
  t.is(p.pcrs.sha256['12'], hash('sha256', hash('sha256', zero('sha256'), hash('sha256', creds)), hash('sha256', global)).toString('hex'));
  t.is(p.pcrs.sha256['13'], hash('sha256', zero('sha256'), hash('sha256', sysext)).toString('hex'));
});

test('PCR 4: the firmware measures the UKI file first and the .linux buffer the stub passes to LoadImage last', (t) => {
  const calls: { data: Buffer; algorithm: string }[] = [];
  const fake = (data: Buffer, algorithm: string): Buffer => {
    calls.push({ data: Buffer.from(data), algorithm });
    return hash(algorithm, Buffer.from('authenticode'), data);
  };
  const p = predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'], authenticode: fake });
  t.is(calls.length, 2);
  t.true(calls[0].data.equals(UKI_CMDLINE));
  t.true(calls[1].data.equals(VMLINUZ));
  t.deepEqual(p.events.map((e) => `${e.pcr} ${e.type}`), [
    '4 EV_EFI_BOOT_SERVICES_APPLICATION', '11 EV_IPL', '11 EV_IPL', '11 EV_IPL', '11 EV_IPL', '4 EV_EFI_BOOT_SERVICES_APPLICATION',
  ]);
  t.deepEqual(p.pcr4, {
    uki: { sha256: hash('sha256', Buffer.from('authenticode'), UKI_CMDLINE).toString('hex') },
    linux: { sha256: hash('sha256', Buffer.from('authenticode'), VMLINUZ).toString('hex') },
  });
  t.deepEqual(Object.keys(p.pcrs.sha256), ['11'], 'PCR 4 also holds firmware events, so no value is claimed for it');
});

test('PCR 4 digests equal pesign -h (sha256 Authenticode) of the UKI and of the .linux buffer', (t) => {
  const uki = join(TMP, 'pesign-uki.efi');
  const linux = join(TMP, 'pesign-linux.efi');
  writeFileSync(uki, UKI_CMDLINE);
  writeFileSync(linux, sectionData(UKI_CMDLINE, '.linux'));
  const p = predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'] });
  t.is(p.pcr4.uki.sha256, pesignHash(uki));
  t.is(p.pcr4.linux!.sha256, pesignHash(linux));
});

test('a PE without UKI sections, a non-systemd-stub image and an unresearched stub version are refused', (t) => {
  t.throws(() => predictPcrs(STUB, 'stub'), { instanceOf: PcrPredictError, message: /no \.linux section/ });
  t.throws(() => predictPcrs(VMLINUZ, 'vmlinuz'), { instanceOf: PcrPredictError, message: /no \.sdmagic/ });
  t.throws(() => stubRulesFor('systemd-stub 263.1'), { instanceOf: UnsupportedStubError, message: /version 263\.1 was not researched/ });
  t.throws(() => stubRulesFor('systemd-stub 251.5'), { instanceOf: UnsupportedStubError });
  t.throws(() => stubRulesFor('systemd-stub 252.2'), { instanceOf: UnsupportedStubError });
  t.is(stubRulesFor('systemd-stub 252.39-1~deb12u2').unifiedSections.join(' '), '.linux .osrel .cmdline .initrd .splash .dtb .pcrsig .pcrpkey');

  const r = spawnSync(process.execPath, [CLI, 'predict', fixturePath('stub-252', 'linuxx64.efi.stub')], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^stubemu pcr: .*linuxx64\.efi\.stub: no \.linux section .*Unable to locate embedded \.linux section/);
});

test('stubemu pcr predict --json prints the documented object', (t) => {
  const path = join(TMP, 'uki.efi');
  writeFileSync(path, UKI_CMDLINE);
  const r = spawnSync(process.execPath, [CLI, 'predict', path, '--json', '--pcr-banks', 'sha256,SHA1', '--load-options', 'quiet'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.is(j.stub, stubIdentity());
  t.deepEqual(j.banks, ['sha1', 'sha256']);
  t.is(j.pcrs.sha1['11'], expectedPcr11('sha1', [['.linux', VMLINUZ], ['.cmdline', Buffer.from(CMDLINE)]]));
  t.is(j.pcrs.sha256['12'], hash('sha256', zero('sha256'), hash('sha256', Buffer.from('quiet\0', 'utf16le'))).toString('hex'));
  t.deepEqual(j.events.map((e: PredictedEvent) => e.pcr), [4, 11, 11, 11, 11, 12, 4]);
  t.deepEqual(Object.keys(j.pcr4), ['uki', 'linux']);
  t.deepEqual(Object.keys(j.pcr4.linux), ['sha1', 'sha256']);
  t.is(j.events[0].digests.sha256, j.pcr4.uki.sha256);
});

const ev = (pcr: number, description: string, digest: string): PredictedEvent => ({
  pcr, type: 'EV_IPL', description, descriptionLogged: true, digests: { sha256: digest }, what: description,
});
const PREDICTED = [ev(11, '.linux', 'aa'), ev(11, '.linux', 'bb'), ev(12, 'quiet', 'cc')];
const logOf = (events: readonly PredictedEvent[]): LoggedEvent[] =>
  events.map((e) => ({ pcr: e.pcr, eventType: 0xd, description: `${e.description}\0`, digests: { ...e.digests, sha1: '00' } }));

test('compareEvents: an agreeing log, with firmware events outside the prediction', (t) => {
  const log = [{ pcr: 0, eventType: 0x80000008, digests: { sha256: 'ff' } }, ...logOf(PREDICTED), { pcr: 7, eventType: 4, digests: { sha256: '11' } }];
  t.deepEqual(compareEvents(PREDICTED, log), {
    agree: true,
    lines: [
      '  PCR 11 EV_IPL ".linux"', '  PCR 11 EV_IPL ".linux"', '  PCR 12 EV_IPL "quiet"',
      'banks compared: sha256',
      'not compared: 2 logged event(s) outside the prediction (PCR 0 EV_EFI_PLATFORM_FIRMWARE_BLOB ×1, PCR 7 EV_SEPARATOR ×1)',
      'agree: 3 event(s) as predicted',
    ],
  });
});

test('compareEvents: a missing event, a wrong digest and an unexpected event', (t) => {
  const log = logOf([ev(11, '.linux', 'bb'), ev(12, 'quiet', 'dd'), ev(12, 'extra', 'ee')]);
  t.deepEqual(compareEvents(PREDICTED, log), {
    agree: false,
    lines: [
      '- PCR 11 EV_IPL ".linux": predicted, not in the log',
      '  PCR 11 EV_IPL ".linux"',
      '! PCR 12 EV_IPL "quiet": sha256 predicted cc, logged dd',
      '+ PCR 12 EV_IPL "extra": in the log, not predicted',
      'banks compared: sha256',
      'disagree: 1 as predicted, 1 missing, 1 unexpected, 1 with another digest',
    ],
  });
});

test('compareEvents: PCR 4 scoped to image loads; banks only the prediction has are named', (t) => {
  const image: PredictedEvent = { pcr: 4, type: 'EV_EFI_BOOT_SERVICES_APPLICATION', description: 'UKI (Authenticode)', descriptionLogged: false, digests: { sha256: '44', sha384: '55' }, what: 'uki' };
  const log: LoggedEvent[] = [
    { pcr: 4, eventType: 'EV_EFI_ACTION', description: 'Calling EFI Application from Boot Option', digests: { sha256: '01' } },
    { pcr: 4, eventType: 0x80000003, digests: { sha256: '44' } },
  ];
  t.deepEqual(compareEvents([image], log, [{ pcr: 4, eventTypes: ['EV_EFI_BOOT_SERVICES_APPLICATION'] }]), {
    agree: true,
    lines: [
      '  PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION [UKI (Authenticode)]',
      'banks compared: sha256 (not in the log: sha384)',
      'not compared: 1 logged event(s) outside the prediction (PCR 4 EV_EFI_ACTION ×1)',
      'agree: 1 event(s) as predicted',
    ],
  });
});

test('a log written the way the stub writes it (sha1+sha256 TPM) agrees with the prediction, PCR values included', (t) => {
  // What MeasuredBoot.measure records: an event per HashLogExtendEvent, its digests extended into the PCR banks.
  const tpm = new PcrBanks(['sha1', 'sha256']);
  const events: { pcr: number; type: number; digests: Digests; data: Buffer }[] = [];
  const measure = (pcr: number, type: number, data: Buffer, toHash: Buffer | Digests): void => {
    const digests = Buffer.isBuffer(toHash) ? hashAll(tpm.banks, toHash) : toHash;
    tpm.extendAll(pcr, digests);
    events.push({ pcr, type, digests, data });
  };
  const utf16 = (text: string): Buffer => Buffer.from(`${text}\0`, 'utf16le');
  measure(0, EV.S_CRTM_VERSION, Buffer.alloc(2), Buffer.alloc(2));
  measure(4, EV.EFI_BOOT_SERVICES_APPLICATION, Buffer.alloc(0), authenticodeDigests(UKI_CMDLINE, tpm.banks));
  for (const name of ['.linux', '.cmdline']) {
    measure(11, EV.IPL, utf16(name), Buffer.from(`${name}\0`));
    measure(11, EV.IPL, utf16(name), sectionData(UKI_CMDLINE, name));
  }
  measure(12, EV.IPL, utf16('quiet'), utf16('quiet'));
  measure(4, EV.EFI_BOOT_SERVICES_APPLICATION, Buffer.alloc(0), authenticodeDigests(VMLINUZ, tpm.banks));

  const p = predictPcrs(UKI_CMDLINE, 'uki', { loadOptions: 'quiet' });
  const c = compareEvents(p.events, loggedEventsOf(events), p.scope);
  t.true(c.agree, c.lines.join('\n'));
  t.deepEqual(c.lines.slice(-3), [
    'banks compared: sha1, sha256 (not in the log: sha384, sha512)',
    'not compared: 1 logged event(s) outside the prediction (PCR 0 EV_S_CRTM_VERSION ×1)',
    'agree: 7 event(s) as predicted',
  ]);
  for (const bank of ['sha1', 'sha256']) {
    t.is(tpm.hex()[bank][11], p.pcrs[bank]['11']);
    t.is(tpm.hex()[bank][12], p.pcrs[bank]['12']);
  }

  const other = predictPcrs(UKI_CMDLINE, 'uki', { banks: ['sha256'], loadOptions: 'loud' });
  const d = compareEvents(other.events, loggedEventsOf(events), other.scope);
  t.false(d.agree);
  t.true(d.lines.includes('- PCR 12 EV_IPL "loud": predicted, not in the log'));
  t.true(d.lines.includes('+ PCR 12 EV_IPL "quiet": in the log, not predicted'));
});

test('stubemu verify takes the run options: bad values are refused before anything runs, --no-tpm is refused', (t) => {
  const path = join(TMP, 'verify-uki.efi');
  writeFileSync(path, UKI_CMDLINE);
  const cli = join(ROOT, 'dist/src/cli.js');
  const bad = spawnSync(process.execPath, [cli, 'verify', path, '--timeout', 'soon'], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--timeout: not a positive number: soon/);
  const noTpm = spawnSync(process.execPath, [cli, 'verify', path, '--no-tpm'], { encoding: 'utf8' });
  t.is(noTpm.status, 2);
  t.regex(noTpm.stderr, /drop --no-tpm/);
  const help = spawnSync(process.execPath, [cli, 'verify', '--help'], { encoding: 'utf8' });
  t.is(help.status, 0);
  for (const option of ['--timeout', '--esp', '--load-options', '--secure-boot', '--pcr-banks', '--smbios-oem']) t.true(help.stdout.includes(option), option);
});

test('combine_measured_flag: the first contribution is taken, later ones only clear it, "nothing submitted" changes nothing', (t) => {
  t.is(combineMeasuredFlag(-1, -1), -1);
  t.is(combineMeasuredFlag(-1, 1), 1);
  t.is(combineMeasuredFlag(-1, 0), 0);
  t.is(combineMeasuredFlag(1, 0), 0);
  t.is(combineMeasuredFlag(0, 1), 0);
  t.is(combineMeasuredFlag(1, -1), 1);
});

test("an addon's .uname is compared as strneq8 over the addon's section size (stub.c load_addons)", (t) => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  t.true(addonUnameMatches(b('6.1.0-test'), b('6.1.0-test')));
  t.true(addonUnameMatches(b('6.1.0-test'), b('6.1.0-test\0\0\0')), 'NULs after the text end the comparison');
  t.true(addonUnameMatches(b('6.1.0-test'), b('6.1.0')), 'only the addon section\'s bytes are compared');
  t.false(addonUnameMatches(b('6.1'), b('6.1.0')));
  t.false(addonUnameMatches(b('6.1.0-test'), b('9.9.9-other')));
  t.true(addonUnameMatches(undefined, b('9.9.9')), 'a UKI without .uname takes every addon');
  t.true(addonUnameMatches(b('6.1.0'), undefined), 'an addon without .uname fits every UKI');
});
