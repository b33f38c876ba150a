// `uki inspect`: what a UKI (or a bare EFI-stub kernel) holds, as a documented JSON object and as a readable table.
import { locateProfileSections, StubMeasurementRules, stubRulesFor, UnsupportedStubError } from '../pcr/stub-measurements';
import { createHash } from 'node:crypto';
import { hex } from '../../pe/pe-error';
import { EFI_SUBSYSTEM_NAMES } from '../../pe/pe-format';
import { IMAGE_DIRECTORY_ENTRY, parsePe, PeFormatError, PeImage, sectionByName, sectionCopySize } from '../../pe/pe-image';
import { listCpioArchives, modeString } from '../initrd/cpio';
import { sdmagicIdentity } from './build';
import { osReleaseTitle, parseOsRelease } from './os-release';
import { peChecksum } from './pe-sections';
import { hasSetupHeader, parseSetupHeader, protocolString, unameFromKernelVersion } from './setup-header';

/*
 * The JSON object (`uki inspect --json`), stable: fields are only ever added. Addresses, flags and versions are
 * "0x…" strings; sizes and counts are numbers; absent parts are null.
 *
 * { file, fileSize, kind: "uki" | "kernel" | "pe",
 *   pe: { machine, subsystem, imageVersion "M.m", sizeOfImage, sizeOfHeaders, sectionAlignment, fileAlignment,
 *         checkSum, checkSumComputed, checkSumValid, signed },
 *   sections: [{ name, virtualAddress, virtualSize, pointerToRawData, sizeOfRawData, characteristics,
 *                hashedSize, sha256 }],        sha256 covers hashedSize = min(VirtualSize, SizeOfRawData) bytes,
 *                                              the part of the raw data the loader copies into memory
 *   stub: { sdmagic, identity } | null,       .sdmagic text and "systemd-stub 252…"
 *   sbat: string | null,
 *   osRelease: { title, fields: { KEY: value } } | null,
 *   uname: string | null,
 *   cmdline: { raw, effective } | null,       effective: as systemd-stub 252 passes it (up to the first NUL,
 *                                              control characters turned into spaces, nothing stripped)
 *   initrd: { size, archives: [{ entries: [{ path, mode, size }] }], error } | null,
 *   linux: { source: ".linux" | "file", size, sha256, pe: { imageVersion, majorImageVersion, sizeOfImage } | null,
 *            peError, stubBootPath, setupHeader: { version, protocol, kernelVersion, kernelRelease, setupSects,
 *            setupSize, loadflags: [names], xloadflags: [names], fields: { name: "0x…" } } | null,
 *            setupHeaderError } | null,
 *   stubFamily: { family, versions } | null,  the researched rules this stub gets (src/pcr/stub-measurements.ts)
 *   profiles: [{ index, profile, sections: [names] }],   the .profile-separated parts (257+); [] without .profile
 *   measuredSections: [names] | null }        what the stub measures into PCR 11 for profile 0, in order }
 */
export interface UkiInspection {
  readonly stubFamily: { readonly family: string; readonly versions: string } | null;
  readonly profiles: readonly { readonly index: number; readonly profile: string; readonly sections: readonly string[] }[];
  readonly measuredSections: readonly string[] | null;
  readonly file: string;
  readonly fileSize: number;
  readonly kind: 'uki' | 'kernel' | 'pe';
  readonly pe: Record<string, unknown>;
  readonly sections: readonly SectionInfo[];
  readonly stub: { readonly sdmagic: string; readonly identity: string | null } | null;
  readonly sbat: string | null;
  readonly osRelease: { readonly title: string | null; readonly fields: Record<string, string> } | null;
  readonly uname: string | null;
  readonly cmdline: { readonly raw: string; readonly effective: string } | null;
  readonly initrd: InitrdInfo | null;
  readonly linux: LinuxInfo | null;
}

export interface SectionInfo {
  readonly name: string;
  readonly virtualAddress: string;
  readonly virtualSize: number;
  readonly pointerToRawData: string;
  readonly sizeOfRawData: number;
  readonly characteristics: string;
  readonly hashedSize: number;
  readonly sha256: string;
}

export interface InitrdInfo {
  readonly size: number;
  readonly archives: readonly { readonly entries: readonly { path: string; mode: string; size: number }[] }[];
  readonly error: string | null;
}

export interface LinuxInfo {
  readonly source: '.linux' | 'file';
  readonly size: number;
  readonly sha256: string;
  readonly pe: { readonly imageVersion: string; readonly majorImageVersion: number; readonly sizeOfImage: string } | null;
  readonly peError: string | null;
  /** What the stub does with this kernel (its family's kernelStart; linux.c linux_exec). */
  readonly stubBootPath: string;
  /** The stub that rule is for: the UKI's own researched stub, else "systemd-stub 252" (a bare kernel). */
  readonly bootingStub: string;
  readonly setupHeader: Record<string, unknown> | null;
  readonly setupHeaderError: string | null;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function bytesOf(file: Buffer, pe: PeImage, name: string): Buffer | undefined {
  const s = sectionByName(pe, name);
  return s && file.subarray(s.pointerToRawData, s.pointerToRawData + sectionCopySize(s));
}

/** systemd-stub 252: xstrn8_to_16 stops at a NUL, then mangle_stub_cmdline turns every char ≤ 0x1F into a space (and, since 252.6, drops trailing spaces). */
export function stubEffectiveCmdline(raw: Buffer): string {
  const nul = raw.indexOf(0);
  // systemd-stub 252.6+ (Debian's 252.39 included) also drops trailing spaces after turning controls into spaces.
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8').replace(/[\x00-\x1f]/g, ' ').replace(/ +$/, '');
}

function describeInitrd(data: Buffer): InitrdInfo {
  // A compressed or otherwise non-newc part ends the listing; its size and hash are still in the section table.
  const { archives, error } = listCpioArchives(data, '.initrd');
  return {
    size: data.length,
    archives: archives.map((a) => ({ entries: a.entries.map((e) => ({ path: e.path, mode: `0${e.mode.toString(8)}`, size: e.data.length })) })),
    error: error?.message ?? null,
  };
}

/** How the stub starts this kernel, from the stub family's rules (src/pcr/stub-measurements.ts). */
function bootPathOf(pe: PeImage | undefined, stubIdentity: string | null): { stub: string; path: string } {
  let rules: StubMeasurementRules | undefined;
  try {
    rules = stubIdentity ? stubRulesFor(stubIdentity) : undefined;
  } catch (e) {
    if (!(e instanceof UnsupportedStubError)) throw e;
  }
  const stub = rules ? `${stubIdentity}` : 'systemd-stub 252';
  if (!pe) return { stub, path: `none: ${stub} refuses a kernel that is not a PE image ("Bad kernel image")` };
  if (rules?.kernelStart === 'own-pe-loader') {
    return { stub, path: 'its own PE loader: .linux copied into pages it allocates, relocated, protected through EFI_MEMORY_ATTRIBUTE_PROTOCOL, '
      + 'entered directly (no LoadImage/StartImage, so no PCR 4 event for the kernel); initrd through LoadFile2 on LINUX_INITRD_MEDIA_GUID' };
  }
  return {
    stub,
    path: pe.majorImageVersion >= 1 ? 'LoadImage + StartImage; initrd through LoadFile2 on LINUX_INITRD_MEDIA_GUID (EFI stub ≥ 1.0)'
      : 'EFI handover protocol (EFI stub < 1.0: no LINUX_INITRD_MEDIA_GUID support)',
  };
}

function describeLinux(kernel: Buffer, source: '.linux' | 'file', stubIdentity: string | null): LinuxInfo {
  let pe: PeImage | undefined;
  let peError: string | null = null;
  try {
    pe = parsePe(kernel, source === 'file' ? 'kernel' : '.linux');
  } catch (e) {
    if (!(e instanceof PeFormatError)) throw e;
    peError = e.message;
  }
  let setupHeader: Record<string, unknown> | null = null;
  let setupHeaderError: string | null = null;
  try {
    const h = parseSetupHeader(kernel, source);
    setupHeader = {
      version: hex(h.version), protocol: protocolString(h.version), kernelVersion: h.kernelVersion ?? null,
      kernelRelease: unameFromKernelVersion(h.kernelVersion) ?? null, setupSects: h.setupSects, setupSize: h.setupSize,
      loadflags: h.loadflagNames, xloadflags: h.xloadflagNames,
      fields: Object.fromEntries(Object.entries(h.fields).map(([k, v]) => [k, hex(v as number | bigint)])),
    };
  } catch (e) {
    setupHeaderError = (e as Error).message;
  }
  const boot = bootPathOf(pe, stubIdentity);
  const stubBootPath = boot.path;
  return {
    source, size: kernel.length, sha256: sha256(kernel),
    pe: pe ? { imageVersion: `${pe.majorImageVersion}.${pe.minorImageVersion}`, majorImageVersion: pe.majorImageVersion, sizeOfImage: hex(pe.sizeOfImage) } : null,
    peError, stubBootPath, bootingStub: boot.stub, setupHeader, setupHeaderError,
  };
}

/** Describes `file`; a file that is not a PE32+ x86_64 EFI image throws PeFormatError. */
export function inspectImage(file: Buffer, what: string): UkiInspection {
  const pe = parsePe(file, what);
  const linux = bytesOf(file, pe, '.linux');
  const kind = linux ? 'uki' : hasSetupHeader(file) ? 'kernel' : 'pe';
  const computed = peChecksum(file, pe.checkSumFileOffset);
  const text = (name: string): string | null => bytesOf(file, pe, name)?.toString('utf8') ?? null;
  const sdmagic = bytesOf(file, pe, '.sdmagic');
  const osrel = text('.osrel');
  const fields = osrel === null ? undefined : parseOsRelease(osrel);
  const cmdline = bytesOf(file, pe, '.cmdline');
  const initrd = bytesOf(file, pe, '.initrd');
  const identity = sdmagic ? sdmagicIdentity(sdmagic.toString('latin1')) ?? null : null;
  let rules: StubMeasurementRules | undefined;
  try {
    rules = identity?.startsWith('systemd-stub ') ? stubRulesFor(identity) : undefined;
  } catch (e) {
    if (!(e instanceof UnsupportedStubError)) throw e;
  }
  const starts = pe.sections.map((x, n) => (x.name === '.profile' ? n : -1)).filter((n) => n >= 0);
  const profiles = starts.map((start, index) => ({
    index, profile: file.toString('utf8', pe.sections[start].pointerToRawData, pe.sections[start].pointerToRawData + sectionCopySize(pe.sections[start])).replace(/\0+$/, ''),
    sections: pe.sections.slice(start, starts[index + 1] ?? pe.sections.length).map((x) => x.name),
  }));
  const profile0 = rules && kind === 'uki' ? locateProfileSections(pe, rules, 0) : undefined;
  const measuredSections = rules && profile0 ? rules.unifiedSections.filter((n) => profile0.has(n) && !rules!.unmeasuredSections.includes(n)) : null;
  return {
    stubFamily: rules ? { family: rules.family, versions: rules.versions } : null,
    profiles, measuredSections,
    file: what, fileSize: file.length, kind,
    pe: {
      machine: hex(pe.machine), subsystem: EFI_SUBSYSTEM_NAMES[pe.subsystem] ?? pe.subsystem,
      imageVersion: `${pe.majorImageVersion}.${pe.minorImageVersion}`, sizeOfImage: hex(pe.sizeOfImage),
      sizeOfHeaders: hex(pe.sizeOfHeaders), sectionAlignment: hex(pe.sectionAlignment), fileAlignment: hex(pe.fileAlignment),
      checkSum: hex(pe.checkSum), checkSumComputed: hex(computed), checkSumValid: pe.checkSum === computed,
      signed: pe.dataDirectories[IMAGE_DIRECTORY_ENTRY.SECURITY].size !== 0,
    },
    sections: pe.sections.map((s) => {
      const bytes = file.subarray(s.pointerToRawData, s.pointerToRawData + sectionCopySize(s));
      return {
        name: s.name, virtualAddress: hex(s.virtualAddress), virtualSize: s.virtualSize,
        pointerToRawData: hex(s.pointerToRawData), sizeOfRawData: s.sizeOfRawData, characteristics: hex(s.characteristics),
        hashedSize: bytes.length, sha256: sha256(bytes),
      };
    }),
    stub: sdmagic ? { sdmagic: sdmagic.toString('latin1').replace(/\0+$/, ''), identity: sdmagicIdentity(sdmagic.toString('latin1')) ?? null } : null,
    sbat: text('.sbat')?.replace(/\0+$/, '') ?? null,
    osRelease: fields ? { title: osReleaseTitle(fields) ?? null, fields: Object.fromEntries(fields) } : null,
    uname: text('.uname'),
    cmdline: cmdline ? { raw: cmdline.toString('utf8'), effective: stubEffectiveCmdline(cmdline) } : null,
    initrd: initrd ? describeInitrd(initrd) : null,
    linux: linux ? describeLinux(linux, '.linux', sdmagic ? sdmagicIdentity(sdmagic.toString('latin1')) ?? null : null)
      : kind === 'kernel' ? describeLinux(file, 'file', null) : null,
  };
}

/** Control characters shown as escapes, so section text cannot drive the terminal. */
const visible = (s: string): string => s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const indent = (s: string, by = '    '): string => s.replace(/\n+$/, '').split('\n').map((l) => by + visible(l)).join('\n');

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}

/** The human form of `uki inspect`. */
export function formatInspection(i: UkiInspection): string {
  const out: string[] = [];
  const kinds = { uki: 'unified kernel image', kernel: 'EFI-stub kernel (bzImage)', pe: 'PE image' };
  out.push(`${i.file}: ${kinds[i.kind]}, ${i.fileSize} bytes${i.stub?.identity ? `, ${i.stub.identity}` : ''}`);
  const p = i.pe;
  out.push(`PE: ${p.subsystem}, image version ${p.imageVersion}, SizeOfImage ${p.sizeOfImage}, alignment ${p.sectionAlignment}/${p.fileAlignment}, `
    + `checksum ${p.checkSum} (${p.checkSumValid ? 'valid' : `computed ${p.checkSumComputed}`})${p.signed ? ', signed' : ''}`);
  out.push('');
  out.push(table([
    ['#', 'name', 'vaddr', 'vsize', 'file off', 'raw size', 'flags', 'sha256 of min(vsize, raw size) bytes'],
    ...i.sections.map((s, n) => [String(n), visible(s.name), s.virtualAddress, hex(s.virtualSize), s.pointerToRawData, hex(s.sizeOfRawData), s.characteristics, s.sha256]),
  ]));
  if (i.stub && !i.stub.identity) out.push(`\n.sdmagic: ${visible(i.stub.sdmagic)}`);
  if (i.stubFamily) out.push(`\nstub family: ${i.stubFamily.family} (rules for ${i.stubFamily.versions})`);
  if (i.measuredSections) out.push(`PCR 11 (profile 0): ${i.measuredSections.join(' ')}`);
  if (i.profiles.length) {
    out.push(`\nprofiles: ${i.profiles.length} (LoadOptions "@N" picks one; the base sections before the first .profile are shared)`);
    for (const p of i.profiles) out.push(`    @${p.index}: ${JSON.stringify(p.profile)}  ${p.sections.join(' ')}`);
  }
  if (i.osRelease) {
    out.push(`\nos-release${i.osRelease.title ? `: ${visible(i.osRelease.title)}` : ''}`);
    out.push(indent(Object.entries(i.osRelease.fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n')));
  }
  if (i.uname !== null) out.push(`\nuname: ${visible(i.uname)}`);
  if (i.cmdline) out.push(`\ncmdline: ${JSON.stringify(i.cmdline.raw)}\n    as systemd-stub 252 passes it: ${JSON.stringify(i.cmdline.effective)}`);
  if (i.sbat !== null) out.push(`\nsbat:\n${indent(i.sbat)}`);
  if (i.initrd) {
    const n = i.initrd.archives.reduce((k, a) => k + a.entries.length, 0);
    out.push(`\ninitrd: ${i.initrd.size} bytes, ${i.initrd.archives.length} cpio archive(s), ${n} entries${i.initrd.error ? `; then not newc: ${i.initrd.error}` : ''}`);
    for (const a of i.initrd.archives) {
      for (const e of a.entries) out.push(`    ${modeString(parseInt(e.mode, 8))} ${String(e.size).padStart(9)}  ${visible(e.path)}`);
    }
  }
  if (i.linux) out.push('', ...formatLinux(i.linux));
  return `${out.join('\n')}\n`;
}

function formatLinux(l: LinuxInfo): string[] {
  const out = [`linux (${l.source === '.linux' ? '.linux section' : 'this file'}): ${l.size} bytes, EFI stub ${l.pe ? `PE image version ${l.pe.imageVersion}` : `missing (${l.peError})`}`];
  out.push(`    ${l.bootingStub} boots it by: ${l.stubBootPath}`);
  const h = l.setupHeader;
  if (!h) {
    out.push(`    no setup header: ${l.setupHeaderError}`);
    return out;
  }
  out.push(`    setup header: boot protocol ${h.protocol} (${h.version}), kernel_version ${JSON.stringify(h.kernelVersion)}`);
  out.push(`    loadflags: ${(h.loadflags as string[]).join(' ') || '-'}; xloadflags: ${(h.xloadflags as string[]).join(' ') || '-'}`);
  const fields = Object.entries(h.fields as Record<string, string>);
  const rows = [];
  for (let k = 0; k < fields.length; k += 3) rows.push(fields.slice(k, k + 3).flatMap(([n, v]) => [n, v]));
  const width = Math.max(...rows.map((r) => r.length));
  out.push(indent(table(rows.map((r) => [...r, ...Array(width - r.length).fill('')]))));
  return out;
}
