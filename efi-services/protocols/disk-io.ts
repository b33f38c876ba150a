// EFI_DISK_IO_PROTOCOL (UEFI 2.10 §13.7): byte-granular access over a BlockDevice (edk2's DiskIoDxe reads the
// covering blocks and copies the span).
import { field, fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { BlockDevice } from '../disk/block-device';
import { buildInterface, memberAddress } from '../interface';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_MEDIA_CHANGED, EFI_SUCCESS, EFI_WRITE_PROTECTED, EfiStatus } from '../../core/status';

export const EFI_DISK_IO_PROTOCOL_GUID = GUID.DISK_IO;
export const EFI_DISK_IO_PROTOCOL_REVISION = 0x10000n;

export const EFI_DISK_IO_PROTOCOL = tableDecl({
  name: 'EFI_DISK_IO_PROTOCOL',
  traceName: 'DiskIo',
  headerSize: 0,
  members: [
    field('Revision'),
    fn('ReadDisk', 'This:PTR', 'MediaId:UINT32', 'Offset:UINT64', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('WriteDisk', 'This:PTR', 'MediaId:UINT32', 'Offset:UINT64', 'BufferSize:UINTN', 'Buffer:PTR'),
  ],
});

/** ReadDisk/WriteDisk's checks and transfer (shared with DiskIo2). */
export function transferBytes(platform: Platform, dev: BlockDevice, write: boolean, mediaId: bigint, offset: bigint, size: bigint, buffer: bigint): EfiStatus {
  if (Number(mediaId) !== dev.mediaId) return EFI_MEDIA_CHANGED;
  if (write && dev.readOnly) return EFI_WRITE_PROTECTED;
  if (size === 0n) return EFI_SUCCESS;
  const bs = BigInt(dev.blockSize);
  const end = offset + size;
  if (buffer === 0n || end > (dev.lastBlock + 1n) * bs) return EFI_INVALID_PARAMETER;
  const first = offset / bs;
  const count = Number((end + bs - 1n) / bs - first);
  const blocks = dev.read(Number(first), count);
  const at = Number(offset - first * bs);
  if (write) {
    blocks.set(platform.mem.view(buffer, Number(size)), at);
    dev.write(Number(first), blocks);
  } else platform.mem.write(buffer, blocks.subarray(at, at + Number(size)));
  return EFI_SUCCESS;
}

export function diskIoProtocol(platform: Platform, dev: BlockDevice): bigint {
  const p = buildInterface(platform, EFI_DISK_IO_PROTOCOL, {
    ReadDisk: ([, mediaId, offset, size, buffer]) => transferBytes(platform, dev, false, mediaId, offset, size, buffer),
    WriteDisk: ([, mediaId, offset, size, buffer]) => transferBytes(platform, dev, true, mediaId, offset, size, buffer),
  });
  platform.mem.setU64(memberAddress(p, EFI_DISK_IO_PROTOCOL, 'Revision'), EFI_DISK_IO_PROTOCOL_REVISION);
  return p;
}
