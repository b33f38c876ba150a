// The host floor: what any TPM-measuring firmware does with the same bytes (hash per bank, copy kernel and initrd).
import { DEFAULT_PCR_BANKS } from '../../efi-services/tcg/pcr-banks';
import { createHash } from 'node:crypto';
import { parsePe } from '../../pe/pe-image';
import { sectionData } from '../uki/build';
import { BenchCase } from './cases';

/**
 * The sections systemd-stub 252 measures into PCR 11 (src/boot/efi/stub.c unified_sections: all but .pcrsig,
 * in this order); .uname and .sbat are measured only from systemd 253/254 on.
 */
export const STUB_252_MEASURED_SECTIONS = ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.pcrpkey'] as const;

/**
 * The active banks the floor assumes: sha1 + sha256, the usual two-bank firmware set-up (TCG PC Client PFP:
 * one extend per active bank). Bank sets vary: Debian's swtpm_setup.conf activates sha256 alone, a state
 * libtpms manufactures without swtpm_setup has more banks (swtpm issue #67).
 */

export interface Blob {
  readonly name: string;
  readonly data: Buffer;
}

export interface FloorInputs {
  /** Hashed once per bank. */
  readonly measured: readonly Blob[];
  /** Copied once (a Buffer copy of the same size into fresh memory). */
  readonly copied: readonly Blob[];
}

/**
 * UKI: the sections the stub measures (PCR 11); the kernel and initrd copies are .linux and .initrd.
 * Bare kernel: the image (PCR 4, measured by the firmware at LoadImage) and the initrd (PCR 9, which the
 * Linux 6.1 EFI stub measures after LoadFile2). Other images: the image (PCR 4), copied once by the loader.
 */
export function floorInputs(c: BenchCase): FloorInputs {
  if (c.group === 'uki' || c.group === 'uki64' || c.group === 'uki-xz' || c.group === 'uki612') {
    const pe = parsePe(c.image, c.id);
    const measured: Blob[] = [];
    for (const name of STUB_252_MEASURED_SECTIONS) {
      const data = sectionData(c.image, pe, name);
      if (data && data.length > 0) measured.push({ name, data });
    }
    const copied = ['.linux', '.initrd'].flatMap((name) => {
      const data = sectionData(c.image, pe, name);
      return data ? [{ name, data }] : [];
    });
    return { measured, copied };
  }
  if (c.initrd) {
    return {
      measured: [{ name: 'kernel image', data: c.image }, { name: 'initrd', data: c.initrd }],
      copied: [{ name: 'kernel image', data: c.image }, { name: 'initrd', data: c.initrd }],
    };
  }
  return { measured: [{ name: 'image', data: c.image }], copied: [{ name: 'image', data: c.image }] };
}

/** Bytes hashed and copied by one floor pass. */
export function floorBytes(f: FloorInputs, banks: readonly string[] = DEFAULT_PCR_BANKS): { hashed: number; copied: number } {
  return {
    hashed: f.measured.reduce((n, b) => n + b.data.length, 0) * banks.length,
    copied: f.copied.reduce((n, b) => n + b.data.length, 0),
  };
}

/** One pass of the floor's work; returns its wall time in ms and the digests (so nothing is optimised away). */
export function floorOnce(f: FloorInputs, banks: readonly string[] = DEFAULT_PCR_BANKS): { ms: number; digests: string[] } {
  const t0 = performance.now();
  const digests: string[] = [];
  for (const b of f.measured) for (const bank of banks) digests.push(createHash(bank).update(b.data).digest('hex'));
  const copies: Buffer[] = [];
  for (const b of f.copied) {
    const dst = Buffer.allocUnsafe(b.data.length);
    b.data.copy(dst);
    copies.push(dst);
  }
  const ms = performance.now() - t0;
  if (copies.some((d, i) => d.length !== f.copied[i].data.length)) throw new Error('floor copy size mismatch');
  return { ms, digests };
}
