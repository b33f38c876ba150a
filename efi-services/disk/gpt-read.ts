// Reading a disk's GUID Partition Table (UEFI 2.10 §5.3): the primary header at LBA 1 with its CRC32, the entry array
// with its CRC32, the used entries. What OVMF's PartitionDxe checks before it makes partition handles; a disk
// that fails is bad input, named with the byte offset of the problem.
import { crc32 } from '../crc32';
import { guidFromBytes } from '../../core/guid';
import { SectorStore } from './block-device';
import { DiskImageError } from './raw-disk';
import { EFI_SYSTEM_PARTITION_TYPE } from './gpt-disk';
import { SECTOR } from './sparse-disk';

export interface GptEntry {
  /** 1-based index in the entry array (the HD() node's PartitionNumber). */
  number: number;
  typeGuid: string;
  uniqueGuid: string;
  start: number;
  sectors: number;
  name: string;
}

export interface GptLayout {
  diskGuid: string;
  partitions: GptEntry[];
  /** The first EFI system partition. */
  esp: GptEntry;
}

export function readGpt(disk: SectorStore, name: string): GptLayout {
  const bad = (offset: number, what: string) => new DiskImageError(`${name}: ${what} (byte offset ${offset} (0x${offset.toString(16)}))`);
  const h = disk.read(1, 1);
  if (h.toString('latin1', 0, 8) !== 'EFI PART') throw bad(SECTOR, 'no GPT: LBA 1 lacks the signature "EFI PART"');
  const headerSize = h.readUInt32LE(12);
  if (headerSize < 92 || headerSize > SECTOR) throw bad(SECTOR + 12, `GPT HeaderSize ${headerSize} is not in 92..512`);
  const crc = h.readUInt32LE(16);
  const copy = Buffer.from(h.subarray(0, headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== crc) throw bad(SECTOR + 16, `GPT header CRC32 0x${crc.toString(16)} does not match its bytes (0x${crc32(copy).toString(16)})`);
  const entriesLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const size = h.readUInt32LE(84);
  if (size < 128 || size % 8 !== 0 || count > 4096) throw bad(SECTOR + 80, `GPT has ${count} entries of ${size} bytes (want at most 4096 of 128·2^n bytes)`);
  const entrySectors = Math.ceil((count * size) / SECTOR);
  if (entriesLba < 2 || entriesLba + entrySectors > disk.sectors) throw bad(SECTOR + 72, `GPT entry array at LBA ${entriesLba} (${entrySectors} sectors) is outside the disk of ${disk.sectors} sectors`);
  const entries = disk.read(entriesLba, entrySectors).subarray(0, count * size);
  const entriesCrc = h.readUInt32LE(88);
  if (crc32(entries) !== entriesCrc) throw bad(SECTOR + 88, `GPT entry array CRC32 0x${entriesCrc.toString(16)} does not match the entries at LBA ${entriesLba}`);
  const partitions: GptEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * size, (i + 1) * size);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (first > last || last >= disk.sectors) throw bad(entriesLba * SECTOR + i * size + 32, `GPT entry ${i + 1} spans LBA ${first}..${last}, outside the disk of ${disk.sectors} sectors`);
    const label = e.toString('utf16le', 56, 128);
    partitions.push({
      number: i + 1, typeGuid: guidFromBytes(e, 0), uniqueGuid: guidFromBytes(e, 16), start: first, sectors: last - first + 1,
      name: label.includes('\0') ? label.slice(0, label.indexOf('\0')) : label,
    });
  }
  const esp = partitions.find((p) => p.typeGuid === EFI_SYSTEM_PARTITION_TYPE);
  if (!esp) throw bad(entriesLba * SECTOR, `no EFI system partition (type ${EFI_SYSTEM_PARTITION_TYPE}) among the ${partitions.length} GPT entries`);
  return { diskGuid: guidFromBytes(h, 56), partitions, esp };
}
