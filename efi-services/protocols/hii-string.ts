// EFI_HII_STRING_PROTOCOL (UEFI 2.10 §34.2): strings of the package lists in hii-database.ts by language and id.
// GetString and GetLanguages are what edk2's HiiLib (HiiGetString, HiiGetSupportedLanguages) calls, so every
// message the UEFI Shell prints from its string packages comes through here. NewString, SetString and
// GetSecondaryLanguages are not implemented (EFI_UNSUPPORTED, listed in the report's `unimplemented`).
import { fn, tableDecl } from '../../core/abi';
import { encodeUtf16z } from '../../core/guest-memory';
import { GUID } from '../../core/guid';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_LANGUAGE, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS, EfiError } from '../../core/status';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { HiiDatabase } from './hii-database';

export const EFI_HII_STRING_PROTOCOL_GUID = GUID.HII_STRING;

export const EFI_HII_STRING_PROTOCOL = tableDecl({
  name: 'EFI_HII_STRING_PROTOCOL',
  traceName: 'HiiString',
  headerSize: 0,
  members: [
    fn('NewString', 'This:PTR', 'PackageList:PTR', 'StringId:PTR', 'Language:PTR', 'LanguageName:STR16', 'String:STR16', 'StringFontInfo:PTR'),
    fn('GetString', 'This:PTR', 'Language:PTR', 'PackageList:PTR', 'StringId:UINT16', 'String:PTR', 'StringSize:PTR', 'StringFontInfo:PTR'),
    fn('SetString', 'This:PTR', 'PackageList:PTR', 'StringId:UINT16', 'Language:PTR', 'String:STR16', 'StringFontInfo:PTR'),
    fn('GetLanguages', 'This:PTR', 'PackageList:PTR', 'Languages:PTR', 'LanguagesSize:PTR'),
    fn('GetSecondaryLanguages', 'This:PTR', 'PackageList:PTR', 'PrimaryLanguage:PTR', 'SecondaryLanguages:PTR', 'SecondaryLanguagesSize:PTR'),
  ],
});

/** RFC 4646 tags compare without case (edk2 HiiCompareLanguage lower-cases both). */
const sameLanguage = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function hiiStringProtocol(platform: Platform, db: HiiDatabase): bigint {
  const mem = platform.mem;
  const invalid = (why: string): never => {
    throw new EfiError(EFI_INVALID_PARAMETER, why);
  };
  return buildInterface(platform, EFI_HII_STRING_PROTOCOL, {
    // §34.2.2: the string in Language; EFI_INVALID_LANGUAGE when only other languages have the id.
    GetString: ([, languagePtr, list, id, string, sizePtr], call) => {
      if (languagePtr === 0n || list === 0n || id === 0n || sizePtr === 0n) invalid('Language, PackageList, StringId or StringSize is NULL/0');
      if (string === 0n && mem.u64(sizePtr) !== 0n) invalid('String is NULL with a non-zero *StringSize');
      const packages = db.stringPackages(list);
      if (!packages) return EFI_NOT_FOUND;
      const language = mem.asciiz(languagePtr, 256);
      const text = packages.filter((p) => sameLanguage(p.language, language)).map((p) => p.strings.get(Number(id))).find((s) => s !== undefined);
      if (text === undefined) return packages.some((p) => p.strings.has(Number(id))) ? EFI_INVALID_LANGUAGE : EFI_NOT_FOUND;
      const bytes = encodeUtf16z(text);
      const have = mem.u64(sizePtr);
      mem.setU64(sizePtr, BigInt(bytes.length));
      if (have < BigInt(bytes.length)) return EFI_BUFFER_TOO_SMALL;
      mem.write(string, bytes);
      call.note(`${language} #${id}: ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}`);
      return EFI_SUCCESS;
    },
    // §34.2.4: the languages of the list's string packages, ';'-separated, NUL-terminated ASCII.
    GetLanguages: ([, list, languages, sizePtr]) => {
      if (list === 0n || sizePtr === 0n) invalid('PackageList or LanguagesSize is NULL');
      if (languages === 0n && mem.u64(sizePtr) !== 0n) invalid('Languages is NULL with a non-zero *LanguagesSize');
      const packages = db.stringPackages(list);
      if (!packages) return EFI_NOT_FOUND;
      if (packages.length === 0) return EFI_NOT_FOUND;
      const bytes = Buffer.from(`${packages.map((p) => p.language).join(';')}\0`, 'latin1');
      const have = mem.u64(sizePtr);
      if (have < BigInt(bytes.length)) {
        mem.setU64(sizePtr, BigInt(bytes.length));
        return EFI_BUFFER_TOO_SMALL;
      }
      mem.write(languages, bytes);
      return EFI_SUCCESS;
    },
  });
}

/** Module entry (platform-protocols.ts): over the HII database's package lists. */
export function install(ctx: InstallContext, db: HiiDatabase): void {
  ctx.db.install(0n, EFI_HII_STRING_PROTOCOL_GUID, hiiStringProtocol(ctx.platform, db));
}
