// Host memory for guest RAM, backed by transparent huge pages where the kernel offers them.
//
// Every guest page the firmware or the guest touches is a fresh host page, and first touches dominate a run's
// host time on a virtual machine (measured, docs/bench.md: 64 MiB written page by page took ~175 ms with 4 KiB
// pages, 30-110 ms with 2 MiB pages). So guest RAM starts on a 2 MiB boundary and is marked MADV_HUGEPAGE
// (Linux madvise(2); with /sys/kernel/mm/transparent_hugepage/enabled at "madvise", the default of Debian's
// kernels, only marked ranges get huge pages). The hint changes no byte: without it, or where madvise fails,
// RAM is the same zeroed memory in small pages.
import { closeSync, openSync, readSync } from 'node:fs';
import * as koffi from 'koffi';

const HUGE_PAGE = 2 * 1024 * 1024;
const MADV_HUGEPAGE = 14;

let madvise: ((address: Buffer, length: number, advice: number) => number) | null | undefined;

function bindMadvise(): typeof madvise {
  try {
    const fn = koffi.load('libc.so.6').func('int madvise(void *addr, size_t length, int advice)');
    return (address, length, advice) => fn(address, length, advice) as number;
  } catch {
    return null; // not glibc: RAM stays in small pages
  }
}

/** `size` zeroed bytes starting on a 2 MiB boundary of the host, marked for transparent huge pages. */
export function allocateHugePageRam(size: number): Buffer {
  if (size < HUGE_PAGE) return Buffer.alloc(size);
  const raw = Buffer.alloc(size + HUGE_PAGE);
  const misalign = Number(koffi.address(raw) % BigInt(HUGE_PAGE));
  const offset = misalign === 0 ? 0 : HUGE_PAGE - misalign;
  const ram = raw.subarray(offset, offset + size);
  madvise ??= bindMadvise();
  madvise?.(ram, size - (size % HUGE_PAGE), MADV_HUGEPAGE);
  return ram;
}

const PAGE = 4096;
/** /proc/self/pagemap entry bits (Linux Documentation/admin-guide/mm/pagemap.rst), in the entry's upper word. */
const PM_PRESENT_HI = 1 << (63 - 32);
const PM_SWAPPED_HI = 1 << (62 - 32);

/**
 * The byte ranges [start, end) of `buf` whose host pages were ever written: present or swapped out in
 * /proc/self/pagemap. A page that is neither has not been touched since the memory was mapped, so it reads as
 * zeros; a page that is present may still hold only zeros. Undefined when the pagemap cannot be read (then any
 * byte may be non-zero).
 */
export function writtenRanges(buf: Buffer): { start: number; end: number }[] | undefined {
  if (buf.length === 0) return [];
  let fd: number;
  try {
    fd = openSync('/proc/self/pagemap', 'r');
  } catch {
    return undefined;
  }
  try {
    const base = koffi.address(buf) as bigint;
    const first = Number(base / BigInt(PAGE));
    const count = Number((base + BigInt(buf.length) - 1n) / BigInt(PAGE)) - first + 1;
    const offsetOfPage = (i: number) => (first + i) * PAGE - Number(base);
    const out: { start: number; end: number }[] = [];
    const chunk = Buffer.alloc(8 * 16384);
    for (let done = 0; done < count;) {
      const n = Math.min(count - done, chunk.length / 8);
      if (readSync(fd, chunk, 0, 8 * n, 8 * (first + done)) !== 8 * n) return undefined;
      for (let i = 0; i < n; i++) {
        const hi = chunk.readUInt32LE(8 * i + 4);
        if ((hi & (PM_PRESENT_HI | PM_SWAPPED_HI)) === 0) continue;
        const start = Math.max(0, offsetOfPage(done + i));
        const end = Math.min(buf.length, offsetOfPage(done + i + 1));
        const last = out[out.length - 1];
        if (last && last.end === start) last.end = end;
        else out.push({ start, end });
      }
      done += n;
    }
    return out;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
