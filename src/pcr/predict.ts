// PCR prediction for systemd-stub UKIs: the events the firmware and the stub will log, and PCRs 11-13 as `systemd-measure calculate` computes them.
import { createHash } from 'node:crypto';
import type { Volume } from '../../efi-services/esp/volume';
import { authenticodeDigest } from '../../efi-services/tcg/authenticode';
import { EV, eventTypeName } from '../../efi-services/tcg/event-data';
import { ALL_BANKS, HashAlgorithmName } from '../../efi-services/tcg/pcr-banks';
import { layoutImage, parsePe, PeFormatError, PeImage, sectionByName, sectionCopySize } from '../../pe/pe-image';
import { sdmagicIdentity } from '../uki/build';
import { encodeSmbiosStructures, parseSmbios } from '../../efi-services/tables/smbios';
import { cpuid } from '../../emulator/cpuid';
import { EVENT_TAG_NAMES } from '../../efi-services/tcg/event-data';
import {
  addonUnameMatches, combineMeasuredFlag, DropInFile, locateProfileSections, locateUnifiedSections, MeasuredFlag, mangleStubCmdline, profileFromLoadOptions, selectDropIns, stubCpio, StubMeasurementRules, StubPcrVariable, stubRulesFor,
  stubUsesLoadOptions, UnsupportedStubError,
} from './stub-measurements';

/** The PCR banks stubemu predicts: the TPM banks it emulates. */
export const BANKS = ALL_BANKS;
export type Bank = HashAlgorithmName;
/** systemd-measure calculate's default: every bank it knows, SHA1 SHA256 SHA384 SHA512 (src/boot/measure.c parse_argv). */
export const DEFAULT_BANKS: readonly Bank[] = ALL_BANKS;

/** The PE/COFF Authenticode digest of an image file, as efi-services/tcg/authenticode.ts computes it. */
export type AuthenticodeDigest = (file: Buffer, algorithm: string) => Buffer;

/** A UKI whose measurements cannot be predicted; `stubemu pcr predict` exits 2 with the message. */
export class PcrPredictError extends Error {
  override readonly name = 'PcrPredictError';
  constructor(readonly what: string, readonly detail: string) {
    super(`${what}: ${detail}`);
  }
}

export interface PredictedEvent {
  readonly pcr: number;
  /** TCG PC Client PFP event type name: EV_IPL, EV_EFI_BOOT_SERVICES_APPLICATION. */
  readonly type: string;
  /** For EV_IPL the text the event data holds (UTF-16LE with its NUL); otherwise a label for people. */
  readonly description: string;
  /** true: `description` is the logged event data and is compared; false: the event data is binary. */
  readonly descriptionLogged: boolean;
  /** bank → lower-case hex digest of the measured bytes. */
  readonly digests: Readonly<Record<string, string>>;
  /** Which part of the UKI (or which input) was measured. */
  readonly what: string;
}

/** The events a prediction speaks for: all of a PCR, or only some event types in it (PCR 4 also holds firmware events). */
export interface EventScope {
  readonly pcr: number;
  readonly eventTypes?: readonly string[];
}

export interface PcrPrediction {
  /** "systemd-stub 252.39-1~deb12u2" */
  readonly stub: string;
  /** The researched version range the rules came from. */
  readonly rules: string;
  readonly banks: readonly Bank[];
  readonly events: readonly PredictedEvent[];
  /** bank → PCR index → hex, each starting from zero: 11 always, 12 when load options were given or 12 has events, 13 when it has. */
  readonly pcrs: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Authenticode digests the firmware extends into PCR 4; linux null when the stub does not LoadImage the kernel. */
  readonly pcr4: { readonly uki: Readonly<Record<string, string>>; readonly linux: Readonly<Record<string, string>> | null };
  readonly scope: readonly EventScope[];
  /**
   * The variables (LoaderInfo GUID) the stub sets on a machine with a TPM where none of them is set yet: its fixed
   * list plus StubPcrKernelParameters / StubPcrInitRDSysExts / StubPcrInitRDConfExts as their measured flags come out.
   */
  readonly variables: readonly string[];
  /** Why something is or is not measured (Secure Boot kept .cmdline, the kernel boots through the handover protocol, ...). */
  readonly notes: readonly string[];
}

export interface PredictOptions {
  /** Default DEFAULT_BANKS. */
  readonly banks?: readonly Bank[];
  /** LoadOptions as `stubemu run --load-options` passes them: UTF-16 with a terminating NUL. */
  readonly loadOptions?: string;
  /** SecureBoot=1: the stub then ignores LoadOptions when the UKI has a .cmdline. */
  readonly secureBoot?: boolean;
  /** The ESP the UKI runs from, for credential and sysext drop-ins; without it (stubemu run without --esp) there are none. */
  readonly esp?: { readonly volume: Volume; readonly imagePath: string };
  /**
   * The platform's SMBIOS structure table, for stubs that measure SMBIOS into PCR 1 (261+). Default: the table
   * stubemu's firmware presents (`stubemu run` defaults, plus `smbiosOemStrings` as type 11).
   */
  readonly smbiosStructures?: Buffer;
  /** Type 11 strings of the default table (`stubemu run --smbios-oem`). */
  readonly smbiosOemStrings?: readonly string[];
  /** LoaderPcrSMBIOS is already set (systemd-boot measured SMBIOS): the stub does not measure it again. */
  readonly smbiosAlreadyMeasured?: boolean;
  /** The PCR 4 digest function; default authenticodeDigest (tests pass their own to see what is hashed). */
  readonly authenticode?: AuthenticodeDigest;
}

const EV_EFI_BOOT_SERVICES_APPLICATION = eventTypeName(EV.EFI_BOOT_SERVICES_APPLICATION);

const digestOf = (bank: Bank, data: Buffer): Buffer => createHash(bank).update(data).digest();
const hexDigests = (banks: readonly Bank[], data: Buffer): Record<string, string> =>
  Object.fromEntries(banks.map((b) => [b, digestOf(b, data).toString('hex')]));

/** The stub's TPM2 description: xstr8_to_16 of the ASCII text, logged with its NUL (measure.c strsize16). */
export function eventDataOf(description: string): Buffer {
  return Buffer.from(`${description}\0`, 'utf16le');
}

/** TPM2_PCR_Extend as the TPM does it: PCR := H(PCR || digest). */
export function extendPcr(bank: Bank, pcr: Buffer, digest: Buffer): Buffer {
  return createHash(bank).update(pcr).update(digest).digest();
}

/** Each bank's PCR values after `events`, every PCR starting from zero. */
export function replayPcrs(events: readonly PredictedEvent[], banks: readonly Bank[], pcrs: readonly number[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const bank of banks) {
    out[bank] = {};
    for (const pcr of pcrs) {
      let value: Buffer = Buffer.alloc(digestOf(bank, Buffer.alloc(0)).length);
      for (const e of events) if (e.pcr === pcr) value = extendPcr(bank, value, Buffer.from(e.digests[bank], 'hex'));
      out[bank][String(pcr)] = value.toString('hex');
    }
  }
  return out;
}

function stubIdentity(file: Buffer, pe: PeImage, what: string): string {
  const magic = sectionByName(pe, '.sdmagic');
  const text = magic && file.toString('latin1', magic.pointerToRawData, magic.pointerToRawData + sectionCopySize(magic));
  const identity = text === undefined ? undefined : sdmagicIdentity(text);
  if (!identity) throw new PcrPredictError(what, 'no .sdmagic "#### LoaderInfo: systemd-stub ... ####" section: not a systemd-stub UKI, nothing to predict');
  return identity;
}

/** Measured bytes: VirtualSize bytes at the section's address in the loaded image (the stub hashes memory, pe.c). */
function sectionMemory(image: Buffer, s: { virtualAddress: number; virtualSize: number }): Buffer {
  return image.subarray(s.virtualAddress, s.virtualAddress + s.virtualSize);
}

/** stub.c efi_main: for each unified section in enum order, its name (ASCII with NUL) and then its data, both EV_IPL into PCR 11. */
function sectionEvents(image: Buffer, found: ReadonlyMap<string, { virtualAddress: number; virtualSize: number }>, rules: StubMeasurementRules, banks: readonly Bank[], notes: string[]): PredictedEvent[] {
  const events: PredictedEvent[] = [];
  for (const name of rules.unifiedSections) {
    const s = found.get(name);
    if (!s || rules.unmeasuredSections.includes(name)) continue;
    if (name === '.dtbauto') {
      // pe.c (257+) keeps only the .dtbauto whose compatible/CHID matches the machine (.hwids, the firmware's
      // devicetree); stubemu's machine has no devicetree and matches none, so none is measured.
      notes.push('.dtbauto: measured only when it matches the machine; predicted as not matching (stubemu has no devicetree)');
      continue;
    }
    const base = { pcr: rules.pcrKernelImage, type: rules.eventType, description: name, descriptionLogged: true };
    events.push({ ...base, digests: hexDigests(banks, Buffer.from(`${name}\0`, 'latin1')), what: `section name ${name}` });
    events.push({ ...base, digests: hexDigests(banks, sectionMemory(image, s)), what: `section ${name} data (${s.virtualSize} bytes)` });
  }
  return events;
}

function loadOptionsEvents(loadOptions: string | undefined, o: PredictOptions, hasCmdline: boolean, rules: StubMeasurementRules, banks: readonly Bank[], notes: string[]): PredictedEvent[] {
  if (loadOptions === undefined) return [];
  const size = (loadOptions.length + 1) * 2;
  const first = loadOptions.length ? loadOptions.charCodeAt(0) : 0;
  if (!stubUsesLoadOptions(size, first, o.secureBoot ?? false, hasCmdline)) {
    notes.push(o.secureBoot && hasCmdline ? 'LoadOptions ignored: Secure Boot is on and the UKI has a .cmdline; nothing measured into PCR 12 for them'
      : 'LoadOptions ignored: empty, or the first character is a control character (stub.c use_load_options)');
    return [];
  }
  const cmdline = mangleStubCmdline(loadOptions);
  if (hasCmdline) notes.push('LoadOptions replace the .cmdline section (no Secure Boot)');
  const pcrs = [rules.pcrKernelParameters, ...(rules.pcrKernelParametersCompat === null ? [] : [rules.pcrKernelParametersCompat])];
  // measure.c tpm_log_load_options: the mangled string with its NUL, described by itself.
  return pcrs.map((pcr) => ({
    pcr, type: rules.eventType, description: cmdline, descriptionLogged: true,
    digests: hexDigests(banks, eventDataOf(cmdline)), what: 'kernel command line from LoadOptions',
  }));
}

/** Files of one drop-in directory as the stub reads them through EFI_SIMPLE_FILE_SYSTEM_PROTOCOL. */
function readDropIns(volume: Volume, dir: string, suffix: string, excludeSuffix?: string): DropInFile[] {
  const path = dir.split('\\').filter((c) => c !== '');
  if (volume.stat(path)?.kind !== 'dir') return [];
  const files = volume.readDir(path).filter((n) => volume.stat([...path, n])?.kind === 'file');
  return selectDropIns(files, suffix, excludeSuffix).map((name) => {
    const size = volume.stat([...path, name])?.size ?? 0;
    return { name, data: volume.read([...path, name], 0, size) };
  });
}

/** The cpio events of the drop-in directories, and what each contributes to its variable's measured flag. */
function dropInEvents(o: PredictOptions, rules: StubMeasurementRules, banks: readonly Bank[]): { events: PredictedEvent[]; flags: { variable: StubPcrVariable; measured: MeasuredFlag }[] } {
  const events: PredictedEvent[] = [];
  const flags: { variable: StubPcrVariable; measured: MeasuredFlag }[] = [];
  for (const rule of rules.dropIns) {
    // cpio.c get_dropin_dir: the image's FilePath as text plus ".extra.d". Without an ESP there is no file system to
    // open, and pack_cpio reports "nothing measured" just as for an empty directory.
    const dir = rule.dir ?? `${o.esp?.imagePath}.extra.d`;
    const files = o.esp ? readDropIns(o.esp.volume, dir, rule.suffix, rule.excludeSuffix) : [];
    flags.push({ variable: rule.variable, measured: files.length ? 1 : 0 });
    if (files.length === 0) continue;
    const cpio = stubCpio(files, rule.targetDir, rule.dirMode, rule.accessMode);
    for (const pcr of rule.pcrs) {
      events.push({
        pcr, type: rules.eventType, description: rule.description, descriptionLogged: true,
        digests: hexDigests(banks, cpio), what: `${dir}\\*${rule.suffix}: ${files.map((f) => f.name).join(', ')} (${cpio.length}-byte cpio)`,
      });
    }
  }
  return { events, flags };
}

/**
 * stub.c export_pcr_variables: StubPcrKernelParameters, StubPcrInitRDSysExts and StubPcrInitRDConfExts are set when
 * their combined measured flag is 1: something fed them and all of it was measured. Everything the stub measures into
 * PCR 12 feeds the first (tagged events only where they count as measured), each drop-in directory its own variable,
 * an empty one as "not measured". (254 passes a stale flag when an addon directory measures nothing; with a TPM it is
 * always "measured", so leaving it out gives the same result.)
 */
export function stubPcrVariables(rules: StubMeasurementRules, stubEvents: readonly PredictedEvent[], dropInFlags: readonly { variable: StubPcrVariable; measured: MeasuredFlag }[]): string[] {
  const flags = new Map<StubPcrVariable, MeasuredFlag>([['StubPcrKernelParameters', -1], ['StubPcrInitRDSysExts', -1], ['StubPcrInitRDConfExts', -1]]);
  const feed = (v: StubPcrVariable, m: MeasuredFlag): void => { flags.set(v, combineMeasuredFlag(flags.get(v)!, m)); };
  const cpioDescriptions = new Set(rules.dropIns.map((d) => d.description));
  for (const e of stubEvents) {
    if (e.pcr !== rules.pcrKernelParameters || (e.type === rules.eventType && cpioDescriptions.has(e.description))) continue;
    feed('StubPcrKernelParameters', e.type === 'EV_EVENT_TAG' && !rules.taggedEventsCountAsMeasured ? 0 : 1);
  }
  for (const f of dropInFlags) feed(f.variable, f.measured);
  return [...rules.variables, ...[...flags].filter(([, m]) => m > 0).map(([v]) => v)];
}

interface AddonPrediction {
  /** Firmware PCR 4 events for each addon the stub LoadImage's (global first, then the UKI's own, each sorted). */
  readonly pcr4: PredictedEvent[];
  /** The addons' .cmdline into PCR 12: one event per directory (254) or one for all, joined (257+). */
  readonly cmdline: PredictedEvent[];
  /** 257+: each devicetree addon (tagged), global first; measured after the SMBIOS extra, before the cpios. */
  readonly devicetree: PredictedEvent[];
  /** 257+: ucode addons in reverse order, then initrd addons in order (tagged), after the cpios. */
  readonly ucode: PredictedEvent[];
  readonly initrd: PredictedEvent[];
}

const DEVICETREE_ADDON_EVENT_TAG = 0x6c46f751;
const INITRD_ADDON_EVENT_TAG = 0x49dffe0f;
const UCODE_ADDON_EVENT_TAG = 0xdac08e1a;

/**
 * stub.c load_all_addons (254+: \\loader\\addons first, then <uki>.extra.d): every *.addon.efi, sorted, is loaded with
 * LoadImage (so the firmware measures it into PCR 4). An addon with a .linux, with none of the sections this stub
 * uses, or whose .uname differs from the UKI's is then ignored. 254 takes .cmdline only and measures each directory's
 * joined command lines; 257+ joins all and measures them once (cmdline_append_and_measure_addons), and measures each
 * .dtb (install_addon_devicetrees), .ucode (measure_and_append_ucode_addons, reverse order) and .initrd
 * (measure_and_append_initrd_addons) as a tagged event whose data is the section and whose text is the file name.
 */
function addonEvents(o: PredictOptions, rules: StubMeasurementRules, ukiUname: Buffer | undefined, banks: readonly Bank[], authenticode: (data: Buffer) => Record<string, string>, notes: string[]): AddonPrediction {
  const out: AddonPrediction = { pcr4: [], cmdline: [], devicetree: [], ucode: [], initrd: [] };
  if (!o.esp || rules.addons.length === 0) return out;
  const cmdlines: string[][] = [];
  const tagged = (tag: number, name: string, data: Buffer, what: string): PredictedEvent => ({
    pcr: rules.pcrKernelParameters, type: 'EV_EVENT_TAG', description: taggedDescription(tag, name), descriptionLogged: true, digests: hexDigests(banks, data), what,
  });
  for (const rule of rules.addons) {
    const dir = rule.dir ?? `${o.esp.imagePath}.extra.d`;
    const dirCmdlines: string[] = [];
    cmdlines.push(dirCmdlines);
    for (const addon of readDropIns(o.esp.volume, dir, rule.suffix)) {
      let pe: PeImage;
      try {
        pe = parsePe(addon.data, addon.name);
      } catch (e) {
        if (!(e instanceof PeFormatError)) throw e;
        notes.push(`${dir}\\${addon.name} is not a PE image: LoadImage fails, nothing measured for it`);
        continue;
      }
      out.pcr4.push({ pcr: 4, type: EV_EFI_BOOT_SERVICES_APPLICATION, description: `addon ${addon.name} (Authenticode)`, descriptionLogged: false, digests: authenticode(addon.data), what: `${dir}\\${addon.name}` });
      const image = layoutImage(pe, addon.data);
      const found = locateUnifiedSections(pe, rules);
      // .dtbauto is kept only when it matches the machine (pe.c); stubemu's machine has no devicetree and matches none.
      if (found.has('.dtbauto')) notes.push(`${dir}\\${addon.name} has .dtbauto: predicted as not matching this machine, not used`);
      found.delete('.dtbauto');
      const section = (name: string): Buffer | undefined => (rules.addonSections.includes(name) && found.has(name) ? sectionMemory(image, found.get(name)!) : undefined);
      const used = rules.addonSections.filter((name) => found.has(name));
      if (used.length === 0) {
        notes.push(`${dir}\\${addon.name} has none of ${rules.addonSections.join(' ')}: loaded (PCR 4), then ignored`);
        continue;
      }
      if (found.has('.linux')) {
        notes.push(`${dir}\\${addon.name} has a .linux: "a UKI, not an addon", ignored after LoadImage`);
        continue;
      }
      const uname = found.get('.uname');
      if (!addonUnameMatches(ukiUname, uname && sectionMemory(image, uname))) {
        notes.push(`${dir}\\${addon.name}: its .uname differs from the UKI's, ignored after LoadImage`);
        continue;
      }
      const cmd = section('.cmdline');
      // 257+ mangles each addon's text before joining; 254 joins the raw texts (up to a NUL) and mangles the result.
      const raw = cmd?.toString('latin1').replace(/\0[\s\S]*$/, '');
      if (raw !== undefined) dirCmdlines.push(rules.addonCmdlines === 'joined' ? mangleStubCmdline(raw) : raw);
      const dtb = section('.dtb');
      if (dtb) out.devicetree.push(tagged(DEVICETREE_ADDON_EVENT_TAG, addon.name, dtb, `${dir}\\${addon.name} .dtb (${dtb.length} bytes)`));
      const ucode = section('.ucode');
      if (ucode) out.ucode.unshift(tagged(UCODE_ADDON_EVENT_TAG, addon.name, ucode, `${dir}\\${addon.name} .ucode (${ucode.length} bytes)`));
      const initrd = section('.initrd');
      if (initrd) out.initrd.push(tagged(INITRD_ADDON_EVENT_TAG, addon.name, initrd, `${dir}\\${addon.name} .initrd (${initrd.length} bytes)`));
    }
  }
  // Joined with a space between non-empty parts (xasprintf "%ls%ls%ls"), then mangled again: empty results measure nothing.
  const join = (parts: readonly string[]): string => mangleStubCmdline(parts.reduce((acc, p) => (acc === '' ? p : `${acc} ${p}`), ''));
  const measured = (rules.addonCmdlines === 'per-directory' ? cmdlines.map(join) : [join(cmdlines.flat())]).filter((x) => x !== '');
  for (const text of measured) {
    out.cmdline.push({ pcr: rules.pcrKernelParameters, type: rules.eventType, description: text, descriptionLogged: true, digests: hexDigests(banks, eventDataOf(text)), what: 'addon .cmdline' });
  }
  return out;
}

/** The type 11 string systemd-stub appends to the command line (stub.c cmdline_append_and_measure_smbios). */
const CMDLINE_EXTRA = 'io.systemd.stub.kernel-cmdline-extra=';

/** 254+: the first type 11 "io.systemd.stub.kernel-cmdline-extra=" value, mangled, into PCR 12 like LoadOptions. */
function smbiosCmdlineEvents(o: PredictOptions, rules: StubMeasurementRules, banks: readonly Bank[]): PredictedEvent[] {
  if (!rules.smbiosCmdlineExtra) return [];
  const strings = o.smbiosStructures
    ? parseSmbios(o.smbiosStructures).filter((st) => st.type === 11).flatMap((st) => st.strings)
    : o.smbiosOemStrings ?? [];
  const found = strings.find((x) => x.startsWith(CMDLINE_EXTRA));
  if (found === undefined) return [];
  const extra = mangleStubCmdline(found.slice(CMDLINE_EXTRA.length));
  if (extra === '') return [];
  return [{
    pcr: rules.pcrKernelParameters, type: rules.eventType, description: extra, descriptionLogged: true,
    digests: hexDigests(banks, eventDataOf(extra)), what: 'SMBIOS type 11 io.systemd.stub.kernel-cmdline-extra',
  }];
}

/** UKI_PROFILE_EVENT_TAG_ID (stub.c measure_profile, 257+). */
const UKI_PROFILE_EVENT_TAG = 0x13aed6db;

/**
 * stub.c measure_profile (257+), before the sections: a profile other than 0 is measured into PCR 12 as a tagged event
 * whose data and description are its number as UTF-16 text with the NUL.
 */
function profileEvents(profile: number, rules: StubMeasurementRules, banks: readonly Bank[]): PredictedEvent[] {
  if (!rules.profiles || profile === 0) return [];
  return [{
    pcr: rules.pcrKernelParameters, type: 'EV_EVENT_TAG', description: taggedDescription(UKI_PROFILE_EVENT_TAG, String(profile)), descriptionLogged: true,
    digests: hexDigests(banks, Buffer.from(`${profile}\0`, 'utf16le')), what: `profile ${profile} chosen`,
  }];
}

/** The description compareEvents gives an EV_EVENT_TAG: the tag's name and the text of its data. */
export function taggedDescription(tag: number, text: string): string {
  return `${EVENT_TAG_NAMES[tag] ?? `0x${tag.toString(16).padStart(8, '0')}`} ${text}`;
}

/**
 * 261+ (docs/TPM2_PCR_MEASUREMENTS.md): SMBIOS types 1, 2 and every 11, each the formatted area plus its string set,
 * type 1 with Wake-up Type zeroed; EV_EVENT_TAG with the description "smbios:typeN" (UTF-16) into PCR 1.
 */
function smbiosEvents(o: PredictOptions, rules: StubMeasurementRules, banks: readonly Bank[], notes: string[]): PredictedEvent[] {
  const rule = rules.smbios;
  if (!rule) return [];
  if (o.smbiosAlreadyMeasured) {
    notes.push(`${rule.variable} is set: SMBIOS was measured before the stub ran, the stub does not measure it again`);
    return [];
  }
  const table = o.smbiosStructures ?? encodeSmbiosStructures({
    memoryBytes: 1 << 30, cpuid, ...(o.smbiosOemStrings?.length ? { type11Strings: [...o.smbiosOemStrings] } : {}),
  });
  const structures = parseSmbios(table);
  const events: PredictedEvent[] = [];
  for (const { type, tag } of rule.tags) {
    for (const st of structures.filter((x) => x.type === type)) {
      const next = structures[structures.indexOf(st) + 1];
      const bytes = Buffer.from(table.subarray(st.offset, next ? next.offset : table.length));
      if (type === 1 && rule.zeroType1WakeUp && st.length > 0x18) bytes[0x18] = 0;
      events.push({
        pcr: rule.pcr, type: 'EV_EVENT_TAG', description: taggedDescription(tag, `smbios:type${type}`), descriptionLogged: true,
        digests: hexDigests(banks, bytes), what: `SMBIOS type ${type} structure (handle ${st.handle}, ${bytes.length} bytes)`,
      });
    }
  }
  notes.push(o.smbiosStructures ? 'PCR 1: SMBIOS as given' : "PCR 1: SMBIOS as stubemu's firmware presents it (on real hardware it is the machine's)");
  return events;
}

/**
 * linux.c linux_exec after pe.c pe_kernel_info (252): a kernel with EFI stub ≥ 1.0 goes through LoadImage (so the
 * firmware measures it into PCR 4, from the VirtualSize bytes of .linux in memory); an older one through the EFI
 * handover protocol, which the firmware does not see.
 */
function kernelLoadImageBuffer(image: Buffer, linux: { virtualAddress: number; virtualSize: number }, notes: string[]): Buffer | undefined {
  const buffer = sectionMemory(image, linux);
  let kernel: PeImage;
  try {
    kernel = parsePe(buffer, '.linux');
  } catch (e) {
    if (!(e instanceof PeFormatError)) throw e;
    notes.push(`.linux is not a PE image the stub accepts ("Bad kernel image"): no kernel LoadImage, no PCR 4 event for it (${e.message})`);
    return undefined;
  }
  if (kernel.majorImageVersion < 1) {
    notes.push('.linux has EFI stub < 1.0: the stub boots it through the EFI handover protocol, no LoadImage, no PCR 4 event for it');
    return undefined;
  }
  return buffer;
}

/** Predicts what `file` (a systemd-stub UKI) gets measured when stubemu (or a firmware) boots it. */
export function predictPcrs(file: Buffer, what: string, o: PredictOptions = {}): PcrPrediction {
  const banks = o.banks ?? DEFAULT_BANKS;
  if (banks.length === 0) throw new PcrPredictError(what, 'no PCR bank selected');
  const pe = parsePe(file, what);
  const identity = stubIdentity(file, pe, what);
  let rules: StubMeasurementRules;
  try {
    rules = stubRulesFor(identity);
  } catch (e) {
    if (e instanceof UnsupportedStubError) throw new PcrPredictError(what, e.message);
    throw e;
  }
  const image = layoutImage(pe, file);
  const notes: string[] = [];
  const chosen = rules.profiles ? profileFromLoadOptions(o.loadOptions) : { profile: 0, rest: o.loadOptions };
  const found = locateProfileSections(pe, rules, chosen.profile);
  if (!found) throw new PcrPredictError(what, `LoadOptions choose profile ${chosen.profile}, which this UKI does not have`);
  if (chosen.profile !== 0 || (o.loadOptions !== undefined && chosen.rest !== o.loadOptions)) notes.push(`profile ${chosen.profile} chosen by LoadOptions "@${chosen.profile}"`);
  const linux = found.get('.linux');
  if (!linux) {
    throw new PcrPredictError(what, 'no .linux section (with a VirtualSize): systemd-stub stops with "Unable to locate embedded .linux section" before measuring anything');
  }
  const authenticode = (data: Buffer): Record<string, string> =>
    Object.fromEntries(banks.map((b) => [b, (o.authenticode ?? authenticodeDigest)(data, b).toString('hex')]));
  const uname = found.get('.uname');
  const addons = addonEvents(o, rules, uname && sectionMemory(image, uname), banks, authenticode, notes);
  const dropIns = dropInEvents(o, rules, banks);
  // stub.c run (257+): profile, sections, LoadOptions, addons (loaded: PCR 4), their command lines, the SMBIOS extra,
  // devicetree addons, the drop-in cpios, ucode addons, initrd addons.
  const stubEvents = [
    ...profileEvents(chosen.profile, rules, banks),
    ...sectionEvents(image, found, rules, banks, notes),
    ...loadOptionsEvents(chosen.rest, o, found.has('.cmdline'), rules, banks, notes),
    ...addons.pcr4,
    ...addons.cmdline,
    ...smbiosCmdlineEvents(o, rules, banks),
    ...addons.devicetree,
    ...dropIns.events,
    ...addons.ucode,
    ...addons.initrd,
    ...smbiosEvents(o, rules, banks, notes),
  ];
  const variables = stubPcrVariables(rules, stubEvents, dropIns.flags);
  let kernelBuffer: Buffer | undefined;
  if (rules.kernelStart === 'load-image-or-handover') kernelBuffer = kernelLoadImageBuffer(image, linux, notes);
  else notes.push('the stub loads .linux with its own PE loader and jumps to it: no LoadImage, no PCR 4 event for the kernel');

  const pcr4 = { uki: authenticode(file), linux: kernelBuffer ? authenticode(kernelBuffer) : null };
  // The firmware's image measurements (TCG PFP §10.4.4, edk2 DxeTpm2MeasureBootLib): the UKI when it is loaded, before
  // the stub runs; the kernel when the stub calls LoadImage, after all of the stub's own measurements.
  const events: PredictedEvent[] = [
    { pcr: 4, type: EV_EFI_BOOT_SERVICES_APPLICATION, description: 'UKI (Authenticode)', descriptionLogged: false, digests: pcr4.uki, what },
    ...stubEvents,
    ...(pcr4.linux ? [{ pcr: 4, type: EV_EFI_BOOT_SERVICES_APPLICATION, description: '.linux (Authenticode)', descriptionLogged: false, digests: pcr4.linux, what: '.linux' }] : []),
  ];

  const replayed = new Set([rules.pcrKernelImage, ...stubEvents.map((e) => e.pcr).filter((p) => p !== rules.smbios?.pcr && p !== 4)]);
  if (o.loadOptions !== undefined) replayed.add(rules.pcrKernelParameters);
  const pcrList = [...replayed].sort((a, b) => a - b);
  const scope: EventScope[] = [
    { pcr: 4, eventTypes: [EV_EFI_BOOT_SERVICES_APPLICATION] },
    { pcr: rules.pcrKernelImage }, { pcr: rules.pcrKernelParameters }, { pcr: rules.pcrSysexts },
    ...(rules.pcrKernelParametersCompat === null ? [] : [{ pcr: rules.pcrKernelParametersCompat }]),
    // PCR 1 also holds the firmware's own events; only the stub's tagged events are predicted.
    ...(rules.smbios ? [{ pcr: rules.smbios.pcr, eventTypes: ['EV_EVENT_TAG'] }] : []),
  ];
  return { stub: identity, rules: rules.versions, banks, events, pcrs: replayPcrs(events, banks, pcrList), pcr4, scope, variables, notes };
}
