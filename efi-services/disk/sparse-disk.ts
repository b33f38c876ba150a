// A disk image held as the extents that have data (the rest reads as zeros) plus the sectors the guest wrote:
// a 512 MiB FAT32 partition costs the host only its metadata and files.
export const SECTOR = 512;

export interface Extent {
  /** First sector. */
  lba: number;
  /** Whole sectors' worth of bytes (shorter data is zero-padded on reads). */
  data: Uint8Array;
}

/** Sectors a guest wrote, kept in memory over a disk whose backing bytes never change. */
export class WrittenSectors {
  private readonly sectors = new Map<number, Buffer>();

  /** Whole sectors of `data` from `lba`. */
  write(lba: number, data: Uint8Array): void {
    for (let i = 0; i * SECTOR < data.length; i++) this.sectors.set(lba + i, Buffer.from(data.subarray(i * SECTOR, (i + 1) * SECTOR)));
  }

  /** Puts the written ones among `count` sectors from `lba` over `out` (read from the backing bytes). */
  layOver(out: Buffer, lba: number, count: number): void {
    if (this.sectors.size === 0) return;
    for (let s = lba; s < lba + count; s++) this.sectors.get(s)?.copy(out, (s - lba) * SECTOR);
  }

  get size(): number {
    return this.sectors.size;
  }
}

export class SparseDisk {
  private readonly overlay = new WrittenSectors();
  private readonly extents: Extent[];

  constructor(readonly sectors: number, extents: Extent[]) {
    this.extents = [...extents].sort((a, b) => a.lba - b.lba);
  }

  /** `count` sectors from `lba` (the caller checks bounds). */
  read(lba: number, count: number): Buffer {
    const out = Buffer.alloc(count * SECTOR);
    const end = lba + count;
    for (const e of this.extents) {
      const eEnd = e.lba + Math.ceil(e.data.length / SECTOR);
      if (eEnd <= lba || e.lba >= end) continue;
      const from = Math.max(lba, e.lba);
      const srcStart = (from - e.lba) * SECTOR;
      const srcEnd = Math.min(e.data.length, (Math.min(end, eEnd) - e.lba) * SECTOR);
      if (srcEnd > srcStart) out.set(e.data.subarray(srcStart, srcEnd), (from - lba) * SECTOR);
    }
    this.overlay.layOver(out, lba, count);
    return out;
  }

  /** Whole sectors from `lba`; kept in memory (the host files never change). */
  write(lba: number, data: Uint8Array): void {
    this.overlay.write(lba, data);
  }

  /** Sectors the guest wrote. */
  get written(): number {
    return this.overlay.size;
  }
}
