// Building a Unified Kernel Image from systemd-stub, a kernel and its parts, reproducing ukify (systemd 253/254 src/ukify/ukify.py).
import { hex } from '../../emulator/pe/pe-error';
import { IMAGE_SCN_CNT_CODE, IMAGE_SCN_CNT_INITIALIZED_DATA, IMAGE_SCN_MEM_READ } from '../../emulator/pe/pe-format';
import { IMAGE_DIRECTORY_ENTRY, parsePe, PeFormatError, PeImage, sectionByName, sectionCopySize } from '../../emulator/pe/pe-image';
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
  /** SBAT texts to merge into the stub's .sbat (ukify ≥ 254 --sbat); none: the stub's .sbat is kept as it is. */
  readonly sbat?: readonly string[];
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
  /** The merged .sbat text, when --sbat was given. */
  readonly sbat: string | undefined;
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

function checkStub(stub: PeImage, i: UkiInputs, names: readonly string[], warnings: string[]): string | undefined {
  if (stub.dataDirectories[IMAGE_DIRECTORY_ENTRY.SECURITY].size !== 0) {
    throw new UkiInputError(i.stubName, 'is signed (it has a certificate table); sign the UKI instead, as ukify refuses signed stubs');
  }
  for (const n of names) {
    if (sectionByName(stub, n)) throw new UkiInputError(i.stubName, `already has a ${n} section (is it a UKI already?)`);
  }
  const magic = sectionData(i.stub, stub, '.sdmagic');
  const identity = magic && sdmagicIdentity(magic.toString('latin1'));
  if (!identity) warnings.push(`${i.stubName}: no .sdmagic "#### LoaderInfo: systemd-stub ... ####" section; is it systemd-stub?`);
  else if (!identity.startsWith('systemd-stub ')) warnings.push(`${i.stubName}: .sdmagic says ${JSON.stringify(identity)}, not systemd-stub`);
  return identity;
}

/** Builds the UKI; every step is a pure function of the inputs, so equal inputs give byte-identical images. */
export function buildUki(i: UkiInputs): UkiBuild {
  const warnings: string[] = [];
  const stubPe = parsePe(i.stub, i.stubName);
  const kernelPe = checkKernel(i, warnings);
  const uname = kernelUname(i, warnings);

  const parts = new Map<string, Buffer | undefined>([
    ['.osrel', i.osRelease], ['.cmdline', i.cmdline], ['.dtb', i.dtb], ['.splash', i.splash], ['.pcrpkey', i.pcrpkey],
    ['.initrd', joinInitrds((i.initrds ?? []).map((p) => p.data))], ['.uname', uname === undefined ? undefined : Buffer.from(uname, 'utf8')],
  ]);
  // ukify adds a part only when it has content ("if content:").
  const added: NewSection[] = [];
  for (const name of UKIFY_253_ORDER) {
    const data = parts.get(name);
    if (data && data.length) added.push({ name, data, characteristics: UKI_DATA_CHARACTERISTICS });
  }
  for (const extra of i.extraSections ?? []) {
    const bad = checkSectionName(extra.name);
    if (bad) throw new UkiInputError('--section', bad);
    if (added.some((s) => s.name === extra.name) || extra.name === '.linux' || extra.name === '.pcrsig') {
      throw new UkiInputError('--section', `duplicate section ${extra.name}`);
    }
    if (extra.data.length) added.push({ name: extra.name, data: extra.data, characteristics: UKI_DATA_CHARACTERISTICS });
  }
  if (i.pcrsig?.length) added.push({ name: '.pcrsig', data: i.pcrsig, characteristics: UKI_DATA_CHARACTERISTICS });
  // The EFI handover path runs the kernel in place inside .linux, and its handover entry clears the kernel's BSS
  // (Linux 6.8, backported to 6.1.y: "x86/efistub: Clear BSS in EFI handover protocol entrypoint"), which lies past
  // the file data up to the kernel's own SizeOfImage. Without room for it the kernel overwrites whatever memory
  // follows the UKI (stubemu catches this as a fault), so .linux gets the kernel's SizeOfImage as VirtualSize.
  const handover = kernelPe.majorImageVersion < 1;
  if (handover && kernelPe.sizeOfImage > i.linux.length) {
    warnings.push(`${i.linuxName}: .linux VirtualSize set to the kernel's SizeOfImage 0x${kernelPe.sizeOfImage.toString(16)} so the in-place handover boot has room for its BSS`);
  }
  added.push({ name: '.linux', data: i.linux, characteristics: UKI_LINUX_CHARACTERISTICS, ...(handover ? { virtualSize: kernelPe.sizeOfImage } : {}) });

  const stubIdentity = checkStub(stubPe, i, added.map((s) => s.name), warnings);
  const stripped = stripTrailingSymbolTable(i.stub, i.stubName);
  let image = stripped.file;

  // ukify ≥ 254: the stub's and the kernel's .sbat and the --sbat texts merged, put in place of the stub's .sbat.
  let sbat: string | undefined;
  if (i.sbat !== undefined) {
    const pes = [{ name: i.stubName, pe: stubPe, file: i.stub }, { name: i.linuxName, pe: kernelPe, file: i.linux }]
      .flatMap((p) => {
        const d = sectionData(p.file, p.pe, '.sbat');
        return d ? [{ name: p.name, data: d }] : [];
      });
    sbat = mergeSbat(pes, i.sbat, warnings);
    const data = Buffer.from(sbat, 'utf8');
    if (sectionByName(stubPe, '.sbat')) image = replaceSectionData(image, '.sbat', data, i.stubName);
    else added.push({ name: '.sbat', data, characteristics: UKI_DATA_CHARACTERISTICS });
  }

  const appended = appendSections(image, added, i.stubName);
  const checksum = setPeChecksum(appended.file, 'the UKI');
  parsePe(appended.file, 'the built UKI');
  return {
    image: appended.file, sections: appended.placed, checksum, warnings, stubIdentity, uname, sbat,
    headerGrowth: appended.headerGrowth, symbolTableStripped: stripped.stripped,
  };
}

/** One line per appended section, for the command's summary. */
export function describePlaced(p: PlacedSection): string {
  return `${p.name.padEnd(9)} VA ${hex(p.virtualAddress).padStart(10)}  size ${String(p.virtualSize).padStart(9)}  file ${hex(p.pointerToRawData)}`;
}
