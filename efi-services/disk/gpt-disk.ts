// A GPT disk holding one EFI system partition (UEFI 2.10 §5.2-5.3): protective MBR, primary header and 128 entries
// at LBA 1-33, the partition, and the backup entries and header at the end. GUIDs fixed, so runs repeat.
import { crc32 } from '../crc32';
import { guidToBytes } from '../../core/guid';
import { Extent, SECTOR, SparseDisk } from './sparse-disk';

export const EFI_SYSTEM_PARTITION_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const ENTRIES = 128;
const ENTRY_SIZE = 128;
const ENTRY_SECTORS = (ENTRIES * ENTRY_SIZE) / SECTOR;

export interface GptPartition {
  start: number;
  sectors: number;
  uniqueGuid: string;
  typeGuid: string;
  name: string;
  extents: Extent[];
}

/** The disk of `totalSectors` sectors with `partition`'s extents placed at its start. */
export function gptDisk(totalSectors: number, diskGuid: string, partition: GptPartition): SparseDisk {
  const last = totalSectors - 1;
  const entries = Buffer.alloc(ENTRIES * ENTRY_SIZE);
  guidToBytes(partition.typeGuid).copy(entries, 0);
  guidToBytes(partition.uniqueGuid).copy(entries, 16);
  entries.writeBigUInt64LE(BigInt(partition.start), 32);
  entries.writeBigUInt64LE(BigInt(partition.start + partition.sectors - 1), 40);
  entries.write(partition.name.slice(0, 36), 56, 'utf16le');
  const entriesCrc = crc32(entries);
  const header = (my: number, alternate: number, entriesLba: number): Buffer => {
    const h = Buffer.alloc(SECTOR);
    h.write('EFI PART', 0, 'ascii');
    h.writeUInt32LE(0x0001_0000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(my), 24);
    h.writeBigUInt64LE(BigInt(alternate), 32);
    h.writeBigUInt64LE(BigInt(2 + ENTRY_SECTORS), 40); // first usable LBA
    h.writeBigUInt64LE(BigInt(last - 1 - ENTRY_SECTORS), 48); // last usable LBA
    guidToBytes(diskGuid).copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(ENTRIES, 80);
    h.writeUInt32LE(ENTRY_SIZE, 84);
    h.writeUInt32LE(entriesCrc, 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  // Protective MBR (UEFI 2.10 §5.2.3): one partition of type 0xEE from LBA 1 over the disk.
  const mbr = Buffer.alloc(SECTOR);
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mbr.writeUInt32LE(1, 446 + 8);
  mbr.writeUInt32LE(Math.min(last, 0xffff_ffff), 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const start = Buffer.concat([mbr, header(1, last, 2), entries]);
  const end = Buffer.concat([entries, header(last, 1, last - ENTRY_SECTORS)]);
  return new SparseDisk(totalSectors, [
    { lba: 0, data: start },
    ...partition.extents.map((e) => ({ lba: partition.start + e.lba, data: e.data })),
    { lba: last - ENTRY_SECTORS, data: end },
  ]);
}
