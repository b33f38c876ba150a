// The firmware's random stream: SHA-256 in counter mode over a seed, so runs are reproducible (EFI_RNG_PROTOCOL,
// TPM2_GetRandom); `--rng-seed` changes it.
import { createHash } from 'node:crypto';

export class DeterministicRandom {
  private counter = 0n;
  /** Bytes handed out, for the report. */
  delivered = 0;

  constructor(private readonly seed: string) {}

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let o = 0; o < n; o += 32) {
      const block = createHash('sha256').update(`stubemu-rng:${this.seed}:${this.counter++}`).digest();
      block.copy(out, o, 0, Math.min(32, n - o));
    }
    this.delivered += n;
    return out;
  }
}
