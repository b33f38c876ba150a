// EFI_UNICODE_COLLATION2_PROTOCOL (UEFI 2.10 §19.2), English ("en") as OVMF's EnglishDxe offers it: case folding of
// ASCII and Latin-1 letters, MetaiMatch's * ? [set] [a-z] patterns, and 8.3 FAT name conversion. The UEFI Shell
// needs it (it stops when no collation protocol matches PlatformLang), and so does FAT name handling in loaders.
import { fnReturning, field, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { GuestMemory } from '../../core/guest-memory';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';

export const EFI_UNICODE_COLLATION2_PROTOCOL_GUID = GUID.UNICODE_COLLATION2;

export const EFI_UNICODE_COLLATION2_PROTOCOL = tableDecl({
  name: 'EFI_UNICODE_COLLATION2_PROTOCOL',
  traceName: 'UnicodeCollation2',
  headerSize: 0,
  members: [
    fnReturning('UINTN', 'StriColl', 'This:PTR', 'Str1:STR16', 'Str2:STR16'),
    fnReturning('UINTN', 'MetaiMatch', 'This:PTR', 'String:STR16', 'Pattern:STR16'),
    fnReturning('VOID', 'StrLwr', 'This:PTR', 'Str:STR16'),
    fnReturning('VOID', 'StrUpr', 'This:PTR', 'Str:STR16'),
    fnReturning('VOID', 'FatToStr', 'This:PTR', 'FatSize:UINTN', 'Fat:PTR', 'String:PTR'),
    fnReturning('UINTN', 'StrToFat', 'This:PTR', 'String:STR16', 'FatSize:UINTN', 'Fat:PTR'),
    field('SupportedLanguages'),
  ],
});

/** RFC 4646 language codes this collation serves (UEFI 2.10 §19.2: SupportedLanguages). */
export const SUPPORTED_LANGUAGES = 'en';

/** Latin-1 letters fold between 0x61-0x7A / 0xE0-0xFE (except ÷ 0xF7) and 0x20 below; other code points stay. */
const isLower = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0xe0 && c <= 0xfe && c !== 0xf7);
const isUpper = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0xc0 && c <= 0xde && c !== 0xd7);
export const toUpper = (c: number) => (isLower(c) ? c - 0x20 : c);
export const toLower = (c: number) => (isUpper(c) ? c + 0x20 : c);

/** Characters a FAT 8.3 name may hold besides letters (FAT specification, short names), as EnglishDxe allows. */
const FAT_OTHER = new Set([...'0123456789\\._^$~!#%&-{}()@`\''].map((ch) => ch.charCodeAt(0)));
const isFatChar = (c: number) => isLower(c) || isUpper(c) || FAT_OTHER.has(c);

const codes = (s: string) => Array.from(s, (ch) => ch.charCodeAt(0));

/** StriColl: <0, 0, >0 by case-folded code unit, the first difference deciding. */
export function striColl(a: string, b: string): number {
  const x = codes(a);
  const y = codes(b);
  for (let i = 0; ; i++) {
    const p = toUpper(x[i] ?? 0);
    const q = toUpper(y[i] ?? 0);
    if (p !== q || p === 0) return p - q;
  }
}

/** MetaiMatch (§19.2.3): `*` any run, `?` one character, `[abc]` / `[a-z]` one of a set; case-insensitive. */
export function metaiMatch(text: string, pattern: string): boolean {
  const s = codes(text);
  const p = codes(pattern);
  const match = (si: number, pi: number): boolean => {
    for (;;) {
      const cp = p[pi++];
      if (cp === undefined) return si === s.length;
      if (cp === 0x2a /* * */) {
        for (let k = si; k <= s.length; k++) if (match(k, pi)) return true;
        return false;
      }
      const cs = s[si];
      if (cs === undefined) return false;
      if (cp === 0x3f /* ? */) {
        si++;
        continue;
      }
      if (cp === 0x5b /* [ */) {
        const close = p.indexOf(0x5d, pi);
        if (close < 0) return false;
        const set = p.slice(pi, close);
        let hit = false;
        for (let i = 0; i < set.length; i++) {
          if (set[i + 1] === 0x2d /* - */ && i + 2 < set.length) {
            if (toUpper(cs) >= toUpper(set[i]) && toUpper(cs) <= toUpper(set[i + 2])) hit = true;
            i += 2;
          } else if (toUpper(cs) === toUpper(set[i])) hit = true;
        }
        if (!hit) return false;
        pi = close + 1;
        si++;
        continue;
      }
      if (toUpper(cs) !== toUpper(cp)) return false;
      si++;
    }
  };
  return match(0, 0);
}

/** StrToFat: upper case, '.' and ' ' dropped, invalid characters become '_' (then the name needs an LFN: TRUE). */
export function strToFat(text: string, fatSize: number): { fat: Buffer; substituted: boolean } {
  const out: number[] = [];
  let substituted = false;
  for (const c of codes(text)) {
    if (out.length >= fatSize) break;
    if (c === 0x2e || c === 0x20) continue;
    if (isFatChar(c)) out.push(toUpper(c));
    else {
      out.push(0x5f);
      substituted = true;
    }
  }
  return { fat: Buffer.from(out), substituted };
}

function mapString(mem: GuestMemory, at: bigint, f: (c: number) => number): void {
  for (let a = at; ; a += 2n) {
    const c = mem.u16(a);
    if (c === 0) return;
    mem.setU16(a, f(c));
  }
}

export function unicodeCollation2(platform: Platform): bigint {
  const mem = platform.mem;
  const table = buildInterface(platform, EFI_UNICODE_COLLATION2_PROTOCOL, {
    StriColl: ([, a, b]) => BigInt.asUintN(64, BigInt(striColl(mem.utf16z(a), mem.utf16z(b)))),
    MetaiMatch: ([, text, pattern]) => (metaiMatch(mem.utf16z(text), mem.utf16z(pattern)) ? 1n : 0n),
    StrLwr: ([, s]) => {
      mapString(mem, s, toLower);
      return undefined;
    },
    StrUpr: ([, s]) => {
      mapString(mem, s, toUpper);
      return undefined;
    },
    // FatToStr: OEM bytes widened one to one (no DBCS), up to FatSize or a NUL, then a terminator.
    FatToStr: ([, fatSize, fat, string]) => {
      let n = 0;
      for (; BigInt(n) < fatSize; n++) {
        const c = mem.u8(fat + BigInt(n));
        if (c === 0) break;
        mem.setU16(string + BigInt(2 * n), c);
      }
      mem.setU16(string + BigInt(2 * n), 0);
      return undefined;
    },
    // StrToFat writes no terminator (§19.2.7: Fat holds FatSize bytes).
    StrToFat: ([, string, fatSize, fat]) => {
      const r = strToFat(mem.utf16z(string), Number(fatSize));
      mem.write(fat, r.fat);
      return r.substituted ? 1n : 0n;
    },
  }, SUPPORTED_LANGUAGES.length + 1);
  const languages = table + BigInt(8 * EFI_UNICODE_COLLATION2_PROTOCOL.members.length);
  mem.write(languages, Buffer.from(`${SUPPORTED_LANGUAGES}\0`, 'latin1'));
  mem.setU64(table + BigInt(8 * (EFI_UNICODE_COLLATION2_PROTOCOL.members.length - 1)), languages);
  return table;
}

/** Module entry (platform-protocols.ts): on its own handle, as EnglishDxe installs it. */
export function install(ctx: InstallContext): void {
  ctx.db.install(0n, EFI_UNICODE_COLLATION2_PROTOCOL_GUID, unicodeCollation2(ctx.platform));
}
