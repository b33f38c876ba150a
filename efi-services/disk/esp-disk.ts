// The ESP as OVMF presents a disk: a PCI disk handle with EFI_BLOCK_IO(2) and EFI_DISK_IO(2) on
// PciRoot(0x0)/Pci(0x1,0x1), and the same protocols on the partition handle .../HD(1,GPT,...) that already carries
// EFI_SIMPLE_FILE_SYSTEM_PROTOCOL. The disk is a GPT image whose one partition is a FAT32 image of the ESP volume,
// built on the guest's first block access from the files as they are then (later writes through SimpleFileSystem
// do not show on the disk, block writes stay in memory and do not reach the files).
import { Platform } from '../platform';
import { Volume } from '../esp/volume';
import { GUID, guidToBytes } from '../../core/guid';
import { DevicePathNode, placeDevicePath } from '../protocols/device-path';
import { DiskWindow } from './block-device';
import { installBlockAndDiskIo } from './install-io';
import { buildFat32 } from './fat32-image';
import { EFI_SYSTEM_PARTITION_TYPE, gptDisk } from './gpt-disk';
import { SparseDisk } from './sparse-disk';

/** Fixed, so runs repeat (and distinct from the partition's GUID). */
export const ESP_DISK_GUID = '2f3c6d1e-8a4b-4c7d-9e2f-1a0b3c4d5e6f';

export interface EspDiskOptions {
  volume: Volume;
  /** The partition's place, as its HD() node says. */
  partitionStart: number;
  partitionSectors: number;
  partitionGuid: string;
  /** The disk's device path (the partition's without its HD node). */
  diskPath: DevicePathNode[];
  partitionHandle: bigint;
  install: (handle: bigint, guid: string, iface: bigint) => bigint;
  signal: (event: bigint) => void;
}

export interface EspDisk {
  diskHandle: bigint;
  /** Built yet (the guest touched a block)? */
  readonly built: boolean;
  /** The disk image (builds it). */
  image(): SparseDisk;
}

export function installEspDisk(platform: Platform, o: EspDiskOptions): EspDisk {
  let disk: SparseDisk | undefined;
  const totalSectors = o.partitionStart + o.partitionSectors + 0x800; // 1 MiB after the partition: backup GPT
  const image = (): SparseDisk => {
    if (!disk) {
      const volumeId = guidToBytes(o.partitionGuid).readUInt32LE(0);
      const fat = buildFat32(o.volume, o.partitionSectors, volumeId, o.partitionStart);
      disk = gptDisk(totalSectors, ESP_DISK_GUID, {
        start: o.partitionStart, sectors: o.partitionSectors, uniqueGuid: o.partitionGuid, typeGuid: EFI_SYSTEM_PARTITION_TYPE,
        name: 'EFI System Partition', extents: fat.extents,
      });
    }
    return disk;
  };
  const whole = new DiskWindow('disk', image, 0, totalSectors, false);
  const part = new DiskWindow('ESP', image, o.partitionStart, o.partitionSectors, true);

  const diskHandle = o.install(0n, GUID.DEVICE_PATH, placeDevicePath(platform, o.diskPath));
  installBlockAndDiskIo(platform, o, diskHandle, whole);
  installBlockAndDiskIo(platform, o, o.partitionHandle, part);
  return { diskHandle, get built() { return disk !== undefined; }, image };
}
