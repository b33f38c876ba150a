// cpio "newc" archives (the initramfs format, Linux Documentation/driver-api/early-userspace/buffer-format.rst): writer, reader and a test initrd.

/** st_mode file type bits (POSIX <sys/stat.h>), as the kernel's initramfs unpacker reads them. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** "070701": newc; "070702": newc with a checksum in `check` (the kernel accepts both). */
export const NEWC_MAGIC = '070701';
export const NEWC_CRC_MAGIC = '070702';
export const TRAILER_NAME = 'TRAILER!!!';

/** 6 bytes of magic, then 13 fields of 8 hex digits (buffer-format.rst "cpio_header"). */
export const NEWC_HEADER_SIZE = 110;
const HEADER_FIELDS = [
  'ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor',
  'namesize', 'check',
] as const;
type HeaderField = typeof HEADER_FIELDS[number];
if (6 + HEADER_FIELDS.length * 8 !== NEWC_HEADER_SIZE) throw new Error('newc header table disagrees with its 110-byte size');

/** What the writer is given: a path, a mode (type bits optional: none means a regular file) and the contents. */
export interface CpioInput {
  readonly path: string;
  readonly mode: number;
  /** File contents, or a symlink's target; none for a directory. */
  readonly data?: Buffer | string;
}

/** One header as stored, with its name and data, and where it sat in the buffer. */
export interface CpioEntry {
  readonly path: string;
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly devmajor: number;
  readonly devminor: number;
  readonly rdevmajor: number;
  readonly rdevminor: number;
  readonly check: number;
  readonly data: Buffer;
  /** Offset of the header's magic in the buffer given to the reader. */
  readonly offset: number;
}

export class CpioFormatError extends Error {
  override readonly name = 'CpioFormatError';
  constructor(readonly what: string, readonly offset: number, readonly detail: string) {
    super(`${what}: cpio at offset 0x${offset.toString(16)}: ${detail}`);
  }
}

const align4 = (n: number): number => (n + 3) & ~3;

/** "/etc//x/" and "./etc/x" both become "etc/x"; ".." and empty names are refused (the kernel would create nonsense). */
export function normalizeCpioPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new Error(`cpio: empty path ${JSON.stringify(path)}`);
  if (parts.includes('..')) throw new Error(`cpio: path ${JSON.stringify(path)} has a ".." component`);
  return parts.join('/');
}

function header(fields: Record<HeaderField, number>): string {
  return NEWC_MAGIC + HEADER_FIELDS.map((f) => {
    const v = fields[f];
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new Error(`cpio: ${f} ${v} does not fit 8 hex digits`);
    return v.toString(16).padStart(8, '0');
  }).join('');
}

/** Header, NUL-terminated name padded so header+name is a multiple of 4, data padded to 4 (buffer-format.rst). */
function record(fields: Omit<Record<HeaderField, number>, 'namesize' | 'filesize' | 'check'>, name: string, data: Buffer): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const head = Buffer.from(header({ ...fields, filesize: data.length, namesize: nameBytes.length, check: 0 }), 'latin1');
  const namePad = align4(NEWC_HEADER_SIZE + nameBytes.length) - NEWC_HEADER_SIZE - nameBytes.length;
  const dataPad = align4(data.length) - data.length;
  return Buffer.concat([head, nameBytes, Buffer.alloc(namePad), data, Buffer.alloc(dataPad)]);
}

/**
 * A deterministic newc archive: every parent directory is made (mode 040755) before its first child unless the
 * inputs list it, inodes count up from 1 in archive order, uid/gid/mtime/devices are 0, lowercase hex like
 * GNU `cpio -H newc`, and the TRAILER!!! record (nlink 1, as the kernel's gen_init_cpio writes it) ends it.
 */
export function writeCpio(inputs: readonly CpioInput[]): Buffer {
  const out: Buffer[] = [];
  const made = new Set<string>();
  let ino = 1;
  const emit = (name: string, mode: number, data: Buffer): void => {
    const isDir = (mode & S_IFMT) === S_IFDIR;
    out.push(record({ ino: ino++, mode, uid: 0, gid: 0, nlink: isDir ? 2 : 1, mtime: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0 }, name, data));
    made.add(name);
  };
  for (const input of inputs) {
    const name = normalizeCpioPath(input.path);
    const mode = (input.mode & S_IFMT) === 0 ? input.mode | S_IFREG : input.mode;
    if (made.has(name)) throw new Error(`cpio: ${name} is listed twice`);
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!made.has(dir)) emit(dir, S_IFDIR | 0o755, Buffer.alloc(0));
    }
    const data = input.data === undefined ? Buffer.alloc(0) : Buffer.from(input.data);
    if ((mode & S_IFMT) === S_IFDIR && data.length !== 0) throw new Error(`cpio: directory ${name} cannot have data`);
    emit(name, mode, data);
  }
  out.push(record({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0 }, TRAILER_NAME, Buffer.alloc(0)));
  return Buffer.concat(out);
}

export interface CpioArchive {
  readonly entries: readonly CpioEntry[];
  /** Offset just after the trailer record's padding. */
  readonly end: number;
}

/** Reads one archive starting at `offset`, up to and including TRAILER!!!; every field and length is checked. */
export function readCpio(buf: Buffer, offset = 0, what = 'initrd'): CpioArchive {
  const entries: CpioEntry[] = [];
  let at = offset;
  for (;;) {
    const magic = buf.toString('latin1', at, Math.min(at + 6, buf.length));
    if (magic !== NEWC_MAGIC && magic !== NEWC_CRC_MAGIC) {
      throw new CpioFormatError(what, at, `magic ${JSON.stringify(magic)} is not newc (${NEWC_MAGIC} or ${NEWC_CRC_MAGIC})`);
    }
    if (at + NEWC_HEADER_SIZE > buf.length) throw new CpioFormatError(what, at, `truncated header (needs ${NEWC_HEADER_SIZE} bytes, ${buf.length - at} left)`);
    const f = {} as Record<HeaderField, number>;
    HEADER_FIELDS.forEach((name, i) => {
      const text = buf.toString('latin1', at + 6 + i * 8, at + 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new CpioFormatError(what, at + 6 + i * 8, `${name} ${JSON.stringify(text)} is not 8 hex digits`);
      f[name] = parseInt(text, 16);
    });
    const nameStart = at + NEWC_HEADER_SIZE;
    if (f.namesize === 0 || nameStart + f.namesize > buf.length) throw new CpioFormatError(what, at, `namesize ${f.namesize} runs past the end`);
    if (buf[nameStart + f.namesize - 1] !== 0) throw new CpioFormatError(what, nameStart, 'name is not NUL-terminated within namesize');
    const path = buf.toString('utf8', nameStart, nameStart + f.namesize - 1);
    const dataStart = align4(nameStart + f.namesize - offset) + offset;
    if (dataStart + f.filesize > buf.length) throw new CpioFormatError(what, at, `filesize ${f.filesize} runs past the end`);
    const next = align4(dataStart + f.filesize - offset) + offset;
    if (path === TRAILER_NAME) return { entries, end: Math.min(next, buf.length) };
    entries.push({
      path, ino: f.ino, mode: f.mode, uid: f.uid, gid: f.gid, nlink: f.nlink, mtime: f.mtime, devmajor: f.devmajor,
      devminor: f.devminor, rdevmajor: f.rdevmajor, rdevminor: f.rdevminor, check: f.check,
      data: buf.subarray(dataStart, dataStart + f.filesize), offset: at,
    });
    at = next;
  }
}

/**
 * Reads concatenated archives the way the kernel unpacks an initrd: zero bytes between archives are skipped
 * (systemd-stub pads each part to 4 bytes before appending the next). Stops at the first malformed archive and
 * returns it as `error` beside the archives read before it.
 */
export function listCpioArchives(buf: Buffer, what = 'initrd'): { archives: CpioArchive[]; error: CpioFormatError | undefined } {
  const archives: CpioArchive[] = [];
  let at = 0;
  for (;;) {
    while (at < buf.length && buf[at] === 0) at++;
    if (at >= buf.length) return { archives, error: undefined };
    try {
      const a = readCpio(buf, at, what);
      archives.push(a);
      at = a.end;
    } catch (e) {
      if (!(e instanceof CpioFormatError)) throw e;
      return { archives, error: e };
    }
  }
}

/** listCpioArchives, throwing CpioFormatError on the first malformed archive. */
export function readCpioArchives(buf: Buffer, what = 'initrd'): CpioArchive[] {
  const { archives, error } = listCpioArchives(buf, what);
  if (error) throw error;
  return archives;
}

/** "drwxr-xr-x"-style type and permission text for listings. */
export function modeString(mode: number): string {
  const type = { [S_IFDIR]: 'd', [S_IFREG]: '-', [S_IFLNK]: 'l' }[mode & S_IFMT] ?? '?';
  const rwx = (bits: number): string => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  return type + rwx((mode >> 6) & 7) + rwx((mode >> 3) & 7) + rwx(mode & 7);
}

/** The script the test initrd runs as PID 1; stubemu stops at ExitBootServices, so it only has to identify itself. */
export const TEST_INIT_SCRIPT = '#!/bin/sh\necho "stubemu test initrd"\nexec /bin/sh\n';

/** A small deterministic initrd for tests and the demo: /init, a few files under /etc, a directory and a symlink. */
export function makeTestInitrd(): Buffer {
  return writeCpio([
    { path: 'init', mode: 0o100755, data: TEST_INIT_SCRIPT },
    { path: 'etc/hostname', mode: 0o644, data: 'stubemu\n' },
    { path: 'etc/initrd-release', mode: 0o644, data: 'NAME="stubemu test initrd"\nID=stubemu\nVERSION_ID=1\n' },
    { path: 'dev', mode: S_IFDIR | 0o755 },
    { path: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
  ]);
}
