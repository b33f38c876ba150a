// EFI_DISK_IO2_PROTOCOL (UEFI 2.10 §13.8): DiskIo with tokens; requests complete at once (block-io2.ts).
import { field, fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { BlockDevice } from '../disk/block-device';
import { buildInterface, memberAddress } from '../interface';
import { Platform } from '../platform';
import { EFI_SUCCESS } from '../../core/status';
import { completeIo2 } from './block-io2';
import { transferBytes } from './disk-io';

export const EFI_DISK_IO2_PROTOCOL_GUID = GUID.DISK_IO2;
export const EFI_DISK_IO2_PROTOCOL_REVISION = 0x20000n;

export const EFI_DISK_IO2_PROTOCOL = tableDecl({
  name: 'EFI_DISK_IO2_PROTOCOL',
  traceName: 'DiskIo2',
  headerSize: 0,
  members: [
    field('Revision'),
    fn('Cancel', 'This:PTR'),
    fn('ReadDiskEx', 'This:PTR', 'MediaId:UINT32', 'Offset:UINT64', 'Token:PTR', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('WriteDiskEx', 'This:PTR', 'MediaId:UINT32', 'Offset:UINT64', 'Token:PTR', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('FlushDiskEx', 'This:PTR', 'Token:PTR'),
  ],
});

export function diskIo2Protocol(platform: Platform, dev: BlockDevice, signal: (event: bigint) => void): bigint {
  const p = buildInterface(platform, EFI_DISK_IO2_PROTOCOL, {
    Cancel: () => EFI_SUCCESS, // nothing is ever pending
    ReadDiskEx: ([, mediaId, offset, token, size, buffer]) => completeIo2(platform, signal, token, () => transferBytes(platform, dev, false, mediaId, offset, size, buffer)),
    WriteDiskEx: ([, mediaId, offset, token, size, buffer]) => completeIo2(platform, signal, token, () => transferBytes(platform, dev, true, mediaId, offset, size, buffer)),
    FlushDiskEx: ([, token]) => completeIo2(platform, signal, token, () => EFI_SUCCESS),
  });
  platform.mem.setU64(memberAddress(p, EFI_DISK_IO2_PROTOCOL, 'Revision'), EFI_DISK_IO2_PROTOCOL_REVISION);
  return p;
}
