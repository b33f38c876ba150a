// EFI_BLOCK_IO_PROTOCOL (UEFI 2.10 §13.9), revision 3, over a BlockDevice; its EFI_BLOCK_IO_MEDIA is shared with
// EFI_BLOCK_IO2_PROTOCOL on the same handle.
import { field, fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { BlockDevice } from '../disk/block-device';
import { buildInterface, memberAddress } from '../interface';
import { Platform } from '../platform';
import { EFI_BAD_BUFFER_SIZE, EFI_INVALID_PARAMETER, EFI_MEDIA_CHANGED, EFI_SUCCESS, EFI_WRITE_PROTECTED, EfiStatus } from '../../core/status';

export const EFI_BLOCK_IO_PROTOCOL_GUID = GUID.BLOCK_IO;
export const EFI_BLOCK_IO_PROTOCOL_REVISION3 = 0x2001fn;

export const EFI_BLOCK_IO_PROTOCOL = tableDecl({
  name: 'EFI_BLOCK_IO_PROTOCOL',
  traceName: 'BlockIo',
  headerSize: 0,
  members: [
    field('Revision'),
    field('Media'),
    fn('Reset', 'This:PTR', 'ExtendedVerification:BOOLEAN'),
    fn('ReadBlocks', 'This:PTR', 'MediaId:UINT32', 'Lba:UINT64', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('WriteBlocks', 'This:PTR', 'MediaId:UINT32', 'Lba:UINT64', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('FlushBlocks', 'This:PTR'),
  ],
});

/** EFI_BLOCK_IO_MEDIA (UEFI 2.10 §13.9.1, revision 3 fields): byte offsets. */
export const BLOCK_IO_MEDIA = {
  MediaId: 0, RemovableMedia: 4, MediaPresent: 5, LogicalPartition: 6, ReadOnly: 7, WriteCaching: 8, BlockSize: 12,
  IoAlign: 16, LastBlock: 24, LowestAlignedLba: 32, LogicalBlocksPerPhysicalBlock: 40,
  OptimalTransferLengthGranularity: 44, size: 48,
} as const;

export function writeBlockIoMedia(platform: Platform, dev: BlockDevice): bigint {
  const m = platform.allocate(BLOCK_IO_MEDIA.size);
  const mem = platform.mem;
  mem.setU32(m + BigInt(BLOCK_IO_MEDIA.MediaId), dev.mediaId);
  mem.write(m + BigInt(BLOCK_IO_MEDIA.MediaPresent), Buffer.from([1, dev.logicalPartition ? 1 : 0, dev.readOnly ? 1 : 0]));
  mem.setU32(m + BigInt(BLOCK_IO_MEDIA.BlockSize), dev.blockSize);
  mem.setU32(m + BigInt(BLOCK_IO_MEDIA.IoAlign), 0);
  mem.setU64(m + BigInt(BLOCK_IO_MEDIA.LastBlock), dev.lastBlock);
  mem.setU32(m + BigInt(BLOCK_IO_MEDIA.LogicalBlocksPerPhysicalBlock), 1);
  return m;
}

/**
 * The checks ReadBlocks/WriteBlocks make in the order the spec lists their errors, then the transfer.
 * Shared by BlockIo and BlockIo2.
 */
export function transferBlocks(platform: Platform, dev: BlockDevice, write: boolean, mediaId: bigint, lba: bigint, size: bigint, buffer: bigint): EfiStatus {
  if (Number(mediaId) !== dev.mediaId) return EFI_MEDIA_CHANGED;
  if (write && dev.readOnly) return EFI_WRITE_PROTECTED;
  if (size === 0n) return EFI_SUCCESS;
  if (size % BigInt(dev.blockSize) !== 0n) return EFI_BAD_BUFFER_SIZE;
  const count = size / BigInt(dev.blockSize);
  if (buffer === 0n || lba > dev.lastBlock || lba + count - 1n > dev.lastBlock) return EFI_INVALID_PARAMETER;
  if (write) dev.write(Number(lba), platform.mem.view(buffer, Number(size)));
  else platform.mem.write(buffer, dev.read(Number(lba), Number(count)));
  return EFI_SUCCESS;
}

export function blockIoProtocol(platform: Platform, dev: BlockDevice, media: bigint): bigint {
  const p = buildInterface(platform, EFI_BLOCK_IO_PROTOCOL, {
    Reset: () => EFI_SUCCESS,
    ReadBlocks: ([, mediaId, lba, size, buffer]) => transferBlocks(platform, dev, false, mediaId, lba, size, buffer),
    WriteBlocks: ([, mediaId, lba, size, buffer]) => transferBlocks(platform, dev, true, mediaId, lba, size, buffer),
    FlushBlocks: () => EFI_SUCCESS,
  });
  platform.mem.setU64(memberAddress(p, EFI_BLOCK_IO_PROTOCOL, 'Revision'), EFI_BLOCK_IO_PROTOCOL_REVISION3);
  platform.mem.setU64(memberAddress(p, EFI_BLOCK_IO_PROTOCOL, 'Media'), media);
  return p;
}
