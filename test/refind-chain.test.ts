// Debian's rEFInd as BOOTX64.EFI with a manual stanza in refind.conf: it scans the ESP (Block I/O on the disk and
// partition handles, SimpleFileSystem for the files), starts the UKI, and systemd-stub and the kernel run to
// ExitBootServices. The command line and initrd the kernel received are the UKI's sections (hashes computed here).
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { buildUki } from '../src/uki/build';
import { makeTestInitrd } from '../src/initrd/cpio';
import { fixture } from './helpers/fixtures';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('rEFInd (refind) → UKI from a refind.conf stanza → ExitBootServices with the UKI\'s cmdline and initrd', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-refind-'));
  try {
    const cmdline = 'console=ttyS0 stubemu.chain=refind';
    const initrd = makeTestInitrd();
    const uki = buildUki({
      stub: fixture('stub-252', 'linuxx64.efi.stub'), stubName: 'linuxx64.efi.stub',
      linux: fixture('kernel-6.1-cloud', 'vmlinuz'), linuxName: 'vmlinuz',
      initrds: [{ name: 'initrd', data: initrd }], cmdline: Buffer.from(cmdline),
      osRelease: Buffer.from('ID=debian\nVERSION_ID=12\n'),
    }).image;
    const refind = fixture('refind', 'refind_x64.efi');
    mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
    mkdirSync(join(dir, 'EFI', 'Linux'), { recursive: true });
    writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), refind);
    writeFileSync(join(dir, 'EFI', 'Linux', 'debian.efi'), uki);
    // timeout -1: boot the default entry at once (refind.conf-sample); only the manual stanza is offered.
    writeFileSync(join(dir, 'EFI', 'BOOT', 'refind.conf'), 'timeout -1\nscanfor manual\nmenuentry "Debian UKI" {\n    loader /EFI/Linux/debian.efi\n}\n');
    const r = runImage({ image: refind, imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI', timeoutSeconds: 240 });
    t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
    const started = r.report.images.find((i) => i.name === 'debian.efi');
    t.is(started?.source, 'SimpleFileSystem');
    t.true(started?.devicePath?.endsWith('/\\EFI\\Linux\\debian.efi'));
    t.is(started?.fileSha256, sha256(uki));
    t.is(r.report.handoff?.cmdline, cmdline);
    t.is(r.report.handoff?.initrd?.sha256, sha256(initrd));
    t.true((r.report.calls.counts['BlockIo.ReadBlocks'] ?? 0) > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
