// PE/COFF parser and loader: header round trip, layout, DIR64 relocation and one test per malformation.
import test, { ExecutionContext } from 'ava';
import {
  IMAGE_DIRECTORY_ENTRY, layoutImage, parsePe, PeFormatError, peSummary, relocate, sectionByName,
} from '../pe/pe-image';
import {
  IMAGE_BASE_RELOCATION, IMAGE_DATA_DIRECTORY, IMAGE_DOS_HEADER, IMAGE_FILE_HEADER, IMAGE_OPTIONAL_HEADER64,
  IMAGE_SECTION_HEADER,
} from '../pe/pe-format';
import { buildPe, BuiltPe, COFF, OPT, PeSpec, SEC } from './helpers/pe-builder';

/** Deterministic non-zero filler, so copied bytes can be told from zero fill. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = (x & 0xff) | 1;
  }
  return b;
}

const TEXT = bytes(0x1234, 1);
const DATA = bytes(0x300, 2);
const LONG = bytes(0x80, 3);

function threeSections(extra: Partial<PeSpec> = {}): BuiltPe {
  return buildPe({
    sections: [
      { name: '.text', data: TEXT, virtualAddress: 0x1000, characteristics: 0x60000020 },
      { name: '.data', data: DATA, virtualAddress: 0x3000, virtualSize: 0x2000, characteristics: 0xc0000040 },
      { name: '.sbat-long-name', data: LONG, virtualAddress: 0x5000, characteristics: 0x40000040 },
    ],
    ...extra,
  });
}

test('struct tables have the PE/COFF spec sizes and field offsets', (t) => {
  t.is(IMAGE_DOS_HEADER.size, 64);
  t.is(IMAGE_DOS_HEADER.offsetOf('e_lfanew'), 0x3c);
  t.is(IMAGE_FILE_HEADER.size, 20);
  for (const [k, v] of Object.entries(COFF)) t.is(IMAGE_FILE_HEADER.offsetOf(k as never), v, k);
  t.is(IMAGE_OPTIONAL_HEADER64.size, OPT.DataDirectory);
  for (const [k, v] of Object.entries(OPT)) if (k !== 'DataDirectory') t.is(IMAGE_OPTIONAL_HEADER64.offsetOf(k as never), v, k);
  t.is(IMAGE_SECTION_HEADER.size, 40);
  for (const [k, v] of Object.entries(SEC)) t.is(IMAGE_SECTION_HEADER.offsetOf(k as never), v, k);
  t.is(IMAGE_DATA_DIRECTORY.size, 8);
  t.is(IMAGE_BASE_RELOCATION.size, 8);
});

test('parsePe reads back every header field the builder wrote', (t) => {
  const cert = bytes(0x40, 9);
  const b = buildPe({
    sections: [
      { name: '.text', data: TEXT, virtualAddress: 0x1000 },
      { name: '.data', data: DATA, virtualAddress: 0x3000, virtualSize: 0x2000, characteristics: 0xc0000040 },
    ],
    relocations: [0x3008],
    entryPoint: 0x1010,
    imageBase: 0xffff_8000_1234_0000n,
    subsystem: 11,
    timeDateStamp: 0x6543_2100,
    characteristics: 0x0226,
    dllCharacteristics: 0x0160,
    linkerVersion: [2, 41],
    osVersion: [6, 1],
    imageVersion: [3, 7],
    subsystemVersion: [1, 2],
    win32VersionValue: 0x55,
    checkSum: 0xdead_beef,
    sizeOfCode: 0x1400,
    sizeOfInitializedData: 0x600,
    sizeOfUninitializedData: 0x1d00,
    baseOfCode: 0x1000,
    stackReserve: 0x10_0000_0001n,
    stackCommit: 0x2000n,
    heapReserve: 0x30_0000_0000n,
    heapCommit: 0x4000n,
    loaderFlags: 0x77,
    peOffset: 0xc8,
    dataDirectories: { [IMAGE_DIRECTORY_ENTRY.DEBUG]: { virtualAddress: 0x3100, size: 0x1c } },
    certificate: cert,
  });
  const pe = parsePe(b.file, 'round-trip.efi');
  t.is(pe.what, 'round-trip.efi');
  t.is(pe.fileSize, b.file.length);
  t.is(pe.peHeaderOffset, 0xc8);
  t.is(pe.coffHeaderOffset, b.coffOffset);
  t.is(pe.optionalHeaderOffset, b.optOffset);
  t.is(pe.checkSumFileOffset, b.optOffset + 64);
  t.is(b.file.readUInt32LE(pe.checkSumFileOffset), 0xdead_beef);
  t.is(pe.dataDirectoriesOffset, b.dataDirOffset);
  t.is(pe.sectionTableOffset, b.sectionTableOffset);
  t.is(pe.sectionTableEnd, b.sectionTableOffset + 3 * 40);

  t.is(pe.machine, 0x8664);
  t.is(pe.numberOfSections, 3);
  t.is(pe.timeDateStamp, 0x6543_2100);
  t.is(pe.pointerToSymbolTable, 0);
  t.is(pe.numberOfSymbols, 0);
  t.is(pe.sizeOfOptionalHeader, 240);
  t.is(pe.characteristics, 0x0226);

  t.is(pe.magic, 0x20b);
  t.is(pe.majorLinkerVersion, 2);
  t.is(pe.minorLinkerVersion, 41);
  t.is(pe.sizeOfCode, 0x1400);
  t.is(pe.sizeOfInitializedData, 0x600);
  t.is(pe.sizeOfUninitializedData, 0x1d00);
  t.is(pe.addressOfEntryPoint, 0x1010);
  t.is(pe.baseOfCode, 0x1000);
  t.is(pe.imageBase, 0xffff_8000_1234_0000n);
  t.is(pe.sectionAlignment, 0x1000);
  t.is(pe.fileAlignment, 0x200);
  t.is(pe.majorOperatingSystemVersion, 6);
  t.is(pe.minorOperatingSystemVersion, 1);
  t.is(pe.majorImageVersion, 3);
  t.is(pe.minorImageVersion, 7);
  t.is(pe.majorSubsystemVersion, 1);
  t.is(pe.minorSubsystemVersion, 2);
  t.is(pe.win32VersionValue, 0x55);
  t.is(pe.sizeOfImage, b.sizeOfImage);
  t.is(pe.sizeOfHeaders, b.sizeOfHeaders);
  t.is(pe.checkSum, 0xdead_beef);
  t.is(pe.subsystem, 11);
  t.is(pe.dllCharacteristics, 0x0160);
  t.is(pe.sizeOfStackReserve, 0x10_0000_0001n);
  t.is(pe.sizeOfStackCommit, 0x2000n);
  t.is(pe.sizeOfHeapReserve, 0x30_0000_0000n);
  t.is(pe.sizeOfHeapCommit, 0x4000n);
  t.is(pe.loaderFlags, 0x77);
  t.is(pe.numberOfRvaAndSizes, 16);

  t.is(pe.dataDirectories.length, 16);
  t.deepEqual(pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.BASERELOC],
    { virtualAddress: b.reloc!.virtualAddress, size: 12, fileOffset: b.dataDirOffset + 5 * 8 });
  t.deepEqual(pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.SECURITY],
    { virtualAddress: b.certificateOffset!, size: 0x40, fileOffset: b.dataDirOffset + 4 * 8 });
  t.deepEqual(pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.DEBUG], { virtualAddress: 0x3100, size: 0x1c, fileOffset: b.dataDirOffset + 6 * 8 });
  t.deepEqual(pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.EXPORT], { virtualAddress: 0, size: 0, fileOffset: b.dataDirOffset });
  t.deepEqual(b.file.subarray(b.certificateOffset!, b.certificateOffset! + 0x40), cert);

  const all = [...b.sections, b.reloc!];
  t.deepEqual(pe.sections.map((s) => s.name), ['.text', '.data', '.reloc']);
  pe.sections.forEach((s, i) => {
    t.is(s.index, i);
    t.is(s.virtualAddress, all[i].virtualAddress);
    t.is(s.virtualSize, all[i].virtualSize);
    t.is(s.pointerToRawData, all[i].pointerToRawData);
    t.is(s.sizeOfRawData, all[i].sizeOfRawData);
    t.is(s.headerFileOffset, all[i].headerOffset);
    t.is(s.rawName.length, 8);
  });
  t.is(pe.sections[0].characteristics, 0x60000020);
  t.is(pe.sections[1].characteristics, 0xc0000040);
  t.is(pe.sections[2].characteristics, 0x42000040);
});

test('every EFI subsystem parses; a PE with NumberOfRvaAndSizes < 16 reads the missing directories as zero', (t) => {
  for (const subsystem of [10, 11, 12]) t.is(parsePe(threeSections({ subsystem }).file).subsystem, subsystem);
  const b = threeSections({ numberOfRvaAndSizes: 6, relocations: [0x1000] });
  const pe = parsePe(b.file);
  t.is(pe.sizeOfOptionalHeader, 112 + 6 * 8);
  t.is(pe.sectionTableOffset, b.optOffset + 112 + 6 * 8);
  t.is(pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.BASERELOC].virtualAddress, b.reloc!.virtualAddress);
  t.deepEqual(pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.DEBUG], { virtualAddress: 0, size: 0, fileOffset: undefined });
});

test('long section names resolve through the COFF string table; unresolvable ones stay "/NNN"', (t) => {
  const b = threeSections();
  const pe = parsePe(b.file);
  t.is(pe.sections[2].name, '.sbat-long-name');
  t.is(pe.sections[2].rawName.toString('latin1'), '/4\0\0\0\0\0\0');
  t.is(sectionByName(pe, '.sbat-long-name'), pe.sections[2]);
  t.is(sectionByName(pe, '.data'), pe.sections[1]);
  t.is(sectionByName(pe, '.linux'), undefined);

  const noTable = Buffer.from(b.file);
  noTable.writeUInt32LE(0, b.coffOffset + COFF.PointerToSymbolTable);
  t.is(parsePe(noTable).sections[2].name, '/4');

  const pastTable = Buffer.from(b.file);
  pastTable.write('/9999\0\0\0', b.sections[2].headerOffset, 'latin1');
  t.is(parsePe(pastTable).sections[2].name, '/9999');
});

/** Three sections covering the layout rules: VirtualSize below, above and absent (0) against SizeOfRawData. */
function layoutRulesPe() {
  return buildPe({
    sections: [
      // VirtualSize below the data: only VirtualSize bytes are copied.
      { name: '.text', data: TEXT, virtualAddress: 0x1000, virtualSize: 0x1000, rawPadByte: 0xcc },
      // VirtualSize above SizeOfRawData: raw bytes (with their padding) then zero fill.
      { name: '.data', data: DATA, virtualAddress: 0x3000, virtualSize: 0x2000, rawPadByte: 0xdd },
      // VirtualSize 0: SizeOfRawData decides.
      { name: '.rodata', data: LONG, virtualAddress: 0x6000, virtualSize: 0, rawPadByte: 0xee },
    ],
  });
}

test('layoutImage puts min(SizeOfRawData, VirtualSize) file bytes at each RVA and zero everywhere else', (t) => {
  const b = layoutRulesPe();
  const pe = parsePe(b.file);
  const image = layoutImage(pe, b.file);
  t.is(image.length, b.sizeOfImage);

  const expectedRuns: [number, Buffer][] = [
    [0, b.file.subarray(0, b.sizeOfHeaders)],
    [0x1000, TEXT.subarray(0, 0x1000)],
    [0x3000, Buffer.concat([DATA, Buffer.alloc(0x400 - DATA.length, 0xdd)])],
    [0x6000, Buffer.concat([LONG, Buffer.alloc(0x200 - LONG.length, 0xee)])],
  ];
  const covered = new Uint8Array(image.length);
  for (const [rva, run] of expectedRuns) {
    t.deepEqual(image.subarray(rva, rva + run.length), run, `bytes at ${rva.toString(16)}`);
    covered.fill(1, rva, rva + run.length);
  }
  const strays = [...image].flatMap((v, i) => (covered[i] === 0 && v !== 0 ? [i] : []));
  t.deepEqual(strays, [], 'bytes outside the copied runs are zero');
});

test('layoutImage into a used target (the image\'s own pages) gives the same bytes, each gap zeroed', (t) => {
  const b = layoutRulesPe();
  const pe = parsePe(b.file);
  const ram = Buffer.alloc(b.sizeOfImage + 0x2000, 0xa5);
  const into = ram.subarray(0x1000, 0x1000 + b.sizeOfImage);
  t.is(layoutImage(pe, b.file, into), into);
  t.deepEqual(into, layoutImage(pe, b.file));
  t.true(ram.subarray(0, 0x1000).every((v) => v === 0xa5) && ram.subarray(0x1000 + b.sizeOfImage).every((v) => v === 0xa5), 'nothing written outside the target');
  t.throws(() => layoutImage(pe, b.file, Buffer.alloc(b.sizeOfImage - 1)), { instanceOf: RangeError });
});

/** An image whose .data holds 64-bit words at known RVAs, some of them DIR64 targets across two pages. */
function relocatable(imageBase: bigint, targets: number[], words: Map<number, bigint>): BuiltPe {
  const data = bytes(0x2000, 5);
  for (const [rva, v] of words) data.writeBigUInt64LE(v, rva - 0x3000);
  return buildPe({
    imageBase,
    sections: [
      { name: '.text', data: TEXT, virtualAddress: 0x1000 },
      { name: '.data', data, virtualAddress: 0x3000 },
    ],
    relocations: [...targets, { rva: 0x3ff0, type: 0 }],
  });
}

function expectRelocated(t: ExecutionContext, imageBase: bigint, newBase: bigint): void {
  const words = new Map<number, bigint>([
    [0x3000, imageBase + 0x1000n], [0x3010, imageBase + 0x1ff8n], [0x3ff8, 0x10n], [0x4800, 0xffff_ffff_ffff_fff0n], [0x4808, 0x1234n],
  ]);
  const targets = [0x3000, 0x3010, 0x3ff8, 0x4800];
  const b = relocatable(imageBase, targets, words);
  const pe = parsePe(b.file);
  const image = layoutImage(pe, b.file);
  const expected = Buffer.from(image);
  const delta = newBase - imageBase;
  for (const rva of targets) expected.writeBigUInt64LE(BigInt.asUintN(64, words.get(rva)! + delta), rva);

  const r = relocate(image, pe, newBase);
  t.is(r.applied, targets.length);
  t.deepEqual(image, expected);
  t.is(image.readBigUInt64LE(0x4808), 0x1234n, 'a word without a relocation is left alone');
}

test('relocate adds the delta to exactly the DIR64 targets (load above ImageBase)', (t) => {
  expectRelocated(t, 0x1_4000_0000n, 0x7f60_0000n + 0x1_4000_0000n);
});

test('relocate wraps modulo 2^64 (load below ImageBase)', (t) => {
  expectRelocated(t, 0x1_4000_0000n, 0x20_0000n);
});

test('relocate at ImageBase changes nothing', (t) => {
  const b = relocatable(0x40_0000n, [0x3000, 0x3008], new Map([[0x3000, 0x40_1000n]]));
  const pe = parsePe(b.file);
  const image = layoutImage(pe, b.file);
  const before = Buffer.from(image);
  t.is(relocate(image, pe, 0x40_0000n).applied, 0);
  t.deepEqual(image, before);
});

test('an image without a relocation directory is position-independent unless IMAGE_FILE_RELOCS_STRIPPED is set', (t) => {
  const pic = threeSections();
  const pe = parsePe(pic.file);
  const image = layoutImage(pe, pic.file);
  const before = Buffer.from(image);
  t.is(relocate(image, pe, 0x9000_0000n).applied, 0);
  t.deepEqual(image, before);

  const pinned = threeSections({ characteristics: 0x0223 });
  const pe2 = parsePe(pinned.file);
  const image2 = layoutImage(pe2, pinned.file);
  t.is(relocate(image2, pe2, pe2.imageBase).applied, 0);
  const e = t.throws(() => relocate(image2, pe2, 0x9000_0000n), { instanceOf: PeFormatError })!;
  t.is(e.field, 'IMAGE_FILE_HEADER.Characteristics');
  t.is(e.fileOffset, pinned.coffOffset + COFF.Characteristics);
  t.regex(e.message, /IMAGE_FILE_RELOCS_STRIPPED/);
});

test('peSummary is plain JSON with 64-bit values as hex strings', (t) => {
  const b = threeSections({ relocations: [0x1000], imageBase: 0xffff_ffff_0000_0000n });
  const s = JSON.parse(JSON.stringify(peSummary(parsePe(b.file, 'x.efi'))));
  t.is(s.file, 'x.efi');
  t.is(s.imageBase, '0xffffffff00000000');
  t.is(s.subsystem, 'EFI_APPLICATION');
  t.deepEqual(s.sections.map((x: { name: string }) => x.name), ['.text', '.data', '.sbat-long-name', '.reloc']);
  t.deepEqual(s.dataDirectories, [{ name: 'BASERELOC', virtualAddress: `0x${b.reloc!.virtualAddress.toString(16)}`, size: '0xc' }]);
});

// --- malformations: each names the field and its offset ---

function expectBad(t: ExecutionContext, file: Buffer, field: string, fileOffset: number, detail?: RegExp): void {
  const e = t.throws(() => parsePe(file, 'bad.efi'), { instanceOf: PeFormatError })!;
  t.is(e.field, field);
  t.is(e.fileOffset, fileOffset);
  t.true(e.message.startsWith(`bad.efi: ${field} at file offset 0x${fileOffset.toString(16)}: `), e.message);
  if (detail) t.regex(e.message, detail);
}

function patched(b: BuiltPe, patch: (f: Buffer) => void): Buffer {
  const f = Buffer.from(b.file);
  patch(f);
  return f;
}

test('bad MZ signature', (t) => {
  const b = threeSections();
  expectBad(t, patched(b, (f) => f.writeUInt16LE(0x4d5a, 0)), 'IMAGE_DOS_HEADER.e_magic', 0);
  expectBad(t, b.file.subarray(0, 0x30), 'IMAGE_DOS_HEADER', 0);
});

test('e_lfanew past the end of the file', (t) => {
  const b = threeSections();
  expectBad(t, patched(b, (f) => f.writeUInt32LE(f.length - 8, 0x3c)), 'IMAGE_DOS_HEADER.e_lfanew', 0x3c, /beyond the end of the file/);
  expectBad(t, patched(b, (f) => f.write('NE', b.peOffset, 'latin1')), 'IMAGE_NT_HEADERS64.Signature', b.peOffset);
});

test('truncated optional header', (t) => {
  const b = threeSections();
  expectBad(t, b.file.subarray(0, b.optOffset + 0x60), 'IMAGE_FILE_HEADER.SizeOfOptionalHeader', b.coffOffset + COFF.SizeOfOptionalHeader,
    new RegExp(`0x${b.optOffset.toString(16)}\\+0xf0 is beyond the end of the file \\(0x${(b.optOffset + 0x60).toString(16)}\\)`));
  expectBad(t, patched(b, (f) => f.writeUInt16LE(0x70 + 8, b.coffOffset + COFF.SizeOfOptionalHeader)),
    'IMAGE_FILE_HEADER.SizeOfOptionalHeader', b.coffOffset + COFF.SizeOfOptionalHeader, /16 data directories/);
});

test('wrong machine', (t) => {
  const b = threeSections();
  expectBad(t, patched(b, (f) => f.writeUInt16LE(0xaa64, b.coffOffset)), 'IMAGE_FILE_HEADER.Machine', b.coffOffset, /0xaa64/);
});

test('PE32 optional header magic 0x10b', (t) => {
  const b = threeSections();
  expectBad(t, patched(b, (f) => f.writeUInt16LE(0x10b, b.optOffset)), 'IMAGE_OPTIONAL_HEADER64.Magic', b.optOffset, /PE32 \(32-bit\)/);
});

test('huge NumberOfSections', (t) => {
  const b = threeSections();
  expectBad(t, patched(b, (f) => f.writeUInt16LE(0xffff, b.coffOffset + COFF.NumberOfSections)),
    'IMAGE_FILE_HEADER.NumberOfSections', b.coffOffset + COFF.NumberOfSections, /65535 sections/);
  // Within the cap but more headers than the file holds, or than SizeOfHeaders covers.
  expectBad(t, b.file.subarray(0, b.sectionTableOffset + 100),
    'IMAGE_FILE_HEADER.NumberOfSections', b.coffOffset + COFF.NumberOfSections, /3 section headers at .* beyond the end of the file/);
  expectBad(t, patched(b, (f) => f.writeUInt16LE(90, b.coffOffset + COFF.NumberOfSections)),
    'IMAGE_OPTIONAL_HEADER64.SizeOfHeaders', b.optOffset + OPT.SizeOfHeaders, /must cover the section table/);
});

test('section raw data past the end of the file', (t) => {
  const b = threeSections();
  const h = b.sections[1].headerOffset;
  const file = patched(b, (f) => f.writeUInt32LE(f.length - 0x100, h + SEC.PointerToRawData));
  const ptr = (file.length - 0x100).toString(16);
  expectBad(t, file, 'IMAGE_SECTION_HEADER[1].PointerToRawData', h + SEC.PointerToRawData,
    new RegExp(`: 0x${ptr}\\+0x400 is beyond the end of the file \\(0x${file.length.toString(16)}\\)$`));
});

test('section outside SizeOfImage', (t) => {
  const b = threeSections();
  const h = b.sections[2].headerOffset;
  expectBad(t, patched(b, (f) => f.writeUInt32LE(b.sizeOfImage - 0x10, h + SEC.VirtualAddress)),
    'IMAGE_SECTION_HEADER[2].VirtualAddress', h + SEC.VirtualAddress, /beyond SizeOfImage/);
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x1800, b.optOffset + OPT.SizeOfImage)),
    'IMAGE_SECTION_HEADER[0].VirtualAddress', b.sections[0].headerOffset + SEC.VirtualAddress, /0x1000\+0x1234 is beyond SizeOfImage \(0x1800\)/);
});

test('overlapping sections', (t) => {
  const b = threeSections();
  const h = b.sections[2].headerOffset;
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x4ff0, h + SEC.VirtualAddress)),
    'IMAGE_SECTION_HEADER[2].VirtualAddress', h + SEC.VirtualAddress, /overlaps section 1 \(\.data\)/);
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x100, b.sections[0].headerOffset + SEC.VirtualAddress)),
    'IMAGE_SECTION_HEADER[0].VirtualAddress', b.sections[0].headerOffset + SEC.VirtualAddress, /inside the headers/);
});

test('other header faults name their field', (t) => {
  const b = threeSections();
  const at = (field: keyof typeof OPT): number => b.optOffset + OPT[field];
  expectBad(t, patched(b, (f) => f.writeUInt16LE(3, at('Subsystem'))), 'IMAGE_OPTIONAL_HEADER64.Subsystem', at('Subsystem'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(17, at('NumberOfRvaAndSizes'))), 'IMAGE_OPTIONAL_HEADER64.NumberOfRvaAndSizes', at('NumberOfRvaAndSizes'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x1800, at('SectionAlignment'))), 'IMAGE_OPTIONAL_HEADER64.SectionAlignment', at('SectionAlignment'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x100, at('SectionAlignment'))), 'IMAGE_OPTIONAL_HEADER64.SectionAlignment', at('SectionAlignment'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0, at('AddressOfEntryPoint'))), 'IMAGE_OPTIONAL_HEADER64.AddressOfEntryPoint', at('AddressOfEntryPoint'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(b.sizeOfImage, at('AddressOfEntryPoint'))), 'IMAGE_OPTIONAL_HEADER64.AddressOfEntryPoint', at('AddressOfEntryPoint'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x4000_1000, at('SizeOfImage'))), 'IMAGE_OPTIONAL_HEADER64.SizeOfImage', at('SizeOfImage'));
  expectBad(t, patched(b, (f) => f.writeUInt32LE(0x100, at('SizeOfHeaders'))), 'IMAGE_OPTIONAL_HEADER64.SizeOfHeaders', at('SizeOfHeaders'), /section table/);
  const debug = b.dataDirOffset + 8 * IMAGE_DIRECTORY_ENTRY.DEBUG;
  expectBad(t, patched(b, (f) => { f.writeUInt32LE(b.sizeOfImage - 4, debug); f.writeUInt32LE(0x1c, debug + 4); }),
    'IMAGE_OPTIONAL_HEADER64.DataDirectory[DEBUG].VirtualAddress', debug, /beyond SizeOfImage/);
  const security = b.dataDirOffset + 8 * IMAGE_DIRECTORY_ENTRY.SECURITY;
  expectBad(t, patched(b, (f) => { f.writeUInt32LE(b.file.length - 8, security); f.writeUInt32LE(0x10, security + 4); }),
    'IMAGE_OPTIONAL_HEADER64.DataDirectory[SECURITY].VirtualAddress', security, /beyond the end of the file/);
});

// --- relocation faults: found in the laid-out image, so they carry an RVA ---

function expectBadReloc(t: ExecutionContext, b: BuiltPe, field: string, rva: number, detail: RegExp, patch?: (f: Buffer) => void): void {
  const file = patched(b, patch ?? (() => {}));
  const pe = parsePe(file, 'bad.efi');
  const image = layoutImage(pe, file);
  const before = Buffer.from(image);
  const e = t.throws(() => relocate(image, pe, pe.imageBase + 0x10_0000n), { instanceOf: PeFormatError })!;
  t.is(e.field, field);
  t.is(e.rva, rva);
  t.is(e.fileOffset, undefined);
  t.true(e.message.startsWith(`bad.efi: ${field} at RVA 0x${rva.toString(16)}: `), e.message);
  t.regex(e.message, detail);
  t.deepEqual(image, before, 'nothing is written when the table is bad');
}

test('relocation type 3 (HIGHLOW) is rejected, naming block, entry and type', (t) => {
  const b = threeSections({ relocations: [0x1000, 0x1008, 0x3000, { rva: 0x3010, type: 3 }] });
  const r = b.reloc!.virtualAddress;
  // Block 0 holds the .text page (8 + 2*2 bytes); block 1 starts at r + 12, its entry 1 at r + 12 + 8 + 2.
  expectBadReloc(t, b, 'IMAGE_BASE_RELOCATION[1].TypeOffset[1]', r + 12 + 8 + 2, /type 3 \(IMAGE_REL_BASED_HIGHLOW\) in the block for page RVA 0x3000/);
});

test('relocation block size 0, odd, or past the directory', (t) => {
  const b = threeSections({ relocations: [0x1000, 0x3000] });
  const r = b.reloc!;
  expectBadReloc(t, b, 'IMAGE_BASE_RELOCATION[0].SizeOfBlock', r.virtualAddress + 4, /at least 8 and even/,
    (f) => f.writeUInt32LE(0, r.pointerToRawData + 4));
  expectBadReloc(t, b, 'IMAGE_BASE_RELOCATION[0].SizeOfBlock', r.virtualAddress + 4, /at least 8 and even/,
    (f) => f.writeUInt32LE(11, r.pointerToRawData + 4));
  expectBadReloc(t, b, 'IMAGE_BASE_RELOCATION[1].SizeOfBlock', r.virtualAddress + 12 + 4, /runs past the end of the relocation directory/,
    (f) => f.writeUInt32LE(0x20, r.pointerToRawData + 12 + 4));
  // A directory that ends inside a block header.
  expectBadReloc(t, b, 'IMAGE_BASE_RELOCATION[2]', r.virtualAddress + 24, /less than a block header/,
    (f) => f.writeUInt32LE(24 + 4, b.dataDirOffset + 8 * IMAGE_DIRECTORY_ENTRY.BASERELOC + 4));
});

test('relocation target outside the image or inside the relocation table', (t) => {
  // .reloc lands at 0x6000 (after .sbat at 0x5000), so SizeOfImage is 0x7000.
  const b = threeSections({ relocations: [0x1000, 0x6ffc] });
  const r = b.reloc!.virtualAddress;
  t.is(r, 0x6000);
  t.is(b.sizeOfImage, 0x7000);
  expectBadReloc(t, b, 'IMAGE_BASE_RELOCATION[1].TypeOffset[0]', r + 12 + 8, /DIR64 target 0x6ffc .* outside SizeOfImage \(0x7000\)/);

  // Point the only block at the relocation table's own page: its DIR64 entry (offset 0) now targets the table.
  const c = threeSections({ relocations: [0x1000] });
  const rc = c.reloc!;
  expectBadReloc(t, c, 'IMAGE_BASE_RELOCATION[0].TypeOffset[0]', rc.virtualAddress + 8, /overlaps the relocation directory/,
    (f) => f.writeUInt32LE(rc.virtualAddress, rc.pointerToRawData));
});
