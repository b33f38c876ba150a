// The real inputs of fixtures/manifest.json, fetched by `npm run fixtures` (run by scripts/setup.sh): never silently
// skipped. Expected versions come from the manifest (the package's own metadata), never from a literal in a test.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { FixtureEntry, fixtureFilePath, readManifest } from '../../scripts/fixtures/manifest';

export type FixtureId =
  | 'stub-252' | 'stub-254' | 'stub-257' | 'stub-262'
  | 'kernel-6.1-cloud' | 'kernel-6.1-cloud-signed' | 'kernel-6.1' | 'kernel-6.12-cloud' | 'kernel-7-cloud'
  | 'unicorn-2.1.1' | 'ukify-257' | 'pefile' | 'busybox' | 'grub-signed' | 'memtest86plus' | 'refind' | 'shim' | 'efi-shell';

/** The stub and kernel of the default UKI (the demo's): systemd-stub 252 and the Linux 6.1 cloud kernel. */
export const DEFAULT_STUB: FixtureId = 'stub-252';
export const DEFAULT_KERNEL: FixtureId = 'kernel-6.1-cloud';

let manifest: readonly FixtureEntry[] | undefined;

export function fixtureEntry(id: FixtureId): FixtureEntry {
  manifest ??= readManifest().fixtures;
  const e = manifest.find((x) => x.id === id);
  if (!e) throw new Error(`fixture ${id} is not in fixtures/manifest.json`);
  return e;
}

export function fixturePath(id: FixtureId, file: string): string {
  if (!(file in fixtureEntry(id).files)) throw new Error(`fixture ${id} has no file ${file} in fixtures/manifest.json`);
  return fixtureFilePath(id, file);
}

export function fixture(id: FixtureId, file: string): Buffer {
  return readFileSync(fixturePath(id, file));
}

/** The default stub (linuxx64.efi.stub of stub-252) and kernel (vmlinuz of kernel-6.1-cloud). */
export const stubFile = (id: FixtureId = DEFAULT_STUB): Buffer => fixture(id, 'linuxx64.efi.stub');
export const kernelFile = (id: FixtureId = DEFAULT_KERNEL): Buffer => fixture(id, 'vmlinuz');

/** "systemd-stub 252.39-1~deb12u2": what .sdmagic says for Debian's build of that package version. */
export function stubIdentity(id: FixtureId = DEFAULT_STUB): string {
  return `systemd-stub ${fixtureEntry(id).version}`;
}

/** The kernel release from the package's file name: boot/vmlinuz-6.1.0-57-cloud-amd64 → 6.1.0-57-cloud-amd64. */
export function kernelRelease(id: FixtureId = DEFAULT_KERNEL): string {
  const p = fixtureEntry(id).files.vmlinuz.path;
  const m = /\/modules\/([^/]+)\/vmlinuz/.exec(p);
  return m ? m[1] : basename(p).replace(/^vmlinuz-/, '');
}

/**
 * `ukify build ARGS... --output OUT` with Debian 13's ukify 257 and the python3-pefile it imports, both from the
 * fixtures (Debian 12's python3 runs them); the reference UKI builder the tests compare against.
 */
export function ukify257Build(args: readonly string[], out: string): void {
  execFileSync('python3', [fixturePath('ukify-257', 'ukify'), 'build', ...args, '--output', out], {
    env: { ...process.env, PYTHONPATH: dirname(fixturePath('pefile', 'pefile.py')) }, stdio: ['ignore', 'ignore', 'pipe'],
  });
}
