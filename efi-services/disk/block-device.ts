// What EFI_BLOCK_IO and EFI_DISK_IO serve: a whole disk or one partition of it (a window on the same sectors, so
// writes through either are seen by both). The disk is built on first use (`--esp` trees are read only then).
import { SECTOR } from './sparse-disk';

/** 512-byte sectors: a disk built in memory (SparseDisk) or a raw image file (RawDisk). */
export interface SectorStore {
  readonly sectors: number;
  /** `count` sectors from `lba` (the caller checks bounds). */
  read(lba: number, count: number): Buffer;
  write(lba: number, data: Uint8Array): void;
}

export interface BlockDevice {
  readonly name: string;
  readonly mediaId: number;
  readonly blockSize: number;
  /** Last addressable block. */
  readonly lastBlock: bigint;
  readonly readOnly: boolean;
  /** A partition (EFI_BLOCK_IO_MEDIA.LogicalPartition). */
  readonly logicalPartition: boolean;
  read(lba: number, count: number): Buffer;
  write(lba: number, data: Uint8Array): void;
}

export class DiskWindow implements BlockDevice {
  readonly mediaId = 1;
  readonly blockSize = SECTOR;
  readonly readOnly = false;

  constructor(
    readonly name: string,
    private readonly disk: () => SectorStore,
    private readonly start: number,
    private readonly sectors: number,
    readonly logicalPartition: boolean,
  ) {}

  get lastBlock(): bigint {
    return BigInt(this.sectors - 1);
  }

  read(lba: number, count: number): Buffer {
    return this.disk().read(this.start + lba, count);
  }

  write(lba: number, data: Uint8Array): void {
    this.disk().write(this.start + lba, data);
  }
}
