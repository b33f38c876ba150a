// Debian's signed, monolithic GRUB (grub-efi-amd64-signed) as BOOTX64.EFI: it calibrates its TSC on the PIT
// (port 0x61), finds grub.cfg in its own directory on the ESP through Block I/O and its own FAT driver, loads the
// kernel and the initrd named there, and the kernel's EFI stub runs to ExitBootServices. Checked: the command line
// and initrd as the kernel received them (boot_params), against grub.cfg and the initrd file (node:crypto).
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { reportJson } from '../src/report';
import { fixture, fixtureEntry, kernelFile } from './helpers/fixtures';

test('GRUB (grub-efi-amd64-signed) → grub.cfg on the ESP → Linux + initrd to ExitBootServices', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-grub-'));
  try {
    const grub = fixture('grub-signed', 'grubx64.efi');
    const kernel = kernelFile();
    const initrd = createHash('sha512').update('stubemu grub initrd').digest(); // 64 bytes the kernel only passes on
    const args = 'console=ttyS0 stubemu.chain=grub quiet';
    mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
    mkdirSync(join(dir, 'boot'));
    writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), grub);
    writeFileSync(join(dir, 'boot', 'vmlinuz'), kernel);
    writeFileSync(join(dir, 'boot', 'initrd.img'), initrd);
    // grubx64.efi's built-in config looks for grub.cfg beside itself ($cmdpath).
    writeFileSync(join(dir, 'EFI', 'BOOT', 'grub.cfg'), [
      'set timeout=0',
      "echo 'stubemu: grub.cfg read'",
      `linux /boot/vmlinuz ${args}`,
      'initrd /boot/initrd.img',
      'boot',
      '',
    ].join('\n'));
    const r = runImage({ image: grub, imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI', timeoutSeconds: 240 });
    t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
    t.true(r.report.console.includes('stubemu: grub.cfg read'), `grub ${fixtureEntry('grub-signed').version} console: ${r.report.console.slice(0, 300)}`);
    // GRUB's linux command puts BOOT_IMAGE=<path> before the arguments (grub-core/loader/efi/linux.c).
    t.is(r.report.handoff?.cmdline, `BOOT_IMAGE=/boot/vmlinuz ${args}`);
    t.is(r.report.handoff?.initrd?.size, initrd.length);
    t.is(r.report.handoff?.initrd?.sha256, createHash('sha256').update(initrd).digest('hex'));
    // The image running at ExitBootServices is the kernel GRUB placed: its size is vmlinuz's SizeOfImage.
    const pe = kernel.readUInt32LE(0x3c);
    t.is(r.report.handoff?.kernel?.size, kernel.readUInt32LE(pe + 24 + 56));
    // GRUB read the ESP through Block I/O and waited on PIT channel 2 (its TSC calibration).
    t.true((r.report.calls.counts['BlockIo.ReadBlocks'] ?? 0) > 0);
    const port61 = r.report.ports.find((p) => p.port === '0x61');
    t.true((port61?.reads ?? 0) > 1000, JSON.stringify(port61));
    // Deterministic: the kernel GRUB placed itself reads the virtual TSC too (its RDTSC sites are stopped once it is
    // found), so a second run gives the same report byte for byte.
    const again = runImage({ image: grub, imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI', timeoutSeconds: 240 });
    t.is(reportJson(again.report), reportJson(r.report));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shim (shim-signed) → GRUB → Linux without Secure Boot: shim starts grubx64.efi beside it, the kernel reaches ExitBootServices', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-shim-grub-'));
  try {
    const shim = fixture('shim', 'shimx64.efi');
    const grub = fixture('grub-signed', 'grubx64.efi');
    const initrd = createHash('sha512').update('stubemu shim grub initrd').digest();
    const args = 'console=ttyS0 stubemu.chain=shim-grub';
    mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
    mkdirSync(join(dir, 'boot'));
    writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), shim);
    // shim's second stage is grubx64.efi in its own directory (shim's DEFAULT_LOADER).
    writeFileSync(join(dir, 'EFI', 'BOOT', 'grubx64.efi'), grub);
    writeFileSync(join(dir, 'boot', 'vmlinuz'), kernelFile());
    writeFileSync(join(dir, 'boot', 'initrd.img'), initrd);
    writeFileSync(join(dir, 'EFI', 'BOOT', 'grub.cfg'), `set timeout=0\nlinux /boot/vmlinuz ${args}\ninitrd /boot/initrd.img\nboot\n`);
    const r = runImage({ image: shim, imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI', timeoutSeconds: 240 });
    t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
    // shim places GRUB with its own PE loader (no LoadImage); GRUB shows by what it does: its PIT calibration and
    // its reads of the ESP through Block I/O.
    t.true((r.report.ports.find((p) => p.port === '0x61')?.reads ?? 0) > 1000);
    t.true((r.report.calls.counts['BlockIo.ReadBlocks'] ?? 0) > 0);
    t.is(r.report.handoff?.cmdline, `BOOT_IMAGE=/boot/vmlinuz ${args}`);
    t.is(r.report.handoff?.initrd?.sha256, createHash('sha256').update(initrd).digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
