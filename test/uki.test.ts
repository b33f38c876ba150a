// uki build / inspect on the real systemd-stub 252 and Debian kernel: layout, bytes, checksum, objdump, determinism, errors.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parsePe, PeImage, sectionByName } from '../pe/pe-image';
import { makeTestInitrd } from '../src/initrd/cpio';
import { buildAddon, buildUki, joinInitrds, mergeSbat, UkiInputs } from '../src/uki/build';
import { inspectImage, stubEffectiveCmdline } from '../src/uki/inspect';
import { osReleaseTitle, parseOsRelease } from '../src/uki/os-release';
import { PeEditError, peChecksum } from '../src/uki/pe-sections';
import { parseSetupHeader, SetupHeaderError, unameFromKernelVersion } from '../src/uki/setup-header';
import { fixture, fixturePath, kernelRelease, stubIdentity } from './helpers/fixtures';
import { buildPe } from './helpers/pe-builder';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli-uki.js');
const TMP = mkdtempSync(join(tmpdir(), 'stubemu-uki-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

const STUB = fixture('stub-252', 'linuxx64.efi.stub');
const VMLINUZ = fixture('kernel-6.1-cloud', 'vmlinuz');
const RELEASE = kernelRelease();
const INITRD_A = makeTestInitrd();
const INITRD_B = Buffer.from('odd-5'); // 5 bytes: the join must pad it to 8
const CMDLINE = Buffer.from('console=ttyS0 quiet\n');
const OSREL = Buffer.from('# test\nNAME="Stubemu Linux"\nID=stubemu\nVERSION_ID=1\nPRETTY_NAME="Stubemu Linux 1"\n');

const INPUTS: UkiInputs = {
  stub: STUB, stubName: 'linuxx64.efi.stub', linux: VMLINUZ, linuxName: 'vmlinuz',
  initrds: [{ name: 'a', data: INITRD_A }, { name: 'b', data: INITRD_B }], cmdline: CMDLINE, osRelease: OSREL,
};

/** The initrd concatenation ukify's join_initrds makes, computed here independently. */
const pad4 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
const JOINED_INITRD = Buffer.concat([pad4(INITRD_A), pad4(INITRD_B)]);

const built = buildUki(INPUTS);
const UKI = built.image;
const UKI_PATH = join(TMP, 'uki.efi');
writeFileSync(UKI_PATH, UKI);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const rawOf = (file: Buffer, pe: PeImage, name: string): Buffer => {
  const s = sectionByName(pe, name)!;
  return file.subarray(s.pointerToRawData, s.pointerToRawData + s.virtualSize);
};

/** The PE checksum written out differently from src/uki: one big sum of all words, folded at the end. */
function independentChecksum(file: Buffer): number {
  const copy = Buffer.concat([file, Buffer.alloc(file.length % 2)]);
  const at = copy.readUInt32LE(0x3c) + 4 + 20 + 64;
  copy.writeUInt32LE(0, at);
  let total = 0;
  for (let i = 0; i < copy.length; i += 2) total += copy.readUInt16LE(i);
  while (total > 0xffff) total = (total % 0x10000) + Math.floor(total / 0x10000);
  return total + file.length;
}

test('every new section holds exactly its input, in ukify 253 order, with ukify characteristics', (t) => {
  const pe = parsePe(UKI, 'uki');
  const stubPe = parsePe(STUB, 'stub');
  t.is(pe.numberOfSections, stubPe.numberOfSections + 5);
  t.deepEqual(pe.sections.slice(stubPe.numberOfSections).map((s) => s.name), ['.osrel', '.cmdline', '.initrd', '.uname', '.linux']);
  t.deepEqual(rawOf(UKI, pe, '.osrel'), OSREL);
  t.deepEqual(rawOf(UKI, pe, '.cmdline'), CMDLINE);
  t.deepEqual(rawOf(UKI, pe, '.initrd'), JOINED_INITRD);
  t.deepEqual(joinInitrds([INITRD_A, INITRD_B]), JOINED_INITRD);
  t.is(rawOf(UKI, pe, '.uname').toString(), RELEASE);
  t.true(rawOf(UKI, pe, '.linux').equals(VMLINUZ));
  for (const s of pe.sections.slice(stubPe.numberOfSections)) {
    t.is(s.characteristics, s.name === '.linux' ? 0x40000020 : 0x40000040, s.name);
    // Padding up to SizeOfRawData is zero.
    t.true(UKI.subarray(s.pointerToRawData + s.virtualSize, s.pointerToRawData + s.sizeOfRawData).every((b) => b === 0), s.name);
  }
  // The stub's own sections keep their headers and bytes.
  for (const s of stubPe.sections) {
    const n = pe.sections[s.index];
    t.deepEqual([n.name, n.virtualAddress, n.virtualSize, n.pointerToRawData, n.sizeOfRawData], [s.name, s.virtualAddress, s.virtualSize, s.pointerToRawData, s.sizeOfRawData]);
    t.deepEqual(UKI.subarray(n.pointerToRawData, n.pointerToRawData + n.sizeOfRawData), STUB.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData));
  }
  t.is(pe.addressOfEntryPoint, stubPe.addressOfEntryPoint);
  t.is(pe.sizeOfInitializedData, stubPe.sizeOfInitializedData + OSREL.length + CMDLINE.length + JOINED_INITRD.length + RELEASE.length + VMLINUZ.length);
  t.deepEqual(built.warnings, []);
  t.is(built.stubIdentity, stubIdentity());
});

test('sections are aligned, in order, non-overlapping, and SizeOfImage covers the last', (t) => {
  const pe = parsePe(UKI, 'uki');
  const stubPe = parsePe(STUB, 'stub');
  const byVa = [...pe.sections].sort((a, b) => a.virtualAddress - b.virtualAddress);
  for (let i = 1; i < byVa.length; i++) {
    t.true(byVa[i].virtualAddress >= byVa[i - 1].virtualAddress + Math.max(byVa[i - 1].virtualSize, 1), byVa[i].name);
  }
  const byFile = pe.sections.filter((s) => s.sizeOfRawData).sort((a, b) => a.pointerToRawData - b.pointerToRawData);
  for (let i = 1; i < byFile.length; i++) t.true(byFile[i].pointerToRawData >= byFile[i - 1].pointerToRawData + byFile[i - 1].sizeOfRawData);
  const stubEnd = Math.max(...stubPe.sections.map((s) => s.virtualAddress + s.virtualSize));
  let prevEnd = stubEnd;
  for (const s of pe.sections.slice(stubPe.numberOfSections)) {
    t.is(s.virtualAddress % pe.sectionAlignment, 0, s.name);
    t.is(s.pointerToRawData % pe.fileAlignment, 0, s.name);
    t.is(s.sizeOfRawData % pe.fileAlignment, 0, s.name);
    // ukify: the next SectionAlignment boundary after the previous section's end.
    t.is(s.virtualAddress, Math.ceil(prevEnd / pe.sectionAlignment) * pe.sectionAlignment, s.name);
    prevEnd = s.virtualAddress + s.virtualSize;
  }
  t.is(pe.sizeOfImage, Math.ceil(prevEnd / pe.sectionAlignment) * pe.sectionAlignment);
  t.true(pe.sectionTableEnd <= pe.sizeOfHeaders);
  t.is(UKI.length, byFile[byFile.length - 1].pointerToRawData + byFile[byFile.length - 1].sizeOfRawData);
  // The stub's trailing COFF symbol table is gone (ukify strips it), and the header says so.
  t.is(pe.pointerToSymbolTable, 0);
  t.is(pe.numberOfSymbols, 0);
  t.true(built.symbolTableStripped > 0);
});

test('the PE checksum matches an independent computation, and the algorithm reproduces the stub linker\'s', (t) => {
  const pe = parsePe(UKI, 'uki');
  t.is(pe.checkSum, independentChecksum(UKI));
  t.is(pe.checkSum, built.checksum);
  const stubPe = parsePe(STUB, 'stub');
  t.not(stubPe.checkSum, 0);
  t.is(peChecksum(STUB, stubPe.checkSumFileOffset), stubPe.checkSum);
  t.is(independentChecksum(STUB), stubPe.checkSum);
});

test('objdump -h lists the new sections with their sizes and addresses', (t) => {
  const out = execFileSync('objdump', ['-h', UKI_PATH], { encoding: 'utf8' });
  const rows = new Map<string, { size: number; vma: number; off: number }>();
  for (const m of out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]{8})\s+([0-9a-f]{16})\s+[0-9a-f]{16}\s+([0-9a-f]{8})/gm)) {
    rows.set(m[1], { size: parseInt(m[2], 16), vma: parseInt(m[3], 16), off: parseInt(m[4], 16) });
  }
  const pe = parsePe(UKI, 'uki');
  const expected: [string, number][] = [['.linux', VMLINUZ.length], ['.initrd', JOINED_INITRD.length], ['.cmdline', CMDLINE.length], ['.osrel', OSREL.length]];
  for (const [name, size] of expected) {
    const row = rows.get(name);
    t.truthy(row, `${name} missing from objdump:\n${out}`);
    t.is(row!.size, size, name);
    t.is(row!.vma, sectionByName(pe, name)!.virtualAddress, name);
    t.is(row!.off, sectionByName(pe, name)!.pointerToRawData, name);
  }
  t.is(rows.size, pe.numberOfSections);
});

test('uki inspect --json: section hashes equal sha256 of the inputs; setup header and kernel version', (t) => {
  const r = spawnSync(process.execPath, [CLI, 'inspect', UKI_PATH, '--json'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  t.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  t.is(info.kind, 'uki');
  const hash = (name: string): string => info.sections.find((s: { name: string }) => s.name === name).sha256;
  t.is(hash('.linux'), sha(readFileSync(fixturePath('kernel-6.1-cloud', 'vmlinuz'))));
  t.is(hash('.initrd'), sha(JOINED_INITRD));
  t.is(hash('.cmdline'), sha(CMDLINE));
  t.is(hash('.osrel'), sha(OSREL));
  t.is(hash('.uname'), sha(Buffer.from(RELEASE)));
  t.is(info.linux.sha256, sha(VMLINUZ));
  t.is(info.linux.setupHeader.version, '0x20f');
  t.is(info.linux.setupHeader.protocol, '2.15');
  t.true(info.linux.setupHeader.kernelVersion.startsWith(RELEASE), info.linux.setupHeader.kernelVersion);
  t.is(info.linux.setupHeader.kernelRelease, RELEASE);
  t.is(info.linux.setupHeader.fields.boot_flag, '0xaa55');
  t.is(info.linux.setupHeader.fields.header, '0x53726448');
  t.is(info.linux.pe.majorImageVersion, 1);
  t.regex(info.linux.stubBootPath, /^LoadImage/);
  t.is(info.uname, RELEASE);
  t.is(info.cmdline.raw, CMDLINE.toString());
  t.is(info.cmdline.effective, 'console=ttyS0 quiet');
  t.is(info.osRelease.fields.PRETTY_NAME, 'Stubemu Linux 1');
  t.is(info.osRelease.title, 'Stubemu Linux 1');
  t.is(info.stub.identity, stubIdentity());
  t.regex(info.sbat, /^sbat,1,SBAT Version/);
  t.true(info.pe.checkSumValid);
  t.deepEqual(info.initrd.archives[0].entries.map((e: { path: string }) => e.path), ['init', 'etc', 'etc/hostname', 'etc/initrd-release', 'dev', 'bin', 'bin/sh']);
  // The second "initrd" is 5 bytes of text, so listing stops with an error after the first archive.
  t.regex(info.initrd.error, /magic "odd-5/);

  const human = spawnSync(process.execPath, [CLI, 'inspect', UKI_PATH], { encoding: 'utf8', maxBuffer: 1 << 24 });
  t.is(human.status, 0);
  // .linux vsize is the kernel file size (ukify 253 layout: no SizeOfImage padding for a LoadImage-started kernel).
  t.regex(human.stdout, new RegExp(`\\.linux\\s+0x[0-9a-f]+\\s+0x${VMLINUZ.length.toString(16)}\\s`));
  t.regex(human.stdout, /boot protocol 2\.15/);
});

test('uki inspect on a bare vmlinuz shows its PE sections and setup header', (t) => {
  const r = spawnSync(process.execPath, [CLI, 'inspect', fixturePath('kernel-6.1-cloud', 'vmlinuz'), '--json'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  t.is(info.kind, 'kernel');
  t.deepEqual(info.sections.map((s: { name: string }) => s.name), ['.setup', '.compat', '.text', '.data']);
  t.is(info.linux.source, 'file');
  t.is(info.linux.setupHeader.fields.handover_offset, `0x${VMLINUZ.readUInt32LE(0x264).toString(16)}`);
  t.is(info.osRelease, null);
});

test('builds are byte-identical, through the API and the command line', (t) => {
  t.true(buildUki(INPUTS).image.equals(UKI));
  const out = [join(TMP, 'cli1.efi'), join(TMP, 'cli2.efi')];
  const osrelPath = join(TMP, 'os-release');
  writeFileSync(osrelPath, OSREL);
  for (const o of out) {
    const r = spawnSync(process.execPath, [CLI, 'build', '--stub', fixturePath('stub-252', 'linuxx64.efi.stub'), '--linux', fixturePath('kernel-6.1-cloud', 'vmlinuz'),
      '--cmdline', CMDLINE.toString(), '--os-release', `@${osrelPath}`, '-o', o], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
  }
  const [a, b] = out.map((o) => readFileSync(o));
  t.true(a.equals(b));
  t.deepEqual(rawOf(a, parsePe(a, 'cli'), '.osrel'), OSREL);
});

test('a section table too long for the headers moves the stub\'s sections down, keeping every address', (t) => {
  const inputs: UkiInputs = {
    ...INPUTS, dtb: Buffer.from([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0x28]), splash: Buffer.from('BM-not-really'),
    pcrpkey: Buffer.from('-----BEGIN PUBLIC KEY-----\n'), pcrsig: Buffer.from('{"sha256":[]}'),
    extraSections: [{ name: '.extra', data: Buffer.from('x') }],
  };
  const r = buildUki(inputs);
  const pe = parsePe(r.image, 'grown');
  const stubPe = parsePe(STUB, 'stub');
  t.deepEqual(pe.sections.slice(stubPe.numberOfSections).map((s) => s.name),
    ['.osrel', '.cmdline', '.dtb', '.splash', '.pcrpkey', '.initrd', '.uname', '.extra', '.pcrsig', '.linux']);
  t.is(r.headerGrowth, 0x200);
  t.is(pe.sizeOfHeaders, 0x600);
  t.true(pe.sectionTableEnd <= pe.sizeOfHeaders);
  for (const s of stubPe.sections) {
    const n = pe.sections[s.index];
    t.is(n.virtualAddress, s.virtualAddress);
    t.is(n.pointerToRawData, s.pointerToRawData + 0x200);
    t.deepEqual(r.image.subarray(n.pointerToRawData, n.pointerToRawData + n.sizeOfRawData), STUB.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData));
  }
  t.deepEqual(rawOf(r.image, pe, '.pcrsig'), inputs.pcrsig);
  t.is(pe.checkSum, independentChecksum(r.image));
  const path = join(TMP, 'grown.efi');
  writeFileSync(path, r.image);
  t.regex(execFileSync('objdump', ['-h', path], { encoding: 'utf8' }), /\.pcrsig\s+0000000d/);
});

test('--sbat merges into the stub\'s .sbat in place when it fits, and fails clearly when it does not', (t) => {
  const warnings: string[] = [];
  const stubSbat = rawOf(STUB, parsePe(STUB, 'stub'), '.sbat');
  const merged = mergeSbat([{ name: 'stub', data: stubSbat }], ['sbat,1,x\nt,1,T,t,1,u\n'], warnings);
  t.is(merged, `${stubSbat.toString().replace(/\n\0*$/, '')}\nt,1,T,t,1,u\n\0`);
  const r = buildUki({ ...INPUTS, sbat: ['sbat,1,x\nt,1,T,t,1,u\n'] });
  const pe = parsePe(r.image, 'sbat');
  t.is(rawOf(r.image, pe, '.sbat').toString(), merged);
  t.is(sectionByName(pe, '.sbat')!.virtualAddress, 0x19000);
  t.deepEqual(warnings, []);
  const long = `sbat,1,x\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n`;
  t.throws(() => buildUki({ ...INPUTS, sbat: [long] }), { instanceOf: PeEditError, message: /room for 256/ });
});

test('bad inputs exit 2 with one line naming the file and the problem', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  const stub = fixturePath('stub-252', 'linuxx64.efi.stub');
  const linux = fixturePath('kernel-6.1-cloud', 'vmlinuz');
  const cases: [string[], RegExp][] = [
    [['build', '--stub', join(ROOT, 'package.json'), '--linux', linux, '-o', join(TMP, 'x.efi')], /package\.json: IMAGE_DOS_HEADER\.e_magic .* not the "MZ" signature/],
    [['build', '--stub', stub, '--linux', stub, '-o', join(TMP, 'x.efi')], /linuxx64\.efi\.stub: not an x86 Linux bzImage/],
    [['build', '--stub', stub, '--linux', linux, '--section', '.toolongname:x', '-o', join(TMP, 'x.efi')], /section name "\.toolongname" is longer than 8/],
    [['build', '--stub', stub, '--linux', linux, '-o', join(TMP, 'no/such/dir/x.efi')], /cannot write .*no\/such\/dir\/x\.efi: ENOENT/],
    [['build', '--stub', stub, '--linux', join(TMP, 'missing'), '-o', join(TMP, 'x.efi')], /cannot read .*missing \(--linux\): ENOENT/],
    [['build', '--stub', stub, '-o', join(TMP, 'x.efi')], /needs --linux/],
    [['inspect', join(ROOT, 'package.json')], /package\.json: .*"MZ"/],
  ];
  for (const [args, message] of cases) {
    const r = run(...args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('a stub without .sdmagic is a warning; a signed stub or one without header room is refused', (t) => {
  const plain = buildPe({ sections: [{ name: '.text', data: Buffer.alloc(0x40, 0xc3), characteristics: 0x60000020 }] });
  const path = join(TMP, 'plain.efi');
  writeFileSync(path, plain.file);
  const r = spawnSync(process.execPath, [CLI, 'build', '--stub', path, '--linux', fixturePath('kernel-6.1-cloud', 'vmlinuz'), '-o', join(TMP, 'plain-uki.efi')], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /warning: .*plain\.efi: no \.sdmagic/);
  t.true(parsePe(readFileSync(join(TMP, 'plain-uki.efi')), 'plain-uki').sections.some((s) => s.name === '.linux'));

  const signed = buildPe({ sections: [{ name: '.text', data: Buffer.alloc(0x40, 0xc3) }], certificate: Buffer.alloc(16, 1) });
  t.throws(() => buildUki({ ...INPUTS, stub: signed.file, stubName: 'signed.efi' }), { message: /signed\.efi: is signed/ });

  const tight = buildPe({ sections: [{ name: '.text', data: Buffer.alloc(0x40, 0xc3) }], sectionAlignment: 0x200 });
  t.throws(() => buildUki({ ...INPUTS, stub: tight.file, stubName: 'tight.efi' }), { instanceOf: PeEditError, message: /tight\.efi: .*relinked/ });
  t.throws(() => buildUki({ ...INPUTS, stub: UKI, stubName: 'uki.efi' }), { message: /already has a \.osrel section/ });
});

test('setup header fields sit at the boot protocol offsets', (t) => {
  const h = parseSetupHeader(VMLINUZ);
  t.is(h.version, VMLINUZ.readUInt16LE(0x206));
  t.is(h.fields.setup_sects, VMLINUZ[0x1f1]);
  t.is(h.fields.syssize, VMLINUZ.readUInt32LE(0x1f4));
  t.is(h.fields.code32_start, VMLINUZ.readUInt32LE(0x214));
  t.is(h.fields.initrd_addr_max, VMLINUZ.readUInt32LE(0x22c));
  t.is(h.fields.kernel_alignment, VMLINUZ.readUInt32LE(0x230));
  t.is(h.fields.xloadflags, VMLINUZ.readUInt16LE(0x236));
  t.is(h.fields.cmdline_size, VMLINUZ.readUInt32LE(0x238));
  t.is(h.fields.payload_offset, VMLINUZ.readUInt32LE(0x248));
  t.is(h.fields.pref_address, VMLINUZ.readBigUInt64LE(0x258));
  t.is(h.fields.init_size, VMLINUZ.readUInt32LE(0x260));
  t.is(h.fields.kernel_info_offset, VMLINUZ.readUInt32LE(0x268));
  t.is(h.setupSize, (VMLINUZ[0x1f1] + 1) * 512);
  t.is(unameFromKernelVersion(h.kernelVersion), RELEASE);
  t.true(h.xloadflagNames.includes('XLF_EFI_HANDOVER_64'));

  // A protocol 2.10 kernel has no handover_offset (2.11) or kernel_info_offset (2.15).
  const old = Buffer.from(VMLINUZ.subarray(0, 0x1000));
  old.writeUInt16LE(0x20a, 0x206);
  const oh = parseSetupHeader(old);
  t.is(oh.fields.pref_address, old.readBigUInt64LE(0x258));
  t.is(oh.fields.handover_offset, undefined);
  t.is(oh.fields.kernel_info_offset, undefined);
  t.throws(() => parseSetupHeader(STUB, 'stub'), { instanceOf: SetupHeaderError, message: /stub: boot_flag/ });
});

test('os-release is parsed like systemd parse_env_file', (t) => {
  const f = parseOsRelease([
    '# comment', '; also a comment', '  NAME = "Foo \\"Bar\\" \\$x \\q"  ', "ID='single \\n kept'", 'VERSION_ID=1.0   ',
    'JOINED="a"\'b\'c', 'CONT=one\\', 'two', 'KEYONLY', 'EMPTY=', 'ID=second', 'LAST="no newline"',
  ].join('\n'));
  t.deepEqual(Object.fromEntries(f), {
    NAME: 'Foo "Bar" $x \\q', ID: 'second', VERSION_ID: '1.0', JOINED: 'abc', CONT: 'onetwo', EMPTY: '', LAST: 'no newline',
  });
  t.deepEqual([...f.keys()], ['NAME', 'ID', 'VERSION_ID', 'JOINED', 'CONT', 'EMPTY', 'LAST']);
  t.is(osReleaseTitle(f), 'Foo "Bar" $x \\q 1.0');
});

test('the stub 252.6+ cmdline: up to the first NUL, control characters become spaces, trailing spaces go', (t) => {
  t.is(stubEffectiveCmdline(Buffer.from(' a\tb\nc\n\0ignored')), ' a b c');
  t.is(stubEffectiveCmdline(Buffer.from('plain')), 'plain');
});

test('uki inspect names the stub family, what PCR 11 will hold and each profile of a 257 multi-profile UKI; 262 boots with its own loader', (t) => {
  const profilePe = (text: string, cmdline: string): Buffer =>
    buildAddon({ stub: fixture('stub-257', 'addonx64.efi.stub'), stubName: 'addon', profile: Buffer.from(text), cmdline: Buffer.from(cmdline) }).image;
  const uki = buildUki({
    stub: fixture('stub-257', 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz', cmdline: Buffer.from('base'),
    osRelease: OSREL, profile: Buffer.from('ID=base'), joinProfiles: [{ name: 'p1', data: profilePe('ID=one', 'one') }],
  }).image;
  const i = inspectImage(uki, 'uki');
  t.deepEqual(i.stubFamily, { family: '257', versions: 'systemd-stub 257.x' });
  t.deepEqual(i.measuredSections, ['.linux', '.osrel', '.cmdline', '.uname', '.sbat', '.profile']);
  t.deepEqual(i.profiles, [{ index: 0, profile: 'ID=base', sections: ['.profile'] }, { index: 1, profile: 'ID=one', sections: ['.profile', '.cmdline'] }]);
  t.regex(i.linux!.stubBootPath, /^LoadImage \+ StartImage/);
  const u262 = inspectImage(buildUki({ stub: fixture('stub-262', 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz' }).image, 'uki262');
  t.is(u262.stubFamily?.family, '260-262');
  t.regex(u262.linux!.stubBootPath, /^its own PE loader/);
});
