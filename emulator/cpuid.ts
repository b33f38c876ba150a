// The CPUID answers of the emulated machine: a deterministic identity instead of the engine's own, so
// guests see the same processor on every host. It says it is a hypervisor guest (leaf 1 ECX bit 31), as
// QEMU/KVM does; systemd-boot then does not trust the TSC (its ticks_read() returns 0 in a hypervisor).

import { CpuidResult } from '../core/board';

const b = (...bits: number[]) => bits.reduce((v, x) => (v | (1 << x)) >>> 0, 0);

function str4(s: string, i: number): number {
  const t = Buffer.alloc(4);
  t.write(s.slice(4 * i, 4 * i + 4), 'latin1');
  return t.readUInt32LE(0);
}

const VENDOR = 'GenuineIntel';
const HYPERVISOR_VENDOR = 'stubemu     ';
const BRAND = 'stubemu virtual x86-64 processor'.padEnd(48, '\0');

/** Intel SDM vol. 2A CPUID. Features are those Unicorn 2.0.1's TCG executes (no AVX, XSAVE, RDRAND, NX). */
export function cpuid(leaf: number, subleaf: number): CpuidResult {
  switch (leaf >>> 0) {
    case 0:
      return [7, str4(VENDOR, 0), str4(VENDOR, 2), str4(VENDOR, 1)];
    case 1: {
      const ecx = b(0, 9, 13, 19, 20, 23, 31); // SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT HYPERVISOR
      const edx = b(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 19, 23, 24, 25, 26);
      return [0x000306c3, (8 << 8) | (1 << 16), ecx, edx]; // family 6 model 0x3c; CLFLUSH 64 bytes; 1 logical CPU
    }
    case 7:
      return [0, subleaf === 0 ? 0 : 0, 0, 0];
    case 0x4000_0000:
      return [0x4000_0000, str4(HYPERVISOR_VENDOR, 0), str4(HYPERVISOR_VENDOR, 1), str4(HYPERVISOR_VENDOR, 2)];
    case 0x8000_0000:
      return [0x8000_0008, 0, 0, 0];
    case 0x8000_0001:
      return [0, 0, b(0), b(11, 29)]; // LAHF/SAHF; SYSCALL, long mode
    case 0x8000_0002:
    case 0x8000_0003:
    case 0x8000_0004: {
      const i = (leaf - 0x8000_0002) * 4;
      return [str4(BRAND, i), str4(BRAND, i + 1), str4(BRAND, i + 2), str4(BRAND, i + 3)];
    }
    case 0x8000_0008:
      return [0x3027, 0, 0, 0]; // 39 physical, 48 linear address bits
    default:
      return [0, 0, 0, 0];
  }
}
