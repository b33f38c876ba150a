// EFI_FILE_PROTOCOL (UEFI 2.10 §13.5) over a Volume: one guest struct per open file, state keyed by its address.
import { GuestMemoryError, encodeUtf16z } from '../../core/guest-memory';
import { CallInfo, fn, ServiceFn, tableDecl, tableSize } from '../../core/abi';
import { EntryStat, fatName, findName, Volume, VolumePath } from '../esp/volume';
import { GUID, guidFromBytes } from '../../core/guid';
import { buildInterface } from '../interface';
import { Platform } from '../platform';
import { EfiError, EfiStatus, EFI_ACCESS_DENIED, EFI_BAD_BUFFER_SIZE, EFI_BUFFER_TOO_SMALL, EFI_DEVICE_ERROR,
  EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS, EFI_UNSUPPORTED, EFI_VOLUME_FULL, EFI_WARN_DELETE_FAILURE,
  EFI_WRITE_PROTECTED } from '../../core/status';

export const EFI_FILE_PROTOCOL_REVISION = 0x00010000n;
export const EFI_FILE_PROTOCOL_REVISION2 = 0x00020000n;

/** §13.5.1, revision 2 layout. The Ex members are not implemented: they are reported and return EFI_UNSUPPORTED. */
export const EFI_FILE_PROTOCOL = tableDecl({
  name: 'EFI_FILE_PROTOCOL',
  traceName: 'File',
  headerSize: 8, // UINT64 Revision
  members: [
    fn('Open', 'This:PTR', 'NewHandle:PTR', 'FileName:STR16', 'OpenMode:UINT64', 'Attributes:UINT64'),
    fn('Close', 'This:PTR'),
    fn('Delete', 'This:PTR'),
    fn('Read', 'This:PTR', 'BufferSize:PTR', 'Buffer:PTR'),
    fn('Write', 'This:PTR', 'BufferSize:PTR', 'Buffer:PTR'),
    fn('GetPosition', 'This:PTR', 'Position:PTR'),
    fn('SetPosition', 'This:PTR', 'Position:UINT64'),
    fn('GetInfo', 'This:PTR', 'InformationType:GUID_PTR', 'BufferSize:PTR', 'Buffer:PTR'),
    fn('SetInfo', 'This:PTR', 'InformationType:GUID_PTR', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('Flush', 'This:PTR'),
    fn('OpenEx', 'This:PTR', 'NewHandle:PTR', 'FileName:STR16', 'OpenMode:UINT64', 'Attributes:UINT64', 'Token:PTR'),
    fn('ReadEx', 'This:PTR', 'Token:PTR'),
    fn('WriteEx', 'This:PTR', 'Token:PTR'),
    fn('FlushEx', 'This:PTR', 'Token:PTR'),
  ],
});

// Open modes and file attributes (§13.5.2).
export const EFI_FILE_MODE_READ = 0x1n;
export const EFI_FILE_MODE_WRITE = 0x2n;
export const EFI_FILE_MODE_CREATE = 0x8000000000000000n;
export const EFI_FILE_READ_ONLY = 0x01n;
export const EFI_FILE_HIDDEN = 0x02n;
export const EFI_FILE_SYSTEM = 0x04n;
export const EFI_FILE_DIRECTORY = 0x10n;
export const EFI_FILE_ARCHIVE = 0x20n;
export const EFI_FILE_VALID_ATTR = 0x37n;
const VALID_MODES = [EFI_FILE_MODE_READ, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE,
  EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE];

/** A C struct's field offsets from its fields' sizes, each aligned naturally (or to the alignment given). */
function struct<K extends string>(fields: readonly (readonly [K, number, number?])[]): Record<K, number> & { size: number } {
  const out = {} as Record<K, number> & { size: number };
  let at = 0;
  for (const [name, size, align = Math.min(size, 8)] of fields) {
    at = Math.ceil(at / align) * align;
    (out as Record<string, number>)[name] = at;
    at += size;
  }
  out.size = at;
  return out;
}

function assertLayout(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new Error(`${what} is ${actual}, the spec says ${expected}`);
}

/** EFI_TIME (§8.3). */
const EFI_TIME = struct([['Year', 2], ['Month', 1], ['Day', 1], ['Hour', 1], ['Minute', 1], ['Second', 1], ['Pad1', 1],
  ['Nanosecond', 4], ['TimeZone', 2], ['Daylight', 1], ['Pad2', 1]]);
assertLayout(EFI_TIME.size, 16, 'sizeof(EFI_TIME)');
/** EFI_FILE_INFO (§13.5.16); FileName is the flexible array at SIZE_OF_EFI_FILE_INFO. */
export const EFI_FILE_INFO = struct([['Size', 8], ['FileSize', 8], ['PhysicalSize', 8], ['CreateTime', 16, 4],
  ['LastAccessTime', 16, 4], ['ModificationTime', 16, 4], ['Attribute', 8], ['FileName', 2]]);
export const SIZE_OF_EFI_FILE_INFO = EFI_FILE_INFO.FileName;
assertLayout(SIZE_OF_EFI_FILE_INFO, 80, 'SIZE_OF_EFI_FILE_INFO');
/** EFI_FILE_SYSTEM_INFO (§13.5.17); VolumeLabel is the flexible array. */
export const EFI_FILE_SYSTEM_INFO = struct([['Size', 8], ['ReadOnly', 1], ['VolumeSize', 8], ['FreeSpace', 8],
  ['BlockSize', 4], ['VolumeLabel', 2]]);
export const SIZE_OF_EFI_FILE_SYSTEM_INFO = EFI_FILE_SYSTEM_INFO.VolumeLabel;
assertLayout(SIZE_OF_EFI_FILE_SYSTEM_INFO, 36, 'SIZE_OF_EFI_FILE_SYSTEM_INFO');

/** Every file reports this time (2024-01-01T00:00:00, time zone unspecified) so reports are reproducible. */
export const FILE_TIME = { year: 2024, month: 1, day: 1 } as const;
const EFI_UNSPECIFIED_TIMEZONE = 0x07ff;
/** What EFI_FILE_SYSTEM_INFO reports: a 512 MiB volume of 4 KiB clusters; writes past VolumeSize are EFI_VOLUME_FULL. */
export const VOLUME_BYTES = 512 * 1024 * 1024;
export const CLUSTER_BYTES = 4096;

export interface FileProtocolOptions {
  /** Told about guest mistakes (a This that is no open file, a pointer outside RAM); the call gets EFI_INVALID_PARAMETER. */
  onGuestError?: (message: string) => void;
}

interface OpenFile {
  /** Canonical names from the root, as the volume spells them. */
  readonly path: string[];
  readonly dir: boolean;
  /** Opened with EFI_FILE_MODE_WRITE. */
  readonly writable: boolean;
  /** A byte offset; for a directory, the index of the next entry Read returns. */
  position: bigint;
}

/** The open files of one volume. Every handle is a copy of one trap table, so opening a file costs no trap slots. */
export class FileProtocols {
  private readonly files = new Map<bigint, OpenFile>();
  private readonly closed = new Set<bigint>();
  private readonly template: bigint;

  constructor(private readonly platform: Platform, private readonly volume: Volume,
    private readonly options: FileProtocolOptions = {}) {
    this.template = buildInterface(platform, EFI_FILE_PROTOCOL, {
      Open: this.member((f, a, c) => this.open(f, a, c)),
      Close: this.member((f, [self]) => this.close(self)),
      Delete: this.member((f, [self], c) => this.delete(f, self, c)),
      Read: this.member((f, [, size, buffer]) => this.read(f, size, buffer)),
      Write: this.member((f, [, size, buffer]) => this.write(f, size, buffer)),
      GetPosition: this.member((f, [, position]) => this.getPosition(f, position)),
      SetPosition: this.member((f, [, position]) => this.setPosition(f, position)),
      GetInfo: this.member((f, [, type, size, buffer]) => this.getInfo(f, type, size, buffer)),
      SetInfo: this.member((f, [, type, size, buffer], c) => this.setInfo(f, type, size, buffer, c)),
      Flush: this.member((f) => this.flush(f)),
    });
    // edk2 reports revision 1 when it cannot do asynchronous I/O; the Ex slots are there but unsupported.
    platform.mem.setU64(this.template, EFI_FILE_PROTOCOL_REVISION);
  }

  /** A new handle on the root directory, as OpenVolume returns (§13.4.2). */
  openRoot(): bigint {
    return this.newHandle([], true, !this.volume.readOnly);
  }

  isOpen(handle: bigint): boolean {
    return this.files.has(handle);
  }

  get openCount(): number {
    return this.files.size;
  }

  /** Reports a guest mistake and gives the status the call returns for it. */
  guestError(message: string): EfiStatus {
    this.options.onGuestError?.(message);
    return EFI_INVALID_PARAMETER;
  }

  private get mem() {
    return this.platform.mem;
  }

  private newHandle(path: string[], dir: boolean, writable: boolean): bigint {
    const size = tableSize(EFI_FILE_PROTOCOL);
    const handle = this.platform.allocate(size);
    this.mem.copy(handle, this.template, size);
    this.files.set(handle, { path, dir, writable, position: 0n });
    return handle;
  }

  /** Finds the open file behind `This` and turns EfiError and faults on guest pointers into statuses. */
  private member(body: (file: OpenFile, args: readonly bigint[], call: CallInfo) => EfiStatus): ServiceFn<'EFI_STATUS'> {
    return (args, call) => {
      const file = this.files.get(args[0]);
      if (!file) {
        const why = this.closed.has(args[0]) ? 'a file handle already closed' : 'not an open EFI_FILE_PROTOCOL';
        return this.guestError(`${call.name}: This=0x${args[0].toString(16)} is ${why}`);
      }
      try {
        return body(file, args, call);
      } catch (e) {
        if (e instanceof GuestMemoryError) return this.guestError(`${call.name}: ${e.message}`);
        if (!(e instanceof EfiError)) throw e;
        call.note(e.message);
        return e.status;
      }
    };
  }

  /** The entry behind an open file, or EFI_DEVICE_ERROR once it was deleted through another handle (edk2). */
  private current(file: OpenFile): EntryStat {
    const st = this.volume.stat(file.path);
    if (!st || (st.kind === 'dir') !== file.dir) throw new EfiError(EFI_DEVICE_ERROR, 'the file is gone');
    return st;
  }

  // §13.5.2
  private open(file: OpenFile, [, newHandle, fileName, mode, attributes]: readonly bigint[], call: CallInfo): EfiStatus {
    if (newHandle === 0n || fileName === 0n) return EFI_INVALID_PARAMETER;
    if (!VALID_MODES.includes(mode)) return EFI_INVALID_PARAMETER;
    // edk2 FatOpenEx refuses attributes outside EFI_FILE_VALID_ATTR, and READ_ONLY, when creating.
    if ((mode & EFI_FILE_MODE_CREATE) !== 0n && (attributes & (EFI_FILE_READ_ONLY | ~EFI_FILE_VALID_ATTR)) !== 0n) {
      return EFI_INVALID_PARAMETER;
    }
    if (!this.mem.isMapped(newHandle, 8)) return this.guestError(`${call.name}: NewHandle=0x${newHandle.toString(16)} is outside RAM`);
    const name = this.mem.utf16z(fileName);
    const writeMode = (mode & EFI_FILE_MODE_WRITE) !== 0n;
    if (writeMode && this.volume.readOnly) return EFI_WRITE_PROTECTED;
    this.current(file);
    const found = this.locate(file.path, name, attributes);
    let path: string[];
    if ('missing' in found) {
      if ((mode & EFI_FILE_MODE_CREATE) === 0n) return EFI_NOT_FOUND;
      this.volume.create([...found.parent, found.missing], (attributes & EFI_FILE_DIRECTORY) !== 0n ? 'dir' : 'file');
      path = [...found.parent, findName(this.volume.readDir(found.parent), found.missing) ?? found.missing];
      call.note(`created \\${path.join('\\')}`);
    } else {
      path = found.path;
    }
    const st = this.volume.stat(path);
    if (!st) return EFI_NOT_FOUND;
    this.mem.setU64(newHandle, this.newHandle(path, st.kind === 'dir', writeMode));
    return EFI_SUCCESS;
  }

  /**
   * Walks a UCS-2 file name as edk2 FatLocateOFile does: '\' separates, a leading '\' starts at the root, "." stays,
   * ".." goes to the parent (EFI_INVALID_PARAMETER above the root), a name below a file is EFI_NOT_FOUND, and only
   * the last component may be missing (then it is returned for creation). A trailing '\' asks for a directory.
   */
  private locate(start: VolumePath, name: string, attributes: bigint):
    { path: string[] } | { parent: string[]; missing: string } {
    if (name.length === 0) throw new EfiError(EFI_INVALID_PARAMETER, 'empty file name');
    const dirIntended = name.endsWith('\\');
    const cur = name.startsWith('\\') ? [] : [...start];
    const parts = name.split('\\').filter((c) => c !== '');
    for (let i = 0; i < parts.length; i++) {
      const c = parts[i];
      if (c === '.') continue;
      if (c === '..') {
        if (cur.length === 0) throw new EfiError(EFI_INVALID_PARAMETER, '".." above the root directory');
        cur.pop();
        continue;
      }
      const n = fatName(c);
      if (n === undefined) throw new EfiError(EFI_INVALID_PARAMETER, `not a FAT file name: ${JSON.stringify(c)}`);
      if (this.volume.stat(cur)?.kind !== 'dir') throw new EfiError(EFI_NOT_FOUND, `\\${cur.join('\\')} is not a directory`);
      const found = findName(this.volume.readDir(cur), n);
      if (found === undefined) {
        if (i < parts.length - 1) throw new EfiError(EFI_NOT_FOUND, `no ${n} in \\${cur.join('\\')}`);
        if (dirIntended && (attributes & EFI_FILE_DIRECTORY) === 0n) {
          throw new EfiError(EFI_INVALID_PARAMETER, 'a trailing "\\" names a directory');
        }
        return { parent: cur, missing: n };
      }
      cur.push(found);
    }
    if (dirIntended && this.volume.stat(cur)?.kind !== 'dir') throw new EfiError(EFI_NOT_FOUND, 'not a directory');
    return { path: cur };
  }

  // §13.5.3
  private close(self: bigint): EfiStatus {
    this.files.delete(self);
    this.closed.add(self);
    return EFI_SUCCESS;
  }

  // §13.5.4: the handle is closed whatever happens; failures are the warning, as in edk2 FatDelete.
  private delete(file: OpenFile, self: bigint, call: CallInfo): EfiStatus {
    this.close(self);
    if (!file.writable) return warnDelete(call, 'opened read-only');
    if (file.path.length === 0) return warnDelete(call, 'the root directory');
    try {
      if (!this.volume.stat(file.path)) return EFI_SUCCESS; // already deleted through another handle
      this.volume.remove(file.path);
    } catch (e) {
      if (e instanceof EfiError) return warnDelete(call, e.message);
      throw e;
    }
    return EFI_SUCCESS;
  }

  // §13.5.5: short reads at the end of a file; a directory yields one EFI_FILE_INFO per call.
  private read(file: OpenFile, sizePtr: bigint, buffer: bigint): EfiStatus {
    if (sizePtr === 0n) return EFI_INVALID_PARAMETER;
    const want = this.mem.u64(sizePtr);
    if (buffer === 0n && want !== 0n) return EFI_INVALID_PARAMETER;
    const st = this.current(file);
    if (file.dir) return this.readDirEntry(file, sizePtr, want, buffer);
    if (file.position > BigInt(st.size)) return EFI_DEVICE_ERROR;
    const n = Number(bigMin(want, BigInt(st.size) - file.position));
    const data = this.volume.read(file.path, Number(file.position), n);
    if (data.length > 0) this.mem.write(buffer, data);
    file.position += BigInt(data.length);
    this.mem.setU64(sizePtr, BigInt(data.length));
    return EFI_SUCCESS;
  }

  /** Directory entries in edk2 FAT order: "." and ".." first below the root, then the names. */
  private readDirEntry(file: OpenFile, sizePtr: bigint, want: bigint, buffer: bigint): EfiStatus {
    const names = this.volume.readDir(file.path);
    const entries = file.path.length > 0 ? ['.', '..', ...names] : names;
    const index = Number(bigMin(file.position, BigInt(entries.length)));
    if (index >= entries.length) {
      this.mem.setU64(sizePtr, 0n);
      return EFI_SUCCESS;
    }
    const name = entries[index];
    const target = name === '.' ? file.path : name === '..' ? file.path.slice(0, -1) : [...file.path, name];
    const st = this.volume.stat(target);
    if (!st) return EFI_DEVICE_ERROR;
    const info = fileInfo(name, st);
    this.mem.setU64(sizePtr, BigInt(info.length));
    if (want < BigInt(info.length)) return EFI_BUFFER_TOO_SMALL;
    this.mem.write(buffer, info);
    file.position = BigInt(index + 1);
    return EFI_SUCCESS;
  }

  // §13.5.6
  private write(file: OpenFile, sizePtr: bigint, buffer: bigint): EfiStatus {
    if (sizePtr === 0n) return EFI_INVALID_PARAMETER;
    const n = this.mem.u64(sizePtr);
    if (buffer === 0n && n !== 0n) return EFI_INVALID_PARAMETER;
    if (file.dir) return EFI_UNSUPPORTED;
    this.current(file);
    if (this.volume.readOnly) return EFI_WRITE_PROTECTED;
    if (!file.writable) return EFI_ACCESS_DENIED;
    if (file.position + n > BigInt(VOLUME_BYTES)) {
      this.mem.setU64(sizePtr, 0n);
      return EFI_VOLUME_FULL;
    }
    if (n > 0n) this.volume.write(file.path, Number(file.position), this.mem.view(buffer, Number(n)));
    file.position += n;
    return EFI_SUCCESS;
  }

  // §13.5.7
  private getPosition(file: OpenFile, position: bigint): EfiStatus {
    if (position === 0n) return EFI_INVALID_PARAMETER;
    this.current(file);
    if (file.dir) return EFI_UNSUPPORTED;
    this.mem.setU64(position, file.position);
    return EFI_SUCCESS;
  }

  // §13.5.8: all ones is the end of the file; a directory can only go back to its start.
  private setPosition(file: OpenFile, position: bigint): EfiStatus {
    const st = this.current(file);
    if (file.dir && position !== 0n) return EFI_UNSUPPORTED;
    file.position = position === 0xffffffffffffffffn ? BigInt(st.size) : position;
    return EFI_SUCCESS;
  }

  // §13.5.12
  private getInfo(file: OpenFile, type: bigint, sizePtr: bigint, buffer: bigint): EfiStatus {
    if (type === 0n || sizePtr === 0n) return EFI_INVALID_PARAMETER;
    const st = this.current(file);
    const info = this.info(guidFromBytes(this.mem.read(type, 16)), file, st);
    if (!info) return EFI_UNSUPPORTED;
    const have = this.mem.u64(sizePtr);
    this.mem.setU64(sizePtr, BigInt(info.length));
    if (have < BigInt(info.length)) return EFI_BUFFER_TOO_SMALL;
    if (buffer === 0n) return EFI_INVALID_PARAMETER;
    this.mem.write(buffer, info);
    return EFI_SUCCESS;
  }

  private info(type: string, file: OpenFile, st: EntryStat): Buffer | undefined {
    switch (type) {
      case GUID.FILE_INFO: return fileInfo(file.path[file.path.length - 1] ?? '', st);
      case GUID.FILE_SYSTEM_INFO: return fileSystemInfo(this.volume);
      case GUID.FILE_SYSTEM_VOLUME_LABEL: return encodeUtf16z(this.volume.label);
      default: return undefined;
    }
  }

  // §13.5.13, in edk2 FatSetOrGetInfo's order. Resizing works; renaming and changing attributes are EFI_UNSUPPORTED.
  private setInfo(file: OpenFile, type: bigint, size: bigint, buffer: bigint, call: CallInfo): EfiStatus {
    if (type === 0n || buffer === 0n) return EFI_INVALID_PARAMETER;
    const st = this.current(file);
    if (this.volume.readOnly) return EFI_WRITE_PROTECTED;
    switch (guidFromBytes(this.mem.read(type, 16))) {
      case GUID.FILE_INFO: return this.setFileInfo(file, st, size, buffer, call);
      case GUID.FILE_SYSTEM_INFO: {
        if (size < BigInt(SIZE_OF_EFI_FILE_SYSTEM_INFO + 2) || this.mem.u64(buffer) > size) return EFI_BAD_BUFFER_SIZE;
        return this.sameLabel(buffer + BigInt(SIZE_OF_EFI_FILE_SYSTEM_INFO), size - BigInt(SIZE_OF_EFI_FILE_SYSTEM_INFO), call);
      }
      case GUID.FILE_SYSTEM_VOLUME_LABEL: {
        if (size < 2n) return EFI_BAD_BUFFER_SIZE;
        return this.sameLabel(buffer, size, call);
      }
      default: return EFI_UNSUPPORTED;
    }
  }

  /** The label is fixed: setting it to itself succeeds, anything else is EFI_UNSUPPORTED. */
  private sameLabel(at: bigint, bytes: bigint, call: CallInfo): EfiStatus {
    const label = this.boundedName(at, bytes);
    if (label === undefined) return EFI_BAD_BUFFER_SIZE;
    if (label === this.volume.label) return EFI_SUCCESS;
    call.note('changing the volume label is not implemented');
    return EFI_UNSUPPORTED;
  }

  private setFileInfo(file: OpenFile, st: EntryStat, size: bigint, buffer: bigint, call: CallInfo): EfiStatus {
    const I = EFI_FILE_INFO;
    if (file.path.length === 0) return EFI_ACCESS_DENIED;
    const infoSize = this.mem.u64(buffer + BigInt(I.Size));
    if (size < BigInt(SIZE_OF_EFI_FILE_INFO + 2) || infoSize > size || infoSize < BigInt(SIZE_OF_EFI_FILE_INFO + 2)) {
      return EFI_BAD_BUFFER_SIZE;
    }
    const info = this.mem.read(buffer, Number(infoSize));
    const times = [I.CreateTime, I.LastAccessTime, I.ModificationTime].map((o) => info.subarray(o, o + EFI_TIME.size));
    if (times.some((t) => !isZero(t) && !validTime(t))) return EFI_INVALID_PARAMETER;
    const attribute = info.readBigUInt64LE(I.Attribute);
    if ((attribute & ~EFI_FILE_VALID_ATTR) !== 0n) return EFI_INVALID_PARAMETER;
    const attributeNow = file.dir ? EFI_FILE_DIRECTORY : EFI_FILE_ARCHIVE;
    if (((attribute ^ attributeNow) & EFI_FILE_DIRECTORY) !== 0n) return EFI_ACCESS_DENIED;
    const newName = this.boundedName(buffer + BigInt(I.FileName), infoSize - BigInt(I.FileName));
    if (newName === undefined) return EFI_BAD_BUFFER_SIZE;
    const parent = file.path.slice(0, -1);
    const target = this.locate(parent, newName, attribute);
    if (!('path' in target)) {
      call.note('renaming is not implemented');
      return EFI_UNSUPPORTED;
    }
    if (target.path.join('\\') !== file.path.join('\\')) return EFI_ACCESS_DENIED; // another file has that name
    if ((attribute & (EFI_FILE_READ_ONLY | EFI_FILE_HIDDEN | EFI_FILE_SYSTEM)) !== 0n) {
      call.note('read-only, hidden and system attributes are not kept');
      return EFI_UNSUPPORTED;
    }
    if (times.some((t) => !isZero(t) && !t.equals(fileTime()))) {
      call.note('file times are not kept: every file reports the fixed FILE_TIME');
    }
    const newSize = info.readBigUInt64LE(I.FileSize);
    if (newSize === BigInt(st.size)) return EFI_SUCCESS;
    if (file.dir || !file.writable) return EFI_ACCESS_DENIED;
    if (newSize > BigInt(VOLUME_BYTES)) return EFI_VOLUME_FULL;
    this.volume.setSize(file.path, Number(newSize));
    return EFI_SUCCESS;
  }

  // §13.5.14: volume writes are synchronous, so there is nothing left to write back.
  private flush(file: OpenFile): EfiStatus {
    this.current(file);
    if (this.volume.readOnly) return EFI_WRITE_PROTECTED;
    if (!file.writable) return EFI_ACCESS_DENIED;
    return EFI_SUCCESS;
  }

  /** A NUL-terminated UCS-2 string that must end within `bytes`. */
  private boundedName(at: bigint, bytes: bigint): string | undefined {
    const raw = this.mem.read(at, Number(bigMin(bytes, 2n * 4096n)) & ~1);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw.readUInt16LE(i) === 0) return raw.subarray(0, i).toString('utf16le');
    }
    return undefined;
  }
}

function warnDelete(call: CallInfo, why: string): EfiStatus {
  call.note(`not deleted: ${why}`);
  return EFI_WARN_DELETE_FAILURE;
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function isZero(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

function fileTime(): Buffer {
  const b = Buffer.alloc(EFI_TIME.size);
  b.writeUInt16LE(FILE_TIME.year, EFI_TIME.Year);
  b[EFI_TIME.Month] = FILE_TIME.month;
  b[EFI_TIME.Day] = FILE_TIME.day;
  b.writeInt16LE(EFI_UNSPECIFIED_TIMEZONE, EFI_TIME.TimeZone);
  return b;
}

/** The ranges of §8.3 EFI_TIME. */
function validTime(t: Buffer): boolean {
  const zone = t.readInt16LE(EFI_TIME.TimeZone);
  return t.readUInt16LE(EFI_TIME.Year) >= 1900 && t.readUInt16LE(EFI_TIME.Year) <= 9999
    && t[EFI_TIME.Month] >= 1 && t[EFI_TIME.Month] <= 12 && t[EFI_TIME.Day] >= 1 && t[EFI_TIME.Day] <= 31
    && t[EFI_TIME.Hour] <= 23 && t[EFI_TIME.Minute] <= 59 && t[EFI_TIME.Second] <= 59
    && t.readUInt32LE(EFI_TIME.Nanosecond) <= 999_999_999
    && (zone === EFI_UNSPECIFIED_TIMEZONE || (zone >= -1440 && zone <= 1440))
    && (t[EFI_TIME.Daylight] & ~3) === 0;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** EFI_FILE_INFO for one entry; directories have FileSize 0 and one cluster, files are ARCHIVE. */
export function fileInfo(name: string, st: EntryStat): Buffer {
  const I = EFI_FILE_INFO;
  const nameBytes = encodeUtf16z(name);
  const b = Buffer.alloc(SIZE_OF_EFI_FILE_INFO + nameBytes.length);
  const dir = st.kind === 'dir';
  b.writeBigUInt64LE(BigInt(b.length), I.Size);
  b.writeBigUInt64LE(BigInt(dir ? 0 : st.size), I.FileSize);
  b.writeBigUInt64LE(BigInt(dir ? CLUSTER_BYTES : roundUp(st.size, CLUSTER_BYTES)), I.PhysicalSize);
  for (const o of [I.CreateTime, I.LastAccessTime, I.ModificationTime]) fileTime().copy(b, o);
  b.writeBigUInt64LE(dir ? EFI_FILE_DIRECTORY : EFI_FILE_ARCHIVE, I.Attribute);
  nameBytes.copy(b, I.FileName);
  return b;
}

/** EFI_FILE_SYSTEM_INFO: FreeSpace is VOLUME_BYTES less the clusters in use. */
export function fileSystemInfo(volume: Volume): Buffer {
  const S = EFI_FILE_SYSTEM_INFO;
  const label = encodeUtf16z(volume.label);
  const b = Buffer.alloc(SIZE_OF_EFI_FILE_SYSTEM_INFO + label.length);
  b.writeBigUInt64LE(BigInt(b.length), S.Size);
  b[S.ReadOnly] = volume.readOnly ? 1 : 0;
  b.writeBigUInt64LE(BigInt(VOLUME_BYTES), S.VolumeSize);
  b.writeBigUInt64LE(BigInt(Math.max(0, VOLUME_BYTES - usedBytes(volume))), S.FreeSpace);
  b.writeUInt32LE(CLUSTER_BYTES, S.BlockSize);
  label.copy(b, S.VolumeLabel);
  return b;
}

/** Clusters in use, counted over at most 32 levels and 100,000 entries (a host symlink may loop to an ancestor). */
function usedBytes(volume: Volume): number {
  let budget = 100_000;
  const walk = (path: string[], depth: number): number => {
    let used = CLUSTER_BYTES;
    if (depth >= 32) return used;
    for (const name of volume.readDir(path)) {
      if (--budget < 0) break;
      const p = [...path, name];
      const st = volume.stat(p);
      if (st?.kind === 'dir') used += walk(p, depth + 1);
      else if (st) used += roundUp(st.size, CLUSTER_BYTES);
    }
    return used;
  };
  return walk([], 0);
}
