// Which libunicorn.so.2 stubemu loads, and what its version means for speed and correctness (measured, docs/bench.md).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as koffi from 'koffi';

/** Environment override: the path of a libunicorn.so.2 to load instead of the search below. */
export const LIBRARY_ENV = 'STUBEMU_LIBUNICORN';
/** Unicorn 2.1.1 from Debian 13 (libunicorn2t64 2.1.1-2+b2), fetched by the set-up (fixtures/manifest.json). */
export const FETCHED_LIBRARY = path.join('.cache', 'fixtures', 'unicorn-2.1.1', 'libunicorn.so.2');
/** The package to use when the loaded engine is a slow or broken version. */
export const FAST_PACKAGE = "Debian 13's libunicorn2t64 2.1.1 (npm run setup fetches it into .cache/)";

export interface UnicornVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface LoadedUnicorn {
  lib: koffi.LibraryHandle;
  /** Where it came from: the override's path, the fetched copy's path or `libunicorn.so.2` (the system's). */
  source: string;
  version: UnicornVersion;
  /** `2.1.1`. */
  versionText: string;
  /** One line naming what is wrong with this version and the package to use, or undefined when it is a good one. */
  warning?: string;
}

/** uc_version's result (unicorn.h: major << 24 | minor << 16 | patch << 8 | extra). */
export function decodeVersion(word: number): UnicornVersion {
  return { major: (word >>> 24) & 0xff, minor: (word >>> 16) & 0xff, patch: (word >>> 8) & 0xff };
}

/**
 * What the bench and the test runs measured of a version (docs/bench.md): 2.0.x sends every guest store to
 * QEMU's slow path and does not resume a run stopped by its timeout correctly; 2.1.2 to 2.1.4 take the slow
 * store path again; 2.1.1 is the one measured fast and right.
 */
export function versionWarning(v: UnicornVersion): string | undefined {
  const text = `${v.major}.${v.minor}.${v.patch}`;
  if (v.major < 2) return `Unicorn ${text} is not supported (x86_64 UEFI needs 2.x); use ${FAST_PACKAGE}`;
  if (v.major === 2 && v.minor === 0) return `Unicorn ${text} is slow (every guest store takes the slow path) and resumes timed slices wrongly; use ${FAST_PACKAGE}`;
  if (v.major === 2 && v.minor === 1 && v.patch >= 2 && v.patch <= 4) return `Unicorn ${text} is slow (guest stores take the slow path); use ${FAST_PACKAGE}`;
  return undefined;
}

/** The checkout's root (dist/emulator/cpu/ → ../../..), where .cache/ lives. */
function checkoutRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

function open(source: string): LoadedUnicorn {
  const lib = koffi.load(source);
  const ucVersion = lib.func('unsigned int uc_version(_Out_ unsigned int *major, _Out_ unsigned int *minor)');
  const version = decodeVersion(ucVersion([0], [0]) as number);
  const versionText = `${version.major}.${version.minor}.${version.patch}`;
  return { lib, source, version, versionText, warning: versionWarning(version) };
}

/**
 * Order: $STUBEMU_LIBUNICORN (must load); the 2.1.1 the set-up fetched into .cache/ (the version measured fast and
 * right, Debian 13's own package); the system's libunicorn.so.2, with its warning when it is a slow version. The
 * fetched copy comes first so a run loads one 20 MB library, not two (reading the system's version means loading it).
 */
export function loadUnicorn(): LoadedUnicorn {
  const override = process.env[LIBRARY_ENV];
  if (override) {
    try {
      return open(override);
    } catch (e) {
      throw new Error(`cannot load ${LIBRARY_ENV}=${override}: ${(e as Error).message}`);
    }
  }
  const fetched = path.join(checkoutRoot(), FETCHED_LIBRARY);
  if (fs.existsSync(fetched)) return open(fetched);
  try {
    return open('libunicorn.so.2');
  } catch (e) {
    throw new Error(`cannot load libunicorn.so.2 (${(e as Error).message}) and ${fetched} is missing; run npm run setup, which fetches ${FAST_PACKAGE.replace(/ \(.*/, '')}`);
  }
}
