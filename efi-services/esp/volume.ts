// The ESP backend behind EFI_SIMPLE_FILE_SYSTEM_PROTOCOL: a tree of files and directories with FAT naming rules.
import { EfiError, EfiStatus, EFI_ACCESS_DENIED, EFI_DEVICE_ERROR, EFI_INVALID_PARAMETER, EFI_NOT_FOUND,
  EFI_VOLUME_FULL, EFI_WRITE_PROTECTED } from '../../core/status';

export type EntryKind = 'file' | 'dir';

export interface EntryStat {
  readonly kind: EntryKind;
  /** Bytes for a file, 0 for a directory. */
  readonly size: number;
  /** Host modification time when known; the file protocol does not report it (reports stay reproducible). */
  readonly mtimeMs?: number;
}

/** Path components from the volume root; [] is the root. */
export type VolumePath = readonly string[];

/**
 * A volume. Lookup is case-insensitive and names keep their case (FAT long names, FAT32 spec "Long Directory
 * Entries"); "." and ".." are resolved inside the volume and never reach above its root. Methods fail only by
 * throwing EfiError (EFI_NOT_FOUND, EFI_ACCESS_DENIED, EFI_WRITE_PROTECTED, EFI_VOLUME_FULL, EFI_DEVICE_ERROR,
 * EFI_INVALID_PARAMETER for a name FAT forbids or a path above the root).
 */
export interface Volume {
  readonly label: string;
  /** Every change throws EFI_WRITE_PROTECTED. */
  readonly readOnly: boolean;
  /** undefined when nothing is there. */
  stat(path: VolumePath): EntryStat | undefined;
  /** Names in the directory, sorted by code unit, one per case-insensitive name. */
  readDir(path: VolumePath): string[];
  /** Up to `length` bytes from `offset`; fewer at the end of the file. */
  read(path: VolumePath, offset: number, length: number): Buffer;
  /** Writes at `offset`, growing the file (zero-filled) when it ends past the end. */
  write(path: VolumePath, offset: number, data: Uint8Array): void;
  /** Creates an empty file or directory; the parent must exist and the name must be free. */
  create(path: VolumePath, kind: EntryKind): void;
  /** Removes a file or an empty directory; never the root. */
  remove(path: VolumePath): void;
  /** Truncates or zero-extends a file. */
  setSize(path: VolumePath, size: number): void;
}

/** Longest FAT long name (FAT32 spec: 255 UCS-2 characters). */
export const FAT_MAX_NAME = 255;

/** Characters a FAT long name may not hold: " * / : < > ? \ | and controls (FAT32 spec, "Long File Names"). */
const FORBIDDEN = /["*/:<>?\\|\u0000-\u001f\u007f]/;

/** FAT stores names without trailing dots and spaces (Windows and edk2 FatFileNameIsValid drop them). */
export function fatName(component: string): string | undefined {
  const name = component.replace(/[. ]+$/, '');
  if (name.length === 0 || name.length > FAT_MAX_NAME || FORBIDDEN.test(name)) return undefined;
  return name;
}

export function isValidFatName(component: string): boolean {
  return fatName(component) === component;
}

/** FAT compares names case-insensitively (edk2 compares through EFI_UNICODE_COLLATION StriColl). */
export function foldName(name: string): string {
  return name.toUpperCase();
}

/** The entry of `names` that `name` selects: the first, in sorted order, that matches without regard to case. */
export function findName(names: readonly string[], name: string): string | undefined {
  const key = foldName(name);
  let found: string | undefined;
  for (const n of names) if (foldName(n) === key && (found === undefined || n < found)) found = n;
  return found;
}

/** Sorted, keeping the first of names that differ only by case. */
export function sortedUniqueNames(names: Iterable<string>): string[] {
  const seen = new Set<string>();
  return [...names].sort().filter((n) => {
    const k = foldName(n);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Resolves "." and ".." and checks every name. Going above the root is EFI_INVALID_PARAMETER, as edk2
 * FatLocateOFile answers ".." on the root directory; so is a name FAT forbids.
 */
export function normalizePath(path: VolumePath): string[] {
  const out: string[] = [];
  for (const c of path) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw new EfiError(EFI_INVALID_PARAMETER, 'path leads above the volume root');
      out.pop();
      continue;
    }
    const name = fatName(c);
    if (name === undefined) throw new EfiError(EFI_INVALID_PARAMETER, `not a FAT file name: ${JSON.stringify(c)}`);
    out.push(name);
  }
  return out;
}

/** Components of a path written with '\' (UEFI) or '/' separators; a leading separator is the root. */
export function splitPath(text: string): string[] {
  return text.split(/[\\/]/).filter((c) => c !== '');
}

/** Host and memfs errno codes as EFI statuses: the one place where a backend failure becomes a status. */
export function errnoStatus(code: string | undefined): EfiStatus {
  switch (code) {
    case 'ENOENT': case 'ENOTDIR': case 'ELOOP': return EFI_NOT_FOUND;
    case 'EACCES': case 'EPERM': case 'EEXIST': case 'ENOTEMPTY': case 'EISDIR': case 'EBUSY': return EFI_ACCESS_DENIED;
    case 'EROFS': return EFI_WRITE_PROTECTED;
    case 'ENOSPC': case 'EDQUOT': case 'EFBIG': return EFI_VOLUME_FULL;
    case 'ENAMETOOLONG': case 'EINVAL': return EFI_INVALID_PARAMETER;
    default: return EFI_DEVICE_ERROR;
  }
}

/** Runs a backend operation, turning an errno exception into EfiError; anything else (a bug) passes through. */
export function translateErrors<T>(op: () => T): T {
  try {
    return op();
  } catch (e) {
    const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
    if (typeof code !== 'string') throw e;
    throw new EfiError(errnoStatus(code), (e as Error).message);
  }
}
