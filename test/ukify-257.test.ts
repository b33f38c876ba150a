// `stubemu uki build` against Debian trixie's ukify 257 run on the same inputs: the bytes must be identical
// (section order with .linux before .initrd, merged .sbat with the default "uki" line, PE checksum 0, joined profiles).
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAddon, buildUki } from '../src/uki/build';
import { fixture, fixturePath, FixtureId, ukify257Build } from './helpers/fixtures';

const TMP = mkdtempSync(join(tmpdir(), 'stubemu-ukify-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

const VMLINUZ = fixturePath('kernel-6.1-cloud', 'vmlinuz');

/** Runs the real ukify 257 (Debian 257.13) with pefile from the fixtures; returns the file it wrote. */
function ukify(args: readonly string[], out: string): Buffer {
  const path = join(TMP, out);
  ukify257Build(args, path);
  return readFileSync(path);
}

const file = (name: string, data: Buffer | string): string => {
  const p = join(TMP, name);
  writeFileSync(p, data);
  return p;
};

// Deterministic inputs of awkward sizes (not multiples of 4 or of FileAlignment).
const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 0xff));
const INITRD_A = bytes(3001, 1);
const INITRD_B = bytes(999, 2);
const UCODE = bytes(501, 3);
const OSREL = 'ID=stubemu\nPRETTY_NAME="Stubemu 1"\n';

for (const stubId of ['stub-257', 'stub-262'] as FixtureId[]) {
  test(`${stubId}: cmdline, os-release, two initrds, ucode and the kernel's own uname give ukify 257's bytes`, (t) => {
    const stub = fixturePath(stubId, 'linuxx64.efi.stub');
    const expected = ukify(['--stub', stub, '--linux', VMLINUZ, '--initrd', file('a', INITRD_A), '--initrd', file('b', INITRD_B),
      '--microcode', file('ucode', UCODE), '--cmdline', 'console=ttyS0 quiet', '--os-release', `@${file('osrel', OSREL)}`], `${stubId}.efi`);
    const ours = buildUki({
      stub: fixture(stubId, 'linuxx64.efi.stub'), stubName: 'stub', linux: readFileSync(VMLINUZ), linuxName: 'vmlinuz',
      initrds: [{ name: 'a', data: INITRD_A }, { name: 'b', data: INITRD_B }], ucode: UCODE,
      cmdline: Buffer.from('console=ttyS0 quiet'), osRelease: Buffer.from(OSREL),
    });
    t.is(ours.layout, 'ukify-257');
    t.is(ours.checksum, 0);
    t.regex(ours.sbat ?? '', /\nuki,1,UKI,uki,1,https:\/\/uapi-group\.org\/specifications\/specs\/unified_kernel_image\/\n\0$/);
    t.is(ours.image.length, expected.length);
    t.true(ours.image.equals(expected), 'byte-identical to ukify 257');
  });
}

test('a UKI with a base profile and two joined profile PEs (built by ukify 257 from the addon stub) equals ukify 257', (t) => {
  const addon = fixturePath('stub-257', 'addonx64.efi.stub');
  // ukify 257 requires .profile to be the first importable section of a profile PE; linuxx64.efi.stub has a .sbat
  // before it, so profile PEs are built on the addon stub (.text, .sdmagic only).
  const p1 = ukify(['--stub', addon, '--profile', 'ID=one\nTITLE=Profile one', '--cmdline', 'quiet one'], 'p1.efi');
  const p2 = ukify(['--stub', addon, '--profile', 'ID=two', '--cmdline', 'two'], 'p2.efi');
  const stub = fixturePath('stub-257', 'linuxx64.efi.stub');
  const expected = ukify(['--stub', stub, '--linux', VMLINUZ, '--initrd', file('a', INITRD_A), '--cmdline', 'base',
    '--os-release', `@${file('osrel', OSREL)}`, '--profile', 'ID=base', '--join-profile', join(TMP, 'p1.efi'), '--join-profile', join(TMP, 'p2.efi')], 'joined.efi');
  const ours = buildUki({
    stub: fixture('stub-257', 'linuxx64.efi.stub'), stubName: 'stub', linux: readFileSync(VMLINUZ), linuxName: 'vmlinuz',
    initrds: [{ name: 'a', data: INITRD_A }], cmdline: Buffer.from('base'), osRelease: Buffer.from(OSREL),
    profile: Buffer.from('ID=base'), joinProfiles: [{ name: 'p1.efi', data: p1 }, { name: 'p2.efi', data: p2 }],
  });
  t.deepEqual(ours.sections.map((s) => s.name), ['.osrel', '.cmdline', '.uname', '.linux', '.initrd', '.profile', '.profile', '.cmdline', '.profile', '.cmdline']);
  t.true(ours.image.equals(expected), 'byte-identical to ukify 257');
});

test('addons and profile PEs (no --linux) equal ukify 257: the addon gets ADDON_SBAT as a new .sbat, a profile PE none', (t) => {
  const addonStub = fixturePath('stub-257', 'addonx64.efi.stub');
  const expectedAddon = ukify(['--stub', addonStub, '--cmdline', 'addon=one   two', '--initrd', file('ai', INITRD_B)], 'x.addon.efi');
  const addon = buildAddon({ stub: fixture('stub-257', 'addonx64.efi.stub'), stubName: 'addon', cmdline: Buffer.from('addon=one   two'), cmdlineFromText: true, initrds: [{ name: 'ai', data: INITRD_B }] });
  t.deepEqual(addon.sections.map((s) => s.name), ['.cmdline', '.initrd', '.sbat']);
  t.true(addon.image.equals(expectedAddon), 'addon byte-identical to ukify 257');
  const expectedProfile = ukify(['--stub', addonStub, '--profile', 'ID=one', '--cmdline', 'one'], 'profile.efi');
  const profile = buildAddon({ stub: fixture('stub-257', 'addonx64.efi.stub'), stubName: 'addon', profile: Buffer.from('ID=one'), cmdline: Buffer.from('one'), cmdlineFromText: true });
  t.deepEqual(profile.sections.map((s) => s.name), ['.profile', '.cmdline']);
  t.true(profile.image.equals(expectedProfile), 'profile PE byte-identical to ukify 257');
});

for (const stubId of ['stub-257', 'stub-262'] as FixtureId[]) {
  test(`${stubId}: devicetree, initrd and ucode addons with a .uname equal ukify 257's (--devicetree --initrd --microcode --uname)`, (t) => {
    const addonStub = fixturePath(stubId, 'addonx64.efi.stub');
    const dtb = bytes(777, 4);
    const expected = ukify(['--stub', addonStub, '--devicetree', file('dt', dtb), '--initrd', file('ai2', INITRD_A), '--microcode', file('uc', UCODE),
      '--uname', '6.1.0-test'], `${stubId}-dt.addon.efi`);
    const addon = buildAddon({ stub: fixture(stubId, 'addonx64.efi.stub'), stubName: 'addon', dtb, initrds: [{ name: 'ai2', data: INITRD_A }], ucode: UCODE, uname: '6.1.0-test' });
    t.deepEqual(addon.sections.map((s) => s.name), ['.dtb', '.uname', '.initrd', '.ucode', '.sbat']);
    t.true(addon.image.equals(expected), 'addon byte-identical to ukify 257');
  });
}
