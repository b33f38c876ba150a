// Building a Unified Kernel Image from systemd-stub, a kernel and its parts, reproducing ukify (systemd 253/254 and 257 src/ukify/ukify.py)
// in the layout of the ukify that ships with the stub's version.
import { hex } from '../../pe/pe-error';
import { IMAGE_SCN_CNT_CODE, IMAGE_SCN_CNT_INITIALIZED_DATA, IMAGE_SCN_MEM_READ } from '../../pe/pe-format';
import { IMAGE_DIRECTORY_ENTRY, parsePe, PeFormatError, PeImage, sectionByName, sectionCopySize } from '../../pe/pe-image';
import {
  appendSections, checkSectionName, NewSection, PlacedSection, replaceSectionData, setPeChecksum, stripTrailingSymbolTable,
} from './pe-sections';
import { hasSetupHeader, parseSetupHeader, unameFromKernelVersion } from './setup-header';

/** A bad input to `uki build`: names the file (or option) and the problem. */
export class UkiInputError extends Error {
  override readonly name = 'UkiInputError';
  constructor(readonly what: string, readonly detail: string) {
    super(`${what}: ${detail}`);
  }
}

/** Characteristics of the parts: initialized read-only data (ukify sets IMAGE_SCN_CNT_INITIALIZED_DATA | MEM_READ). */
export const UKI_DATA_CHARACTERISTICS = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ;
/** .linux is marked code (ukify: "old kernels that use EFI handover protocol will be executed inline"). */
export const UKI_LINUX_CHARACTERISTICS = IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_READ;

/**
 * ukify 253's order (make_uki): these, then --section extras, then .pcrsig (added after systemd-measure signs),
 * then .linux last "to leave breathing room for decompression". systemd 252 shipped no ukify; its man page built
 * UKIs with objcopy at fixed addresses, which systemd-stub does not depend on (it finds sections by name).
 */
export const UKIFY_253_ORDER = ['.osrel', '.cmdline', '.dtb', '.splash', '.pcrpkey', '.initrd', '.uname'] as const;

/**
 * ukify 257's order (make_uki): .osrel .cmdline .dtb, each .dtbauto, .hwids .uname .splash .pcrpkey, then .linux,
 * .initrd and .ucode after it; then --section extras; .sbat merged into the stub's own (with a default "uki" line when
 * no --sbat is given); the base .profile last when profiles are joined, then each joined profile's sections. The PE
 * checksum is left 0, and NX_COMPAT is cleared when the kernel does not have it.
 */
export const UKIFY_257_ORDER = ['.osrel', '.cmdline', '.dtb', '.dtbauto', '.hwids', '.uname', '.splash', '.pcrpkey', '.linux', '.initrd', '.ucode', '.efifw'] as const;

/** ukify ≥ 254 STUB_SBAT: the line a UKI gets when no --sbat is given (and the addon's, ADDON_SBAT). */
export const DEFAULT_UKI_SBAT = 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n';
export const DEFAULT_ADDON_SBAT = 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki-addon,1,UKI Addon,addon,1,https://www.freedesktop.org/software/systemd/man/latest/systemd-stub.html\n';

/** Sections ukify 257 copies from a --join-profile PE (to_import), in that PE's order; .osrel only when the base has one. */
export const PROFILE_IMPORTS = ['.linux', '.osrel', '.cmdline', '.initrd', '.ucode', '.splash', '.dtb', '.uname', '.sbat', '.profile'] as const;

/**
 * Which ukify's layout a stub gets: systemd 252 shipped no ukify (its UKIs were made with objcopy), so 252 and
 * 253-254 get ukify 253/254's; 255 and later ukify 257's (order .linux before .initrd, checksum 0). ukify 254 added the
 * default SBAT line; 255 and 256 were not compared with their own ukify.
 */
export type UkifyLayout = 'ukify-253' | 'ukify-254' | 'ukify-257';

export function ukifyLayoutFor(stubIdentity: string | undefined): UkifyLayout {
  const major = Number(/^systemd-stub (\d+)/.exec(stubIdentity ?? '')?.[1] ?? 0);
  return major >= 255 ? 'ukify-257' : major >= 254 ? 'ukify-254' : 'ukify-253';
}

/** The header line SBAT data must start with, and the one ukify ≥ 254 writes at the top of a merged .sbat. */
export const SBAT_HEADER = 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md';

export interface Part {
  readonly name: string;
  readonly data: Buffer;
}

export interface UkiInputs {
  readonly stub: Buffer;
  readonly stubName: string;
  readonly linux: Buffer;
  readonly linuxName: string;
  readonly initrds?: readonly Part[];
  readonly cmdline?: Buffer;
  readonly osRelease?: Buffer;
  /** undefined: read from the kernel's setup header as ukify does; null: no .uname. */
  readonly uname?: string | null;
  readonly splash?: Buffer;
  readonly dtb?: Buffer;
  readonly pcrpkey?: Buffer;
  /** A ready-made PCR signature JSON (stubemu does not run systemd-measure). */
  readonly pcrsig?: Buffer;
  /** Further sections (ukify --section NAME:CONTENT), placed after .uname. */
  readonly extraSections?: readonly Part[];
  /**
   * SBAT texts to merge into the stub's .sbat (ukify ≥ 254 --sbat). undefined: ukify-253 keeps the stub's .sbat as it
   * is; ukify ≥ 254 merges the default "uki,1,UKI,..." line.
   */
  readonly sbat?: readonly string[];
  /** .ucode (256+): a microcode cpio the stub puts before the initrds. */
  readonly ucode?: Buffer;
  /** .dtbauto sections (257+), one per devicetree; the stub picks the one matching the machine. */
  readonly dtbauto?: readonly Buffer[];
  /** .hwids (257+): the binary CHID table (ukify builds it from JSON files; here it is given ready-made). */
  readonly hwids?: Buffer;
  /** .efifw (258+): firmware images, one section each. */
  readonly efifw?: readonly Buffer[];
  /** .profile of the base (257+): with joinProfiles, placed after .sbat, so every section before it is shared. */
  readonly profile?: Buffer;
  /** PE files built with ukify --profile (a .profile first, then its sections), joined in order (ukify --join-profile). */
  readonly joinProfiles?: readonly Part[];
  /** The cmdline was given as text, not @FILE: ukify 257 then collapses its whitespace (finalize_options). */
  readonly cmdlineFromText?: boolean;
  /** default: ukifyLayoutFor(the stub's .sdmagic). */
  readonly layout?: UkifyLayout;
}

export interface UkiBuild {
  readonly image: Buffer;
  /** The appended sections in order. */
  readonly sections: readonly PlacedSection[];
  readonly checksum: number;
  readonly warnings: readonly string[];
  /** "systemd-stub 252.39-1~deb12u2" from the stub's .sdmagic, when it has one. */
  readonly stubIdentity: string | undefined;
  readonly uname: string | undefined;
  /** The merged .sbat text, when it was merged. */
  readonly sbat: string | undefined;
  readonly layout: UkifyLayout;
  /** Bytes the stub's sections moved down so the longer section table fits (0 normally). */
  readonly headerGrowth: number;
  /** Bytes of COFF symbol table dropped from the end of the stub. */
  readonly symbolTableStripped: number;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** ukify join_initrds: one initrd as it is; several concatenated, each padded with zeros to a multiple of 4. */
export function joinInitrds(parts: readonly Buffer[]): Buffer | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return Buffer.concat(parts.flatMap((p) => [p, Buffer.alloc(align4(p.length) - p.length)]));
}

/** A section's bytes as loaded: the first min(VirtualSize, SizeOfRawData) bytes of its raw data. */
export function sectionData(file: Buffer, pe: PeImage, name: string): Buffer | undefined {
  const s = sectionByName(pe, name);
  return s && file.subarray(s.pointerToRawData, s.pointerToRawData + sectionCopySize(s));
}

/** The text of `.sdmagic`: "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####" → "systemd-stub 252.39-1~deb12u2". */
export function sdmagicIdentity(text: string): string | undefined {
  const m = /^#### LoaderInfo: (.*) ####$/.exec(text.replace(/\0+$/, ''));
  return m ? m[1] : undefined;
}

/**
 * ukify merge_sbat: the lines after the "sbat," header of each PE's .sbat and of each text, under one header,
 * newline-terminated and followed by a NUL. Inputs not starting with "sbat," are skipped with a warning.
 */
export function mergeSbat(pes: readonly Part[], texts: readonly string[], warnings: string[]): string {
  const lines: string[] = [];
  const take = (text: string, what: string): void => {
    const split = text.split(/\r?\n/);
    if (split[split.length - 1] === '') split.pop();
    if (!split[0]?.startsWith('sbat,')) {
      warnings.push(`${what} does not start with an "sbat," line; not merged`);
      return;
    }
    lines.push(...split.slice(1));
  };
  for (const p of pes) take(p.data.toString('utf8').replace(/\0+$/, ''), `.sbat of ${p.name}`);
  texts.forEach((t, i) => take(t, `--sbat #${i + 1}`));
  return `${SBAT_HEADER}\n${lines.join('\n')}\n\0`;
}

/** Checks the kernel the way systemd-stub 252 will use it (linux.c linux_exec / pe.c pe_kernel_info). */
function checkKernel(i: UkiInputs, warnings: string[]): PeImage {
  if (!hasSetupHeader(i.linux)) {
    throw new UkiInputError(i.linuxName, 'not an x86 Linux bzImage (no boot_flag 0xAA55 and "HdrS" setup header)');
  }
  let pe: PeImage;
  try {
    pe = parsePe(i.linux, i.linuxName);
  } catch (e) {
    if (!(e instanceof PeFormatError)) throw e;
    throw new UkiInputError(i.linuxName, `not an x86_64 EFI-stub kernel; systemd-stub 252 needs a PE kernel (${e.message})`);
  }
  // pe_kernel_info: MajorImageVersion < 1 means no LINUX_INITRD_MEDIA_GUID support, so the stub falls back to handover.
  if (pe.majorImageVersion < 1) {
    warnings.push(`${i.linuxName}: EFI stub version ${pe.majorImageVersion}.${pe.minorImageVersion} < 1.0: systemd-stub 252 will start it through the deprecated EFI handover protocol`);
  }
  return pe;
}

/** Reads .uname from the kernel_version string when none was given (ukify Uname.scrape_x86). */
function kernelUname(i: UkiInputs, warnings: string[]): string | undefined {
  if (i.uname === null) return undefined;
  if (i.uname !== undefined) return i.uname;
  const header = parseSetupHeader(i.linux, i.linuxName);
  const uname = unameFromKernelVersion(header.kernelVersion);
  if (uname === undefined) warnings.push(`${i.linuxName}: cannot read the release from kernel_version ${JSON.stringify(header.kernelVersion ?? '')}; no .uname`);
  return uname;
}

function checkStub(stub: PeImage, i: Pick<UkiInputs, 'stub' | 'stubName'>, names: readonly string[], warnings: string[]): string | undefined {
  if (stub.dataDirectories[IMAGE_DIRECTORY_ENTRY.SECURITY].size !== 0) {
    throw new UkiInputError(i.stubName, 'is signed (it has a certificate table); sign the UKI instead, as ukify refuses signed stubs');
  }
  for (const n of names) {
    if (sectionByName(stub, n)) throw new UkiInputError(i.stubName, `already has a ${n} section (is it a UKI already?)`);
  }
  const magic = sectionData(i.stub, stub, '.sdmagic');
  const identity = magic && sdmagicIdentity(magic.toString('latin1'));
  if (!identity) warnings.push(`${i.stubName}: no .sdmagic "#### LoaderInfo: systemd-stub ... ####" section; is it systemd-stub?`);
  else if (!identity.startsWith('systemd-stub ') && !identity.startsWith('systemd-addon ')) warnings.push(`${i.stubName}: .sdmagic says ${JSON.stringify(identity)}, not systemd-stub`);
  return identity;
}

/** The sections a --join-profile PE contributes (ukify 257 make_uki): .profile first and only once. */
function profileSections(p: Part, importOsrel: boolean): NewSection[] {
  const pe = parsePe(p.data, p.name);
  const wanted = new Set<string>(PROFILE_IMPORTS.filter((n) => importOsrel || n !== '.osrel'));
  const names = pe.sections.map((x) => x.name).filter((n) => wanted.has(n));
  if (names.length === 0) throw new UkiInputError(p.name, 'found no valid sections in the PE profile binary');
  if (names[0] !== '.profile') throw new UkiInputError(p.name, `expected .profile as the first valid section, got ${names[0]}`);
  if (names.filter((n) => n === '.profile').length > 1) throw new UkiInputError(p.name, 'contains more than one .profile section');
  return pe.sections.filter((x) => wanted.has(x.name)).map((x) => ({
    name: x.name, data: p.data.subarray(x.pointerToRawData, x.pointerToRawData + sectionCopySize(x)),
    characteristics: x.name === '.linux' ? UKI_LINUX_CHARACTERISTICS : UKI_DATA_CHARACTERISTICS,
  }));
}

/** Builds the UKI; every step is a pure function of the inputs, so equal inputs give byte-identical images. */
export function buildUki(i: UkiInputs): UkiBuild {
  const warnings: string[] = [];
  const stubPe = parsePe(i.stub, i.stubName);
  const kernelPe = checkKernel(i, warnings);
  const uname = kernelUname(i, warnings);
  const magic = sectionData(i.stub, stubPe, '.sdmagic');
  const layout = i.layout ?? ukifyLayoutFor(magic && sdmagicIdentity(magic.toString('latin1')));
  const modern = layout === 'ukify-257';
  if (!modern && (i.ucode || i.dtbauto?.length || i.hwids || i.efifw?.length || i.profile || i.joinProfiles?.length)) {
    throw new UkiInputError(i.stubName, `.ucode, .dtbauto, .hwids, .efifw and profiles need a systemd-stub ≥ 255 (this one gets the ${layout} layout)`);
  }

  const single = (name: string, data: Buffer | undefined): Part[] => (data && data.length ? [{ name, data }] : []);
  const cmdline = modern && i.cmdlineFromText && i.cmdline ? Buffer.from(i.cmdline.toString('utf8').split(/\s+/).filter(Boolean).join(' ')) : i.cmdline;
  const parts = new Map<string, Part[]>([
    ['.osrel', single('.osrel', i.osRelease)], ['.cmdline', single('.cmdline', cmdline)], ['.dtb', single('.dtb', i.dtb)],
    ['.dtbauto', (i.dtbauto ?? []).flatMap((d) => single('.dtbauto', d))], ['.hwids', single('.hwids', i.hwids)],
    ['.splash', single('.splash', i.splash)], ['.pcrpkey', single('.pcrpkey', i.pcrpkey)],
    ['.initrd', single('.initrd', joinInitrds((i.initrds ?? []).map((p) => p.data)))],
    ['.uname', single('.uname', uname === undefined ? undefined : Buffer.from(uname, 'utf8'))],
    ['.ucode', single('.ucode', i.ucode)], ['.efifw', (i.efifw ?? []).flatMap((d) => single('.efifw', d))],
  ]);
  // The EFI handover path runs the kernel in place inside .linux, and its handover entry clears the kernel's BSS
  // (Linux 6.8, backported to 6.1.y: "x86/efistub: Clear BSS in EFI handover protocol entrypoint"), which lies past
  // the file data up to the kernel's own SizeOfImage. Without room for it the kernel overwrites whatever memory
  // follows the UKI (stubemu catches this as a fault), so .linux gets the kernel's SizeOfImage as VirtualSize.
  const handover = kernelPe.majorImageVersion < 1;
  if (handover && kernelPe.sizeOfImage > i.linux.length) {
    warnings.push(`${i.linuxName}: .linux VirtualSize set to the kernel's SizeOfImage 0x${kernelPe.sizeOfImage.toString(16)} so the in-place handover boot has room for its BSS`);
  }
  const linuxSection: NewSection = { name: '.linux', data: i.linux, characteristics: UKI_LINUX_CHARACTERISTICS, ...(handover ? { virtualSize: kernelPe.sizeOfImage } : {}) };

  // ukify adds a part only when it has content ("if content:").
  const added: NewSection[] = [];
  const order: readonly string[] = modern ? UKIFY_257_ORDER : UKIFY_253_ORDER;
  for (const name of order) {
    if (name === '.linux') added.push(linuxSection);
    else for (const p of parts.get(name) ?? []) added.push({ name, data: p.data, characteristics: UKI_DATA_CHARACTERISTICS });
  }
  for (const extra of i.extraSections ?? []) {
    const bad = checkSectionName(extra.name);
    if (bad) throw new UkiInputError('--section', bad);
    if (added.some((s) => s.name === extra.name) || extra.name === '.linux' || extra.name === '.pcrsig') {
      throw new UkiInputError('--section', `duplicate section ${extra.name}`);
    }
    if (extra.data.length) added.push({ name: extra.name, data: extra.data, characteristics: UKI_DATA_CHARACTERISTICS });
  }

  const stubIdentity = checkStub(stubPe, i, added.map((s) => s.name), warnings);
  const stripped = stripTrailingSymbolTable(i.stub, i.stubName);
  let image = stripped.file;

  // ukify ≥ 254: the stub's and the kernel's .sbat and the --sbat texts (default: the "uki" line) merged, put in
  // place of the stub's .sbat.
  let sbat: string | undefined;
  const sbatTexts = i.sbat ?? (layout === 'ukify-253' ? undefined : [DEFAULT_UKI_SBAT]);
  if (sbatTexts !== undefined) {
    const pes = [{ name: i.stubName, pe: stubPe, file: i.stub }, { name: i.linuxName, pe: kernelPe, file: i.linux }]
      .flatMap((p) => {
        const d = sectionData(p.file, p.pe, '.sbat');
        return d ? [{ name: p.name, data: d }] : [];
      });
    sbat = mergeSbat(pes, sbatTexts, warnings);
    const data = Buffer.from(sbat, 'utf8');
    if (sectionByName(stubPe, '.sbat')) image = replaceSectionData(image, '.sbat', data, i.stubName);
    else added.push({ name: '.sbat', data, characteristics: UKI_DATA_CHARACTERISTICS });
  }
  if (i.profile?.length && i.joinProfiles?.length) added.push({ name: '.profile', data: i.profile, characteristics: UKI_DATA_CHARACTERISTICS });
  else if (i.profile?.length) throw new UkiInputError('--profile', 'a base .profile is only written together with --join-profile (ukify builds profile PEs without a kernel)');
  for (const p of i.joinProfiles ?? []) added.push(...profileSections(p, i.osRelease !== undefined && i.osRelease.length > 0));
  if (i.pcrsig?.length) added.push({ name: '.pcrsig', data: i.pcrsig, characteristics: UKI_DATA_CHARACTERISTICS });
  if (!modern) {
    // ukify 253/254: .linux last, "to leave breathing room for decompression", after .pcrsig.
    added.push(linuxSection);
  }

  const appended = appendSections(image, added, i.stubName);
  let checksum = 0;
  if (modern) {
    const pe = parsePe(appended.file, 'the UKI');
    appended.file.writeUInt32LE(0, pe.checkSumFileOffset);
    // ukify 257: the UKI's NX_COMPAT must match the kernel's, so it is cleared when the kernel lacks it.
    const NX_COMPAT = 0x100;
    if (!(kernelPe.dllCharacteristics & NX_COMPAT) && pe.dllCharacteristics & NX_COMPAT) {
      appended.file.writeUInt16LE(pe.dllCharacteristics & ~NX_COMPAT, pe.optionalHeaderOffset + 70);
    }
  } else {
    checksum = setPeChecksum(appended.file, 'the UKI');
  }
  parsePe(appended.file, 'the built UKI');
  return {
    image: appended.file, sections: appended.placed, checksum, warnings, stubIdentity, uname, sbat, layout,
    headerGrowth: appended.headerGrowth, symbolTableStripped: stripped.stripped,
  };
}

/** One line per appended section, for the command's summary. */
export function describePlaced(p: PlacedSection): string {
  return `${p.name.padEnd(9)} VA ${hex(p.virtualAddress).padStart(10)}  size ${String(p.virtualSize).padStart(9)}  file ${hex(p.pointerToRawData)}`;
}

/** The parts of a PE without a kernel: an addon (ukify build without --linux) or a profile PE (with profile). */
export interface AddonInputs {
  readonly stub: Buffer;
  readonly stubName: string;
  readonly cmdline?: Buffer;
  readonly cmdlineFromText?: boolean;
  readonly osRelease?: Buffer;
  readonly uname?: string;
  readonly dtb?: Buffer;
  readonly dtbauto?: readonly Buffer[];
  readonly hwids?: Buffer;
  readonly splash?: Buffer;
  readonly pcrpkey?: Buffer;
  readonly initrds?: readonly Part[];
  readonly ucode?: Buffer;
  /** A profile PE for --join-profile: .profile first, and no .sbat. */
  readonly profile?: Buffer;
  readonly extraSections?: readonly Part[];
  /** SBAT texts; default ukify's ADDON_SBAT ("uki-addon,1,..."); merged into a new .sbat (addons carry no kernel .sbat). */
  readonly sbat?: readonly string[];
}

/**
 * ukify 257 make_uki without a kernel: the same order as a UKI without .linux; a profile PE starts with .profile and
 * has no .sbat; an addon gets a merged .sbat (no input PEs, the --sbat texts or ADDON_SBAT) as a new section. Checksum 0.
 */
export function buildAddon(i: AddonInputs): UkiBuild {
  const warnings: string[] = [];
  const stubPe = parsePe(i.stub, i.stubName);
  const single = (name: string, data: Buffer | undefined): NewSection[] =>
    (data && data.length ? [{ name, data, characteristics: UKI_DATA_CHARACTERISTICS }] : []);
  const cmdline = i.cmdlineFromText && i.cmdline ? Buffer.from(i.cmdline.toString('utf8').split(/\s+/).filter(Boolean).join(' ')) : i.cmdline;
  const parts = new Map<string, NewSection[]>([
    ['.osrel', single('.osrel', i.osRelease)], ['.cmdline', single('.cmdline', cmdline)], ['.dtb', single('.dtb', i.dtb)],
    ['.dtbauto', (i.dtbauto ?? []).flatMap((d) => single('.dtbauto', d))], ['.hwids', single('.hwids', i.hwids)],
    ['.uname', single('.uname', i.uname === undefined ? undefined : Buffer.from(i.uname, 'utf8'))], ['.splash', single('.splash', i.splash)],
    ['.pcrpkey', single('.pcrpkey', i.pcrpkey)], ['.initrd', single('.initrd', joinInitrds((i.initrds ?? []).map((p) => p.data)))],
    ['.ucode', single('.ucode', i.ucode)],
  ]);
  const added: NewSection[] = [...single('.profile', i.profile)];
  for (const name of UKIFY_257_ORDER) added.push(...(parts.get(name) ?? []));
  for (const extra of i.extraSections ?? []) {
    const bad = checkSectionName(extra.name);
    if (bad) throw new UkiInputError('--section', bad);
    added.push(...single(extra.name, extra.data));
  }
  if (added.length === 0) throw new UkiInputError(i.stubName, 'needs --linux for a UKI, or at least one section (--cmdline, --dtb, --initrd, --ucode, ...) for an addon');
  let sbat: string | undefined;
  if (!i.profile?.length) {
    sbat = mergeSbat([], i.sbat ?? [DEFAULT_ADDON_SBAT], warnings);
    added.push({ name: '.sbat', data: Buffer.from(sbat, 'utf8'), characteristics: UKI_DATA_CHARACTERISTICS });
  }
  const stubIdentity = checkStub(stubPe, i, added.map((s) => s.name), warnings);
  const stripped = stripTrailingSymbolTable(i.stub, i.stubName);
  const appended = appendSections(stripped.file, added, i.stubName);
  appended.file.writeUInt32LE(0, parsePe(appended.file, 'the addon').checkSumFileOffset);
  return {
    image: appended.file, sections: appended.placed, checksum: 0, warnings, stubIdentity, uname: i.uname, sbat, layout: 'ukify-257',
    headerGrowth: appended.headerGrowth, symbolTableStripped: stripped.stripped,
  };
}
