// The real systemd-stubs 254, 257 and 262 (Debian builds) run to ExitBootServices; their measurements are checked
// against PCR values computed here from the UKI's section bytes in systemd's canonical order, and against the
// prediction (`stubemu verify`'s comparison). Multi-profile UKIs (@N) on 257 and 262; companion files (credentials,
// sysexts, confexts, addons) and an SMBIOS command line on 257 and 262.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage, RunResult } from '../src/api';
import { compareEvents, compareVariables, loggedEventsOf } from '../src/pcr/compare';
import { predictPcrs } from '../src/pcr/predict';
import { stubCpio, stubRulesFor } from '../src/pcr/stub-measurements';
import { HostVolume } from '../efi-services/esp/host-volume';
import { buildAddon, buildUki } from '../src/uki/build';
import { fixture, fixturePath, FixtureId, stubIdentity, ukify257Build } from './helpers/fixtures';
import { pesignHash } from './helpers/tools';

const TMP = mkdtempSync(join(tmpdir(), 'stubemu-families-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

const LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';
const VMLINUZ = fixture('kernel-6.1-cloud', 'vmlinuz');
const OSREL = Buffer.from('ID=stubemu\n');
const CMDLINE = Buffer.from('console=ttyS0 base');

/** The section table read directly (PE/COFF §3, §4), independent of the project's parser: name → loaded bytes. */
function sectionsInOrder(file: Buffer): { name: string; data: Buffer }[] {
  const pe = file.readUInt32LE(0x3c);
  const n = file.readUInt16LE(pe + 6);
  const table = pe + 24 + file.readUInt16LE(pe + 20);
  const out: { name: string; data: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const h = table + 40 * i;
    const vsize = file.readUInt32LE(h + 8);
    const raw = file.readUInt32LE(h + 20);
    const rawSize = file.readUInt32LE(h + 16);
    const data = Buffer.concat([file.subarray(raw, raw + Math.min(vsize, rawSize)), Buffer.alloc(Math.max(0, vsize - rawSize))]);
    out.push({ name: file.toString('latin1', h, h + 8).replace(/\0+$/, ''), data });
  }
  return out;
}

const hash = (bank: string, ...parts: Buffer[]): Buffer => parts.reduce((h, p) => h.update(p), createHash(bank)).digest();

/** PCR 11 from zero: for each (name, data) extend H(name NUL) then H(data) — systemd's documented section measurement. */
function pcr11(bank: string, parts: readonly { name: string; data: Buffer }[]): string {
  let pcr: Buffer = Buffer.alloc(hash(bank).length);
  for (const p of parts) {
    pcr = hash(bank, pcr, hash(bank, Buffer.from(`${p.name}\0`)));
    pcr = hash(bank, pcr, hash(bank, p.data));
  }
  return pcr.toString('hex');
}

/** PCR `n` from zero after extending these measured byte strings. */
function pcrOf(bank: string, measured: readonly Buffer[]): string {
  let pcr: Buffer = Buffer.alloc(hash(bank).length);
  for (const m of measured) pcr = hash(bank, pcr, hash(bank, m));
  return pcr.toString('hex');
}

function run(image: Buffer, name: string, loadOptions?: string): RunResult {
  return runImage({ image, imageName: name, loadOptions, timeoutSeconds: 300 });
}

function agreement(image: Buffer, r: RunResult, loadOptions?: string): { agree: boolean; lines: readonly string[] } {
  const p = predictPcrs(image, 'uki', { banks: ['sha1', 'sha256'], loadOptions });
  return compareEvents(p.events, loggedEventsOf(r.firmware.tcg2!.measuredBoot.events), p.scope);
}

/** 262 appends console= for the serial terminal stubemu's ConOut has (as OVMF's) when the command line names none. */
const withConsole = (stubId: string, cmdline: string): string => (stubId === 'stub-262' ? `${cmdline} console=uart,io,0x3f8` : cmdline);

const setBy = (r: RunResult): string[] => (r.report.variableChanges as { guid: string; name: string }[])
  .filter((v) => v.guid === LOADER_GUID).map((v) => v.name);

for (const stubId of ['stub-254', 'stub-257', 'stub-262'] as FixtureId[]) {
  test(`${stubId}: PCR 11 is .linux .osrel .cmdline .uname .sbat (systemd's enum order), PCR 12 the LoadOptions; the prediction agrees`, (t) => {
    const image = buildUki({
      stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz',
      cmdline: CMDLINE, osRelease: OSREL, uname: '6.1.0-test',
    }).image;
    const r = run(image, `${stubId}.efi`, 'quiet x');
    t.is(r.outcome.kind, 'exit-boot-services', r.summary);
    const byName = new Map(sectionsInOrder(image).map((s) => [s.name, s.data]));
    const order = ['.linux', '.osrel', '.cmdline', '.uname', '.sbat'];
    const pcrs = r.report.pcrs as Record<string, Record<string, string>>;
    for (const bank of ['sha1', 'sha256']) {
      t.is(pcrs[bank]['11'], pcr11(bank, order.map((name) => ({ name, data: byName.get(name)! }))), `${bank} PCR 11`);
      t.is(pcrs[bank]['12'], pcrOf(bank, [Buffer.from('quiet x\0', 'utf16le')]), `${bank} PCR 12`);
    }
    const cmp = agreement(image, r, 'quiet x');
    t.true(cmp.agree, cmp.lines.join('\n'));
    t.deepEqual(setBy(r).sort(), [...stubRulesFor(stubIdentity(stubId)).variables].sort());
    const kernelLoads = r.firmware.tcg2!.measuredBoot.events.filter((e) => e.pcr === 4 && e.type === 0x80000003).length;
    t.is(kernelLoads, stubId === 'stub-262' ? 1 : 2, 'the UKI, plus the kernel when the stub uses LoadImage (not 262: own PE loader)');
    // The kernel is found and named either way: LoadImage'd from the .linux buffer, or placed by 262's own PE loader.
    const images = r.report.images as { name: string; source: string }[];
    t.deepEqual(images.map((i) => [i.name, i.source]), [[`${stubId}.efi`, 'command line'], [`${stubId}.efi:.linux`, stubId === 'stub-262' ? 'guest PE loader' : 'buffer']]);
    const kernelSha = createHash('sha256').update(VMLINUZ).digest('hex');
    t.is(r.handoff?.report.kernel?.fileSha256, kernelSha);
    t.true(r.handoff?.blobs.kernel?.equals(VMLINUZ), 'the kexec kernel file is the vmlinuz in .linux');
    t.regex((r.report.outcome as { returnAddress: string }).returnAddress, new RegExp(`^${stubId}\\.efi:\\.linux\\+0x[0-9a-f]+$`));
  });
}

/** Profile PEs built by the real ukify 257 on the addon stub (see test/ukify-257.test.ts). */
function profilePe(name: string, profile: string, cmdline: string): { name: string; data: Buffer } {
  const out = join(TMP, name);
  ukify257Build(['--stub', fixturePath('stub-257', 'addonx64.efi.stub'), '--profile', profile, '--cmdline', cmdline], out);
  return { name, data: readFileSync(out) };
}

for (const [stubId, loadOptions, profile, passed] of [['stub-257', '@1', 1, undefined], ['stub-262', '@2 extra words', 2, 'extra words']] as const) {
  test(`${stubId}: a three-profile UKI booted with LoadOptions "${loadOptions}" measures profile ${profile}'s sections over the base`, (t) => {
    const profiles = [profilePe('p1.efi', 'ID=one', 'one'), profilePe('p2.efi', 'ID=two', 'two')];
    const image = buildUki({
      stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz',
      cmdline: CMDLINE, osRelease: OSREL, uname: '6.1.0-test', profile: Buffer.from('ID=base'), joinProfiles: profiles,
    }).image;
    const r = run(image, `${stubId}-profiles.efi`, loadOptions);
    t.is(r.outcome.kind, 'exit-boot-services', r.summary);
    const all = sectionsInOrder(image);
    const base = new Map(all.slice(0, all.findIndex((s) => s.name === '.profile')).map((s) => [s.name, s.data]));
    const starts = all.map((s, i) => (s.name === '.profile' ? i : -1)).filter((i) => i >= 0);
    const own = new Map(all.slice(starts[profile], starts[profile + 1] ?? all.length).map((s) => [s.name, s.data]));
    t.is(own.get('.cmdline')?.toString(), profile === 1 ? 'one' : 'two');
    const merged = new Map([...base, ...own]);
    const order = ['.linux', '.osrel', '.cmdline', '.uname', '.sbat', '.profile'];
    const pcrs = r.report.pcrs as Record<string, Record<string, string>>;
    t.is(pcrs.sha256['11'], pcr11('sha256', order.map((name) => ({ name, data: merged.get(name)! }))));
    // PCR 12: the profile number (UTF-16 with NUL, a tagged event), then the rest of LoadOptions if any.
    t.is(pcrs.sha256['12'], pcrOf('sha256', [Buffer.from(`${profile}\0`, 'utf16le'), ...(passed ? [Buffer.from(`${passed}\0`, 'utf16le')] : [])]));
    t.is(r.handoff?.report.cmdline, withConsole(stubId, passed ?? (profile === 1 ? 'one' : 'two')));
    const cmp = agreement(image, r, loadOptions);
    t.true(cmp.agree, cmp.lines.join('\n'));
  });
}

for (const stubId of ['stub-257', 'stub-262'] as FixtureId[]) {
  test(`${stubId}: companion files on the ESP and an SMBIOS kernel-cmdline-extra: PCR 12 and 13 are the cpios handed to the kernel`, (t) => {
    const esp = join(TMP, `esp-${stubId}`);
    const extra = join(esp, 'EFI', 'Linux', 'uki.efi.extra.d');
    mkdirSync(extra, { recursive: true });
    mkdirSync(join(esp, 'loader', 'credentials'), { recursive: true });
    const image = buildUki({
      stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz', cmdline: CMDLINE, osRelease: OSREL, uname: '6.1.0-test',
    }).image;
    writeFileSync(join(esp, 'EFI', 'Linux', 'uki.efi'), image);
    const files: Record<string, Buffer> = {
      'b.cred': Buffer.from('bee'), 'A.cred': Buffer.from('ay'), 'old.raw': Buffer.alloc(1500, 7), 'tools.sysext.raw': Buffer.alloc(999, 9),
      'etc.confext.raw': Buffer.alloc(777, 5), 'ignored.txt': Buffer.from('x'),
    };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(extra, name), data);
    writeFileSync(join(esp, 'loader', 'credentials', 'g.cred'), 'global');
    // Addons built by the real ukify 257 on the addon stub: a global one and one for this UKI.
    mkdirSync(join(esp, 'loader', 'addons'), { recursive: true });
    const addon = (path: string, cmdline: string): string => {
      ukify257Build(['--stub', fixturePath(stubId, 'addonx64.efi.stub'), '--cmdline', cmdline], path);
      return path;
    };
    const addons = [addon(join(esp, 'loader', 'addons', 'g.addon.efi'), 'global=1'), addon(join(extra, 'x.addon.efi'), 'addon=one')];
    const oem = ['io.systemd.stub.kernel-cmdline-extra=extra1  x'];
    const r = runImage({ image, imageName: 'uki.efi', loadOptions: 'lo', timeoutSeconds: 300, espDir: esp, imagePath: '\\EFI\\Linux\\uki.efi', smbiosOemStrings: oem });
    t.is(r.outcome.kind, 'exit-boot-services', r.summary);
    const initrd = r.handoff!.blobs.initrd!;
    // The archives as the stub builds them (names sorted by UTF-16 code unit, 255+ sysexts: *.raw but not *.confext.raw).
    const cpio = (names: string[], dir: string, dirMode: number, mode: number): Buffer =>
      stubCpio(names.map((name) => ({ name, data: files[name] ?? Buffer.from('global') })), dir, dirMode, mode);
    const creds = cpio(['A.cred', 'b.cred'], '.extra/credentials', 0o500, 0o400);
    const global = cpio(['g.cred'], '.extra/global_credentials', 0o500, 0o400);
    const sysext = cpio(['old.raw', 'tools.sysext.raw'], '.extra/sysext', 0o555, 0o444);
    const confext = cpio(['etc.confext.raw'], '.extra/confext', 0o555, 0o444);
    for (const [what, c] of [['credentials', creds], ['global credentials', global], ['sysext', sysext], ['confext', confext]] as const) {
      t.true(initrd.indexOf(c) >= 0, `the ${what} cpio is in the initrd the kernel received`);
    }
    const pcrs = r.report.pcrs as Record<string, Record<string, string>>;
    // LoadOptions, then the addons' command lines joined (global first), then the SMBIOS extra, then the cpios.
    t.is(pcrs.sha256['12'], pcrOf('sha256', [Buffer.from('lo\0', 'utf16le'), Buffer.from('global=1 addon=one\0', 'utf16le'),
      Buffer.from('extra1  x\0', 'utf16le'), creds, global, confext]));
    t.is(pcrs.sha256['13'], pcrOf('sha256', [sysext]));
    t.is(r.handoff?.report.cmdline, withConsole(stubId, 'lo global=1 addon=one extra1  x'));
    // The firmware measured each addon's Authenticode digest into PCR 4 when the stub loaded it (pesign computes it here).
    const pcr4 = r.firmware.tcg2!.measuredBoot.events.filter((e) => e.pcr === 4 && e.type === 0x80000003).map((e) => (e.digests.sha256 as Buffer).toString('hex'));
    t.deepEqual(pcr4.slice(1, 3), addons.map((a) => pesignHash(a)));
    const p = predictPcrs(image, 'uki', {
      banks: ['sha1', 'sha256'], loadOptions: 'lo', smbiosOemStrings: oem,
      esp: { volume: new HostVolume(esp, { writable: false, overlay: false }), imagePath: '\\EFI\\Linux\\uki.efi' },
    });
    const cmp = compareEvents(p.events, loggedEventsOf(r.firmware.tcg2!.measuredBoot.events), p.scope);
    t.true(cmp.agree, cmp.lines.join('\n'));
  });
}

test('stub-257: a .dtbauto that matches nothing on this machine (no devicetree) is not measured; the prediction agrees', (t) => {
  const dtb = Buffer.concat([Buffer.from([0xd0, 0x0d, 0xfe, 0xed]), Buffer.alloc(60)]);
  const image = buildUki({ stub: fixture('stub-257', 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz', cmdline: CMDLINE, uname: '6.1.0-test', dtbauto: [dtb] }).image;
  const r = run(image, 'dtbauto.efi');
  t.is(r.outcome.kind, 'exit-boot-services', r.summary);
  const byName = new Map(sectionsInOrder(image).map((s) => [s.name, s.data]));
  t.true(byName.has('.dtbauto'));
  const pcrs = r.report.pcrs as Record<string, Record<string, string>>;
  t.is(pcrs.sha256['11'], pcr11('sha256', ['.linux', '.cmdline', '.uname', '.sbat'].map((name) => ({ name, data: byName.get(name)! }))));
  const cmp = agreement(image, r);
  t.true(cmp.agree, cmp.lines.join('\n'));
});

/**
 * stub.c export_pcr_variables and combine_measured_flag, as read per family: StubPcrKernelParameters needs every PCR 12
 * contributor measured, each credential directory counting ("nothing" is "not measured"); 257.13's tagged events
 * count as not measured (measure.c tpm_log_tagged_event leaves the flag false); 262 also packs \loader\extensions.
 * Expected sets are written from that reading, per case, and checked against the variables the real stubs set.
 */
const ESP_CASES: readonly { name: string; files: readonly string[]; expect: Record<'stub-254' | 'stub-257' | 'stub-262', string[]> }[] = [
  { name: 'LoadOptions only', files: [], expect: { 'stub-254': [], 'stub-257': [], 'stub-262': [] } },
  { name: "the UKI's credentials only", files: ['extra/a.cred'], expect: { 'stub-254': [], 'stub-257': [], 'stub-262': [] } },
  { name: 'both credential directories', files: ['extra/a.cred', 'creds/g.cred'], expect: { 'stub-254': ['P'], 'stub-257': ['P'], 'stub-262': ['P'] } },
  // 254 ignores an addon without .cmdline; 257.13 counts its tagged event as not measured; 262 as measured.
  { name: 'both credential directories and an initrd addon', files: ['extra/a.cred', 'creds/g.cred', 'extra/i.addon.efi'], expect: { 'stub-254': ['P'], 'stub-257': [], 'stub-262': ['P'] } },
  { name: "the UKI's sysext and confext", files: ['extra/s.sysext.raw', 'extra/e.confext.raw'], expect: { 'stub-254': ['S'], 'stub-257': ['S', 'C'], 'stub-262': [] } },
  { name: 'sysexts and confexts, also in \\loader\\extensions', files: ['extra/s.sysext.raw', 'extra/e.confext.raw', 'ext/gs.sysext.raw', 'ext/ge.confext.raw'], expect: { 'stub-254': ['S'], 'stub-257': ['S', 'C'], 'stub-262': ['S', 'C'] } },
];
const FLAG_NAMES: Record<string, string> = { P: 'StubPcrKernelParameters', S: 'StubPcrInitRDSysExts', C: 'StubPcrInitRDConfExts' };

for (const stubId of ['stub-254', 'stub-257', 'stub-262'] as const) {
  test(`${stubId}: StubPcrKernelParameters, StubPcrInitRDSysExts, StubPcrInitRDConfExts are set exactly when all that feeds them was measured`, (t) => {
    const image = buildUki({ stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz', cmdline: CMDLINE, uname: '6.1.0-test' }).image;
    const fixed = [...stubRulesFor(stubIdentity(stubId)).variables];
    for (const c of ESP_CASES) {
      const esp = join(TMP, `vars-${stubId}-${ESP_CASES.indexOf(c)}`);
      const dirs: Record<string, string> = { extra: join(esp, 'EFI', 'Linux', 'uki.efi.extra.d'), creds: join(esp, 'loader', 'credentials'), ext: join(esp, 'loader', 'extensions') };
      mkdirSync(dirs.extra, { recursive: true });
      writeFileSync(join(esp, 'EFI', 'Linux', 'uki.efi'), image);
      for (const f of c.files) {
        const [dir, name] = f.split('/');
        mkdirSync(dirs[dir], { recursive: true });
        const data = name.endsWith('.addon.efi')
          ? buildAddon({ stub: fixture(stubId, 'addonx64.efi.stub'), stubName: 'addon', initrds: [{ name: 'i', data: Buffer.from('addon initrd') }] }).image
          : Buffer.from(name);
        writeFileSync(join(dirs[dir], name), data);
      }
      const r = runImage({ image, imageName: 'uki.efi', loadOptions: 'lo', timeoutSeconds: 300, espDir: esp, imagePath: '\\EFI\\Linux\\uki.efi' });
      t.is(r.outcome.kind, 'exit-boot-services', `${c.name}: ${r.summary}`);
      const set = setBy(r);
      t.deepEqual(set.filter((v) => !fixed.includes(v)).sort(), c.expect[stubId].map((k) => FLAG_NAMES[k]).sort(), c.name);
      t.deepEqual(fixed.filter((v) => !set.includes(v)), [], `${c.name}: the fixed variables`);
      const p = predictPcrs(image, 'uki', {
        banks: ['sha256'], loadOptions: 'lo', esp: { volume: new HostVolume(esp, { writable: false, overlay: false }), imagePath: '\\EFI\\Linux\\uki.efi' },
      });
      t.deepEqual(compareVariables(p.variables, set).lines.slice(0, -1), [], `${c.name}: the prediction`);
      const cmp = compareEvents(p.events, loggedEventsOf(r.firmware.tcg2!.measuredBoot.events), p.scope);
      t.true(cmp.agree, `${c.name}\n${cmp.lines.join('\n')}`);
    }
  });
}

/** The EV_EVENT_TAG data of a logged event: tag id and the UTF-16 text (PFP §10.4.2.1 TCG_PCClientTaggedEvent). */
function taggedEvent(data: Buffer): { tag: number; text: string } {
  return { tag: data.readUInt32LE(0), text: data.subarray(8, 8 + data.readUInt32LE(4)).toString('utf16le').replace(/\0+$/, '') };
}

for (const stubId of ['stub-254', 'stub-257', 'stub-262'] as FixtureId[]) {
  test(`${stubId}: devicetree, initrd and ucode addons (global and the UKI's, one with another .uname): PCR 12 and the initrd the kernel received`, (t) => {
    const esp = join(TMP, `addons-${stubId}`);
    const extra = join(esp, 'EFI', 'Linux', 'uki.efi.extra.d');
    const global = join(esp, 'loader', 'addons');
    mkdirSync(extra, { recursive: true });
    mkdirSync(global, { recursive: true });
    const ukiInitrd = Buffer.from('UKI-INITRD-0123456789');
    const image = buildUki({
      stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: VMLINUZ, linuxName: 'vmlinuz', cmdline: CMDLINE, uname: '6.1.0-test',
      initrds: [{ name: 'uki-initrd', data: ukiInitrd }],
    }).image;
    writeFileSync(join(esp, 'EFI', 'Linux', 'uki.efi'), image);
    const blob = (s: string): Buffer => Buffer.from(`${s}-${'x'.repeat(40)}`);
    const [G, U1, U2, I2] = [blob('GLOBAL-INITRD-ADDON'), blob('UCODE-ONE'), blob('UCODE-TWO'), blob('OTHER-UNAME-INITRD')];
    const dtb = Buffer.concat([Buffer.from([0xd0, 0x0d, 0xfe, 0xed]), Buffer.alloc(60, 1)]);
    const addonStub = fixture(stubId, 'addonx64.efi.stub');
    const files: Record<string, Buffer> = {
      [join(global, 'g.addon.efi')]: buildAddon({ stub: addonStub, stubName: 'addon', cmdline: Buffer.from('g=1'), initrds: [{ name: 'g', data: G }], ucode: U1 }).image,
      [join(extra, 'a.addon.efi')]: buildAddon({ stub: addonStub, stubName: 'addon', dtb, ucode: U2 }).image,
      [join(extra, 'b.addon.efi')]: buildAddon({ stub: addonStub, stubName: 'addon', uname: '9.9.9-other', initrds: [{ name: 'b', data: I2 }], cmdline: Buffer.from('b=1') }).image,
      [join(extra, 'c.addon.efi')]: buildAddon({ stub: addonStub, stubName: 'addon', uname: '6.1.0-test', cmdline: Buffer.from('c=1') }).image,
      [join(extra, 'd.addon.efi')]: buildAddon({ stub: addonStub, stubName: 'addon', cmdline: Buffer.from('d=1') }).image,
    };
    for (const [path, data] of Object.entries(files)) writeFileSync(path, data);
    const r = runImage({ image, imageName: 'uki.efi', loadOptions: 'lo', timeoutSeconds: 300, espDir: esp, imagePath: '\\EFI\\Linux\\uki.efi' });
    t.is(r.outcome.kind, 'exit-boot-services', r.summary);
    const events = r.firmware.tcg2!.measuredBoot.events;
    // Every addon is loaded with LoadImage (global first, then the UKI's, sorted): the firmware's PCR 4 digests (pesign).
    const pcr4 = events.filter((e) => e.pcr === 4 && e.type === 0x80000003).map((e) => (e.digests.sha256 as Buffer).toString('hex'));
    t.deepEqual(pcr4.slice(1, 6), Object.keys(files).map((p) => pesignHash(p)));
    const initrd = r.handoff!.blobs.initrd!;
    const pcrs = r.report.pcrs as Record<string, Record<string, string>>;
    const utf16 = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf16le');
    if (stubId === 'stub-254') {
      // .cmdline only, one event per directory; a.addon.efi (no .cmdline) and b.addon.efi (other .uname) are ignored.
      t.is(pcrs.sha256['12'], pcrOf('sha256', [utf16('lo'), utf16('g=1'), utf16('c=1 d=1')]));
      t.is(r.handoff?.report.cmdline, 'lo g=1 c=1 d=1');
      t.true(initrd.equals(ukiInitrd), 'the kernel got the UKI .initrd alone');
    } else {
      const section = (path: string, name: string): Buffer => sectionsInOrder(files[path]).find((s) => s.name === name)!.data;
      const dtbData = section(join(extra, 'a.addon.efi'), '.dtb');
      // LoadOptions, the joined command lines, the devicetree addon, ucode addons in reverse order, initrd addons.
      t.is(pcrs.sha256['12'], pcrOf('sha256', [utf16('lo'), utf16('g=1 c=1 d=1'), dtbData,
        section(join(extra, 'a.addon.efi'), '.ucode'), section(join(global, 'g.addon.efi'), '.ucode'), section(join(global, 'g.addon.efi'), '.initrd')]));
      const tagged = events.filter((e) => e.pcr === 12 && e.type === 0x6).map((e) => taggedEvent(e.data));
      t.deepEqual(tagged, [{ tag: 0x6c46f751, text: 'a.addon.efi' }, { tag: 0xdac08e1a, text: 'a.addon.efi' }, { tag: 0xdac08e1a, text: 'g.addon.efi' }, { tag: 0x49dffe0f, text: 'g.addon.efi' }]);
      t.is(r.handoff?.report.cmdline, withConsole(stubId, 'lo g=1 c=1 d=1'));
      // The kernel's initrd: ucode addons (reverse order), the UKI's initrd, the initrd addon last; not b's (other .uname).
      const at = [U2, U1, ukiInitrd, G].map((b) => initrd.indexOf(b));
      t.true(at.every((x, i) => x >= 0 && (i === 0 || x > at[i - 1])), `initrd order ${at.join(' ')}`);
      t.is(initrd.indexOf(I2), -1);
    }
    const p = predictPcrs(image, 'uki', {
      banks: ['sha1', 'sha256'], loadOptions: 'lo', esp: { volume: new HostVolume(esp, { writable: false, overlay: false }), imagePath: '\\EFI\\Linux\\uki.efi' },
    });
    const cmp = compareEvents(p.events, loggedEventsOf(events), p.scope);
    t.true(cmp.agree, cmp.lines.join('\n'));
    t.true(compareVariables(p.variables, setBy(r)).agree);
    t.is(p.pcrs.sha256['12'], pcrs.sha256['12']);
  });
}

/**
 * console.c cmdline_append_console (262.1: every detected console, the main one last): with no console= on the command
 * line, a ConOut whose text output handles include a serial terminal with an ACPI PNP0501 node (UID 0: COM1) gets
 * "console=uart,io,0x3f8"; with a GOP "console=tty0" after it. Not measured by the stub: it shows only in the kernel's
 * PCR 9 LoadOptions event (LINUX_EFI_LOAD_OPTIONS_EVENT_TAG_ID over the UTF-16 command line with its NUL).
 */
for (const [stubId, withGop, expected] of [
  ['stub-262', false, 'base console=uart,io,0x3f8'], ['stub-262', true, 'base console=uart,io,0x3f8 console=tty0'], ['stub-257', false, 'base'],
] as const) {
  test(`${stubId}${withGop ? ' with a GOP' : ''}: the kernel's command line is ${JSON.stringify(expected)}, in its PCR 9 LoadOptions event and not in PCR 12`, (t) => {
    const kernel = fixture('kernel-7-cloud', 'vmlinuz');
    const image = buildUki({ stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: kernel, linuxName: 'vmlinuz', cmdline: Buffer.from('base'), uname: '6.1.0-test' }).image;
    const r = runImage({ image, imageName: 'console.efi', timeoutSeconds: 300, ...(withGop ? { gop: { width: 800, height: 600 } } : {}) });
    t.is(r.outcome.kind, 'exit-boot-services', r.summary);
    t.is(r.handoff?.report.cmdline, expected);
    const events = r.firmware.tcg2!.measuredBoot.events;
    const loadOptions = events.filter((e) => e.pcr === 9 && e.type === 0x6 && e.data.readUInt32LE(0) === 0x8f3b22ed);
    t.is(loadOptions.length, 1);
    t.is((loadOptions[0].digests.sha256 as Buffer).toString('hex'), createHash('sha256').update(Buffer.from(`${expected}\0`, 'utf16le')).digest('hex'));
    t.is(events.filter((e) => e.pcr === 12).length, 0, 'nothing in PCR 12: no LoadOptions, no companion files');
    const cmp = agreement(image, r);
    t.true(cmp.agree, cmp.lines.join('\n'));
  });
}
