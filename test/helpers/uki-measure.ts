// What systemd-stub measures into PCR 11, computed here from the UKI file with a PE section reader of its own
// (not stubemu's): for each UKI section in the stub's order, sha256 of its name with the NUL, then of its bytes
// (VirtualSize of them, as the stub hashes the loaded section), each extended into PCR 11 from zeros.
import { createHash } from 'node:crypto';

/** systemd-stub's unified sections in measurement order (src/fundamental/uki.h, v254..v257). */
export const STUB_SECTION_ORDER = ['.linux', '.osrel', '.cmdline', '.initrd', '.ucode', '.splash', '.dtb', '.uname', '.sbat', '.pcrsig', '.pcrpkey', '.profile', '.dtbauto', '.hwids'];

export function peSections(file: Buffer): Map<string, Buffer> {
  const pe = file.readUInt32LE(0x3c);
  if (file.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error('not a PE file');
  const count = file.readUInt16LE(pe + 6);
  const optSize = file.readUInt16LE(pe + 20);
  const table = pe + 24 + optSize;
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const h = table + 40 * i;
    const name = file.toString('latin1', h, h + 8).replace(/\0+$/, '');
    const virtualSize = file.readUInt32LE(h + 8);
    const rawSize = file.readUInt32LE(h + 16);
    const rawPtr = file.readUInt32LE(h + 20);
    out.set(name, file.subarray(rawPtr, rawPtr + Math.min(virtualSize, rawSize)));
  }
  return out;
}

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** PCR 11 (sha256) after systemd-stub measured the UKI's sections, and the digest of each section's data. */
export function expectedPcr11(uki: Buffer): { pcr11: string; dataDigest: Map<string, string> } {
  const sections = peSections(uki);
  let pcr = Buffer.alloc(32);
  const dataDigest = new Map<string, string>();
  for (const name of STUB_SECTION_ORDER) {
    const data = sections.get(name);
    if (!data) continue;
    for (const d of [sha256(Buffer.from(`${name}\0`, 'ascii')), sha256(data)]) pcr = createHash('sha256').update(pcr).update(Buffer.from(d, 'hex')).digest();
    dataDigest.set(name, sha256(data));
  }
  return { pcr11: pcr.toString('hex'), dataDigest };
}
