// A raw GPT disk image (`--disk FILE`) as OVMF's PartitionDxe presents one: the disk handle on the PCI device path
// with EFI_BLOCK_IO(2) and EFI_DISK_IO(2), and one handle per GPT entry (device path + HD(n,GPT,...)) with the same
// protocols on the partition's sectors. The EFI system partition's handle is the firmware's ESP handle (the boot
// image's device). stubemu has no FAT driver of its own, so these handles carry no SimpleFileSystem: loaders with
// their own file-system drivers (GRUB) read the disk through Block I/O.
import { Platform } from '../platform';
import { GUID } from '../../core/guid';
import { DevicePathNode, hardDriveNode, placeDevicePath } from '../protocols/device-path';
import { DiskWindow, SectorStore } from './block-device';
import { GptEntry, GptLayout } from './gpt-read';
import { HandleInstaller, installBlockAndDiskIo } from './install-io';

export interface RawDiskOptions extends HandleInstaller {
  store: SectorStore;
  layout: GptLayout;
  /** The disk's device path (PCI nodes). */
  diskPath: DevicePathNode[];
  /** The ESP's handle, with its device path already installed. */
  espHandle: bigint;
}

/** The HD() node of a GPT entry (UEFI 2.10 §10.3.5.1). */
export const gptHardDriveNode = (p: GptEntry): DevicePathNode =>
  hardDriveNode({ partitionNumber: p.number, partitionStart: BigInt(p.start), partitionSize: BigInt(p.sectors), signature: p.uniqueGuid });

export function installRawDisk(platform: Platform, o: RawDiskOptions): { diskHandle: bigint } {
  const store = () => o.store;
  const diskHandle = o.install(0n, GUID.DEVICE_PATH, placeDevicePath(platform, o.diskPath));
  installBlockAndDiskIo(platform, o, diskHandle, new DiskWindow('disk', store, 0, o.store.sectors, false));
  for (const p of o.layout.partitions) {
    const handle = p === o.layout.esp ? o.espHandle : o.install(0n, GUID.DEVICE_PATH, placeDevicePath(platform, [...o.diskPath, gptHardDriveNode(p)]));
    installBlockAndDiskIo(platform, o, handle, new DiskWindow(p === o.layout.esp ? 'ESP' : `partition ${p.number}`, store, p.start, p.sectors, true));
  }
  return { diskHandle };
}
