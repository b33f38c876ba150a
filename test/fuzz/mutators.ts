// PE/UKI header mutators for the fuzzer: real images (samples, systemd-stub, a small UKI) with a few header fields, relocation entries or bytes changed.
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestInitrd } from '../../src/initrd/cpio';
import { buildUki } from '../../src/uki/build';
import { buildPe, COFF, OPT, SEC, SECTION_HEADER_SIZE } from '../helpers/pe-builder';

// Field offsets come from test/helpers/pe-builder (typed in from the PE/COFF spec independently of emulator/pe),
// and each seed's layout is read here by hand, so a parser bug cannot steer its own fuzzer.

const ROOT = join(__dirname, '..', '..', '..');

/** Where the structures of one valid PE file sit (read once per seed). */
export interface SeedLayout {
  readonly fileSize: number;
  readonly peOffset: number;
  readonly coffOffset: number;
  readonly optOffset: number;
  readonly dataDirOffset: number;
  readonly numberOfRvaAndSizes: number;
  readonly sectionTableOffset: number;
  readonly sizeOfHeaders: number;
  readonly sizeOfImage: number;
  readonly sections: readonly { headerOffset: number; virtualAddress: number; virtualSize: number; pointerToRawData: number; sizeOfRawData: number; name: string }[];
  /** Base relocation blocks as file offsets: the block header and its TypeOffset count. */
  readonly relocBlocks: readonly { fileOffset: number; entries: number }[];
}

export interface Seed {
  readonly name: string;
  readonly file: Buffer;
  readonly layout: SeedLayout;
  /** A UKI: where its .linux (itself a PE) starts in the file, and that PE's layout. */
  readonly inner?: { readonly offset: number; readonly layout: SeedLayout };
  /** Whether cases of this seed go to runImage (not for the 14 MB kernel: inspect only). */
  readonly runnable: boolean;
}

/** Reads the layout of a PE the fuzzer knows to be valid, with plain reads at the spec offsets. */
export function readLayout(file: Buffer): SeedLayout {
  const peOffset = file.readUInt32LE(0x3c);
  const coffOffset = peOffset + 4;
  const optOffset = coffOffset + 20;
  const n = file.readUInt16LE(coffOffset + COFF.NumberOfSections);
  const sectionTableOffset = optOffset + file.readUInt16LE(coffOffset + COFF.SizeOfOptionalHeader);
  const numberOfRvaAndSizes = file.readUInt32LE(optOffset + OPT.NumberOfRvaAndSizes);
  const dataDirOffset = optOffset + OPT.DataDirectory;
  const sections = Array.from({ length: n }, (_, i) => {
    const h = sectionTableOffset + i * SECTION_HEADER_SIZE;
    return {
      headerOffset: h,
      name: file.subarray(h, h + 8).toString('latin1').replace(/\0.*$/, ''),
      virtualSize: file.readUInt32LE(h + SEC.VirtualSize),
      virtualAddress: file.readUInt32LE(h + SEC.VirtualAddress),
      sizeOfRawData: file.readUInt32LE(h + SEC.SizeOfRawData),
      pointerToRawData: file.readUInt32LE(h + SEC.PointerToRawData),
    };
  });
  const relocBlocks: { fileOffset: number; entries: number }[] = [];
  if (numberOfRvaAndSizes > 5) {
    const rva = file.readUInt32LE(dataDirOffset + 8 * 5);
    const size = file.readUInt32LE(dataDirOffset + 8 * 5 + 4);
    const s = sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + Math.max(x.virtualSize, x.sizeOfRawData));
    if (s && size > 0) {
      const start = s.pointerToRawData + (rva - s.virtualAddress);
      for (let at = start; at + 8 <= start + size;) {
        const sizeOfBlock = file.readUInt32LE(at + 4);
        if (sizeOfBlock < 8) break;
        relocBlocks.push({ fileOffset: at, entries: (sizeOfBlock - 8) >> 1 });
        at += sizeOfBlock;
      }
    }
  }
  return {
    fileSize: file.length, peOffset, coffOffset, optOffset, dataDirOffset, numberOfRvaAndSizes, sectionTableOffset,
    sizeOfHeaders: file.readUInt32LE(optOffset + OPT.SizeOfHeaders), sizeOfImage: file.readUInt32LE(optOffset + OPT.SizeOfImage),
    sections, relocBlocks,
  };
}

const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

/**
 * An image with real DIR64 relocations: .text loads a pointer from .data (relocated), reads the value it points
 * at and returns it as the status, so a wrong fixup shows as a fault or another status.
 */
export function relocatedImage(): Buffer {
  const text = 0x1000;
  const data = 0x2000;
  const base = 0x1_4000_0000n;
  // mov rax, [rip + (data - next)]; mov rax, [rax]; ret
  const code = [0x48, 0x8b, 0x05, ...le32(data - (text + 7)), 0x48, 0x8b, 0x00, 0xc3];
  const d = Buffer.alloc(0x40);
  d.writeBigUInt64LE(base + BigInt(data + 0x20), 0); // -> the value below
  d.writeBigUInt64LE(base + BigInt(text), 8);
  d.writeBigUInt64LE(base + BigInt(data), 0x10);
  d.writeBigUInt64LE(0x5a5an, 0x20);
  return buildPe({
    imageBase: base,
    sections: [
      { name: '.text', data: Buffer.from(code), characteristics: 0x60000020 },
      { name: '.data', data: d, characteristics: 0xc0000040 },
    ],
    relocations: [data, data + 8, data + 0x10],
  }).file;
}

/**
 * A tiny stand-in for a Linux bzImage: a PE32+ whose header page also carries the boot protocol 2.15 setup header
 * (boot_flag 0xAA55 at 0x1fe, "HdrS" at 0x202; Documentation/arch/x86/boot.rst), EFI stub version 1.0 so
 * systemd-stub 252 starts it with LoadImage/StartImage. Its entry point returns EFI_SUCCESS.
 */
export function tinyKernel(): Buffer {
  const code = [0x31, 0xc0, 0xc3]; // xor eax, eax; ret
  const d = Buffer.alloc(0x20);
  d.writeBigUInt64LE(0x1_4000_1000n, 0);
  const f = buildPe({
    imageBase: 0x1_4000_0000n, fileAlignment: 0x1000, imageVersion: [1, 0],
    sections: [
      { name: '.text', data: Buffer.from(code), characteristics: 0x60000020 },
      { name: '.data', data: d, characteristics: 0xc0000040 },
    ],
    relocations: [0x2000],
  }).file;
  f.writeUInt8(1, 0x1f1); // setup_sects
  f.writeUInt16LE(0xaa55, 0x1fe); // boot_flag
  f.writeUInt32LE(0x53726448, 0x202); // "HdrS"
  f.writeUInt16LE(0x20f, 0x206); // version 2.15
  f.writeUInt16LE(0x300 - 0x200, 0x20e); // kernel_version, relative to 0x200
  f.write('6.1.0-fuzz (stubemu) #1 SMP\0', 0x300, 'latin1');
  f.writeUInt8(0x01, 0x211); // loadflags LOADED_HIGH
  f.writeUInt16LE(0x0001 | 0x0008, 0x236); // xloadflags XLF_KERNEL_64 | XLF_EFI_HANDOVER_64
  return f;
}

/** The seeds: every sample that is built, systemd-stub, a small UKI of it, the relocated image; the real kernel if asked. */
export function loadSeeds(o: { withKernel?: boolean } = {}): Seed[] {
  const seeds: Seed[] = [];
  const add = (name: string, file: Buffer, runnable = true, innerName?: string): void => {
    const layout = readLayout(file);
    let inner: Seed['inner'];
    if (innerName) {
      const s = layout.sections.find((x) => x.name === innerName);
      if (s) inner = { offset: s.pointerToRawData, layout: readLayout(file.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData)) };
    }
    seeds.push({ name, file, layout, inner, runnable });
  };
  for (const n of ['hello', 'memory', 'images', 'events', 'protocols']) {
    const p = join(ROOT, 'samples', 'build', `${n}.efi`);
    if (existsSync(p)) add(`${n}.efi`, readFileSync(p));
  }
  add('relocated.efi', relocatedImage());
  const stubPath = join(ROOT, '.cache', 'fixtures', 'stub-252', 'linuxx64.efi.stub');
  if (existsSync(stubPath)) {
    const stub = readFileSync(stubPath);
    add('linuxx64.efi.stub', stub);
    const uki = buildUki({
      stub, stubName: 'linuxx64.efi.stub', linux: tinyKernel(), linuxName: 'tiny-kernel', uname: '6.1.0-fuzz',
      cmdline: Buffer.from('console=ttyS0 quiet'), osRelease: Buffer.from('NAME="Fuzz \\"Linux\\""\nID=fuzz\nPRETTY_NAME=\'Fuzz 1\'\n'),
      initrds: [{ name: 'a', data: makeTestInitrd() }, { name: 'b', data: makeTestInitrd() }],
    }).image;
    add('tiny-uki.efi', uki, true, '.linux');
  }
  const kernelPath = join(ROOT, '.cache', 'fixtures', 'kernel-6.1-cloud', 'vmlinuz');
  if (o.withKernel && existsSync(kernelPath)) add('vmlinuz', readFileSync(kernelPath), false);
  return seeds;
}

// --- Mutations: plain data, so fast-check can shrink a failing case and print it. ---

/** Header fields by name: [structure, offset in it, width in bytes]. */
export const HEADER_FIELDS = {
  e_lfanew: ['dos', 0x3c, 4],
  Signature: ['pe', 0, 4],
  Machine: ['coff', COFF.Machine, 2],
  NumberOfSections: ['coff', COFF.NumberOfSections, 2],
  PointerToSymbolTable: ['coff', COFF.PointerToSymbolTable, 4],
  NumberOfSymbols: ['coff', COFF.NumberOfSymbols, 4],
  SizeOfOptionalHeader: ['coff', COFF.SizeOfOptionalHeader, 2],
  Characteristics: ['coff', COFF.Characteristics, 2],
  Magic: ['opt', OPT.Magic, 2],
  AddressOfEntryPoint: ['opt', OPT.AddressOfEntryPoint, 4],
  ImageBase: ['opt', OPT.ImageBase, 8],
  SectionAlignment: ['opt', OPT.SectionAlignment, 4],
  FileAlignment: ['opt', OPT.FileAlignment, 4],
  MajorImageVersion: ['opt', OPT.MajorImageVersion, 2],
  SizeOfImage: ['opt', OPT.SizeOfImage, 4],
  SizeOfHeaders: ['opt', OPT.SizeOfHeaders, 4],
  Subsystem: ['opt', OPT.Subsystem, 2],
  NumberOfRvaAndSizes: ['opt', OPT.NumberOfRvaAndSizes, 4],
} as const;
export type HeaderField = keyof typeof HEADER_FIELDS;
export const SECTION_FIELDS = ['VirtualSize', 'VirtualAddress', 'SizeOfRawData', 'PointerToRawData', 'Characteristics'] as const;
export type SectionField = typeof SECTION_FIELDS[number];

export type Mutation =
  | { readonly kind: 'field'; readonly field: HeaderField; readonly value: bigint }
  | { readonly kind: 'section'; readonly index: number; readonly field: SectionField; readonly value: number }
  | { readonly kind: 'dataDirectory'; readonly index: number; readonly virtualAddress: number; readonly size: number }
  | { readonly kind: 'relocBlock'; readonly block: number; readonly field: 'VirtualAddress' | 'SizeOfBlock'; readonly value: number }
  | { readonly kind: 'relocEntry'; readonly block: number; readonly entry: number; readonly type: number; readonly offset: number }
  | { readonly kind: 'truncate'; readonly length: number }
  | { readonly kind: 'flip'; readonly offset: number; readonly bit: number }
  /** Bytes written into a section's raw data (cpio headers, os-release text, .sdmagic, ...), at `offset` modulo its size. */
  | { readonly kind: 'content'; readonly index: number; readonly offset: number; readonly bytes: readonly number[] }
  /** The same, applied to the PE inside a UKI's .linux section. */
  | { readonly kind: 'inner'; readonly mutation: Mutation };

export interface FuzzCase {
  readonly seed: string;
  readonly mutations: readonly Mutation[];
}

const U32_EDGES = [0, 1, 2, 7, 8, 0x1ff, 0x200, 0x1000, 0xfff, 0x7fff_ffff, 0x8000_0000, 0xffff_fff8, 0xffff_ffff];

function u32Values(l: SeedLayout, extra: readonly number[] = []): fc.Arbitrary<number> {
  const near = [l.fileSize, l.fileSize - 1, l.fileSize + 1, l.sizeOfImage, l.sizeOfImage - 1, l.sizeOfImage + 1,
    l.sizeOfHeaders, l.sizeOfHeaders - 1, 1 << 30, (1 << 30) + 1, ...extra].map((v) => v >>> 0);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...U32_EDGES, ...near) },
    { weight: 2, arbitrary: fc.nat({ max: Math.max(l.fileSize, l.sizeOfImage) * 2 }) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
  );
}

function fieldValue(l: SeedLayout, field: HeaderField): fc.Arbitrary<bigint> {
  const small = (max: number, edges: number[]): fc.Arbitrary<bigint> =>
    fc.oneof(fc.constantFrom(...edges), fc.nat({ max })).map(BigInt);
  switch (field) {
    case 'e_lfanew': return small(l.fileSize + 64, [0, 1, 0x3c, 0x40, l.peOffset + 1, l.fileSize - 4, l.fileSize - 23, l.fileSize, 0xffff_ffff]);
    case 'NumberOfSections': return small(0xffff, [0, 1, l.sections.length - 1, l.sections.length + 1, 96, 97, 0xffff]);
    case 'SizeOfOptionalHeader': return small(0xffff, [0, 1, 2, 111, 112, 113, 112 + 8 * l.numberOfRvaAndSizes - 1, 240, 248, 0xffff]);
    case 'NumberOfRvaAndSizes': return small(32, [0, 1, 5, 6, 15, 16, 17, 0xffff_ffff]);
    case 'SectionAlignment':
    case 'FileAlignment': return small(0xffff_ffff, [0, 1, 3, 0x200, 0x1000, 0x10000, 0x20_0000, 0x8000_0000]);
    case 'ImageBase': return fc.oneof(
      fc.constantFrom(0n, 0x1000n, 0x40_0000n, 0x1_4000_0000n, 0x1_4000_0001n, 0xffff_ffff_ffff_f000n, 1n << 63n),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    case 'Machine': return small(0xffff, [0x8664, 0x14c, 0xaa64, 0]);
    case 'Magic': return small(0xffff, [0x20b, 0x10b, 0]);
    case 'Subsystem': return small(0xffff, [10, 11, 12, 0, 13]);
    case 'Characteristics': return small(0xffff, [0, 1, 0x206, 0x207, 0x2022]);
    case 'MajorImageVersion': return small(0xffff, [0, 1]);
    case 'AddressOfEntryPoint': return u32Values(l, l.sections.flatMap((s) => [s.virtualAddress, s.virtualAddress + s.virtualSize])).map(BigInt);
    default: return u32Values(l, l.sections.map((s) => s.virtualAddress + s.virtualSize)).map(BigInt);
  }
}

function sectionValue(l: SeedLayout, field: SectionField): fc.Arbitrary<number> {
  const others = l.sections.flatMap((s) => {
    switch (field) {
      // Overlapping, touching and unaligned placements relative to the other sections.
      case 'VirtualAddress': return [s.virtualAddress, s.virtualAddress + 1, s.virtualAddress + s.virtualSize - 1, s.virtualAddress + s.virtualSize];
      case 'PointerToRawData': return [s.pointerToRawData, s.pointerToRawData + 1, s.pointerToRawData + s.sizeOfRawData];
      case 'Characteristics': return [0x60000020, 0xc0000040, 0x42000040, 0];
      default: return [s.virtualSize, s.sizeOfRawData, s.sizeOfRawData + 1];
    }
  });
  return u32Values(l, others);
}

/** Mutations that fit one seed's layout; indices are taken modulo what exists when applied. */
export function mutationArb(l: SeedLayout, inner?: SeedLayout): fc.Arbitrary<Mutation> {
  const fields = Object.keys(HEADER_FIELDS) as HeaderField[];
  const header = fc.constantFrom(...fields).chain((field) => fieldValue(l, field).map((value): Mutation => ({ kind: 'field', field, value })));
  const section = fc.record({ index: fc.nat({ max: l.sections.length - 1 }), field: fc.constantFrom(...SECTION_FIELDS) })
    .chain(({ index, field }) => sectionValue(l, field).map((value): Mutation => ({ kind: 'section', index, field, value })));
  const dir = fc.record({
    index: fc.nat({ max: 15 }),
    virtualAddress: u32Values(l, l.sections.map((s) => s.virtualAddress)),
    size: u32Values(l, [8, 12]),
  }).map((d): Mutation => ({ kind: 'dataDirectory', ...d }));
  const relocBlock = fc.record({
    block: fc.nat({ max: 7 }),
    field: fc.constantFrom('VirtualAddress' as const, 'SizeOfBlock' as const),
    value: fc.oneof(fc.constantFrom(0, 1, 7, 8, 9, 10, 12, 0xfff, 0x1000, 0xffff_fff8, 0xffff_ffff, l.sizeOfImage, l.sizeOfImage - 0x1000),
      fc.nat({ max: l.sizeOfImage + 0x2000 })),
  }).map((m): Mutation => ({ kind: 'relocBlock', ...m }));
  const relocEntry = fc.record({
    block: fc.nat({ max: 7 }),
    entry: fc.nat({ max: 63 }),
    type: fc.oneof(fc.constantFrom(0, 10, 3, 1), fc.nat({ max: 15 })),
    offset: fc.oneof(fc.constantFrom(0, 0xff8, 0xff9, 0xfff), fc.nat({ max: 0xfff })),
  }).map((m): Mutation => ({ kind: 'relocEntry', ...m }));
  const truncate = fc.oneof(
    fc.nat({ max: l.sizeOfHeaders + 64 }),
    fc.constantFrom(...l.sections.flatMap((s) => [s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData - 1])),
    fc.nat({ max: l.fileSize - 1 }),
  ).map((length): Mutation => ({ kind: 'truncate', length }));
  const flip = fc.record({ offset: fc.nat({ max: l.sizeOfHeaders - 1 }), bit: fc.nat({ max: 7 }) }).map((m): Mutation => ({ kind: 'flip', ...m }));
  // Tokens the section parsers look for: newc magic and 8-hex-digit fields, the trailer name, os-release syntax.
  const tokens = ['070701', '070702', 'FFFFFFFF', '7FFFFFFF', '00000000', '0000006E', 'TRAILER!!!', '\0', '\n', '=', '"', "'", '\\', '#### LoaderInfo: '];
  const content = fc.record({
    index: fc.nat({ max: l.sections.length - 1 }),
    offset: fc.oneof(fc.nat({ max: 0x200 }), fc.nat({ max: 0xffff_ffff })),
    bytes: fc.oneof(
      fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }),
      fc.constantFrom(...tokens).map((t) => [...Buffer.from(t, 'latin1')]),
    ),
  }).map((m): Mutation => ({ kind: 'content', ...m }));
  const arbs: { weight: number; arbitrary: fc.Arbitrary<Mutation> }[] = [
    { weight: 6, arbitrary: header },
    { weight: 6, arbitrary: section },
    { weight: 2, arbitrary: dir },
    { weight: l.relocBlocks.length ? 3 : 0, arbitrary: relocBlock },
    { weight: l.relocBlocks.length ? 4 : 0, arbitrary: relocEntry },
    { weight: 1, arbitrary: truncate },
    { weight: 3, arbitrary: flip },
    { weight: 3, arbitrary: content },
  ];
  if (inner) {
    // Everything but truncation, aimed at the kernel the stub will LoadImage.
    const innerArb = mutationArb(inner).filter((m) => m.kind !== 'truncate').map((m): Mutation => ({ kind: 'inner', mutation: m }));
    arbs.push({ weight: 8, arbitrary: innerArb });
  }
  return fc.oneof(...arbs.filter((a) => a.weight > 0));
}

/** A case: one seed and one to four mutations of it. */
export function caseArb(seeds: readonly Seed[]): fc.Arbitrary<FuzzCase> {
  return fc.constantFrom(...seeds).chain((s) =>
    fc.array(mutationArb(s.layout, s.inner?.layout), { minLength: 1, maxLength: 4 }).map((mutations): FuzzCase => ({ seed: s.name, mutations })));
}

/** Writes `width` little-endian bytes of `value` at `at` when they fit (a truncation may have removed them). */
function put(b: Buffer, at: number, width: number, value: bigint): void {
  if (at < 0 || at + width > b.length) return;
  for (let i = 0; i < width; i++) b[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

function applyOne(b: Buffer, l: SeedLayout, m: Mutation, inner: Seed['inner']): Buffer {
  switch (m.kind) {
    case 'field': {
      const [where, off, width] = HEADER_FIELDS[m.field];
      const base = where === 'dos' ? 0 : where === 'pe' ? l.peOffset : where === 'coff' ? l.coffOffset : l.optOffset;
      put(b, base + off, width, m.value);
      return b;
    }
    case 'section': {
      const s = l.sections[m.index % l.sections.length];
      put(b, s.headerOffset + SEC[m.field], 4, BigInt(m.value));
      return b;
    }
    case 'dataDirectory':
      put(b, l.dataDirOffset + 8 * m.index, 4, BigInt(m.virtualAddress));
      put(b, l.dataDirOffset + 8 * m.index + 4, 4, BigInt(m.size));
      return b;
    case 'relocBlock': {
      if (!l.relocBlocks.length) return b;
      const blk = l.relocBlocks[m.block % l.relocBlocks.length];
      put(b, blk.fileOffset + (m.field === 'VirtualAddress' ? 0 : 4), 4, BigInt(m.value));
      return b;
    }
    case 'relocEntry': {
      if (!l.relocBlocks.length) return b;
      const blk = l.relocBlocks[m.block % l.relocBlocks.length];
      if (blk.entries === 0) return b;
      put(b, blk.fileOffset + 8 + 2 * (m.entry % blk.entries), 2, BigInt((m.type << 12) | m.offset));
      return b;
    }
    case 'truncate':
      return b.subarray(0, Math.min(m.length, b.length));
    case 'flip':
      if (m.offset < b.length) b[m.offset] ^= 1 << m.bit;
      return b;
    case 'content': {
      const s = l.sections[m.index % l.sections.length];
      if (s.sizeOfRawData === 0) return b;
      const at = s.pointerToRawData + (m.offset % s.sizeOfRawData);
      m.bytes.forEach((v, k) => put(b, at + k, 1, BigInt(v)));
      return b;
    }
    case 'inner': {
      if (!inner || inner.offset >= b.length) return b;
      const view = b.subarray(inner.offset, inner.offset + inner.layout.fileSize);
      applyOne(view, inner.layout, m.mutation, undefined);
      return b;
    }
  }
}

/** The mutated file (a fresh copy; the seed is not changed). */
export function applyCase(seed: Seed, c: FuzzCase): Buffer {
  let b: Buffer = Buffer.from(seed.file);
  for (const m of c.mutations) b = applyOne(b, seed.layout, m, seed.inner);
  return Buffer.from(b);
}

/** One line per mutation, for reports and reproductions. */
export function describeCase(c: FuzzCase): string {
  const one = (m: Mutation): string => {
    switch (m.kind) {
      case 'field': return `${m.field}=0x${m.value.toString(16)}`;
      case 'section': return `section[${m.index}].${m.field}=0x${m.value.toString(16)}`;
      case 'dataDirectory': return `DataDirectory[${m.index}]=0x${m.virtualAddress.toString(16)}+0x${m.size.toString(16)}`;
      case 'relocBlock': return `reloc block ${m.block}.${m.field}=0x${m.value.toString(16)}`;
      case 'relocEntry': return `reloc block ${m.block} entry ${m.entry}=type ${m.type} offset 0x${m.offset.toString(16)}`;
      case 'truncate': return `truncate to 0x${m.length.toString(16)}`;
      case 'flip': return `flip bit ${m.bit} of byte 0x${m.offset.toString(16)}`;
      case 'content': return `section[${m.index}] data +0x${m.offset.toString(16)} = ${Buffer.from(m.bytes).toString('hex')}`;
      case 'inner': return `.linux: ${one(m.mutation)}`;
    }
  };
  return `${c.seed}: ${c.mutations.map(one).join('; ')}`;
}

/** A case as JSON (bigints as "0x…n" strings), to hand it to another process. */
export function encodeCase(c: FuzzCase): string {
  return JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}n` : v));
}

export function decodeCase(text: string): FuzzCase {
  return JSON.parse(text, (_k, v) => (typeof v === 'string' && /^0x[0-9a-f]+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as FuzzCase;
}
