// A raw disk image file (`--disk FILE`) as 512-byte sectors: reads come from the file, guest writes stay in memory
// (the file is never changed), so a run leaves the image as it was and repeats byte for byte.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SectorStore } from './block-device';
import { SECTOR, WrittenSectors } from './sparse-disk';

export class DiskImageError extends Error {}

export class RawDisk implements SectorStore {
  readonly sectors: number;
  private fd: number | undefined;
  private readonly overlay = new WrittenSectors();

  constructor(readonly file: string) {
    try {
      this.fd = openSync(file, 'r');
    } catch (e) {
      throw new DiskImageError(`--disk ${file}: cannot open: ${(e as Error).message}`);
    }
    const size = fstatSync(this.fd).size;
    if (size % SECTOR !== 0 || size < 34 * SECTOR) {
      this.close();
      throw new DiskImageError(`--disk ${file}: ${size} bytes is not a disk image of whole 512-byte sectors with room for a GPT (at least 34 sectors)`);
    }
    this.sectors = size / SECTOR;
  }

  read(lba: number, count: number): Buffer {
    if (this.fd === undefined) throw new DiskImageError(`--disk ${this.file}: read after the run ended`);
    const out = Buffer.alloc(count * SECTOR);
    readSync(this.fd, out, 0, out.length, lba * SECTOR);
    this.overlay.layOver(out, lba, count);
    return out;
  }

  write(lba: number, data: Uint8Array): void {
    this.overlay.write(lba, data);
  }

  /** Sectors the guest wrote (kept in memory). */
  get written(): number {
    return this.overlay.size;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
