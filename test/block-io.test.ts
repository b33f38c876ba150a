// EFI_BLOCK_IO(2) and EFI_DISK_IO(2) on a small device, driven through their function tables as a guest calls
// them: media fields at the spec's offsets, the errors in the order UEFI 2.10 §13.7-13.10 lists them, byte reads
// that straddle blocks, and a token request that completes with its event signalled.
import test from 'ava';
import { TableDecl } from '../core/abi';
import { memberAddress } from '../efi-services/interface';
import { DiskWindow } from '../efi-services/disk/block-device';
import { SparseDisk } from '../efi-services/disk/sparse-disk';
import { BLOCK_IO_MEDIA, blockIoProtocol, EFI_BLOCK_IO_PROTOCOL, writeBlockIoMedia } from '../efi-services/protocols/block-io';
import { blockIo2Protocol, EFI_BLOCK_IO2_PROTOCOL } from '../efi-services/protocols/block-io2';
import { diskIoProtocol, EFI_DISK_IO_PROTOCOL } from '../efi-services/protocols/disk-io';
import { diskIo2Protocol, EFI_DISK_IO2_PROTOCOL } from '../efi-services/protocols/disk-io2';
import { statusName } from '../core/status';
import { FakePlatform } from './helpers/fake-platform';

/** 64 sectors, sector n filled with byte n; a window of 16 sectors from sector 8 (a "partition"). */
function setup() {
  const bytes = Buffer.alloc(64 * 512);
  for (let n = 0; n < 64; n++) bytes.fill(n, n * 512, (n + 1) * 512);
  const disk = new SparseDisk(64, [{ lba: 0, data: bytes }]);
  const part = new DiskWindow('part', () => disk, 8, 16, true);
  const p = new FakePlatform();
  const media = writeBlockIoMedia(p, part);
  const signalled: bigint[] = [];
  return {
    p, disk, media, signalled,
    bio: blockIoProtocol(p, part, media),
    bio2: blockIo2Protocol(p, part, media, (e) => void signalled.push(e)),
    dio: diskIoProtocol(p, part),
    dio2: diskIo2Protocol(p, part, (e) => void signalled.push(e)),
  };
}

const call = (p: FakePlatform, table: bigint, decl: TableDecl, name: string, args: bigint[]) =>
  statusName(p.call(p.mem.u64(memberAddress(table, decl, name)), args));

test('Block I/O media: a 16-block logical partition of 512-byte blocks, revision 3', (t) => {
  const { p, bio, media } = setup();
  t.is(p.mem.u64(bio), 0x2001fn);
  t.is(p.mem.u64(bio + 8n), media);
  t.is(p.mem.u32(media + BigInt(BLOCK_IO_MEDIA.MediaId)), 1);
  t.is(p.mem.u8(media + BigInt(BLOCK_IO_MEDIA.MediaPresent)), 1);
  t.is(p.mem.u8(media + BigInt(BLOCK_IO_MEDIA.LogicalPartition)), 1);
  t.is(p.mem.u32(media + BigInt(BLOCK_IO_MEDIA.BlockSize)), 512);
  t.is(p.mem.u64(media + BigInt(BLOCK_IO_MEDIA.LastBlock)), 15n);
});

test('ReadBlocks reads the window; its errors in the spec order', (t) => {
  const { p, bio } = setup();
  const buf = p.allocate(1024);
  const read = (mediaId: bigint, lba: bigint, size: bigint, b = buf) => call(p, bio, EFI_BLOCK_IO_PROTOCOL, 'ReadBlocks', [bio, mediaId, lba, size, b]);
  t.is(read(1n, 2n, 1024n), 'EFI_SUCCESS');
  t.is(p.mem.u8(buf), 10); // partition block 2 = disk sector 10
  t.is(p.mem.u8(buf + 1023n), 11);
  t.is(read(2n, 0n, 512n), 'EFI_MEDIA_CHANGED');
  t.is(read(1n, 0n, 100n), 'EFI_BAD_BUFFER_SIZE');
  t.is(read(1n, 15n, 1024n), 'EFI_INVALID_PARAMETER'); // runs past LastBlock
  t.is(read(1n, 0n, 512n, 0n), 'EFI_INVALID_PARAMETER');
  t.is(read(1n, 0n, 0n), 'EFI_SUCCESS');
});

test('WriteBlocks then DiskIo.ReadDisk across a block boundary sees the write; the disk behind has it too', (t) => {
  const { p, bio, dio, disk } = setup();
  const buf = p.allocate(512);
  p.mem.fill(buf, 512, 0xee);
  t.is(call(p, bio, EFI_BLOCK_IO_PROTOCOL, 'WriteBlocks', [bio, 1n, 3n, 512n, buf]), 'EFI_SUCCESS');
  t.is(disk.read(11, 1)[0], 0xee);
  const out = p.allocate(16);
  t.is(call(p, dio, EFI_DISK_IO_PROTOCOL, 'ReadDisk', [dio, 1n, BigInt(4 * 512 - 8), 16n, out]), 'EFI_SUCCESS');
  t.deepEqual([...p.mem.view(out, 16)], [...Array(8).fill(0xee), ...Array(8).fill(12)]);
  t.is(p.mem.u64(dio), 0x10000n);
  t.is(call(p, dio, EFI_DISK_IO_PROTOCOL, 'ReadDisk', [dio, 1n, BigInt(16 * 512 - 8), 16n, out]), 'EFI_INVALID_PARAMETER');
});

test('BlockIo2/DiskIo2 with a token: the request completes, TransactionStatus set, the event signalled', (t) => {
  const { p, bio2, dio2, signalled } = setup();
  const buf = p.allocate(512);
  const token = p.allocate(16);
  p.mem.setU64(token, 0xabcn);
  p.mem.setU64(token + 8n, 0xffn);
  t.is(call(p, bio2, EFI_BLOCK_IO2_PROTOCOL, 'ReadBlocksEx', [bio2, 1n, 1n, token, 512n, buf]), 'EFI_SUCCESS');
  t.is(p.mem.u8(buf), 9);
  t.is(p.mem.u64(token + 8n), 0n);
  t.deepEqual(signalled, [0xabcn]);
  // Without a token (or its event) the call blocks and returns the status itself.
  t.is(call(p, dio2, EFI_DISK_IO2_PROTOCOL, 'ReadDiskEx', [dio2, 1n, 513n, 0n, 4n, buf]), 'EFI_SUCCESS');
  t.is(p.mem.u8(buf), 9);
  // A refused request is not queued: its event is not signalled.
  t.is(call(p, bio2, EFI_BLOCK_IO2_PROTOCOL, 'ReadBlocksEx', [bio2, 7n, 1n, token, 512n, buf]), 'EFI_MEDIA_CHANGED');
  t.is(signalled.length, 1);
});

test('interface layouts: member offsets as the spec structures have them (UEFI 2.10 §13.7-13.10)', (t) => {
  const offsets = (decl: TableDecl) => Object.fromEntries(decl.members.map((m) => [m.name, Number(memberAddress(0n, decl, m.name))]));
  t.deepEqual(offsets(EFI_BLOCK_IO_PROTOCOL), { Revision: 0, Media: 8, Reset: 16, ReadBlocks: 24, WriteBlocks: 32, FlushBlocks: 40 });
  t.deepEqual(offsets(EFI_BLOCK_IO2_PROTOCOL), { Media: 0, Reset: 8, ReadBlocksEx: 16, WriteBlocksEx: 24, FlushBlocksEx: 32 });
  t.deepEqual(offsets(EFI_DISK_IO_PROTOCOL), { Revision: 0, ReadDisk: 8, WriteDisk: 16 });
  t.deepEqual(offsets(EFI_DISK_IO2_PROTOCOL), { Revision: 0, Cancel: 8, ReadDiskEx: 16, WriteDiskEx: 24, FlushDiskEx: 32 });
});
