// The default in-memory ESP: a writable Volume held as a tree of host objects, built from a map of paths to file
// contents. A file given at construction is kept by reference and copied on its first change, so the started
// image (a UKI of 80 MiB with its initrd) is not held twice. (It replaced a memfs volume: loading memfs took
// 80-200 ms of every run's start, docs/bench.md.)
import { EfiError, EFI_ACCESS_DENIED, EFI_NOT_FOUND, EFI_WRITE_PROTECTED } from '../../core/status';
import { EntryKind, EntryStat, findName, isValidFatName, normalizePath, sortedUniqueNames, splitPath, Volume,
  VolumePath } from './volume';

export interface MemoryVolumeOptions {
  label?: string;
  /** Refuse every change with EFI_WRITE_PROTECTED. */
  readOnly?: boolean;
}

interface FileNode {
  kind: 'file';
  /** The bytes: `data[0, size)`; `data` is the caller's until the first change (`owned` false). */
  data: Uint8Array;
  size: number;
  owned: boolean;
  mtimeMs: number;
}

interface DirNode {
  kind: 'dir';
  /** By the name's exact case; lookups go through findName (case-insensitive, FAT). */
  children: Map<string, FileNode | DirNode>;
  mtimeMs: number;
}

type Node = FileNode | DirNode;

export class MemoryVolume implements Volume {
  readonly label: string;
  readonly readOnly: boolean;
  private readonly root: DirNode = { kind: 'dir', children: new Map(), mtimeMs: Date.now() };

  /** `files`: {"/EFI/BOOT/BOOTX64.EFI": bytes, ...}; '/' or '\' separators; parent directories are made. */
  constructor(files: Readonly<Record<string, Uint8Array>> = {}, options: MemoryVolumeOptions = {}) {
    this.label = options.label ?? 'ESP';
    this.readOnly = options.readOnly ?? false;
    for (const [text, data] of Object.entries(files)) this.load(text, data);
  }

  stat(path: VolumePath): EntryStat | undefined {
    const n = this.find(normalizePath(path));
    if (!n) return undefined;
    return n.kind === 'dir' ? { kind: 'dir', size: 0, mtimeMs: n.mtimeMs } : { kind: 'file', size: n.size, mtimeMs: n.mtimeMs };
  }

  readDir(path: VolumePath): string[] {
    return sortedUniqueNames(this.existingDir(path).children.keys());
  }

  read(path: VolumePath, offset: number, length: number): Buffer {
    const f = this.existingFile(path);
    const out = Buffer.alloc(Math.max(0, Math.min(length, f.size - offset)));
    if (out.length > 0) out.set(f.data.subarray(offset, offset + out.length));
    return out;
  }

  write(path: VolumePath, offset: number, data: Uint8Array): void {
    this.checkWritable();
    const f = this.existingFile(path);
    if (data.length === 0) return;
    this.resize(f, Math.max(f.size, offset + data.length));
    f.data.set(data, offset);
    f.mtimeMs = Date.now();
  }

  create(path: VolumePath, kind: EntryKind): void {
    this.checkWritable();
    const p = normalizePath(path);
    if (p.length === 0) throw new EfiError(EFI_ACCESS_DENIED, 'the root directory exists');
    const parent = this.existingDir(p.slice(0, -1));
    const name = p[p.length - 1];
    if (findName([...parent.children.keys()], name) !== undefined) throw new EfiError(EFI_ACCESS_DENIED, `${name} exists`);
    parent.children.set(name, kind === 'dir'
      ? { kind: 'dir', children: new Map(), mtimeMs: Date.now() }
      : { kind: 'file', data: new Uint8Array(0), size: 0, owned: true, mtimeMs: Date.now() });
  }

  remove(path: VolumePath): void {
    this.checkWritable();
    const p = normalizePath(path);
    if (p.length === 0) throw new EfiError(EFI_ACCESS_DENIED, 'the root directory cannot be removed');
    const n = this.find(p);
    if (!n) throw new EfiError(EFI_NOT_FOUND, `${path.join('\\')} not found`);
    const parent = this.find(p.slice(0, -1)) as DirNode;
    // The message memfs gave (rmdir of a non-empty directory), kept: it is a trace note.
    if (n.kind === 'dir' && n.children.size > 0) throw new EfiError(EFI_ACCESS_DENIED, `ENOTEMPTY: directory not empty, rmdir '/${this.realPath(p).join('/')}'`);
    parent.children.delete(findName([...parent.children.keys()], p[p.length - 1])!);
  }

  setSize(path: VolumePath, size: number): void {
    this.checkWritable();
    const f = this.existingFile(path);
    this.resize(f, size);
    f.mtimeMs = Date.now();
  }

  /** Makes `f` `size` bytes long and its own: zeros past the old end, bytes past the new end dropped. */
  private resize(f: FileNode, size: number): void {
    if (f.owned && size <= f.data.length) {
      if (size > f.size) f.data.fill(0, f.size, size);
      f.size = size;
      return;
    }
    const data = Buffer.alloc(f.owned ? Math.max(size, 2 * f.data.length) : size);
    data.set(f.data.subarray(0, Math.min(f.size, size)));
    f.data = data;
    f.size = size;
    f.owned = true;
  }

  /** Configuration, not guest input: a bad name is the caller's bug and throws a plain Error. */
  private load(text: string, data: Uint8Array): void {
    const parts = splitPath(text);
    const bad = parts.find((c) => !isValidFatName(c));
    if (parts.length === 0 || bad !== undefined) throw new Error(`MemoryVolume: not a FAT path: ${JSON.stringify(text)}`);
    let dir = this.root;
    for (const c of parts.slice(0, -1)) {
      const found = findName([...dir.children.keys()], c);
      let next = found === undefined ? undefined : dir.children.get(found);
      if (!next) dir.children.set(c, (next = { kind: 'dir', children: new Map(), mtimeMs: Date.now() }));
      if (next.kind !== 'dir') throw new Error(`MemoryVolume: ${c} in ${text} is a file`);
      dir = next;
    }
    const name = findName([...dir.children.keys()], parts[parts.length - 1]) ?? parts[parts.length - 1];
    if (dir.children.get(name)?.kind === 'dir') throw new Error(`MemoryVolume: ${text} is a directory`);
    dir.children.set(name, { kind: 'file', data, size: data.length, owned: false, mtimeMs: Date.now() });
  }

  /** The node `p` (normalized) names, matching each component without regard to case. */
  private find(p: readonly string[]): Node | undefined {
    let cur: Node = this.root;
    for (const c of p) {
      if (cur.kind !== 'dir') return undefined;
      const found = findName([...cur.children.keys()], c);
      if (found === undefined) return undefined;
      cur = cur.children.get(found)!;
    }
    return cur;
  }

  /** The stored names along `p` (normalized, existing). */
  private realPath(p: readonly string[]): string[] {
    const out: string[] = [];
    let cur: Node = this.root;
    for (const c of p) {
      if (cur.kind !== 'dir') break;
      const found: string = findName([...cur.children.keys()], c)!;
      out.push(found);
      cur = cur.children.get(found)!;
    }
    return out;
  }

  private existingDir(path: VolumePath): DirNode {
    const n = this.find(normalizePath(path));
    if (!n) throw new EfiError(EFI_NOT_FOUND, `${path.join('\\')} not found`);
    if (n.kind !== 'dir') throw new EfiError(EFI_NOT_FOUND, `${path.join('\\')} is not a directory`);
    return n;
  }

  private existingFile(path: VolumePath): FileNode {
    const n = this.find(normalizePath(path));
    if (!n) throw new EfiError(EFI_NOT_FOUND, `${path.join('\\')} not found`);
    if (n.kind !== 'file') throw new EfiError(EFI_ACCESS_DENIED, `${path.join('\\')} is a directory`);
    return n;
  }

  private checkWritable(): void {
    if (this.readOnly) throw new EfiError(EFI_WRITE_PROTECTED, `volume ${this.label} is read-only`);
  }
}
