// Digests of large host buffers that never change (the started file, its sections, a loaded image's file), reused
// when the same bytes are hashed again from guest memory: a UKI's initrd is hashed as a section, measured into
// PCR 9 from the copy the stub made, and hashed again for the hand-off report (64 MiB each time on the bench's
// large UKI). A remembered digest is used only when its bytes equal the new data (a memcmp, several times
// faster than SHA-256), so the digest is always that of the data given.
import { createHash } from 'node:crypto';

/** Smaller buffers are hashed as they come: the comparison would not pay for itself. */
const MIN_BYTES = 1 << 20;
/** Entries kept (their buffers only weakly: a finished run's file is not held alive). */
const MAX_ENTRIES = 32;

const remembered: { algorithm: string; bytes: WeakRef<Uint8Array>; length: number; digest: Buffer }[] = [];

/** `bytes`, which nobody changes afterwards, hashed with `algorithm`; remembered for digest(). */
export function digestOfUnchanging(algorithm: string, bytes: Uint8Array): Buffer {
  const d = digest(algorithm, bytes);
  if (bytes.length >= MIN_BYTES && !remembered.some((r) => r.algorithm === algorithm && r.bytes.deref() === bytes)) {
    remembered.push({ algorithm, bytes: new WeakRef(bytes), length: bytes.length, digest: d });
    if (remembered.length > MAX_ENTRIES) remembered.shift();
  }
  return d;
}

/** `data` hashed with `algorithm`: the remembered digest of equal bytes, else computed. */
export function digest(algorithm: string, data: Uint8Array): Buffer {
  if (data.length >= MIN_BYTES) {
    for (const r of remembered) {
      if (r.algorithm !== algorithm || r.length !== data.length) continue;
      const bytes = r.bytes.deref();
      if (bytes && Buffer.compare(bytes, data) === 0) return Buffer.from(r.digest);
    }
  }
  return createHash(algorithm).update(data).digest();
}
