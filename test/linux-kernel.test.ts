// The Debian Linux 6.1 kernel's own EFI stub, run bare to ExitBootServices, and the hand-off it leaves.
import test from 'ava';
import { createHash } from 'node:crypto';
import { runImage } from '../src/api';
import { reportJson } from '../src/report';
import { decodeBootParams } from '../src/linux/boot-params';
import { fixture } from './helpers/fixtures';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('bare vmlinuz with --load-options reaches ExitBootServices and hands over that command line', (t) => {
  const vmlinuz = fixture('kernel-6.1-cloud', 'vmlinuz');
  const cmdline = 'console=ttyS0 root=/dev/vda1 stubemu-test=1';
  const r = runImage({ image: vmlinuz, imageName: 'vmlinuz', loadOptions: cmdline });
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  t.is(r.exitCode, 0);
  const h = r.handoff!.report;
  t.is(h.cmdline, cmdline);
  t.is(h.initrd, null);
  t.is(h.kernel!.fileSha256, sha256(vmlinuz));
  t.is(r.handoff!.blobs.kernel!.length, vmlinuz.length);
  // boot_params read back independently: efi_info names our system table and a memory map in guest RAM.
  const bp = r.handoff!.blobs.bootParams!;
  t.is(bp.subarray(0x1c0, 0x1c4).toString('latin1'), 'EL64');
  const systab = BigInt(bp.readUInt32LE(0x1c4)) | (BigInt(bp.readUInt32LE(0x1d8)) << 32n);
  t.is(systab, r.firmware.systemTable);
  const memmap = BigInt(bp.readUInt32LE(0x1d0)) | (BigInt(bp.readUInt32LE(0x1dc)) << 32n);
  const memmapSize = bp.readUInt32LE(0x1d4);
  t.is(bp.readUInt32LE(0x1c8), 48); // descriptor size as GetMemoryMap reported it
  t.true(memmapSize > 0 && memmapSize % 48 === 0);
  // The memory map the stub captured for the kernel is the one in force at ExitBootServices.
  const descs = memmapSize / 48;
  t.is(descs, r.firmware.map.descriptors().length);
  for (let i = 0; i < descs; i++) {
    const d = r.firmware.map.descriptors()[i];
    t.is(r.firmware.mem.u32(memmap + BigInt(48 * i)), d.type);
    t.is(r.firmware.mem.u64(memmap + BigInt(48 * i + 8)), d.physicalStart);
    t.is(r.firmware.mem.u64(memmap + BigInt(48 * i + 24)), d.numberOfPages);
  }
  // The command line pointer in boot_params points at exactly these ASCII bytes.
  const cmdPtr = BigInt(bp.readUInt32LE(0x228)) | (BigInt(bp.readUInt32LE(0xc8)) << 32n);
  t.is(r.firmware.mem.read(cmdPtr, cmdline.length + 1).toString('latin1'), cmdline + '\0');
  t.deepEqual(decodeBootParams(r.firmware.mem, BigInt(h.bootParams!.address)).cmdline!.text, cmdline);
  // The stub asked for randomness and got the deterministic stream; it installed the initrd/RNG seed tables.
  t.true((r.report.calls as { counts: Record<string, number> }).counts['Rng.GetRNG'] >= 1);
});

test('two runs of the kernel give the same report', (t) => {
  const vmlinuz = fixture('kernel-6.1-cloud', 'vmlinuz');
  const a = runImage({ image: vmlinuz, imageName: 'vmlinuz', loadOptions: 'quiet' });
  const b = runImage({ image: vmlinuz, imageName: 'vmlinuz', loadOptions: 'quiet' });
  t.is(reportJson(a.report), reportJson(b.report));
});

test('bare vmlinuz with --initrd: the firmware LoadFile2 hands the kernel exactly those bytes', (t) => {
  const vmlinuz = fixture('kernel-6.1-cloud', 'vmlinuz');
  const a = Buffer.from('first initrd part'); // 17 bytes: padded to 20 before the next part
  const b = Buffer.from('second');
  const r = runImage({ image: vmlinuz, imageName: 'vmlinuz', loadOptions: 'console=ttyS0', initrds: [a, b] });
  t.is(r.outcome.kind, 'exit-boot-services');
  const expected = Buffer.concat([a, Buffer.alloc(3), b, Buffer.alloc(2)]);
  const h = r.handoff!.report;
  t.is(h.initrd!.size, expected.length);
  t.is(h.initrd!.sha256, sha256(expected));
  t.true(r.handoff!.blobs.initrd!.equals(expected));
  t.regex(r.report.console as string, /EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path/);
  const counts = (r.report.calls as { counts: Record<string, number> }).counts;
  t.true(counts['InitrdLoadFile2.LoadFile'] >= 1);
});

test('--gop: the stub describes the framebuffer in screen_info', (t) => {
  const r = runImage({ image: fixture('kernel-6.1-cloud', 'vmlinuz'), imageName: 'vmlinuz', gop: { width: 800, height: 600 } });
  t.is(r.outcome.kind, 'exit-boot-services');
  const si = r.handoff!.report.bootParams!.screenInfo;
  t.is(si.lfb_width, '800');
  t.is(si.lfb_height, '600');
  t.is(si.lfb_depth, '32');
  t.is(BigInt(si.lfb_base), r.firmware.gop!.frameBufferBase);
  t.is(si.lfb_linelength, String(800 * 4));
});
