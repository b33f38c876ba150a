// The Linux x86 boot protocol setup header of a bzImage (Documentation/arch/x86/boot.rst "The Real-Mode Kernel Header").
import { StructDef } from '../../pe/pe-format';

/** The header starts at 0x1f1 in the file (boot.rst: "the setup header ... at offset 0x01f1"). */
export const SETUP_HEADER_OFFSET = 0x1f1;
export const BOOT_FLAG = 0xaa55;
export const HDRS_MAGIC = 0x53726448; // "HdrS"

/** Fields in boot.rst order; the size assertion below ties the table to the protocol 2.15 layout (ends at 0x26c). */
export const SETUP_HEADER = new StructDef('setup_header', [
  ['setup_sects', 'u8'], ['root_flags', 'u16'], ['syssize', 'u32'], ['ram_size', 'u16'], ['vid_mode', 'u16'],
  ['root_dev', 'u16'], ['boot_flag', 'u16'], ['jump', 'u16'], ['header', 'u32'], ['version', 'u16'],
  ['realmode_swtch', 'u32'], ['start_sys_seg', 'u16'], ['kernel_version', 'u16'], ['type_of_loader', 'u8'],
  ['loadflags', 'u8'], ['setup_move_size', 'u16'], ['code32_start', 'u32'], ['ramdisk_image', 'u32'],
  ['ramdisk_size', 'u32'], ['bootsect_kludge', 'u32'], ['heap_end_ptr', 'u16'], ['ext_loader_ver', 'u8'],
  ['ext_loader_type', 'u8'], ['cmd_line_ptr', 'u32'], ['initrd_addr_max', 'u32'], ['kernel_alignment', 'u32'],
  ['relocatable_kernel', 'u8'], ['min_alignment', 'u8'], ['xloadflags', 'u16'], ['cmdline_size', 'u32'],
  ['hardware_subarch', 'u32'], ['hardware_subarch_data', 'u64'], ['payload_offset', 'u32'], ['payload_length', 'u32'],
  ['setup_data', 'u64'], ['pref_address', 'u64'], ['init_size', 'u32'], ['handover_offset', 'u32'],
  ['kernel_info_offset', 'u32'],
] as const);
if (SETUP_HEADER.size !== 0x26c - SETUP_HEADER_OFFSET || SETUP_HEADER.offsetOf('header') !== 0x202 - SETUP_HEADER_OFFSET
  || SETUP_HEADER.offsetOf('handover_offset') !== 0x264 - SETUP_HEADER_OFFSET) {
  throw new Error(`setup_header: table is ${SETUP_HEADER.size} bytes, boot.rst says ${0x26c - SETUP_HEADER_OFFSET}`);
}

type FieldName = typeof SETUP_HEADER.fields[number][0];

/** The boot protocol version that introduced each field (boot.rst "Protocol" column); older kernels leave them undefined. */
const SINCE: Partial<Record<FieldName, number>> = {
  heap_end_ptr: 0x201, ext_loader_ver: 0x202, ext_loader_type: 0x202, cmd_line_ptr: 0x202, initrd_addr_max: 0x203,
  kernel_alignment: 0x205, relocatable_kernel: 0x205, min_alignment: 0x20a, xloadflags: 0x20c, cmdline_size: 0x206,
  hardware_subarch: 0x207, hardware_subarch_data: 0x207, payload_offset: 0x208, payload_length: 0x208,
  setup_data: 0x209, pref_address: 0x20a, init_size: 0x20a, handover_offset: 0x20b, kernel_info_offset: 0x20f,
};

// loadflags and xloadflags bits (boot.rst "Details of header fields").
export const LOADFLAGS = { LOADED_HIGH: 0x01, KASLR_FLAG: 0x02, QUIET_FLAG: 0x20, KEEP_SEGMENTS: 0x40, CAN_USE_HEAP: 0x80 } as const;
export const XLOADFLAGS = {
  XLF_KERNEL_64: 0x01, XLF_CAN_BE_LOADED_ABOVE_4G: 0x02, XLF_EFI_HANDOVER_32: 0x04, XLF_EFI_HANDOVER_64: 0x08,
  XLF_EFI_KEXEC: 0x10, XLF_5LEVEL: 0x20, XLF_5LEVEL_ENABLED: 0x40,
} as const;

export class SetupHeaderError extends Error {
  override readonly name = 'SetupHeaderError';
  constructor(readonly what: string, readonly detail: string) {
    super(`${what}: ${detail}`);
  }
}

export interface SetupHeader {
  /** Every field, number or bigint; fields newer than `version` are undefined. */
  readonly fields: { readonly [K in FieldName]?: number | bigint };
  /** Protocol version, e.g. 0x20f for 2.15. */
  readonly version: number;
  /** setup_sects with 0 read as 4 (boot.rst); the real-mode code is (setup_sects + 1) * 512 bytes. */
  readonly setupSects: number;
  readonly setupSize: number;
  /** The string at kernel_version + 0x200, e.g. "6.1.0-56-cloud-amd64 (debian-kernel@...) #1 SMP ...". */
  readonly kernelVersion: string | undefined;
  readonly loadflagNames: readonly string[];
  readonly xloadflagNames: readonly string[];
}

/** True when `file` carries a setup header: boot_flag 0xAA55 at 0x1fe and "HdrS" at 0x202. */
export function hasSetupHeader(file: Buffer): boolean {
  return file.length >= 0x206 && file.readUInt16LE(0x1fe) === BOOT_FLAG && file.readUInt32LE(0x202) === HDRS_MAGIC;
}

const flagNames = (value: number, table: Readonly<Record<string, number>>): string[] =>
  Object.entries(table).filter(([, bit]) => (value & bit) !== 0).map(([name]) => name);

/** Reads the setup header of a bzImage; no boot flag, no "HdrS" or a truncated header throws SetupHeaderError. */
export function parseSetupHeader(file: Buffer, what = 'kernel'): SetupHeader {
  if (file.length < 0x206) throw new SetupHeaderError(what, `${file.length} bytes is too short for a bzImage setup header (needs 0x206)`);
  if (file.readUInt16LE(0x1fe) !== BOOT_FLAG) {
    throw new SetupHeaderError(what, `boot_flag at 0x1fe is 0x${file.readUInt16LE(0x1fe).toString(16)}, not 0xaa55: not a Linux bzImage`);
  }
  if (file.readUInt32LE(0x202) !== HDRS_MAGIC) {
    throw new SetupHeaderError(what, 'no "HdrS" at 0x202: not a Linux bzImage (or boot protocol older than 2.00)');
  }
  const version = file.readUInt16LE(0x206);
  // The header's own extent: the 2-byte jump at 0x200 lands right after it (boot.rst "jump").
  const end = Math.min(0x202 + file[0x201], SETUP_HEADER_OFFSET + SETUP_HEADER.size);
  if (file.length < SETUP_HEADER_OFFSET + SETUP_HEADER.size) {
    throw new SetupHeaderError(what, `${file.length} bytes is too short for the 0x${(SETUP_HEADER_OFFSET + SETUP_HEADER.size).toString(16)}-byte setup header`);
  }
  const raw = SETUP_HEADER.parse(file, SETUP_HEADER_OFFSET);
  const fields: { [K in FieldName]?: number | bigint } = {};
  SETUP_HEADER.fields.forEach(([name], i) => {
    const next = SETUP_HEADER.fields[i + 1];
    const fieldEnd = SETUP_HEADER_OFFSET + (next ? SETUP_HEADER.offsetOf(next[0]) : SETUP_HEADER.size);
    if (version >= (SINCE[name] ?? 0) && fieldEnd <= end) fields[name] = raw[name] as number | bigint;
  });
  const setupSects = raw.setup_sects === 0 ? 4 : raw.setup_sects;
  let kernelVersion: string | undefined;
  if (raw.kernel_version !== 0) {
    const at = raw.kernel_version + 0x200;
    if (at < file.length) {
      const nul = file.indexOf(0, at);
      kernelVersion = file.toString('latin1', at, Math.min(nul < 0 ? file.length : nul, at + 256));
    }
  }
  return {
    fields, version, setupSects, setupSize: (setupSects + 1) * 512, kernelVersion,
    loadflagNames: flagNames(raw.loadflags, LOADFLAGS),
    xloadflagNames: version >= 0x20c ? flagNames(raw.xloadflags, XLOADFLAGS) : [],
  };
}

/**
 * The release ("uname -r") at the start of kernel_version, as ukify scrapes it for .uname: "RELEASE (BUILDER) #..."
 * (ukify's pattern, also accepting '+' and capitals, which local kernel builds use).
 * Undefined when the string does not have that shape.
 */
export function unameFromKernelVersion(kernelVersion: string | undefined): string | undefined {
  if (kernelVersion === undefined) return undefined;
  const m = /^([a-z0-9._+-]+) \([^ )]+\) #/i.exec(kernelVersion);
  return m ? m[1] : undefined;
}

/** "2.15" from 0x20f. */
export function protocolString(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
}
