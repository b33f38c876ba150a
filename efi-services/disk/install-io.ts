// EFI_BLOCK_IO(2) and EFI_DISK_IO(2) over one block device, installed on a disk or partition handle.
import { Platform } from '../platform';
import { blockIoProtocol, EFI_BLOCK_IO_PROTOCOL_GUID, writeBlockIoMedia } from '../protocols/block-io';
import { blockIo2Protocol, EFI_BLOCK_IO2_PROTOCOL_GUID } from '../protocols/block-io2';
import { diskIoProtocol, EFI_DISK_IO_PROTOCOL_GUID } from '../protocols/disk-io';
import { diskIo2Protocol, EFI_DISK_IO2_PROTOCOL_GUID } from '../protocols/disk-io2';
import { BlockDevice } from './block-device';

export interface HandleInstaller {
  install: (handle: bigint, guid: string, iface: bigint) => bigint;
  signal: (event: bigint) => void;
}

export function installBlockAndDiskIo(platform: Platform, o: HandleInstaller, handle: bigint, dev: BlockDevice): void {
  const media = writeBlockIoMedia(platform, dev);
  o.install(handle, EFI_BLOCK_IO_PROTOCOL_GUID, blockIoProtocol(platform, dev, media));
  o.install(handle, EFI_BLOCK_IO2_PROTOCOL_GUID, blockIo2Protocol(platform, dev, media, o.signal));
  o.install(handle, EFI_DISK_IO_PROTOCOL_GUID, diskIoProtocol(platform, dev));
  o.install(handle, EFI_DISK_IO2_PROTOCOL_GUID, diskIo2Protocol(platform, dev, o.signal));
}
