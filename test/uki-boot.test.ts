// Debian's systemd-stub 252 in a UKI built by `stubemu uki build`, with Debian's Linux 6.1 kernel and a generated
// initrd, run to ExitBootServices; the hand-off is checked against the inputs with hashes computed here.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage, RunResult } from '../src/api';
import { buildUki } from '../src/uki/build';
import { makeTestInitrd } from '../src/initrd/cpio';
import { ESP_PARTITION_GUID } from '../efi-services/firmware';
import { fixture, fixtureEntry } from './helpers/fixtures';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

function uki(cmdline?: string): Buffer {
  return buildUki({
    stub: fixture('stub-252', 'linuxx64.efi.stub'),
    stubName: 'linuxx64.efi.stub',
    linux: fixture('kernel-6.1-cloud', 'vmlinuz'),
    linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }],
    cmdline: cmdline === undefined ? undefined : Buffer.from(cmdline),
    osRelease: Buffer.from('ID=debian\nVERSION_ID=12\n'),
  }).image;
}

function variable(r: RunResult, name: string): { utf16?: string; data: string } | undefined {
  return (r.report.variables as { guid: string; name: string; utf16?: string; data: string }[]).find((v) => v.guid === LOADER_GUID && v.name === name);
}

const CMDLINE = 'console=ttyS0 root=/dev/vda1 stubemu=uki';

test('the Debian UKI reaches ExitBootServices; cmdline, initrd and kernel are the UKI sections', (t) => {
  const r = runImage({ image: uki(CMDLINE), imageName: 'debian-uki.efi' });
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  const h = r.handoff!.report;
  t.is(h.cmdline, CMDLINE);
  const initrd = makeTestInitrd();
  t.is(h.initrd!.sha256, sha256(initrd));
  t.is(h.initrd!.size, initrd.length);
  // systemd-stub 252 started the kernel with LoadImage from its .linux section (kernel PE version >= 1).
  t.is(h.kernel!.image, 'debian-uki.efi:.linux');
  t.is(h.kernel!.fileSha256, sha256(fixture('kernel-6.1-cloud', 'vmlinuz')));
  t.true(r.handoff!.blobs.kernel!.equals(fixture('kernel-6.1-cloud', 'vmlinuz')));
  const images = r.report.images as { name: string; source: string; started: boolean }[];
  t.deepEqual(images.map((i) => [i.name, i.source, i.started]), [['debian-uki.efi', 'command line', true], ['debian-uki.efi:.linux', 'buffer', true]]);
  // Where the stub copied its sections: .initrd and .cmdline bytes sit at the ramdisk and cmd_line_ptr addresses.
  const sections = r.report.imageSections as { name: string; copies: { address: string }[]; passedTo: { service: string; argument: string }[] }[];
  t.true(sections.find((s) => s.name === '.initrd')!.copies.some((c) => c.address === h.initrd!.address));
  // The stub measured .linux through the TPM (PCR 11), then LoadImage got a pointer to it and handed the same
  // buffer to the security architecture check (as edk2 does).
  t.deepEqual(sections.find((s) => s.name === '.linux')!.passedTo.map((p) => [p.service, p.argument]), [
    ['Tcg2.HashLogExtendEvent', 'DataToHash'],
    ['BootServices.LoadImage', 'SourceBuffer'],
    ['Security2.FileAuthentication', 'FileBuffer'],
  ]);
});

test('variables the stub sets, as systemd 252 src/boot/efi/stub.c writes them', (t) => {
  const r = runImage({ image: uki(CMDLINE), imageName: 'debian-uki.efi' });
  const version = fixtureEntry('stub-252').version;
  t.is(variable(r, 'StubInfo')!.utf16, `systemd-stub ${version}`);
  t.is(variable(r, 'LoaderDevicePartUUID')!.utf16, ESP_PARTITION_GUID.toUpperCase());
  t.is(variable(r, 'LoaderImageIdentifier')!.utf16, '\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(variable(r, 'LoaderFirmwareInfo')!.utf16, 'stubemu 1.00');
  t.is(variable(r, 'LoaderFirmwareType')!.utf16, 'UEFI 2.100');
  t.is(variable(r, 'StubPcrKernelParameters')!.utf16, '12');
  t.is(variable(r, 'StubPcrInitRDSysExts')!.utf16, '13');
  t.not(variable(r, 'StubFeatures'), undefined);
});

test('a UKI without .cmdline takes the command line from LoadOptions', (t) => {
  const r = runImage({ image: uki(), imageName: 'uki.efi', loadOptions: 'from-load-options quiet' });
  t.is(r.outcome.kind, 'exit-boot-services');
  t.is(r.handoff!.report.cmdline, 'from-load-options quiet');
});

test('LoadOptions override .cmdline without Secure Boot, not with it (systemd 252 stub rule)', (t) => {
  const off = runImage({ image: uki(CMDLINE), imageName: 'uki.efi', loadOptions: 'override' });
  t.is(off.handoff!.report.cmdline, 'override');
  const on = runImage({ image: uki(CMDLINE), imageName: 'uki.efi', loadOptions: 'override', secureBoot: true });
  t.is(on.outcome.kind, 'exit-boot-services', JSON.stringify(on.outcome));
  t.is(on.handoff!.report.cmdline, CMDLINE);
});

test('a kernel with PE image version 0 boots through the EFI handover entry, in place in .linux', (t) => {
  const kernel = Buffer.from(fixture('kernel-6.1-cloud', 'vmlinuz'));
  const opt = kernel.readUInt32LE(0x3c) + 24;
  kernel.writeUInt16LE(0, opt + 44); // MajorImageVersion: systemd-stub 252 then uses linux_exec_efi_handover()
  const built = buildUki({
    stub: fixture('stub-252', 'linuxx64.efi.stub'), stubName: 'stub', linux: kernel, linuxName: 'vmlinuz-v0',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }], cmdline: Buffer.from('console=ttyS0 handover'),
  });
  const r = runImage({ image: built.image, imageName: 'uki-v0.efi' });
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  const h = r.handoff!.report;
  t.deepEqual((r.report.images as { name: string }[]).map((i) => i.name), ['uki-v0.efi']); // no LoadImage
  t.is(h.kernel!.source, 'in place');
  t.is(h.kernel!.section, '.linux');
  t.is(h.kernel!.fileSha256, sha256(kernel));
  t.regex(h.cpu.returnAddress, /^uki-v0\.efi:\.linux\+0x[0-9a-f]+$/);
  t.is(h.cmdline, 'console=ttyS0 handover');
  t.is(h.initrd!.sha256, sha256(makeTestInitrd()));
  // The stub filled boot_params itself: type_of_loader 0xff as linux_x86.c sets it.
  t.is(h.bootParams!.setupHeader.type_of_loader, '0xff');
});

test('the whole chain: Debian systemd-boot finds the UKI on a host-directory ESP, loads it through SimpleFileSystem', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-sdboot-'));
  mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
  mkdirSync(join(dir, 'EFI', 'Linux'), { recursive: true });
  mkdirSync(join(dir, 'loader'), { recursive: true });
  writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), fixture('stub-252', 'systemd-bootx64.efi'));
  writeFileSync(join(dir, 'EFI', 'Linux', 'debian.efi'), uki(CMDLINE)); // a Type #2 entry (Boot Loader Specification)
  writeFileSync(join(dir, 'loader', 'loader.conf'), 'timeout 0\n');
  const r = runImage({ image: fixture('stub-252', 'systemd-bootx64.efi'), imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI' });
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  const images = r.report.images as { name: string; source: string; devicePath?: string }[];
  t.deepEqual(images.map((i) => [i.name, i.source]), [['BOOTX64.EFI', 'command line'], ['debian.efi', 'SimpleFileSystem'], ['debian.efi:.linux', 'buffer']]);
  t.regex(images[1].devicePath!, /\\EFI\\Linux\\debian\.efi$/);
  t.is(r.handoff!.report.cmdline, CMDLINE);
  t.is(r.handoff!.report.initrd!.sha256, sha256(makeTestInitrd()));
  // systemd-boot told the stub where it came from (LoaderEntrySelected names the Type #2 entry).
  t.regex(variable(r, 'LoaderEntrySelected')!.utf16!, /^debian\.efi$/i);
});
