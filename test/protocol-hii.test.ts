// EFI_HII_DATABASE_PROTOCOL and EFI_HII_STRING_PROTOCOL called by guest code with a package list written out byte
// by byte from UEFI 2.10 §34.3 (package list header, string package header, EFI_HII_SIBT_* blocks).
import test from 'ava';
import { slotOffset } from '../core/abi';
import { GUID, guidToBytes } from '../core/guid';
import { encodeUtf16z } from '../core/guest-memory';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_LANGUAGE, EFI_NOT_FOUND, EFI_SUCCESS } from '../core/status';
import { EFI_HII_DATABASE_PROTOCOL } from '../efi-services/protocols/hii-database';
import { EFI_HII_STRING_PROTOCOL } from '../efi-services/protocols/hii-string';
import { HiiPackageError, parsePackageList, parseStringPackage } from '../efi-services/protocols/hii-packages';
import { Asm } from './helpers/guest-asm';
import { returnedValue } from './helpers/guest-protocol';
import { le32, runCode } from './helpers/guest-code';

const u16 = (v: number) => Buffer.from([v & 0xff, v >> 8]);
const u32 = (v: number) => Buffer.from(le32(v));
const ascii = (s: string) => Buffer.from(`${s}\0`, 'latin1');

/** A string package (§34.3.6.1): header, HdrSize, StringInfoOffset, LanguageWindow[16], LanguageName, Language. */
function stringPackage(language: string, blocks: Buffer): Buffer {
  const hdrSize = 4 + 4 + 4 + 32 + 2 + language.length + 1;
  const body = Buffer.concat([u32(hdrSize), u32(hdrSize), Buffer.alloc(32), u16(1), ascii(language), blocks]);
  return Buffer.concat([u32((4 + body.length) | (0x04 << 24)), body]);
}

/** Ids: 1 "English", 2-3 skipped (SKIP1), 4 "four" 5 "five" (STRINGS_UCS2), 6 "six" (SCSU), 7 = 4 (DUPLICATE), an EXT2 font block, 8 "eight". */
const EN_BLOCKS = Buffer.concat([
  Buffer.from([0x14]), encodeUtf16z('English'),
  Buffer.from([0x22, 2]),
  Buffer.from([0x16]), u16(2), encodeUtf16z('four'), encodeUtf16z('five'),
  Buffer.from([0x10]), ascii('six'),
  Buffer.from([0x20]), u16(4),
  Buffer.from([0x31, 0x40]), u16(6), Buffer.from([0xaa, 0xbb]),
  Buffer.from([0x14]), encodeUtf16z('eight'),
  Buffer.from([0x00]),
]);
const FR_BLOCKS = Buffer.concat([Buffer.from([0x14]), encodeUtf16z('Anglais'), Buffer.from([0x00])]);
const LIST_GUID = '8c2f5e1a-0d3b-4b6e-9f21-5a7c3e9d1b40';

function packageList(): Buffer {
  const packages = Buffer.concat([stringPackage('en-US', EN_BLOCKS), stringPackage('fr-FR', FR_BLOCKS), u32(4 | (0xdf << 24))]);
  return Buffer.concat([guidToBytes(LIST_GUID), u32(20 + packages.length), packages]);
}

test('the package list and string blocks parse to the ids the blocks define', (t) => {
  const list = parsePackageList(packageList());
  t.deepEqual(list.packages.map((p) => p.type), [0x04, 0x04]);
  const en = parseStringPackage(list.packages[0].bytes);
  t.is(en.language, 'en-US');
  t.deepEqual([...en.strings.entries()], [[1, 'English'], [4, 'four'], [5, 'five'], [6, 'six'], [7, 'four'], [8, 'eight']]);
  const cut = packageList().subarray(0, 60);
  t.throws(() => parsePackageList(cut), { instanceOf: HiiPackageError });
  const badBlock = stringPackage('en-US', Buffer.from([0x99]));
  t.throws(() => parseStringPackage(badBlock), { instanceOf: HiiPackageError, message: /byte offset 52 .*unknown string block type 0x99/ });
});

// Stack: 0x20/0x28/0x30 the 5th-7th arguments; 0x38 HII database, 0x40 HII string, 0x48 HII handle, 0x50 size.
type Want = 'new-status' | 'status' | 'size' | 'string';
/** GetString(id, language) after NewPackageList, or with `languages` GetLanguages into the same buffer and size. */
function hii(id: number, language: string, size: number, want: Want, languages = false) {
  const a = new Asm().prologue()
    .leaRip('rcx', 'dbguid').movImm('rdx', 0).leaStack('r8', 0x38).callBs('LocateProtocol')
    .leaRip('rcx', 'strguid').movImm('rdx', 0).leaStack('r8', 0x40).callBs('LocateProtocol')
    // NewPackageList(This, PackageList, DriverHandle = ImageHandle, &Handle)
    .loadStack('rcx', 0x38).leaRip('rdx', 'list').emit(0x4d, 0x89, 0xe0).leaStack('r9', 0x48)
    .loadStack('rax', 0x38).emit(0xff, 0x90, ...le32(slotOffset(EFI_HII_DATABASE_PROTOCOL, 'NewPackageList'))).storeStack(0x58, 'rax')
    .storeStackImm(0x50, size);
  if (languages) {
    // GetLanguages(This, Handle, Languages, &LanguagesSize)
    a.loadStack('rcx', 0x40).loadStack('rdx', 0x48).leaRip('r8', 'buf').leaStack('r9', 0x50)
      .loadStack('rax', 0x40).emit(0xff, 0x90, ...le32(slotOffset(EFI_HII_STRING_PROTOCOL, 'GetLanguages'))).storeStack(0x60, 'rax');
  } else {
    // GetString(This, Language, Handle, StringId, String, &StringSize, NULL)
    a.leaRip('rax', 'buf').storeStack(0x20, 'rax').leaStack('rax', 0x50).storeStack(0x28, 'rax').storeStackImm(0x30, 0)
      .loadStack('rcx', 0x40).leaRip('rdx', 'lang').loadStack('r8', 0x48).movImm('r9', id)
      .loadStack('rax', 0x40).emit(0xff, 0x90, ...le32(slotOffset(EFI_HII_STRING_PROTOCOL, 'GetString'))).storeStack(0x60, 'rax');
  }
  if (want === 'new-status') a.loadStack('rax', 0x58);
  else if (want === 'status') a.loadStack('rax', 0x60);
  else if (want === 'size') a.loadStack('rax', 0x50);
  else a.leaRip('rax', 'buf');
  a.epilogue().dataLabel('dbguid', guidToBytes(GUID.HII_DATABASE)).dataLabel('strguid', guidToBytes(GUID.HII_STRING))
    .dataLabel('list', packageList()).dataLabel('lang', ascii(language)).dataLabel('buf', Buffer.alloc(64, 0xee));
  const run = runCode(a.build());
  return { run, value: returnedValue(run) };
}

test('NewPackageList registers the list; GetString returns strings by id in the language asked for', (t) => {
  t.is(hii(1, 'en-US', 64, 'new-status').value, EFI_SUCCESS);
  t.is(hii(1, 'en-US', 64, 'status').value, EFI_SUCCESS);
  const s = (id: number, lang = 'en-US') => {
    const r = hii(id, lang, 64, 'string');
    return r.run.firmware.mem.utf16z(r.value);
  };
  t.is(s(1), 'English');
  t.is(s(5), 'five');
  t.is(s(6), 'six');
  t.is(s(7), 'four');
  t.is(s(8), 'eight');
  t.is(s(1, 'FR-fr'), 'Anglais', 'language tags compare without case');
});

test('GetString: a small buffer gets the size with EFI_BUFFER_TOO_SMALL; skipped ids and other languages are refused', (t) => {
  t.is(hii(1, 'en-US', 4, 'status').value, EFI_BUFFER_TOO_SMALL);
  t.is(hii(1, 'en-US', 4, 'size').value, BigInt(('English'.length + 1) * 2));
  t.is(hii(2, 'en-US', 64, 'status').value, EFI_NOT_FOUND);
  t.is(hii(9, 'en-US', 64, 'status').value, EFI_NOT_FOUND);
  t.is(hii(4, 'fr-FR', 64, 'status').value, EFI_INVALID_LANGUAGE, 'id 4 exists in en-US only');
  t.is(hii(1, 'de-DE', 64, 'status').value, EFI_INVALID_LANGUAGE);
});

test('GetLanguages lists the languages of the string packages, ";"-separated, or asks for a bigger buffer', (t) => {
  const expected = 'en-US;fr-FR';
  const r = hii(0, '', 64, 'string', true);
  t.is(r.run.firmware.mem.asciiz(r.value), expected);
  t.is(hii(0, '', 4, 'status', true).value, EFI_BUFFER_TOO_SMALL);
  t.is(hii(0, '', 4, 'size', true).value, BigInt(expected.length + 1));
});
