// `--disk FILE`: a raw GPT disk image made here with sfdisk, mkfs.fat and mtools. The GPT as stubemu reads it equals
// sfdisk's own account of the disk; GRUB started from the image's EFI system partition finds grub.cfg on it through
// Block I/O with its own FAT driver and boots the kernel and initrd it names; disks that are no GPT are bad input.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { RawDisk } from '../efi-services/disk/raw-disk';
import { readGpt } from '../efi-services/disk/gpt-read';
import { fixture, kernelFile } from './helpers/fixtures';
import { tool } from './helpers/tools';

const CLI = join(__dirname, '..', 'src', 'cli.js');
const ESP_UUID = '4CA92779-5B82-4F41-AF9B-C3E530258F90';
const DATA_UUID = '2DB1C446-4B41-4A47-8AE8-24BCF0EC2769';
const ARGS = 'console=ttyS0 stubemu.disk=gpt';

let dir: string;
let disk: string;
const initrd = createHash('sha512').update('stubemu disk image initrd').digest();

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stubemu-disk-'));
  disk = join(dir, 'disk.img');
  const esp = join(dir, 'esp.img');
  writeFileSync(disk, Buffer.alloc(0));
  execFileSync('truncate', ['-s', '64M', disk]);
  execFileSync(tool('sfdisk'), ['-q', disk], {
    input: 'label: gpt\nlabel-id: 1EEA7B70-D903-474D-A731-2E826C9B4622\n'
      + `start=2048, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=${ESP_UUID}, name="EFI system"\n`
      + `start=83968, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=${DATA_UUID}, name="data"\n`,
  });
  execFileSync('truncate', ['-s', `${81920 * 512}`, esp]);
  execFileSync(tool('mkfs.fat'), ['-F', '32', '-i', '5354554d', esp], { stdio: 'ignore' });
  execFileSync(tool('mmd'), ['-i', esp, '::/EFI', '::/EFI/BOOT', '::/boot']);
  const put = (name: string, data: Buffer | string, to: string) => {
    writeFileSync(join(dir, name), data);
    execFileSync(tool('mcopy'), ['-i', esp, join(dir, name), to]);
  };
  put('BOOTX64.EFI', fixture('grub-signed', 'grubx64.efi'), '::/EFI/BOOT/BOOTX64.EFI');
  put('vmlinuz', kernelFile(), '::/boot/vmlinuz');
  put('initrd.img', initrd, '::/boot/initrd.img');
  put('grub.cfg', `set timeout=0\necho 'stubemu: grub.cfg from the disk image'\nlinux /boot/vmlinuz ${ARGS}\ninitrd /boot/initrd.img\nboot\n`, '::/EFI/BOOT/grub.cfg');
  execFileSync('dd', [`if=${esp}`, `of=${disk}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('the GPT of a disk image as stubemu reads it is sfdisk\'s', (t) => {
  const sf = JSON.parse(execFileSync(tool('sfdisk'), ['--json', disk], { encoding: 'utf8' })) as {
    partitiontable: { id: string; partitions: { start: number; size: number; type: string; uuid: string; name: string }[] };
  };
  const store = new RawDisk(disk);
  try {
    const gpt = readGpt(store, disk);
    t.is(gpt.diskGuid, sf.partitiontable.id.toLowerCase());
    t.deepEqual(gpt.partitions.map((p) => ({ start: p.start, size: p.sectors, type: p.typeGuid.toUpperCase(), uuid: p.uniqueGuid.toUpperCase(), name: p.name })),
      sf.partitiontable.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type, uuid: p.uuid, name: p.name })));
    t.is(gpt.esp.number, 1);
    // Guest writes stay in memory: read back, the file unchanged.
    const before = createHash('sha256').update(readFileSync(disk)).digest('hex');
    store.write(5, Buffer.alloc(512, 0xab));
    t.deepEqual(store.read(5, 1), Buffer.alloc(512, 0xab));
    t.is(createHash('sha256').update(readFileSync(disk)).digest('hex'), before);
  } finally {
    store.close();
  }
});

test('--disk: GRUB on the image\'s EFI system partition reads grub.cfg through Block I/O and boots Linux + initrd to ExitBootServices', (t) => {
  const r = runImage({ image: fixture('grub-signed', 'grubx64.efi'), imageName: 'BOOTX64.EFI', diskFile: disk, timeoutSeconds: 240 });
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  t.true(r.report.console.includes('stubemu: grub.cfg from the disk image'), r.report.console.slice(0, 300));
  t.is(r.report.handoff?.cmdline, `BOOT_IMAGE=/boot/vmlinuz ${ARGS}`);
  t.is(r.report.handoff?.initrd?.sha256, createHash('sha256').update(initrd).digest('hex'));
  t.is(r.report.options.esp, 'disk image');
  // The boot image's device is the ESP partition as the GPT places it (sfdisk's numbers: start 2048, 81920 sectors).
  t.is(r.report.images[0].devicePath, `PciRoot(0x0)/Pci(0x1,0x1)/HD(1,GPT,${ESP_UUID},0x800,0x14000)/\\EFI\\BOOT\\BOOTX64.EFI`);
  // Nothing but Block I/O served the files: no handle has a SimpleFileSystem.
  t.false(JSON.stringify(r.report.handles).includes('SIMPLE_FILE_SYSTEM'));
  t.true((r.report.calls.counts['BlockIo.ReadBlocks'] ?? 0) > 0);
});

test('--disk: a file that is no GPT disk, a damaged header, or --esp beside it are bad input naming the problem', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'run', join(dir, 'BOOTX64.EFI'), ...args, '--quiet'], { encoding: 'utf8' });
  const plain = join(dir, 'plain.img');
  writeFileSync(plain, Buffer.alloc(64 * 512));
  let c = run('--disk', plain);
  t.is(c.status, 2);
  t.regex(c.stderr, /--disk .*plain\.img: no GPT: LBA 1 lacks the signature "EFI PART" \(byte offset 512 \(0x200\)\)/);
  const damaged = join(dir, 'damaged.img');
  const bytes = readFileSync(disk);
  bytes[512 + 40] ^= 1; // FirstUsableLBA, under the header CRC
  writeFileSync(damaged, bytes);
  c = run('--disk', damaged);
  t.is(c.status, 2);
  t.regex(c.stderr, /damaged\.img: GPT header CRC32 0x[0-9a-f]+ does not match its bytes .*\(byte offset 528 \(0x210\)\)/);
  c = run('--disk', disk, '--esp', dir);
  t.is(c.status, 2);
  t.regex(c.stderr, /--disk and --esp exclude each other/);
  c = run('--disk', join(dir, 'missing.img'));
  t.is(c.status, 2);
  t.regex(c.stderr, /--disk .*missing\.img: cannot open/);
});
