// The processor state firmware leaves for an application (UEFI 2.10 §2.3.4, as OVMF sets it up):
// long mode, identity-mapped paging, interrupts off, a GDT, an IDT whose vectors point into the firmware.
import { Cpu } from './cpu/cpu';
import { GuestMemory, Range } from '../core/guest-memory';

/** OVMF's X64 values: CR0 = PG|WP|NE|ET|MP|PE, CR4 = OSXMMEXCPT|OSFXSR|MCE|PAE|DE. */
export const CR0 = 0x8001_0033n;
export const CR4 = 0x668n;
/**
 * EFER = LMA|LME. OVMF also sets NXE (0xD00), but no CPU model of Unicorn 2.0.1 offers NX, so the bit does not
 * stick; no page here is execute-disabled, which is what OVMF's default (no NX protection policy) gives anyway.
 */
export const EFER = 0x500n;
const MSR_EFER = 0xc000_0080;

/** GDT selectors as OVMF uses them: 0x30 data, 0x38 64-bit code. */
export const CODE64_SELECTOR = 0x38;
export const DATA_SELECTOR = 0x30;
export const GDT_BYTES = 8 * 9;
export const IDT_BYTES = 16 * 256;

/** Pages needed for identity page tables covering [0, ramTop): PML4, PDPT, a PD per GiB, a PT for the first 2 MiB. */
export function pageTablePages(ramTop: bigint): number {
  return 3 + Number((ramTop + (1n << 30n) - 1n) >> 30n);
}

/** The page table entry that maps page 0: the first of the 4 KiB page table after the PML4 and the PDPT. */
export const nullPagePte = (pageTables: bigint): bigint => pageTables + 0x2000n;

export interface MachineLayout {
  gdt: bigint;
  idt: bigint;
  /** `pageTablePages(ramTop)` zeroed pages. */
  pageTables: bigint;
  ramTop: bigint;
  /** RAM the CPU may touch; pages outside it are not present (NULL page, legacy hole). */
  ram: readonly Range[];
  /** Entry addresses for the 256 IDT vectors (firmware traps). */
  vectors: readonly bigint[];
}

export function initMachineState(cpu: Cpu, mem: GuestMemory, l: MachineLayout): void {
  writeGdt(mem, l.gdt);
  writeIdt(mem, l.idt, l.vectors);
  writePageTables(mem, l);
  cpu.setDescriptorTables({ base: l.gdt, limit: GDT_BYTES - 1 }, { base: l.idt, limit: IDT_BYTES - 1 });
  cpu.writeMsr(MSR_EFER, EFER);
  cpu.writeReg('cr3', l.pageTables);
  cpu.writeReg('cr4', CR4);
  cpu.writeReg('cr0', CR0);
  cpu.writeReg('rflags', 0x2n); // IF=0: boot services run with interrupts off as far as the application can tell
}

function writeGdt(mem: GuestMemory, base: bigint): void {
  const entries: bigint[] = [
    0n,
    0x00cf92000000ffffn, // 0x08 flat data
    0x00cf9a000000ffffn, // 0x10 flat 32-bit code
    0x00cf92000000ffffn, // 0x18
    0x00cf9a000000ffffn, // 0x20
    0x00cf92000000ffffn, // 0x28
    0x00cf92000000ffffn, // 0x30 data (DS/ES/SS)
    0x00af9a000000ffffn, // 0x38 64-bit code (L=1)
    0n,
  ];
  entries.forEach((e, i) => mem.setU64(base + BigInt(8 * i), e));
}

function writeIdt(mem: GuestMemory, base: bigint, vectors: readonly bigint[]): void {
  for (let v = 0; v < 256; v++) {
    const h = vectors[v];
    const b = Buffer.alloc(16);
    // 64-bit interrupt gate (Intel SDM vol. 3 §6.14.1): offset 15:0, selector, IST 0, type 0xE, P=1, offset 63:16.
    b.writeUInt16LE(Number(h & 0xffffn), 0);
    b.writeUInt16LE(CODE64_SELECTOR, 2);
    b.writeUInt8(0, 4);
    b.writeUInt8(0x8e, 5);
    b.writeUInt16LE(Number((h >> 16n) & 0xffffn), 6);
    b.writeUInt32LE(Number((h >> 32n) & 0xffffffffn), 8);
    mem.write(base + BigInt(16 * v), b);
  }
}

function writePageTables(mem: GuestMemory, l: MachineLayout): void {
  const P = 1n, RW = 2n, PS = 0x80n;
  const pml4 = l.pageTables;
  const pdpt = pml4 + 0x1000n;
  const pt0 = nullPagePte(pml4);
  const pd = (gib: number) => pml4 + 0x3000n + BigInt(gib) * 0x1000n;
  mem.setU64(pml4, pdpt | P | RW);
  const gibs = Number((l.ramTop + (1n << 30n) - 1n) >> 30n);
  for (let g = 0; g < gibs; g++) mem.setU64(pdpt + BigInt(8 * g), pd(g) | P | RW);
  // First 2 MiB in 4 KiB pages so the NULL page and the legacy hole are not present.
  const present = (a: bigint) => l.ram.some((r) => a >= r.start && a < r.end);
  for (let i = 0n; i < 512n; i++) {
    const a = i << 12n;
    if (present(a)) mem.setU64(pt0 + 8n * i, a | P | RW);
  }
  mem.setU64(pd(0), pt0 | P | RW);
  for (let a = 1n << 21n; a < l.ramTop; a += 1n << 21n) {
    const g = Number(a >> 30n);
    const i = (a >> 21n) & 511n;
    mem.setU64(pd(g) + 8n * i, a | P | RW | PS);
  }
}
