// A sampling profiler of guest code: the CPU is stopped every few milliseconds of emulation and RIP is counted.
// It answers "where does the guest spend its time" (for Linux 6.1 booted from a UKI: decompressing itself).

export interface ProfileReport {
  intervalMs: number;
  samples: number;
  /** Samples per image and section (or per address range outside images), most first. */
  byRegion: { region: string; samples: number; share: number }[];
  /** The most sampled instruction addresses, as image+offset. */
  topAddresses: { at: string; samples: number; share: number }[];
}

export class GuestProfile {
  private readonly counts = new Map<bigint, number>();
  private total = 0;

  constructor(readonly intervalMs: number) {}

  sample(rip: bigint): void {
    this.counts.set(rip, (this.counts.get(rip) ?? 0) + 1);
    this.total++;
  }

  /** `symbolize` gives image+offset; `region` the image/section an address belongs to. */
  report(symbolize: (a: bigint) => string, region: (a: bigint) => string, top = 20): ProfileReport {
    const share = (n: number) => Math.round((n / Math.max(1, this.total)) * 1000) / 1000;
    const regions = new Map<string, number>();
    for (const [a, n] of this.counts) regions.set(region(a), (regions.get(region(a)) ?? 0) + n);
    const byCount = <T>(x: [T, number], y: [T, number]) => y[1] - x[1] || (String(x[0]) < String(y[0]) ? -1 : 1);
    return {
      intervalMs: this.intervalMs,
      samples: this.total,
      byRegion: [...regions].sort(byCount).map(([r, n]) => ({ region: r, samples: n, share: share(n) })),
      topAddresses: [...this.counts].sort(byCount).slice(0, top).map(([a, n]) => ({ at: symbolize(a), samples: n, share: share(n) })),
    };
  }
}
