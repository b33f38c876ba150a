// HII package lists and string packages in their binary form (UEFI 2.10 §34.3.1 package lists, §34.3.6 string
// packages and string blocks): read with every length checked, so a malformed list is refused with the offset.

/** EFI_HII_PACKAGE_* types (UEFI 2.10 §34.3.1.2). */
export const HII_PACKAGE = {
  ALL: 0x00, GUID: 0x01, FORMS: 0x02, STRINGS: 0x04, FONTS: 0x05, IMAGES: 0x06, SIMPLE_FONTS: 0x07,
  DEVICE_PATH: 0x08, KEYBOARD_LAYOUT: 0x09, ANIMATIONS: 0x0a, END: 0xdf,
} as const;

/** EFI_HII_PACKAGE_LIST_HEADER: PackageListGuid, PackageLength (the whole list, header included). */
export const PACKAGE_LIST_HEADER_SIZE = 20;
/** EFI_HII_PACKAGE_HEADER: Length:24 and Type:8 in one UINT32. */
export const PACKAGE_HEADER_SIZE = 4;

/** EFI_HII_STRING_PACKAGE_HDR (§34.3.6.1): offsets in the package. */
export const STRING_PACKAGE_HDR = {
  HdrSize: 4, StringInfoOffset: 8, LanguageWindow: 12, LanguageName: 44, Language: 46,
} as const;

/** String block types, EFI_HII_SIBT_* (UEFI 2.10 §34.3.6.2). */
export const SIBT = {
  END: 0x00, STRING_SCSU: 0x10, STRING_SCSU_FONT: 0x11, STRINGS_SCSU: 0x12, STRINGS_SCSU_FONT: 0x13,
  STRING_UCS2: 0x14, STRING_UCS2_FONT: 0x15, STRINGS_UCS2: 0x16, STRINGS_UCS2_FONT: 0x17,
  DUPLICATE: 0x20, SKIP2: 0x21, SKIP1: 0x22, EXT1: 0x30, EXT2: 0x31, EXT4: 0x32,
} as const;

export class HiiPackageError extends Error {
  constructor(offset: number, reason: string) {
    super(`HII package list byte offset ${offset} (0x${offset.toString(16)}): ${reason}`);
  }
}

export interface HiiPackage {
  type: number;
  /** The whole package, its header included. */
  bytes: Buffer;
}

export interface HiiPackageList {
  guid: Buffer;
  packages: HiiPackage[];
  /** The list as given, header included (ExportPackageLists). */
  bytes: Buffer;
}

/** Splits a package list; it must end with an End package inside PackageLength. */
export function parsePackageList(list: Buffer): HiiPackageList {
  if (list.length < PACKAGE_LIST_HEADER_SIZE) throw new HiiPackageError(0, 'shorter than EFI_HII_PACKAGE_LIST_HEADER');
  const length = list.readUInt32LE(16);
  if (length < PACKAGE_LIST_HEADER_SIZE || length > list.length) throw new HiiPackageError(16, `PackageLength ${length} is out of range`);
  const packages: HiiPackage[] = [];
  for (let o = PACKAGE_LIST_HEADER_SIZE; ; ) {
    if (o + PACKAGE_HEADER_SIZE > length) throw new HiiPackageError(o, 'no End package before PackageLength');
    const header = list.readUInt32LE(o);
    const size = header & 0xffffff;
    const type = header >>> 24;
    if (size < PACKAGE_HEADER_SIZE || o + size > length) throw new HiiPackageError(o, `package Length ${size} is out of range`);
    if (type === HII_PACKAGE.END) break;
    packages.push({ type, bytes: Buffer.from(list.subarray(o, o + size)) });
    o += size;
  }
  return { guid: Buffer.from(list.subarray(0, 16)), packages, bytes: Buffer.from(list.subarray(0, length)) };
}

export interface StringPackage {
  /** RFC 4646 language, e.g. "en-US". */
  language: string;
  /** String id (from 1) → text; ids in SKIP blocks are absent. */
  strings: Map<number, string>;
}

/** The language and strings of a string package (§34.3.6); SCSU text is read as 8-bit characters, as edk2 does. */
export function parseStringPackage(pkg: Buffer): StringPackage {
  const fail = (o: number, why: string): never => {
    throw new HiiPackageError(o, `string package: ${why}`);
  };
  if (pkg.length < STRING_PACKAGE_HDR.Language + 1) fail(0, 'shorter than its header');
  const hdrSize = pkg.readUInt32LE(STRING_PACKAGE_HDR.HdrSize);
  const info = pkg.readUInt32LE(STRING_PACKAGE_HDR.StringInfoOffset);
  if (hdrSize > pkg.length || info > pkg.length) fail(4, `HdrSize ${hdrSize} / StringInfoOffset ${info} past the package`);
  const langEnd = pkg.indexOf(0, STRING_PACKAGE_HDR.Language);
  if (langEnd < 0 || langEnd >= hdrSize) fail(STRING_PACKAGE_HDR.Language, 'Language is not NUL-terminated inside HdrSize');
  const language = pkg.toString('latin1', STRING_PACKAGE_HDR.Language, langEnd);
  const strings = new Map<number, string>();
  let id = 1;
  let o = info;
  const need = (n: number) => {
    if (o + n > pkg.length) fail(o, `block runs past the package (${n} bytes needed)`);
  };
  const ucs2 = (): string => {
    let s = '';
    for (;;) {
      need(2);
      const c = pkg.readUInt16LE(o);
      o += 2;
      if (c === 0) return s;
      s += String.fromCharCode(c);
    }
  };
  const scsu = (): string => {
    const end = pkg.indexOf(0, o);
    if (end < 0) fail(o, 'SCSU string without NUL');
    const s = pkg.toString('latin1', o, end);
    o = end + 1;
    return s;
  };
  for (;;) {
    need(1);
    const type = pkg[o++];
    switch (type) {
      case SIBT.END:
        return { language, strings };
      case SIBT.STRING_SCSU_FONT:
      case SIBT.STRING_UCS2_FONT:
      case SIBT.STRING_SCSU:
      case SIBT.STRING_UCS2: {
        if (type === SIBT.STRING_SCSU_FONT || type === SIBT.STRING_UCS2_FONT) o += 1; // FontIdentifier
        strings.set(id++, type === SIBT.STRING_UCS2 || type === SIBT.STRING_UCS2_FONT ? ucs2() : scsu());
        break;
      }
      case SIBT.STRINGS_SCSU_FONT:
      case SIBT.STRINGS_UCS2_FONT:
      case SIBT.STRINGS_SCSU:
      case SIBT.STRINGS_UCS2: {
        if (type === SIBT.STRINGS_SCSU_FONT || type === SIBT.STRINGS_UCS2_FONT) o += 1;
        need(2);
        const count = pkg.readUInt16LE(o);
        o += 2;
        const wide = type === SIBT.STRINGS_UCS2 || type === SIBT.STRINGS_UCS2_FONT;
        for (let i = 0; i < count; i++) strings.set(id++, wide ? ucs2() : scsu());
        break;
      }
      case SIBT.DUPLICATE: {
        need(2);
        const of = pkg.readUInt16LE(o);
        o += 2;
        const s = strings.get(of);
        if (s !== undefined) strings.set(id, s);
        id++;
        break;
      }
      case SIBT.SKIP2:
        need(2);
        id += pkg.readUInt16LE(o);
        o += 2;
        break;
      case SIBT.SKIP1:
        need(1);
        id += pkg[o++];
        break;
      // Extended blocks (fonts and others) carry no string: their Length (whole block) is skipped.
      case SIBT.EXT1:
        need(2);
        o = o - 1 + Math.max(3, pkg[o + 1]);
        break;
      case SIBT.EXT2:
        need(3);
        o = o - 1 + Math.max(4, pkg.readUInt16LE(o + 1));
        break;
      case SIBT.EXT4:
        need(5);
        o = o - 1 + Math.max(6, pkg.readUInt32LE(o + 1));
        break;
      default:
        fail(o - 1, `unknown string block type 0x${type.toString(16)}`);
    }
  }
}
