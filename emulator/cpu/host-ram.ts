// Host memory for guest RAM, backed by transparent huge pages where the kernel offers them.
//
// Every guest page the firmware or the guest touches is a fresh host page, and first touches dominate a run's
// host time on a virtual machine (measured, docs/bench.md: 64 MiB written page by page took ~175 ms with 4 KiB
// pages, 30-110 ms with 2 MiB pages). So guest RAM starts on a 2 MiB boundary and is marked MADV_HUGEPAGE
// (Linux madvise(2); with /sys/kernel/mm/transparent_hugepage/enabled at "madvise", the default of Debian's
// kernels, only marked ranges get huge pages). The hint changes no byte: without it, or where madvise fails,
// RAM is the same zeroed memory in small pages.
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
