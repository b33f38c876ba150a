// The default in-memory ESP: a writable Volume on memfs, built from a map of paths to file contents.
import { posix } from 'path';
import { Volume as MemfsVol } from 'memfs';
import { EfiError, EFI_ACCESS_DENIED, EFI_NOT_FOUND, EFI_WRITE_PROTECTED } from '../../core/status';
import { EntryKind, EntryStat, findName, isValidFatName, normalizePath, sortedUniqueNames, splitPath,
  translateErrors, Volume, VolumePath } from './volume';

export interface MemfsVolumeOptions {
  label?: string;
  /** Refuse every change with EFI_WRITE_PROTECTED. */
  readOnly?: boolean;
}

export class MemfsVolume implements Volume {
  readonly label: string;
  readonly readOnly: boolean;
  private readonly vol = new MemfsVol();

  /** `files`: {"/EFI/BOOT/BOOTX64.EFI": bytes, ...}; '/' or '\' separators; parent directories are made. */
  constructor(files: Readonly<Record<string, Uint8Array>> = {}, options: MemfsVolumeOptions = {}) {
    this.label = options.label ?? 'ESP';
    this.readOnly = options.readOnly ?? false;
    for (const [text, data] of Object.entries(files)) this.load(text, data);
  }

  stat(path: VolumePath): EntryStat | undefined {
    return translateErrors(() => {
      const real = this.real(path);
      if (real === undefined) return undefined;
      const st = this.vol.statSync(real);
      return st.isDirectory()
        ? { kind: 'dir', size: 0, mtimeMs: Number(st.mtimeMs) }
        : { kind: 'file', size: Number(st.size), mtimeMs: Number(st.mtimeMs) };
    });
  }

  readDir(path: VolumePath): string[] {
    return translateErrors(() => {
      const real = this.existing(path, 'dir');
      return sortedUniqueNames(this.vol.readdirSync(real) as string[]);
    });
  }

  read(path: VolumePath, offset: number, length: number): Buffer {
    return translateErrors(() => {
      const real = this.existing(path, 'file');
      const size = Number(this.vol.statSync(real).size);
      const out = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      if (out.length === 0) return out;
      const fd = this.vol.openSync(real, 'r');
      try {
        this.vol.readSync(fd, out, 0, out.length, offset);
      } finally {
        this.vol.closeSync(fd);
      }
      return out;
    });
  }

  write(path: VolumePath, offset: number, data: Uint8Array): void {
    translateErrors(() => {
      this.checkWritable();
      const fd = this.vol.openSync(this.existing(path, 'file'), 'r+');
      try {
        this.vol.writeSync(fd, data, 0, data.length, offset);
      } finally {
        this.vol.closeSync(fd);
      }
    });
  }

  create(path: VolumePath, kind: EntryKind): void {
    translateErrors(() => {
      this.checkWritable();
      const p = normalizePath(path);
      if (p.length === 0) throw new EfiError(EFI_ACCESS_DENIED, 'the root directory exists');
      const parent = this.existing(p.slice(0, -1), 'dir');
      const name = p[p.length - 1];
      if (findName(this.vol.readdirSync(parent) as string[], name) !== undefined) {
        throw new EfiError(EFI_ACCESS_DENIED, `${name} exists`);
      }
      const real = posix.join(parent, name);
      if (kind === 'dir') this.vol.mkdirSync(real);
      else this.vol.writeFileSync(real, Buffer.alloc(0));
    });
  }

  remove(path: VolumePath): void {
    translateErrors(() => {
      this.checkWritable();
      if (normalizePath(path).length === 0) throw new EfiError(EFI_ACCESS_DENIED, 'the root directory cannot be removed');
      const real = this.existing(path);
      if (this.vol.statSync(real).isDirectory()) this.vol.rmdirSync(real);
      else this.vol.unlinkSync(real);
    });
  }

  setSize(path: VolumePath, size: number): void {
    translateErrors(() => {
      this.checkWritable();
      this.vol.truncateSync(this.existing(path, 'file'), size);
    });
  }

  /** Configuration, not guest input: a bad name is the caller's bug and throws a plain Error. */
  private load(text: string, data: Uint8Array): void {
    const parts = splitPath(text);
    const bad = parts.find((c) => !isValidFatName(c));
    if (parts.length === 0 || bad !== undefined) throw new Error(`MemfsVolume: not a FAT path: ${JSON.stringify(text)}`);
    let dir = '/';
    for (const c of parts.slice(0, -1)) {
      const found = findName(this.vol.readdirSync(dir) as string[], c);
      dir = posix.join(dir, found ?? c);
      if (found === undefined) this.vol.mkdirSync(dir);
      else if (!this.vol.statSync(dir).isDirectory()) throw new Error(`MemfsVolume: ${dir} is a file`);
    }
    const name = parts[parts.length - 1];
    const file = posix.join(dir, findName(this.vol.readdirSync(dir) as string[], name) ?? name);
    this.vol.writeFileSync(file, data);
  }

  /** The memfs path `path` names, matching each component without regard to case. */
  private real(path: VolumePath): string | undefined {
    let cur = '/';
    for (const c of normalizePath(path)) {
      if (!this.vol.statSync(cur).isDirectory()) return undefined;
      const found = findName(this.vol.readdirSync(cur) as string[], c);
      if (found === undefined) return undefined;
      cur = posix.join(cur, found);
    }
    return cur;
  }

  private existing(path: VolumePath, kind?: EntryKind): string {
    const real = this.real(path);
    if (real === undefined) throw new EfiError(EFI_NOT_FOUND, `${path.join('\\')} not found`);
    const isDir = this.vol.statSync(real).isDirectory();
    if (kind === 'dir' && !isDir) throw new EfiError(EFI_NOT_FOUND, `${path.join('\\')} is not a directory`);
    if (kind === 'file' && isDir) throw new EfiError(EFI_ACCESS_DENIED, `${path.join('\\')} is a directory`);
    return real;
  }

  private checkWritable(): void {
    if (this.readOnly) throw new EfiError(EFI_WRITE_PROTECTED, `volume ${this.label} is read-only`);
  }
}
