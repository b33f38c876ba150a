// A FAT32 file system image of a Volume (Microsoft FAT32 File System Specification 1.03: BPB, FSInfo, FAT, short
// and long directory entries), so loaders with their own FAT drivers (GRUB, rEFInd) read the files the firmware's
// SimpleFileSystem serves. Deterministic: entries in readDir order, clusters allocated in that order, one fixed
// timestamp, a volume ID derived from the partition GUID. Files are laid out contiguously.
import { Volume, VolumePath } from '../esp/volume';
import { Extent, SECTOR } from './sparse-disk';

const SECTORS_PER_CLUSTER = 8;
const CLUSTER = SECTORS_PER_CLUSTER * SECTOR;
const RESERVED = 32;
const FATS = 2;
const EOC = 0x0fff_ffff;
/** 2024-01-01 00:00:00 in FAT date/time form: every entry carries it (reports stay reproducible). */
const FAT_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1;
const ATTR_DIRECTORY = 0x10, ATTR_ARCHIVE = 0x20, ATTR_LONG_NAME = 0x0f;

interface Node {
  name: string;
  path: VolumePath;
  dir: boolean;
  size: number;
  children: Node[];
  /** Short name (11 bytes, space-padded) and whether a long name is needed. */
  short: Buffer;
  lfn: boolean;
  cluster: number;
  clusters: number;
}

export interface FatImage {
  /** Sectors of the partition. */
  sectors: number;
  extents: Extent[];
  /** Clusters in use, for the report and tests. */
  clustersUsed: number;
}

const SHORT_OK = /^[A-Z0-9!#$%&'()@^_`{}~-]+$/;

/** The 8.3 name when `name` is one as it stands (upper case), else undefined. */
function exactShortName(name: string): Buffer | undefined {
  const m = /^([^.]{1,8})(?:\.([^.]{1,3}))?$/.exec(name);
  if (!m || !SHORT_OK.test(m[1]) || (m[2] !== undefined && !SHORT_OK.test(m[2]))) return undefined;
  return Buffer.from(m[1].padEnd(8) + (m[2] ?? '').padEnd(3), 'ascii');
}

/** A numeric-tail short name (FAT spec §7 "generating short names"): BASE~N.EXT. */
function tailShortName(name: string, taken: Set<string>): Buffer {
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9!#$%&'()@^_`{}~-]/g, '_');
  const dot = name.lastIndexOf('.');
  const base = clean((dot > 0 ? name.slice(0, dot) : name).replace(/[ .]/g, '')) || '_';
  const ext = dot > 0 ? clean(name.slice(dot + 1).replace(/[ .]/g, '')).slice(0, 3) : '';
  for (let n = 1; ; n++) {
    const tail = `~${n}`;
    const candidate = (base.slice(0, 8 - tail.length) + tail).padEnd(8) + ext.padEnd(3);
    if (!taken.has(candidate)) return Buffer.from(candidate, 'ascii');
  }
}

/** Short-name checksum carried by each long-name entry (FAT spec §7). */
function shortChecksum(short: Buffer): number {
  let sum = 0;
  for (const b of short) sum = (((sum & 1) << 7) + (sum >> 1) + b) & 0xff;
  return sum;
}

function readTree(volume: Volume, path: VolumePath, name: string): Node {
  const st = volume.stat(path);
  const dir = st?.kind === 'dir';
  const node: Node = { name, path, dir, size: dir ? 0 : (st?.size ?? 0), children: [], short: Buffer.alloc(11), lfn: false, cluster: 0, clusters: 0 };
  if (dir) {
    const taken = new Set<string>();
    for (const child of volume.readDir(path)) {
      const c = readTree(volume, [...path, child], child);
      const exact = exactShortName(child);
      c.short = exact && !taken.has(exact.toString('ascii')) ? exact : tailShortName(child, taken);
      c.lfn = !exact;
      taken.add(c.short.toString('ascii'));
      node.children.push(c);
    }
  }
  return node;
}

/** Directory entries (32 bytes each) a node's directory needs: dot entries, long-name entries, short entries. */
function entryCount(n: Node, root: boolean): number {
  let count = root ? 0 : 2;
  for (const c of n.children) count += 1 + (c.lfn ? Math.ceil(c.name.length / 13) : 0);
  return count;
}

function shortEntry(out: Buffer, at: number, short: Buffer, attr: number, cluster: number, size: number): void {
  short.copy(out, at);
  out[at + 11] = attr;
  out.writeUInt16LE(0, at + 14); // creation time
  out.writeUInt16LE(FAT_DATE, at + 16);
  out.writeUInt16LE(FAT_DATE, at + 18);
  out.writeUInt16LE(cluster >>> 16, at + 20);
  out.writeUInt16LE(0, at + 22); // write time
  out.writeUInt16LE(FAT_DATE, at + 24);
  out.writeUInt16LE(cluster & 0xffff, at + 26);
  out.writeUInt32LE(size, at + 28);
}

/** Long-name entries for `name`, last part first, as they precede the short entry (FAT spec §7). */
function longEntries(out: Buffer, at: number, name: string, checksum: number): number {
  const units = name.length; // UTF-16 code units, as charCodeAt gives them
  const parts = Math.ceil(units / 13);
  const chars: number[] = [];
  for (let i = 0; i < parts * 13; i++) chars.push(i < units ? name.charCodeAt(i) : i === units ? 0 : 0xffff);
  const slots = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
  for (let p = parts; p >= 1; p--) {
    out[at] = p | (p === parts ? 0x40 : 0);
    out[at + 11] = ATTR_LONG_NAME;
    out[at + 13] = checksum;
    slots.forEach((o, i) => out.writeUInt16LE(chars[(p - 1) * 13 + i], at + o));
    at += 32;
  }
  return at;
}

/**
 * Builds the image of `volume` for a partition of `sectors` sectors starting at LBA `partitionStart` (FAT32 needs at
 * least 65525 clusters).
 */
export function buildFat32(volume: Volume, sectors: number, volumeId: number, partitionStart: number): FatImage {
  const root = readTree(volume, [], '');
  // FAT size: enough 4-byte entries for every cluster of the data region (FAT spec §3.5, solved by iteration).
  let fatSectors = 1;
  for (;;) {
    const clusters = Math.floor((sectors - RESERVED - FATS * fatSectors) / SECTORS_PER_CLUSTER);
    const need = Math.ceil(((clusters + 2) * 4) / SECTOR);
    if (need <= fatSectors) break;
    fatSectors = need;
  }
  const dataStart = RESERVED + FATS * fatSectors;
  const totalClusters = Math.floor((sectors - dataStart) / SECTORS_PER_CLUSTER);
  if (totalClusters < 65525) throw new Error(`a FAT32 partition needs at least 65525 clusters (${sectors} sectors give ${totalClusters})`);

  // Clusters: the root first, then every node in tree order.
  let next = 2;
  const order: Node[] = [];
  const allocate = (n: Node, isRoot: boolean) => {
    const bytes = n.dir ? entryCount(n, isRoot) * 32 : n.size;
    n.clusters = n.dir ? Math.max(1, Math.ceil(bytes / CLUSTER)) : Math.ceil(bytes / CLUSTER);
    n.cluster = n.clusters > 0 ? next : 0;
    next += n.clusters;
    order.push(n);
    for (const c of n.children) allocate(c, false);
  };
  allocate(root, true);
  if (next - 2 > totalClusters) throw new Error(`the ESP's files need ${next - 2} clusters of 4 KiB; the partition has ${totalClusters}`);

  const fat = Buffer.alloc(fatSectors * SECTOR);
  fat.writeUInt32LE(0x0fff_fff8, 0);
  fat.writeUInt32LE(EOC, 4);
  for (const n of order) {
    for (let i = 0; i < n.clusters; i++) fat.writeUInt32LE(i === n.clusters - 1 ? EOC : n.cluster + i + 1, 4 * (n.cluster + i));
  }

  const extents: Extent[] = [];
  const clusterLba = (c: number) => dataStart + (c - 2) * SECTORS_PER_CLUSTER;
  const dirBytes = (n: Node, parent: Node | undefined): Buffer => {
    const out = Buffer.alloc(n.clusters * CLUSTER);
    let at = 0;
    if (parent) {
      shortEntry(out, 0, Buffer.from('.'.padEnd(11), 'ascii'), ATTR_DIRECTORY, n.cluster, 0);
      shortEntry(out, 32, Buffer.from('..'.padEnd(11), 'ascii'), ATTR_DIRECTORY, parent === root ? 0 : parent.cluster, 0);
      at = 64;
    }
    for (const c of n.children) {
      if (c.lfn) at = longEntries(out, at, c.name, shortChecksum(c.short));
      shortEntry(out, at, c.short, c.dir ? ATTR_DIRECTORY : ATTR_ARCHIVE, c.cluster, c.dir ? 0 : c.size);
      at += 32;
    }
    return out;
  };
  const walk = (n: Node, parent: Node | undefined) => {
    if (n.dir) extents.push({ lba: clusterLba(n.cluster), data: dirBytes(n, parent) });
    else if (n.size > 0) extents.push({ lba: clusterLba(n.cluster), data: volume.read(n.path, 0, n.size) });
    for (const c of n.children) walk(c, n);
  };
  walk(root, undefined);

  const reserved = Buffer.alloc(RESERVED * SECTOR);
  const bpb = bootSector(sectors, fatSectors, volumeId, partitionStart);
  bpb.copy(reserved, 0);
  bpb.copy(reserved, 6 * SECTOR); // backup boot sector
  const fsInfo = Buffer.alloc(SECTOR);
  fsInfo.writeUInt32LE(0x4161_5252, 0);
  fsInfo.writeUInt32LE(0x6141_7272, 484);
  fsInfo.writeUInt32LE(totalClusters - (next - 2), 488);
  fsInfo.writeUInt32LE(next, 492);
  fsInfo.writeUInt32LE(0xaa55_0000, 508);
  fsInfo.copy(reserved, SECTOR);
  fsInfo.copy(reserved, 7 * SECTOR);
  extents.push({ lba: 0, data: reserved });
  for (let i = 0; i < FATS; i++) extents.push({ lba: RESERVED + i * fatSectors, data: fat });
  return { sectors, extents, clustersUsed: next - 2 };
}

/** The FAT32 boot sector with its BIOS parameter block (FAT spec §3.1, §3.3). */
function bootSector(sectors: number, fatSectors: number, volumeId: number, partitionStart: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  b.set([0xeb, 0x58, 0x90], 0);
  b.write('STUBEMU ', 3, 'ascii');
  b.writeUInt16LE(SECTOR, 11);
  b[13] = SECTORS_PER_CLUSTER;
  b.writeUInt16LE(RESERVED, 14);
  b[16] = FATS;
  b.writeUInt16LE(0, 17); // root entries: 0 on FAT32
  b.writeUInt16LE(0, 19);
  b[21] = 0xf8;
  b.writeUInt16LE(0, 22);
  b.writeUInt16LE(63, 24);
  b.writeUInt16LE(255, 26);
  b.writeUInt32LE(partitionStart, 28); // hidden sectors: the partition's start
  b.writeUInt32LE(sectors, 32);
  b.writeUInt32LE(fatSectors, 36);
  b.writeUInt16LE(0, 40);
  b.writeUInt16LE(0, 42);
  b.writeUInt32LE(2, 44); // root directory cluster
  b.writeUInt16LE(1, 48); // FSInfo sector
  b.writeUInt16LE(6, 50); // backup boot sector
  b[64] = 0x80;
  b[66] = 0x29;
  b.writeUInt32LE(volumeId >>> 0, 67);
  // No label (a BPB label needs its twin entry in the root directory, which fsck.fat checks).
  b.write('NO NAME    ', 71, 'ascii');
  b.write('FAT32   ', 82, 'ascii');
  b.writeUInt16LE(0xaa55, 510);
  return b;
}
