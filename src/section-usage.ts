// What the guest did with the sections of the image it started (a UKI's .linux, .initrd, .cmdline, ...):
// whether guest code touched them, which services were handed pointers into them, and where copies of their
// bytes are in memory at the end of the run.
import { hex } from '../core/hex';
import { createHash } from 'node:crypto';
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
        sha256: createHash('sha256').update(bytes).digest('hex'),
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
    const regions = this.fw.map.descriptors().filter((d) => d.type !== EfiConventionalMemory);
    for (const t of this.tracked) {
      if (t.bytes.length < 16) continue;
      const needle = t.bytes.subarray(0, Math.min(64, t.bytes.length));
      if (needle.every((b) => b === needle[0])) continue; // a run of one byte value says nothing about copies
      for (const d of regions) {
        const size = Number(d.numberOfPages) * 4096;
        if (!this.fw.mem.isMapped(d.physicalStart, size)) continue;
        const hay = this.fw.mem.view(d.physicalStart, size);
        for (let at = hay.indexOf(needle); at >= 0 && t.usage.copies.length < 8; at = hay.indexOf(needle, at + 1)) {
          const addr = d.physicalStart + BigInt(at);
          if (addr >= this.img.base && addr < this.img.base + BigInt(this.img.size)) continue;
          let n = 0;
          while (n < t.bytes.length && at + n < hay.length && hay[at + n] === t.bytes[n]) n++;
          t.usage.copies.push({ address: hex(addr), memoryType: memoryTypeName(d.type), length: n });
        }
      }
    }
    return this.tracked.map((t) => t.usage);
  }
}
