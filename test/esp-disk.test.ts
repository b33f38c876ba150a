// The ESP as a GPT disk with a FAT32 partition, read back with Debian's own tools: sfdisk for the partition table,
// fsck.fat for the file system, mcopy for every file's bytes (long names, nested directories, a multi-cluster file).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostVolume } from '../efi-services/esp/host-volume';
import { installEspDisk } from '../efi-services/disk/esp-disk';
import { ESP_PARTITION_GUID } from '../efi-services/firmware';
import { SECTOR } from '../efi-services/disk/sparse-disk';
import { FakePlatform } from './helpers/fake-platform';
import { tool } from './helpers/tools';

const FILES: Record<string, Buffer> = {
  'EFI/BOOT/BOOTX64.EFI': Buffer.alloc(70_000, 0x4d),
  'EFI/debian/grub.cfg': Buffer.from('set timeout=0\nlinux /vmlinuz console=ttyS0\n'),
  'EFI/debian/a rather long file name with spaces.txt': Buffer.from('long name'),
  'EFI/Linux/ünïcode-UKI.efi': Buffer.from('x'.repeat(5000)),
  'loader/loader.conf': Buffer.from('timeout 0\n'),
  'empty': Buffer.alloc(0),
};

test('the ESP disk: GPT as sfdisk reads it, a clean FAT32 for fsck.fat, every file as mcopy reads it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-espdisk-'));
  try {
    const esp = join(dir, 'esp');
    for (const [name, data] of Object.entries(FILES)) {
      mkdirSync(join(esp, name, '..'), { recursive: true });
      writeFileSync(join(esp, name), data);
    }
    const p = new FakePlatform();
    let handles = 0x1000n;
    const d = installEspDisk(p, {
      volume: new HostVolume(esp, { writable: false }), partitionStart: 0x800, partitionSectors: 0x100000,
      partitionGuid: ESP_PARTITION_GUID, diskPath: [], partitionHandle: 0x10n,
      install: (h) => (h === 0n ? (handles += 0x10n) : h), signal: () => {},
    });
    t.false(d.built);
    const disk = d.image();
    // A sparse file of the whole disk: only the sectors that hold data are written.
    const img = join(dir, 'disk.img');
    const fd = openSync(img, 'w');
    ftruncateSync(fd, disk.sectors * SECTOR);
    for (let lba = 0; lba < disk.sectors; lba += 2048) {
      const chunk = disk.read(lba, Math.min(2048, disk.sectors - lba));
      if (chunk.some((b) => b !== 0)) writeSync(fd, chunk, 0, chunk.length, lba * SECTOR);
    }
    closeSync(fd);

    const table = JSON.parse(execFileSync(tool('sfdisk'), ['--json', img], { encoding: 'utf8' })).partitiontable;
    t.is(table.label, 'gpt');
    t.is(table.partitions.length, 1);
    t.is(table.partitions[0].start, 0x800);
    t.is(table.partitions[0].size, 0x100000);
    t.is(table.partitions[0].type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
    t.is(table.partitions[0].uuid, ESP_PARTITION_GUID.toUpperCase());
    execFileSync('sfdisk', ['--verify', img], { encoding: 'utf8' });

    const part = join(dir, 'part.img');
    const pfd = openSync(part, 'w');
    ftruncateSync(pfd, 0x100000 * SECTOR);
    for (let lba = 0; lba < 0x100000; lba += 2048) {
      const chunk = disk.read(0x800 + lba, 2048);
      if (chunk.some((b) => b !== 0)) writeSync(pfd, chunk, 0, chunk.length, lba * SECTOR);
    }
    closeSync(pfd);
    const fsck = execFileSync(tool('fsck.fat'), ['-n', '-v', part], { encoding: 'utf8' });
    t.regex(fsck, /32 bit entries/);
    t.regex(fsck, /11 files, 29\/130812 clusters/); // 6 files and 5 directories; clusters: 6 directories (root too) one each, files 18 + 1 + 1 + 2 + 1
    for (const [name, data] of Object.entries(FILES)) {
      const got = execFileSync(tool('mcopy'), ['-n', '-i', `${img}@@${0x800 * SECTOR}`, `::/${name}`, '-'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' } });
      t.deepEqual(got, data, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
