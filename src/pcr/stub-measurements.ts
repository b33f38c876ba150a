// What systemd-stub measures, per stub version, read from its source (systemd v252-stable src/boot/efi/stub.c, measure.c, cpio.c, pe.c).
import type { PeImage, PeSection } from '../../emulator/pe/pe-image';
import { S_IFDIR, S_IFREG } from '../initrd/cpio';

/** A stub whose measurements stubemu has not researched, or a file that is not systemd-stub. */
export class UnsupportedStubError extends Error {
  override readonly name = 'UnsupportedStubError';
}

/** A drop-in directory pack_cpio turns into a cpio initrd and measures (stub.c efi_main, cpio.c pack_cpio). */
export interface DropInRule {
  /** undefined: "<the stub's own FilePath>.extra.d"; otherwise an absolute ESP path. */
  readonly dir: string | undefined;
  /** Matched at the end of the name without regard to case (endswith_no_case). */
  readonly suffix: string;
  /** Where the files appear in the initrd. */
  readonly targetDir: string;
  readonly dirMode: number;
  readonly accessMode: number;
  readonly pcrs: readonly number[];
  /** The EV_IPL description (UTF-16 in the log). */
  readonly description: string;
}

export interface StubMeasurementRules {
  /** The versions this entry describes, e.g. "systemd-stub 252.6 to 252.x". */
  readonly versions: string;
  /** The sources read. */
  readonly source: string;
  /**
   * The unified sections in the canonical order of the UnifiedSection enum (src/fundamental/tpm-pcr.h, "PLEASE DO
   * NOT REORDER"); each present one is measured into PCR 11 in this order, name first, then data.
   */
  readonly unifiedSections: readonly string[];
  /** .pcrsig is never measured: it signs the expected PCR values (unified_section_measure). */
  readonly unmeasuredSections: readonly string[];
  readonly pcrKernelImage: number;
  readonly pcrKernelParameters: number;
  /**
   * PCR 8 as well, only in builds configured with -Defi-tpm-pcr-compat=true (meson default false; Debian's
   * 252 build does not set it — not verified against the binary). null: off.
   */
  readonly pcrKernelParametersCompat: number | null;
  readonly pcrSysexts: number;
  /** Every stub measurement is HashLogExtendEvent(flags 0) with an EFI_TCG2_EVENT of this type (measure.c). */
  readonly eventType: 'EV_IPL';
  readonly dropIns: readonly DropInRule[];
}

/** TPM_PCR_INDEX_KERNEL_IMAGE, _KERNEL_PARAMETERS, _INITRD_SYSEXTS (src/fundamental/tpm-pcr.h). */
const PCR_KERNEL_IMAGE = 11;
const PCR_KERNEL_PARAMETERS = 12;
const PCR_INITRD_SYSEXTS = 13;

const STUB_252: StubMeasurementRules = {
  versions: 'systemd-stub 252.6 to 252.x',
  source: 'systemd-stable v252-stable (v252.31) src/boot/efi/{stub,measure,cpio,pe,util}.c, src/fundamental/tpm-pcr.[ch]',
  unifiedSections: ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.pcrsig', '.pcrpkey'],
  unmeasuredSections: ['.pcrsig'],
  pcrKernelImage: PCR_KERNEL_IMAGE,
  pcrKernelParameters: PCR_KERNEL_PARAMETERS,
  pcrKernelParametersCompat: null,
  pcrSysexts: PCR_INITRD_SYSEXTS,
  eventType: 'EV_IPL',
  // stub.c efi_main calls pack_cpio three times, in this order.
  dropIns: [
    { dir: undefined, suffix: '.cred', targetDir: '.extra/credentials', dirMode: 0o500, accessMode: 0o400, pcrs: [PCR_KERNEL_PARAMETERS], description: 'Credentials initrd' },
    { dir: '\\loader\\credentials', suffix: '.cred', targetDir: '.extra/global_credentials', dirMode: 0o500, accessMode: 0o400, pcrs: [PCR_KERNEL_PARAMETERS], description: 'Global credentials initrd' },
    { dir: undefined, suffix: '.raw', targetDir: '.extra/sysext', dirMode: 0o555, accessMode: 0o444, pcrs: [PCR_INITRD_SYSEXTS], description: 'System extension initrd' },
  ],
};

/**
 * Researched versions, by [major, first patch, last patch]. 252.0-252.5 differ in the command line: before 252.3
 * LoadOptions were squeezed to ASCII, before 252.6 mangle_stub_cmdline kept trailing spaces (systemd-stable
 * 7ca40a8b08, 6882211df7); they are refused rather than predicted wrongly.
 */
const TABLE: readonly { readonly major: number; readonly fromPatch: number; readonly toPatch: number; readonly rules: StubMeasurementRules }[] = [
  { major: 252, fromPatch: 6, toPatch: Infinity, rules: STUB_252 },
];

export interface StubVersion {
  /** "systemd-stub 252.39-1~deb12u2", from .sdmagic. */
  readonly identity: string;
  readonly major: number;
  readonly patch: number;
}

/** "systemd-stub 252.39-1~deb12u2" → 252, 39; a bare "systemd-stub 252" is patch 0. */
export function parseStubVersion(identity: string): StubVersion {
  const m = /^systemd-stub (\d+)(?:\.(\d+))?/.exec(identity);
  if (!m) throw new UnsupportedStubError(`.sdmagic says ${JSON.stringify(identity)}, not "systemd-stub VERSION"`);
  return { identity, major: Number(m[1]), patch: m[2] === undefined ? 0 : Number(m[2]) };
}

/** The rules for this stub, or UnsupportedStubError naming the versions that were researched. */
export function stubRulesFor(identity: string): StubMeasurementRules {
  const v = parseStubVersion(identity);
  const entry = TABLE.find((e) => e.major === v.major && v.patch >= e.fromPatch && v.patch <= e.toPatch);
  if (!entry) {
    throw new UnsupportedStubError(`${identity}: stubemu knows what ${TABLE.map((e) => e.rules.versions).join(', ')} measure; `
      + `version ${v.major}.${v.patch} was not researched, so its PCR values are not predicted`);
  }
  return entry.rules;
}

/**
 * pe.c locate_sections (252): every section whose 8-byte Name starts with the unified name (memcmp over
 * strlen(name) bytes, so ".linuxfoo" counts as ".linux"); the last such section wins; the size is VirtualSize, and a
 * size of 0 reads as "not found".
 */
export function locateUnifiedSections(pe: PeImage, rules: StubMeasurementRules): Map<string, PeSection> {
  const found = new Map<string, PeSection>();
  for (const s of pe.sections) {
    for (const name of rules.unifiedSections) {
      if (s.rawName.subarray(0, name.length).equals(Buffer.from(name, 'latin1'))) found.set(name, s);
    }
  }
  for (const [name, s] of found) if (s.virtualSize === 0) found.delete(name);
  return found;
}

/**
 * The command line the stub uses and measures (252.6+): LoadOptions up to the first NUL within LoadOptionsSize/2
 * characters (xstrndup16), then util.c mangle_stub_cmdline: each character ≤ 0x1F becomes a space, trailing spaces go.
 */
export function mangleStubCmdline(text: string): string {
  const nul = text.indexOf('\0');
  return (nul < 0 ? text : text.slice(0, nul)).replace(/[\x00-\x1f]/g, ' ').replace(/ +$/, '');
}

/**
 * stub.c use_load_options (252.6+, run outside the UEFI shell): LoadOptions replace .cmdline unless Secure Boot is
 * on and the UKI has a .cmdline; at least one UTF-16 character, the first above 0x1F (a Dell firmware quirk).
 */
export function stubUsesLoadOptions(loadOptionsSize: number, firstChar: number, secureBoot: boolean, hasCmdline: boolean): boolean {
  if (secureBoot && hasCmdline) return false;
  return loadOptionsSize >= 2 && firstChar > 0x1f;
}

export interface DropInFile {
  readonly name: string;
  readonly data: Buffer;
}

/**
 * cpio.c pack_cpio's filter: no names starting with ".", no directories (the caller), the suffix without regard to
 * case, ASCII only, at most 255 characters; then sorted by UTF-16 code unit (strcmp16).
 */
export function selectDropIns(names: readonly string[], suffix: string): string[] {
  return names.filter((n) => !n.startsWith('.') && n.toLowerCase().endsWith(suffix.toLowerCase())
    && /^[\x00-\x7f]*$/.test(n) && n.length <= 255).sort();
}

const CPIO_MAGIC = '070701';
const word = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
const pad4 = (parts: Buffer[], length: number): void => {
  if (length % 4) parts.push(Buffer.alloc(4 - (length % 4)));
};

/** cpio.c pack_cpio_trailer: fixed text, with an upper-case "B" in the name size and 13 bytes of name + NULs. */
const CPIO_TRAILER = Buffer.from(`${CPIO_MAGIC}${'00000000'.repeat(4)}00000001${'00000000'.repeat(6)}0000000B00000000TRAILER!!!\0\0\0\0`, 'latin1');

/**
 * The initrd pack_cpio / pack_cpio_literal build and measure (cpio.c, 252): "newc" entries with inodes counted
 * from 1, uid/gid/mtime 0, nlink 1; one directory per prefix of `targetDir` (mode 0555, the last `dirMode`),
 * then each file as "targetDir/name" with `accessMode`; header+name and data each padded to 4 bytes.
 */
export function stubCpio(files: readonly DropInFile[], targetDir: string, dirMode: number, accessMode: number): Buffer {
  const parts: Buffer[] = [];
  let inode = 1;
  const entry = (path: string, mode: number, data: Buffer): void => {
    const header = `${CPIO_MAGIC}${word(inode++)}${word(mode)}${word(0)}${word(0)}${word(1)}${word(0)}${word(data.length)}`
      + `${word(0)}${word(0)}${word(0)}${word(0)}${word(path.length + 1)}${word(0)}${path}\0`;
    parts.push(Buffer.from(header, 'latin1'));
    pad4(parts, header.length);
    parts.push(data);
    pad4(parts, data.length);
  };
  const components = targetDir.split('/');
  components.forEach((c, i) => {
    if (c === '') return;
    const last = i === components.length - 1;
    entry(components.slice(0, i + 1).join('/'), S_IFDIR | (last ? dirMode : 0o555), Buffer.alloc(0));
  });
  for (const f of files) entry(`${targetDir}/${f.name}`, S_IFREG | accessMode, f.data);
  parts.push(CPIO_TRAILER);
  return Buffer.concat(parts);
}

if (CPIO_TRAILER.length !== 124) throw new Error('systemd-stub cpio trailer must be 124 bytes (110-byte header + 14)');
