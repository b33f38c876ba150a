// What systemd-stub measures and how it starts the kernel, one table row per version family, read from systemd's sources
// (src/boot/{efi/,}stub.c, measure.c, cpio.c, pe.c, src/fundamental/{tpm-pcr,uki}.h, NEWS, docs/TPM2_PCR_MEASUREMENTS.md)
// and checked against runs of Debian's builds of 252, 254, 257 and 262.
import type { PeImage, PeSection } from '../../pe/pe-image';
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
  /** 255+: names ending in this are left out (sysexts take *.raw but not *.confext.raw). */
  readonly excludeSuffix?: string;
  /** Where the files appear in the initrd. */
  readonly targetDir: string;
  readonly dirMode: number;
  readonly accessMode: number;
  readonly pcrs: readonly number[];
  /** The EV_IPL description (UTF-16 in the log). */
  readonly description: string;
  /**
   * The variable whose measured flag this cpio feeds (stub.c combine_measured_flag): a directory with no matching
   * file still counts, as "not measured" (cpio.c pack_cpio sets *ret_measured = false and returns EFI_SUCCESS).
   */
  readonly variable: StubPcrVariable;
}

/** The variables the stub sets only when everything that fed them was measured (stub.c export_pcr_variables). */
export type StubPcrVariable = 'StubPcrKernelParameters' | 'StubPcrInitRDSysExts' | 'StubPcrInitRDConfExts';

/** How the stub hands control to the kernel in `.linux`. */
export type KernelStart =
  /** LoadImage + StartImage when the kernel's PE MajorImageVersion ≥ 1 (EFI stub ≥ 1.0), else the EFI handover entry (linux.c). */
  | 'load-image-or-handover'
  /** The stub's own PE loader: it allocates, copies and relocates .linux itself, sets memory attributes through
   *  EFI_MEMORY_ATTRIBUTE_PROTOCOL and jumps to the PE entry point; the firmware never sees a LoadImage (no PCR 4 event). */
  | 'own-pe-loader';

/** PCR 1 measurements of SMBIOS structures as EV_EVENT_TAG (docs/TPM2_PCR_MEASUREMENTS.md, v261+). */
export interface SmbiosRule {
  readonly pcr: number;
  /** Structure type → tagged event ID; measured in this order (type 11: every instance). */
  readonly tags: readonly { readonly type: number; readonly tag: number }[];
  /** Type 1 "Wake-up Type" (offset 0x18) is zeroed before hashing. */
  readonly zeroType1WakeUp: boolean;
  /** Set by whoever measures first (systemd-boot or the stub); its presence suppresses the stub's measurement. */
  readonly variable: string;
}

/** Addons (PE files with .cmdline/.dtb/.initrd/.ucode sections) the stub loads from the ESP. */
export interface AddonRule {
  /** undefined: "<the stub's own FilePath>.extra.d"; otherwise an absolute ESP path. */
  readonly dir: string | undefined;
  readonly suffix: '.addon.efi';
}

export interface StubMeasurementRules {
  /** The family key used in tables and the README: "252", "253-254", ... */
  readonly family: string;
  /** The versions this entry describes, e.g. "systemd-stub 252.6 to 252.x". */
  readonly versions: string;
  /** The sources read. */
  readonly source: string;
  /**
   * The unified sections in the canonical order of the UnifiedSection enum (src/fundamental/tpm-pcr.h, later
   * uki.h, "PLEASE DO NOT REORDER"); each present one is measured into PCR 11 in this order, name first, then data.
   */
  readonly unifiedSections: readonly string[];
  /** .pcrsig is never measured: it signs the expected PCR values (unified_section_measure). */
  readonly unmeasuredSections: readonly string[];
  /** locate_sections: 252 matches a prefix of the 8-byte name (memcmp over strlen); later versions the whole name. */
  readonly sectionNameMatch: 'prefix' | 'exact';
  /** Multi-profile UKIs (.profile separators; LoadOptions "@N" picks profile N; StubProfile variable). */
  readonly profiles: boolean;
  readonly pcrKernelImage: number;
  readonly pcrKernelParameters: number;
  /**
   * PCR 8 as well, only in builds configured with -Defi-tpm-pcr-compat=true (meson default false; Debian's
   * builds do not set it — not verified against the binary). null: off.
   */
  readonly pcrKernelParametersCompat: number | null;
  readonly pcrSysexts: number;
  /** The stub's section, command line and cpio measurements are HashLogExtendEvent(flags 0) with this event type (measure.c). */
  readonly eventType: 'EV_IPL';
  readonly dropIns: readonly DropInRule[];
  /** Where addons are looked for, in this order (none before 254). */
  readonly addons: readonly AddonRule[];
  /**
   * 254 (stub.c cmdline_append_and_measure_addons): the .cmdline of each directory's addons joined with spaces, one PCR 12
   * event per directory (global, then the UKI's); 257+: one event for all of them.
   */
  readonly addonCmdlines: 'per-directory' | 'joined';
  /**
   * The addon sections the stub uses (an addon with none of them is ignored after LoadImage): 254 only .cmdline;
   * 257+ also .dtb/.dtbauto (installed as the devicetree, tagged PCR 12 event), .initrd and .ucode (appended to the
   * initrds, tagged PCR 12 events). An addon with a .linux is ignored; one whose .uname differs from the UKI's too.
   */
  readonly addonSections: readonly string[];
  /**
   * measure.c tpm_log_tagged_event reports a successful measurement as such. false in 257.13: it returns right after a
   * successful HashLogExtendEvent without setting *ret_measured, so a profile or devicetree/initrd/ucode addon event
   * counts as "not measured" and StubPcrKernelParameters is not set (runs of 257.13 agree; 262.1 sets it).
   */
  readonly taggedEventsCountAsMeasured: boolean;
  /** null: the stub does not measure SMBIOS. */
  readonly smbios: SmbiosRule | null;
  readonly kernelStart: KernelStart;
  /**
   * SMBIOS type 11 "io.systemd.stub.kernel-cmdline-extra=" is appended to the command line and measured into PCR 12
   * like LoadOptions, after them (stub.c cmdline_append_and_measure_smbios; not in confidential VMs).
   */
  readonly smbiosCmdlineExtra: boolean;
  /** Appends "console=…" to the command line when the firmware console is a serial port and none is given (v261+). */
  readonly appendsConsole: boolean;
  /**
   * The EFI variables (vendor LoaderInfo GUID) the stub always sets on a machine with a TPM, in the order seen in runs.
   * StubPcrKernelParameters, StubPcrInitRDSysExts and StubPcrInitRDConfExts (255+) come on top when everything that
   * feeds them was measured (stubPcrVariables).
   */
  readonly variables: readonly string[];
}

/** TPM_PCR_INDEX_KERNEL_IMAGE, _KERNEL_PARAMETERS, _INITRD_SYSEXTS (src/fundamental/tpm-pcr.h). */
const PCR_KERNEL_IMAGE = 11;
const PCR_KERNEL_PARAMETERS = 12;
const PCR_INITRD_SYSEXTS = 13;

const PARAMETERS = 'StubPcrKernelParameters';
const CREDENTIALS: readonly DropInRule[] = [
  { dir: undefined, suffix: '.cred', targetDir: '.extra/credentials', dirMode: 0o500, accessMode: 0o400, pcrs: [PCR_KERNEL_PARAMETERS], description: 'Credentials initrd', variable: PARAMETERS },
  { dir: '\\loader\\credentials', suffix: '.cred', targetDir: '.extra/global_credentials', dirMode: 0o500, accessMode: 0o400, pcrs: [PCR_KERNEL_PARAMETERS], description: 'Global credentials initrd', variable: PARAMETERS },
];

// The enum grew at its end or in the middle over the years; the order is the measurement order.
const SECTIONS_252 = ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.pcrsig', '.pcrpkey'];
const SECTIONS_253 = ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.uname', '.sbat', '.pcrsig', '.pcrpkey'];
const SECTIONS_256 = ['.linux', '.osrel', '.cmdline', '.initrd', '.ucode', '.splash', '.dtb', '.uname', '.sbat', '.pcrsig', '.pcrpkey'];
const SECTIONS_257 = [...SECTIONS_256, '.profile', '.dtbauto', '.hwids'];
const SECTIONS_258 = [...SECTIONS_257, '.efifw'];

const VARS_252 = ['LoaderDevicePartUUID', 'LoaderImageIdentifier', 'LoaderFirmwareInfo', 'LoaderFirmwareType', 'StubInfo', 'StubFeatures', 'StubPcrKernelImage'];
const VARS_257 = ['LoaderDevicePartUUID', 'LoaderImageIdentifier', 'LoaderFirmwareInfo', 'LoaderFirmwareType', 'StubInfo', 'StubFeatures', 'StubProfile',
  'StubDevicePartUUID', 'StubImageIdentifier', 'StubPcrKernelImage'];
// LoaderBootSecret (src/boot/boot-secret.c: an NV+BS secret made from the Linux random seed table): 262.1 sets it
// once it has read the ESP's GPT through Disk I/O, as on a machine whose ESP is a GPT partition; 260-261 not run.
const VARS_261 = ['LoaderDevicePartUUID', 'LoaderImageIdentifier', 'LoaderFirmwareInfo', 'LoaderFirmwareType', 'LoaderTpm2ActivePcrBanks', 'StubInfo',
  'StubFeatures', 'StubProfile', 'StubDevicePartUUID', 'StubImageIdentifier', 'LoaderPcrSMBIOS', 'StubPcrKernelImage', 'LoaderBootSecret'];

const common = {
  unmeasuredSections: ['.pcrsig'],
  pcrKernelImage: PCR_KERNEL_IMAGE,
  pcrKernelParameters: PCR_KERNEL_PARAMETERS,
  pcrKernelParametersCompat: null,
  pcrSysexts: PCR_INITRD_SYSEXTS,
  eventType: 'EV_IPL',
} as const;

const SYSEXT_RAW: DropInRule = { dir: undefined, suffix: '.raw', targetDir: '.extra/sysext', dirMode: 0o555, accessMode: 0o444, pcrs: [PCR_INITRD_SYSEXTS], description: 'System extension initrd', variable: 'StubPcrInitRDSysExts' };
// stub.c generate_sidecar_initrds (255+): "*.raw" for compatibility, but not "*.confext.raw".
const SYSEXT_255: DropInRule = { ...SYSEXT_RAW, excludeSuffix: '.confext.raw' };
const CONFEXT_255: DropInRule = { dir: undefined, suffix: '.confext.raw', targetDir: '.extra/confext', dirMode: 0o555, accessMode: 0o444, pcrs: [PCR_KERNEL_PARAMETERS], description: 'Configuration extension initrd', variable: 'StubPcrInitRDConfExts' };
// 262.1 (its strings; systemd main stub.c generate_sidecar_initrds): \loader\extensions holds global sysexts and confexts,
// each packed right after the UKI's own; an empty or missing directory clears that variable's flag as well.
const GLOBAL_SYSEXT_262: DropInRule = { ...SYSEXT_255, dir: '\\loader\\extensions', targetDir: '.extra/global_sysext', description: 'Global system extension initrd' };
const GLOBAL_CONFEXT_262: DropInRule = { ...CONFEXT_255, dir: '\\loader\\extensions', targetDir: '.extra/global_confext', description: 'Global configuration extension initrd' };
const DROP_INS_262 = [...CREDENTIALS, SYSEXT_255, GLOBAL_SYSEXT_262, CONFEXT_255, GLOBAL_CONFEXT_262];
const ADDON_SECTIONS_257 = ['.cmdline', '.dtb', '.dtbauto', '.initrd', '.ucode'];

const PER_UKI_ADDONS: AddonRule = { dir: undefined, suffix: '.addon.efi' };
const GLOBAL_ADDONS: AddonRule = { dir: '\\loader\\addons', suffix: '.addon.efi' };

const SMBIOS_261: SmbiosRule = {
  pcr: 1,
  tags: [{ type: 1, tag: 0xd5cb7cbc }, { type: 2, tag: 0xe0d47bc8 }, { type: 11, tag: 0xc0b3bd23 }],
  zeroType1WakeUp: true,
  variable: 'LoaderPcrSMBIOS',
};

/** One entry per family: what changed is visible as a difference between neighbouring rows. */
export const STUB_FAMILIES: readonly StubMeasurementRules[] = [
  {
    ...common, family: '252', versions: 'systemd-stub 252.6 to 252.x',
    source: 'systemd-stable v252-stable (v252.31) src/boot/efi/{stub,measure,cpio,pe,util}.c, src/fundamental/tpm-pcr.[ch]; runs of Debian 252.39',
    unifiedSections: SECTIONS_252, sectionNameMatch: 'prefix', profiles: false,
    // stub.c efi_main calls pack_cpio three times, in this order.
    dropIns: [...CREDENTIALS, SYSEXT_RAW], addons: [], addonCmdlines: 'per-directory', addonSections: [], taggedEventsCountAsMeasured: false, smbios: null, smbiosCmdlineExtra: false, kernelStart: 'load-image-or-handover', appendsConsole: false, variables: VARS_252,
  },
  {
    ...common, family: '253-254', versions: 'systemd-stub 253 to 254.x',
    source: 'systemd v253, v254 src/fundamental/tpm-pcr.h (.uname, .sbat added before .pcrsig), Debian 254.26 src/boot/efi/stub.c (addons in \\\\loader\\\\addons and .extra.d: .cmdline only, one event per directory; .uname must match), cpio.c, measure.c, NEWS; runs of Debian 254.26',
    unifiedSections: SECTIONS_253, sectionNameMatch: 'prefix', profiles: false,
    dropIns: [...CREDENTIALS, SYSEXT_RAW], addons: [GLOBAL_ADDONS, PER_UKI_ADDONS], addonCmdlines: 'per-directory', addonSections: ['.cmdline'], taggedEventsCountAsMeasured: false, smbios: null, smbiosCmdlineExtra: true, kernelStart: 'load-image-or-handover', appendsConsole: false, variables: VARS_252,
  },
  {
    ...common, family: '255-256', versions: 'systemd-stub 255 to 256.x',
    source: 'systemd v255, v256 src/fundamental/uki.h (.ucode in 256), src/boot/efi/stub.c (\\loader\\addons, *.raw but not *.confext.raw, *.confext.raw), NEWS; addon sections and the tagged-event flag taken from 257 (not read for 255-256); no Debian build run',
    unifiedSections: SECTIONS_256, sectionNameMatch: 'exact', profiles: false,
    dropIns: [...CREDENTIALS, SYSEXT_255, CONFEXT_255], addons: [GLOBAL_ADDONS, PER_UKI_ADDONS], addonCmdlines: 'joined', addonSections: ADDON_SECTIONS_257, taggedEventsCountAsMeasured: false, smbios: null, smbiosCmdlineExtra: true, kernelStart: 'load-image-or-handover', appendsConsole: false,
    variables: VARS_257.filter((v) => v !== 'StubProfile'),
  },
  {
    ...common, family: '257', versions: 'systemd-stub 257.x',
    source: 'systemd v257 src/fundamental/uki.h (.profile, .dtbauto, .hwids), Debian 257.13 src/boot/stub.c (profiles, @N, devicetree/initrd/ucode addons, combine_measured_flag), measure.c (tpm_log_tagged_event), cpio.c, NEWS; runs of Debian 257.13',
    unifiedSections: SECTIONS_257, sectionNameMatch: 'exact', profiles: true,
    dropIns: [...CREDENTIALS, SYSEXT_255, CONFEXT_255], addons: [GLOBAL_ADDONS, PER_UKI_ADDONS], addonCmdlines: 'joined', addonSections: ADDON_SECTIONS_257, taggedEventsCountAsMeasured: false, smbios: null, smbiosCmdlineExtra: true, kernelStart: 'load-image-or-handover', appendsConsole: false,
    variables: VARS_257,
  },
  {
    ...common, family: '258-259', versions: 'systemd-stub 258 to 259.x',
    source: 'systemd v258 src/fundamental/uki.h (.efifw), src/boot/linux.c (own PE loader), NEWS; addons, drop-ins and the tagged-event flag as 257 (when \\\\loader\\\\extensions and the flag fix came between 257 and 262 was not pinned); no Debian build run',
    unifiedSections: SECTIONS_258, sectionNameMatch: 'exact', profiles: true,
    dropIns: [...CREDENTIALS, SYSEXT_255, CONFEXT_255], addons: [GLOBAL_ADDONS, PER_UKI_ADDONS], addonCmdlines: 'joined', addonSections: ADDON_SECTIONS_257, taggedEventsCountAsMeasured: false, smbios: null, smbiosCmdlineExtra: true, kernelStart: 'own-pe-loader', appendsConsole: false,
    variables: VARS_257,
  },
  {
    ...common, family: '260-262',
    versions: 'systemd-stub 261 to 262.x',
    source: 'systemd main docs/TPM2_PCR_MEASUREMENTS.md (PCR 1 SMBIOS tagged events, LoaderPcrSMBIOS), src/fundamental/uki.h, src/boot/stub.c (\\\\loader\\\\extensions, cmdline_append_console), console.c, NEWS; the strings of Debian 262.1 and runs of it',
    unifiedSections: SECTIONS_258, sectionNameMatch: 'exact', profiles: true,
    dropIns: DROP_INS_262, addons: [GLOBAL_ADDONS, PER_UKI_ADDONS], addonCmdlines: 'joined', addonSections: ADDON_SECTIONS_257, taggedEventsCountAsMeasured: true, smbios: SMBIOS_261, smbiosCmdlineExtra: true, kernelStart: 'own-pe-loader', appendsConsole: true,
    variables: VARS_261,
  },
];

const family = (key: string): StubMeasurementRules => STUB_FAMILIES.find((f) => f.family === key)!;

/**
 * Researched versions, by [first major, last major, first patch of the first major]. 252.0-252.5 differ in the command
 * line: before 252.3 LoadOptions were squeezed to ASCII, before 252.6 mangle_stub_cmdline kept trailing spaces
 * (systemd-stable 7ca40a8b08, 6882211df7); they are refused rather than predicted wrongly. SMBIOS measurement came in
 * 261; 260 is listed with 261-262 on the strength of its NEWS (no 260 build was run) and differs in that.
 */
const TABLE: readonly { readonly fromMajor: number; readonly toMajor: number; readonly fromPatch: number; readonly rules: StubMeasurementRules }[] = [
  { fromMajor: 252, toMajor: 252, fromPatch: 6, rules: family('252') },
  { fromMajor: 253, toMajor: 254, fromPatch: 0, rules: family('253-254') },
  { fromMajor: 255, toMajor: 256, fromPatch: 0, rules: family('255-256') },
  { fromMajor: 257, toMajor: 257, fromPatch: 0, rules: family('257') },
  { fromMajor: 258, toMajor: 259, fromPatch: 0, rules: family('258-259') },
  { fromMajor: 260, toMajor: 260, fromPatch: 0, rules: { ...family('260-262'), versions: 'systemd-stub 260.x', smbios: null, appendsConsole: false, variables: VARS_257 } },
  { fromMajor: 261, toMajor: 262, fromPatch: 0, rules: family('260-262') },
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
  const entry = TABLE.find((e) => v.major >= e.fromMajor && v.major <= e.toMajor && (v.major > e.fromMajor || v.patch >= e.fromPatch));
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
      const prefix = s.rawName.subarray(0, name.length).equals(Buffer.from(name, 'latin1'));
      const exact = prefix && (name.length === 8 || s.rawName[name.length] === 0);
      if (rules.sectionNameMatch === 'prefix' ? prefix : exact) found.set(name, s);
    }
  }
  for (const [name, s] of found) if (s.virtualSize === 0) found.delete(name);
  return found;
}

/**
 * Multi-profile UKIs (257+, stub.c and pe.c pe_locate_profile_sections): the sections before the first ".profile" are
 * the base; each ".profile" starts a profile that runs to the next one. The chosen profile's unified sections (its
 * ".profile" included) replace the base's sections of the same name. A UKI without ".profile" has just profile 0.
 * undefined: the profile does not exist.
 */
export function locateProfileSections(pe: PeImage, rules: StubMeasurementRules, profile: number): Map<string, PeSection> | undefined {
  const isProfile = (s: PeSection): boolean => s.name === '.profile';
  const firstProfile = pe.sections.findIndex(isProfile);
  if (!rules.profiles || firstProfile < 0) {
    return profile === 0 ? locateUnifiedSections(pe, rules) : undefined;
  }
  const base = locateUnifiedSections({ ...pe, sections: pe.sections.slice(0, firstProfile) }, rules);
  const starts = pe.sections.map((s, i) => (isProfile(s) ? i : -1)).filter((i) => i >= 0);
  if (profile >= starts.length) return undefined;
  const end = profile + 1 < starts.length ? starts[profile + 1] : pe.sections.length;
  const own = locateUnifiedSections({ ...pe, sections: pe.sections.slice(starts[profile], end) }, rules);
  return new Map([...base, ...own]);
}

/**
 * stub.c (257+): LoadOptions starting with "@N" choose profile N; whitespace after the number is skipped and the rest,
 * if any, is the command line. Returns the profile and the remaining text (undefined: nothing left).
 */
export function profileFromLoadOptions(text: string | undefined): { profile: number; rest: string | undefined } {
  if (text === undefined) return { profile: 0, rest: undefined };
  const m = /^@(\d+)[ \t]*/.exec(text.replace(/\0[\s\S]*$/, ''));
  if (!m) return { profile: 0, rest: text };
  const rest = text.slice(m[0].length);
  return { profile: Number(m[1]), rest: rest.replace(/\0[\s\S]*$/, '') === '' ? undefined : rest };
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
export function selectDropIns(names: readonly string[], suffix: string, excludeSuffix?: string): string[] {
  return names.filter((n) => !n.startsWith('.') && n.toLowerCase().endsWith(suffix.toLowerCase())
    && (excludeSuffix === undefined || !n.toLowerCase().endsWith(excludeSuffix.toLowerCase()))
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

/**
 * stub.c combine_measured_flag: -1 "nothing submitted yet", 0 "something was not measured", 1 "measured"; the first
 * contribution is taken as it is, later ones can only clear it.
 */
export type MeasuredFlag = -1 | 0 | 1;
export function combineMeasuredFlag(value: MeasuredFlag, measured: MeasuredFlag): MeasuredFlag {
  if (measured < 0) return value;
  return value < 0 ? measured : value && measured ? 1 : 0;
}

/**
 * stub.c load_addons: an addon whose .uname is set must match the UKI's (strneq8 over the addon's section size: equal
 * characters up to the first NUL of both); an addon without .uname, or a UKI without one, always matches.
 */
export function addonUnameMatches(ukiUname: Buffer | undefined, addonUname: Buffer | undefined): boolean {
  if (!ukiUname || !addonUname) return true;
  const uki = ukiUname.subarray(0, ukiUname.indexOf(0) < 0 ? ukiUname.length : ukiUname.indexOf(0));
  for (let i = 0; i < addonUname.length; i++) {
    const a = i < uki.length ? uki[i] : 0;
    if (a !== addonUname[i]) return false;
    if (a === 0) return true;
  }
  return true;
}
