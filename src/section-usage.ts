// What the guest did with the sections of the image it started (a UKI's .linux, .initrd, .cmdline, ...):
// whether guest code touched them, which services were handed pointers into them, and where copies of their
// bytes are in memory at the end of the run.
import { hex } from '../core/hex';
import { digestOfUnchanging } from '../core/digest-memo';
import { Cpu } from '../emulator/cpu/cpu';
import { sectionCopySize, sectionExtent } from '../pe/pe-image';
import { ARG_BITS, FunctionDecl } from '../core/abi';
import { LoadedImage } from '../efi-services/boot/images';
import { memoryTypeName, EfiConventionalMemory } from '../efi-services/boot/memory-types';
import { Firmware } from '../efi-services/firmware';

export interface SectionUsage {
  name: string;
  rva: string;
  size: number;
  sha256: string;
  /**
   * First access by guest code: null when none happened; 'shared-page' when the section shares a page with
   * another (not watched); 'code-section-not-watched' for executable sections.
   */
  firstAccess: { access: string; at: string; by: string } | null | 'shared-page' | 'code-section-not-watched' | 'cpu-cannot-watch';
  passedTo: { service: string; argument: string; offset: string }[];
  copies: { address: string; memoryType: string; length: number }[];
}

interface Tracked {
  name: string;
  start: bigint;
  end: bigint;
  bytes: Buffer;
  usage: SectionUsage;
}

const MAX_PASSED = 32;

/**
 * What to search for to find `needle`: itself, or, for a needle of mostly zeros (a PE header, relocation and
 * dynamic tables), its longest run without a zero byte. Buffer.indexOf skips ahead by the needle's last bytes, so a
 * needle ending in zeros crawls through zeroed memory byte by byte (measured: 35-40 ms per such needle on the
 * cloud UKI, 5-10 ms for its zero-free run). Every match of the needle contains the run, and each place the run is
 * found is checked against the whole needle, so the matches are the same.
 */
function searchProbe(needle: Buffer): { bytes: Buffer; at: number } {
  let zeros = 0;
  let best = { at: 0, length: 0 };
  for (let i = 0, runStart = 0; i <= needle.length; i++) {
    if (i < needle.length && needle[i] !== 0) continue;
    if (i < needle.length) zeros++;
    if (i - runStart > best.length) best = { at: runStart, length: i - runStart };
    runStart = i + 1;
  }
  if (zeros < 16 || best.length < 2) return { bytes: needle, at: 0 };
  return { bytes: needle.subarray(best.at, best.at + best.length), at: best.at };
}

/** How many leading bytes `a` and `b` share: compared a page at a time (a copy of a 64 MiB initrd), then byte by byte. */
function commonPrefixLength(a: Buffer, b: Buffer): number {
  const max = Math.min(a.length, b.length);
  let n = 0;
  while (n < max) {
    const end = Math.min(max, n + 4096);
    if (a.compare(b, n, end, n, end) !== 0) break;
    n = end;
  }
  while (n < max && a[n] === b[n]) n++;
  return n;
}

/** The first offset >= `from` in `hay` where `needle` starts, found through `probe` (searchProbe), or -1. */
function nextMatch(hay: Buffer, needle: Buffer, probe: { bytes: Buffer; at: number }, from: number): number {
  if (probe.bytes === needle) return hay.indexOf(needle, from);
  for (let p = hay.indexOf(probe.bytes, from + probe.at); p >= 0; p = hay.indexOf(probe.bytes, p + 1)) {
    const at = p - probe.at;
    if (at + needle.length <= hay.length && hay.compare(needle, 0, needle.length, at, at + needle.length) === 0) return at;
  }
  return -1;
}

export class SectionTracker {
  private readonly tracked: Tracked[] = [];

  constructor(private readonly fw: Firmware, cpu: Cpu, private readonly img: LoadedImage) {
    const secs = img.pe.sections.map((s) => ({ s, start: img.base + BigInt(s.virtualAddress), end: img.base + BigInt(s.virtualAddress + sectionExtent(s)) }));
    const page = (a: bigint) => a & ~0xfffn;
    for (const { s, start, end } of secs) {
      const loaded = sectionCopySize(s);
      const bytes = img.file.subarray(s.pointerToRawData, s.pointerToRawData + loaded);
      const shared = secs.some((o) => o.s !== s && page(o.start) <= page(end - 1n) && page(start) <= page(o.end - 1n));
      const usage: SectionUsage = {
        name: s.name,
        rva: hex(s.virtualAddress),
        size: loaded,
        sha256: digestOfUnchanging('sha256', bytes).toString('hex'),
        firstAccess: shared ? 'shared-page' : null,
        passedTo: [],
        copies: [],
      };
      // A view of the file, not a copy: a 64 MiB .initrd would otherwise be held twice.
      const t = { name: s.name, start, end, bytes, usage };
      this.tracked.push(t);
      // Code sections are not watched: Unicorn 2.0.1 crashes when a protection fault on an instruction fetch
      // is resolved inside the hook. Their first access is the entry point or a call anyway.
      const code = (s.characteristics & 0x2000_0020) !== 0; // IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE
      if (code) usage.firstAccess = 'code-section-not-watched';
      if (!shared && !code && end > start) {
        const watched = cpu.watch(start, Number(end - start), (access, address, rip) => {
          usage.firstAccess = { access, at: `${s.name}+0x${(address - start).toString(16)}`, by: fw.symbolize(rip) };
        });
        if (!watched) usage.firstAccess = 'cpu-cannot-watch';
      }
    }
  }

  /** Machine.onCall: records pointer arguments that point into a tracked section. */
  onCall(service: string, decl: FunctionDecl, args: readonly bigint[]): void {
    decl.args.forEach((a, i) => {
      if (ARG_BITS[a.type] !== 64) return;
      const v = args[i];
      const t = this.tracked.find((x) => v >= x.start && v < x.end);
      if (t && t.usage.passedTo.length < MAX_PASSED) t.usage.passedTo.push({ service, argument: a.name, offset: hex(v - t.start) });
    });
  }

  /** Looks for each section's bytes (16 bytes or more) in every allocated region outside the image itself. */
  finish(): SectionUsage[] {
    const regions = this.fw.map.descriptors().filter((d) => d.type !== EfiConventionalMemory)
      .filter((d) => this.fw.mem.isMapped(d.physicalStart, Number(d.numberOfPages) * 4096))
      .map((d) => ({ d, hay: this.fw.mem.view(d.physicalStart, Number(d.numberOfPages) * 4096), starts: this.copyStarts(d.physicalStart, Number(d.numberOfPages) * 4096) }));
    for (const t of this.tracked) {
      if (t.bytes.length < 16) continue;
      const needle = t.bytes.subarray(0, Math.min(64, t.bytes.length));
      if (needle.every((b) => b === needle[0])) continue; // a run of one byte value says nothing about copies
      const probe = searchProbe(needle);
      for (const { d, hay, starts } of regions) {
        for (const r of starts) {
          const window = hay.subarray(r.start, Math.min(hay.length, r.end + needle.length - 1));
          for (let i = nextMatch(window, needle, probe, 0); i >= 0 && t.usage.copies.length < 8; i = nextMatch(window, needle, probe, i + 1)) {
            const at = r.start + i;
            const n = commonPrefixLength(hay.subarray(at), t.bytes);
            t.usage.copies.push({ address: hex(d.physicalStart + BigInt(at)), memoryType: memoryTypeName(d.type), length: n });
          }
        }
      }
    }
    return this.tracked.map((t) => t.usage);
  }

  /**
   * Offsets in the region [address, address+size) where a copy can start, ascending: not inside the image itself
   * (its own sections are not copies). (Skipping host pages never written, read from /proc/self/pagemap, was
   * measured slower: with guest RAM in huge pages almost every allocated page is present, and reading the
   * pagemap cost more than it saved, docs/bench.md.)
   */
  private copyStarts(address: bigint, size: number): { start: number; end: number }[] {
    const imgStart = Number(this.img.base - address);
    const imgEnd = imgStart + this.img.size;
    return [{ start: 0, end: Math.min(size, imgStart) }, { start: Math.max(0, imgEnd), end: size }].filter((r) => r.start < r.end);
  }
}
