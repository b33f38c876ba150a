// A host directory as the ESP, confined to that directory; guest writes land in an in-memory overlay unless writable.
import * as fs from 'fs';
import * as path from 'path';
import { EfiError, EFI_ACCESS_DENIED, EFI_NOT_FOUND, EFI_WRITE_PROTECTED } from '../../core/status';
import { MemfsVolume } from './memfs-volume';
import { EntryKind, EntryStat, findName, foldName, isValidFatName, normalizePath, sortedUniqueNames,
  translateErrors, Volume, VolumePath } from './volume';

export interface HostVolumeOptions {
  /** Guest writes change the host directory. Default false: they go to an in-memory overlay. */
  writable?: boolean;
  /** With `writable` false, keep guest writes in memory (default true); false makes the volume read-only. */
  overlay?: boolean;
  label?: string;
  /** Told once per host path that is hidden from the guest (a symlink leaving the directory, a device, ...). */
  onRefused?: (hostPath: string, reason: string) => void;
}

/** A host entry the guest may see: `link` is its path in its parent's real directory, `real` has no symlinks. */
interface HostEntry {
  readonly link: string;
  readonly real: string;
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
// Not defined on every host OS; where missing the realpath check above them still holds.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

export class HostVolume implements Volume {
  readonly label: string;
  readonly readOnly: boolean;
  private readonly root: string;
  private readonly writable: boolean;
  private readonly overlay?: MemfsVolume;
  /** Folded paths of host entries the guest deleted from the overlay view; they hide everything below. */
  private readonly whiteouts = new Set<string>();
  private readonly refused = new Set<string>();
  private readonly onRefused: (hostPath: string, reason: string) => void;

  constructor(dir: string, options: HostVolumeOptions = {}) {
    this.root = fs.realpathSync(dir);
    if (!fs.statSync(this.root).isDirectory()) throw new Error(`HostVolume: ${dir} is not a directory`);
    this.label = options.label ?? 'ESP';
    this.writable = options.writable ?? false;
    if (!this.writable && (options.overlay ?? true)) this.overlay = new MemfsVolume({}, { label: this.label });
    this.readOnly = !this.writable && this.overlay === undefined;
    this.onRefused = options.onRefused ?? (() => {});
  }

  stat(p: VolumePath): EntryStat | undefined {
    return translateErrors(() => {
      const canon = this.canonical(p);
      return canon && this.mergedStat(canon);
    });
  }

  readDir(p: VolumePath): string[] {
    return translateErrors(() => this.mergedNames(this.existing(p, 'dir')));
  }

  read(p: VolumePath, offset: number, length: number): Buffer {
    return translateErrors(() => {
      const canon = this.existing(p, 'file');
      if (this.overlay?.stat(canon)) return this.overlay.read(canon, offset, length);
      return this.hostRead(this.hostEntry(canon), offset, length);
    });
  }

  write(p: VolumePath, offset: number, data: Uint8Array): void {
    translateErrors(() => {
      this.checkWritable();
      const canon = this.existing(p, 'file');
      if (!this.overlay) return this.hostWrite(this.hostEntry(canon), offset, data);
      this.copyUp(canon);
      this.overlay.write(canon, offset, data);
    });
  }

  create(p: VolumePath, kind: EntryKind): void {
    translateErrors(() => {
      this.checkWritable();
      const norm = normalizePath(p);
      if (norm.length === 0) throw new EfiError(EFI_ACCESS_DENIED, 'the root directory exists');
      const parent = this.existing(norm.slice(0, -1), 'dir');
      const name = norm[norm.length - 1];
      if (findName(this.mergedNames(parent), name) !== undefined) throw new EfiError(EFI_ACCESS_DENIED, `${name} exists`);
      if (!this.overlay) return this.hostCreate(this.hostEntry(parent), name, kind);
      this.overlayDirs(parent);
      this.overlay.create([...parent, name], kind);
    });
  }

  remove(p: VolumePath): void {
    translateErrors(() => {
      this.checkWritable();
      const canon = this.existing(p);
      if (canon.length === 0) throw new EfiError(EFI_ACCESS_DENIED, 'the root directory cannot be removed');
      if (this.mergedStat(canon)?.kind === 'dir' && this.mergedNames(canon).length > 0) {
        throw new EfiError(EFI_ACCESS_DENIED, `${canon.join('\\')} is not empty`);
      }
      if (!this.overlay) return this.hostRemove(this.hostEntry(canon));
      if (this.overlay.stat(canon)) this.overlay.remove(canon);
      if (!this.hidden(canon) && this.hostLookup(canon)) this.whiteouts.add(key(canon));
    });
  }

  setSize(p: VolumePath, size: number): void {
    translateErrors(() => {
      this.checkWritable();
      const canon = this.existing(p, 'file');
      if (!this.overlay) return this.hostSetSize(this.hostEntry(canon), size);
      this.copyUp(canon);
      this.overlay.setSize(canon, size);
    });
  }

  // --- the merged view: overlay entries win; host entries at or below a guest delete are hidden ---

  /** The path with each component replaced by the name it matches (FAT: without regard to case). */
  private canonical(p: VolumePath): string[] | undefined {
    const out: string[] = [];
    for (const c of normalizePath(p)) {
      if (this.mergedStat(out)?.kind !== 'dir') return undefined;
      const found = findName(this.mergedNames(out), c);
      if (found === undefined) return undefined;
      out.push(found);
    }
    return out;
  }

  private existing(p: VolumePath, kind?: EntryKind): string[] {
    const canon = this.canonical(p);
    const st = canon && this.mergedStat(canon);
    if (!canon || !st) throw new EfiError(EFI_NOT_FOUND, `${p.join('\\')} not found`);
    if (kind === 'dir' && st.kind !== 'dir') throw new EfiError(EFI_NOT_FOUND, `${p.join('\\')} is not a directory`);
    if (kind === 'file' && st.kind !== 'file') throw new EfiError(EFI_ACCESS_DENIED, `${p.join('\\')} is a directory`);
    return canon;
  }

  private mergedStat(canon: string[]): EntryStat | undefined {
    const o = this.overlay?.stat(canon);
    if (o) return o;
    if (this.hidden(canon)) return undefined;
    const h = this.hostLookup(canon);
    return h && { kind: h.kind, size: h.kind === 'dir' ? 0 : h.size, mtimeMs: h.mtimeMs };
  }

  private mergedNames(canon: string[]): string[] {
    const names = new Map<string, string>();
    if (this.overlay?.stat(canon)?.kind === 'dir') {
      for (const n of this.overlay.readDir(canon)) names.set(foldName(n), n);
    }
    const h = this.hidden(canon) ? undefined : this.hostLookup(canon);
    if (h?.kind === 'dir') {
      for (const n of this.hostNames(h.real)) {
        if (!names.has(foldName(n)) && !this.whiteouts.has(key([...canon, n]))) names.set(foldName(n), n);
      }
    }
    return sortedUniqueNames(names.values());
  }

  private hidden(canon: string[]): boolean {
    for (let i = 1; i <= canon.length; i++) if (this.whiteouts.has(key(canon.slice(0, i)))) return true;
    return false;
  }

  /** Copies a host file (and the directories above it) into the overlay before its first change. */
  private copyUp(canon: string[]): void {
    const overlay = this.overlay!;
    if (overlay.stat(canon)) return;
    this.overlayDirs(canon.slice(0, -1));
    const h = this.hostEntry(canon);
    overlay.create(canon, h.kind);
    if (h.kind === 'file') overlay.write(canon, 0, this.hostRead(h, 0, h.size));
  }

  private overlayDirs(canon: string[]): void {
    for (let i = 1; i <= canon.length; i++) {
      if (!this.overlay!.stat(canon.slice(0, i))) this.overlay!.create(canon.slice(0, i), 'dir');
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new EfiError(EFI_WRITE_PROTECTED, `volume ${this.label} is read-only`);
  }

  // --- the host directory: every step is checked to stay inside `root` ---

  private hostEntry(canon: string[]): HostEntry {
    const h = this.hostLookup(canon);
    if (!h) throw new EfiError(EFI_NOT_FOUND, `${canon.join('\\')} not found on the host`);
    return h;
  }

  /** Walks from the root; a name matching several host names (by case) takes the first admitted one in sorted order. */
  private hostLookup(canon: readonly string[]): HostEntry | undefined {
    let cur: HostEntry | undefined = { link: this.root, real: this.root, kind: 'dir', size: 0, mtimeMs: 0 };
    for (const c of canon) {
      if (cur.kind !== 'dir') return undefined;
      const dir: string = cur.real;
      const folded = foldName(c);
      const candidates = fs.readdirSync(dir).filter((n) => foldName(n) === folded && isValidFatName(n)).sort();
      cur = undefined;
      for (const n of candidates) if ((cur = this.admit(path.join(dir, n)))) break;
      if (!cur) return undefined;
    }
    return cur;
  }

  /** Names in a real host directory the guest may see. */
  private hostNames(dir: string): string[] {
    return sortedUniqueNames(fs.readdirSync(dir).filter((n) => isValidFatName(n) && this.admit(path.join(dir, n))));
  }

  /** An entry of a real directory, if it is a regular file or directory that resolves inside the root. */
  private admit(link: string): HostEntry | undefined {
    const lst = fs.lstatSync(link);
    let real = link;
    let st = lst;
    if (lst.isSymbolicLink()) {
      try {
        real = fs.realpathSync(link);
      } catch {
        return this.refuse(link, 'dangling or looping symlink');
      }
      if (!this.contains(real)) return this.refuse(link, `symlink to ${real} leaves the volume`);
      st = fs.statSync(real);
    }
    if (st.isFile()) return { link, real, kind: 'file', size: st.size, mtimeMs: st.mtimeMs };
    if (st.isDirectory()) return { link, real, kind: 'dir', size: 0, mtimeMs: st.mtimeMs };
    return this.refuse(link, 'not a regular file or directory');
  }

  private contains(real: string): boolean {
    const rel = path.relative(this.root, real);
    return rel === '' || (!path.isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${path.sep}`));
  }

  private refuse(hostPath: string, reason: string): undefined {
    if (!this.refused.has(hostPath)) {
      this.refused.add(hostPath);
      this.onRefused(hostPath, reason);
    }
    return undefined;
  }

  /** Opens the resolved path without following a symlink swapped in since, and insists on a regular file. */
  private withFile<T>(h: HostEntry, flags: number, op: (fd: number, size: number) => T): T {
    const fd = fs.openSync(h.real, flags | O_NOFOLLOW | O_NONBLOCK);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new EfiError(EFI_ACCESS_DENIED, `${h.real} is not a regular file`);
      return op(fd, st.size);
    } finally {
      fs.closeSync(fd);
    }
  }

  private hostRead(h: HostEntry, offset: number, length: number): Buffer {
    return this.withFile(h, O_RDONLY, (fd, size) => {
      const out = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < out.length) {
        const n = fs.readSync(fd, out, got, out.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return out.subarray(0, got);
    });
  }

  private hostWrite(h: HostEntry, offset: number, data: Uint8Array): void {
    this.withFile(h, O_WRONLY, (fd) => {
      let done = 0;
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, offset + done);
    });
  }

  private hostSetSize(h: HostEntry, size: number): void {
    this.withFile(h, O_WRONLY, (fd) => fs.ftruncateSync(fd, size));
  }

  private hostCreate(parent: HostEntry, name: string, kind: EntryKind): void {
    const target = path.join(parent.real, name);
    if (kind === 'dir') fs.mkdirSync(target, 0o755);
    else fs.closeSync(fs.openSync(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644));
  }

  /** Removes the directory entry itself: a symlink goes, never what it points to. */
  private hostRemove(h: HostEntry): void {
    const lst = fs.lstatSync(h.link);
    if (lst.isDirectory()) fs.rmdirSync(h.link);
    else fs.unlinkSync(h.link);
  }
}

function key(canon: readonly string[]): string {
  return canon.map(foldName).join('/');
}
