// The bench's inputs: the Debian UKI (small and 64 MiB initrd), the same stub with the generic (XZ) kernel, trixie's
// stub 257 with its 6.12 kernel (ZSTD), the bare Debian kernel with an initrd, the samples.
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestInitrd, TEST_INIT_SCRIPT, writeCpio } from '../initrd/cpio';
import { buildUki } from '../uki/build';
import { readFixtureFile } from '../../scripts/fixtures/manifest';
import { CaseGroup } from './options';

/** The checkout: dist/src/bench/ → three levels up. */
export const REPO_ROOT = join(__dirname, '..', '..', '..');
export const SAMPLES_DIR = join(REPO_ROOT, 'samples', 'build');

/**
 * The kernel command line of every Linux case, in the UKI's .cmdline and as the bare kernel's LoadOptions. With
 * `console=ttyS0` alone the kernel's log reaches the serial port only at console_init; `earlyprintk=serial`
 * registers a boot console while early parameters are parsed in setup_arch, which replays the log from
 * "Linux version" on (Linux Documentation/admin-guide/kernel-parameters.txt, earlyprintk).
 */
export const BENCH_CMDLINE = 'console=ttyS0 earlyprintk=serial,ttyS0,115200';

export const LARGE_INITRD_BYTES = 64 * 1024 * 1024;

export interface BenchCase {
  /** 'uki', 'uki64', 'kernel', 'sample:hello', ... */
  readonly id: string;
  readonly group: CaseGroup;
  readonly description: string;
  readonly image: Buffer;
  /** The image on disk (the child `stubemu run` and QEMU read it). */
  readonly imagePath: string;
  /** Bare kernel: the initrd offered through LoadFile2 (stubemu --initrd, QEMU -initrd). */
  readonly initrd?: Buffer;
  readonly initrdPath?: string;
  /** Bare kernel: its command line (stubemu --load-options, QEMU -append). */
  readonly loadOptions?: string;
  /** Linux is started, so the QEMU reference (time to the kernel's first line) applies. */
  readonly bootsLinux: boolean;
}

/**
 * `bytes` deterministic pseudo-random bytes: the AES-128-CTR keystream (key = first 16 bytes of SHA-256(seed),
 * counter from 0). Incompressible, like a real initrd's compressed payload, and the same on every machine.
 */
export function pseudoRandomBytes(bytes: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(bytes)), cipher.final()]);
}

/** A newc archive holding /init and one file of `payloadBytes` pseudo-random bytes (the "64 MiB initrd"). */
export function makeLargeInitrd(payloadBytes = LARGE_INITRD_BYTES, seed = 'stubemu bench initrd'): Buffer {
  return writeCpio([
    { path: 'init', mode: 0o100755, data: TEST_INIT_SCRIPT },
    { path: 'usr/lib/bench/payload.bin', mode: 0o644, data: pseudoRandomBytes(payloadBytes, seed) },
  ]);
}

function debianUki(initrd: Buffer, stub = 'stub-252', kernel = 'kernel-6.1-cloud'): Buffer {
  return buildUki({
    stub: readFixtureFile(stub, 'linuxx64.efi.stub'),
    stubName: 'linuxx64.efi.stub',
    linux: readFixtureFile(kernel, 'vmlinuz'),
    linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: initrd }],
    cmdline: Buffer.from(BENCH_CMDLINE),
    osRelease: Buffer.from('ID=debian\nVERSION_ID=12\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'),
  }).image;
}

/** Builds the cases of the chosen groups and writes their files into `dir`. */
export function prepareCases(groups: readonly CaseGroup[], dir: string): BenchCase[] {
  const out: BenchCase[] = [];
  const write = (name: string, data: Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  if (groups.includes('uki')) {
    const image = debianUki(makeTestInitrd());
    out.push({ id: 'uki', group: 'uki', description: 'Debian UKI (systemd-stub 252, Linux 6.1), small initrd', image, imagePath: write('debian-uki.efi', image), bootsLinux: true });
  }
  if (groups.includes('uki64')) {
    const image = debianUki(makeLargeInitrd());
    out.push({ id: 'uki64', group: 'uki64', description: 'the same UKI with a 64 MiB initrd', image, imagePath: write('debian-uki64.efi', image), bootsLinux: true });
  }
  if (groups.includes('uki-xz')) {
    const image = debianUki(makeTestInitrd(), 'stub-252', 'kernel-6.1');
    out.push({ id: 'uki-xz', group: 'uki-xz', description: 'systemd-stub 252, Linux 6.1 generic (XZ payload), small initrd', image, imagePath: write('debian-uki-xz.efi', image), bootsLinux: true });
  }
  if (groups.includes('uki612')) {
    const image = debianUki(makeTestInitrd(), 'stub-257', 'kernel-6.12-cloud');
    out.push({ id: 'uki612', group: 'uki612', description: 'systemd-stub 257, Linux 6.12 cloud (ZSTD payload), small initrd', image, imagePath: write('debian-uki612.efi', image), bootsLinux: true });
  }
  if (groups.includes('kernel')) {
    const image = readFixtureFile('kernel-6.1-cloud', 'vmlinuz');
    const initrd = makeTestInitrd();
    out.push({
      id: 'kernel', group: 'kernel', description: 'bare Debian kernel, initrd through LoadFile2', image, imagePath: write('vmlinuz.efi', image),
      initrd, initrdPath: write('initrd.cpio', initrd), loadOptions: BENCH_CMDLINE, bootsLinux: true,
    });
  }
  if (groups.includes('samples')) {
    if (!existsSync(SAMPLES_DIR)) throw new Error(`${SAMPLES_DIR} is missing: run samples/build.sh (or npm run setup)`);
    for (const f of readdirSync(SAMPLES_DIR).filter((n) => n.endsWith('.efi')).sort()) {
      const image = readFileSync(join(SAMPLES_DIR, f));
      out.push({ id: `sample:${f.slice(0, -4)}`, group: 'samples', description: `samples/build/${f}`, image, imagePath: join(SAMPLES_DIR, f), bootsLinux: false });
    }
  }
  return out;
}
