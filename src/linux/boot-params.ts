// struct boot_params, the x86 "zero page" (Linux Documentation/arch/x86/zero-page.rst, boot.rst), decoded
// from guest memory: the setup header, command line, initrd, e820, efi_info, screen_info, setup_data.
import { hex } from '../../core/hex';
import { GuestMemory } from '../../core/guest-memory';
import { SETUP_HEADER, SETUP_HEADER_OFFSET } from '../uki/setup-header';

export const BOOT_PARAMS = {
  screen_info: 0x000,
  acpi_rsdp_addr: 0x070,
  ext_ramdisk_image: 0x0c0,
  ext_ramdisk_size: 0x0c4,
  ext_cmd_line_ptr: 0x0c8,
  efi_info: 0x1c0,
  e820_entries: 0x1e8,
  hdr: 0x1f1,
  e820_table: 0x2d0,
  E820_MAX_ENTRIES_ZEROPAGE: 128,
  size: 0x1000,
} as const;

/** "EL64" in efi_info.efi_loader_signature once an x86_64 EFI loader filled it. */
export const EFI64_LOADER_SIGNATURE = 0x34364c45;

const E820_TYPES: Record<number, string> = { 1: 'RAM', 2: 'RESERVED', 3: 'ACPI', 4: 'NVS', 5: 'UNUSABLE', 7: 'PMEM', 12: 'PRAM', 0xefffffff: 'SOFT_RESERVED' };
const SETUP_DATA_TYPES: Record<number, string> = { 1: 'SETUP_E820_EXT', 2: 'SETUP_DTB', 3: 'SETUP_PCI', 4: 'SETUP_EFI', 5: 'SETUP_APPLE_PROPERTIES', 6: 'SETUP_JAILHOUSE', 7: 'SETUP_CC_BLOB', 8: 'SETUP_IMA', 9: 'SETUP_RNG_SEED', 0x1000000: 'SETUP_INDIRECT' };

/** The setup header fields of a boot_params page (the same layout as in a bzImage's first sectors). */
export function decodeSetupHeader(page: Buffer): Record<string, number | bigint> {
  return { ...SETUP_HEADER.parse(page, SETUP_HEADER_OFFSET) } as Record<string, number | bigint>;
}

export interface BootParamsReport {
  address: string;
  setupHeader: Record<string, string>;
  cmdline: { address: string; text: string } | null;
  ramdisk: { address: string; size: number } | null;
  acpiRsdpAddr: string;
  efiInfo: Record<string, string>;
  screenInfo: Record<string, string>;
  e820: { addr: string; size: string; type: string }[];
  setupData: { address: string; type: string; length: number }[];
}

/** Decodes boot_params at `at`; pointers inside it are followed through guest memory (bounds-checked). */
export function decodeBootParams(mem: GuestMemory, at: bigint): BootParamsReport {
  const page = mem.read(at, BOOT_PARAMS.size);
  const hdr = decodeSetupHeader(page);
  const cmdPtr = BigInt(hdr.cmd_line_ptr as number) | (BigInt(page.readUInt32LE(BOOT_PARAMS.ext_cmd_line_ptr)) << 32n);
  const rdImage = BigInt(hdr.ramdisk_image as number) | (BigInt(page.readUInt32LE(BOOT_PARAMS.ext_ramdisk_image)) << 32n);
  const rdSize = (hdr.ramdisk_size as number) + page.readUInt32LE(BOOT_PARAMS.ext_ramdisk_size) * 2 ** 32;
  const n = Math.min(page[BOOT_PARAMS.e820_entries], BOOT_PARAMS.E820_MAX_ENTRIES_ZEROPAGE);
  const e820 = [];
  for (let i = 0; i < n; i++) {
    const o = BOOT_PARAMS.e820_table + 20 * i;
    const type = page.readUInt32LE(o + 16);
    e820.push({ addr: hex(page.readBigUInt64LE(o)), size: hex(page.readBigUInt64LE(o + 8)), type: E820_TYPES[type] ?? hex(type) });
  }
  const ei = BOOT_PARAMS.efi_info;
  const efiInfo = {
    efi_loader_signature: page.subarray(ei, ei + 4).toString('latin1'),
    efi_systab: hex(BigInt(page.readUInt32LE(ei + 4)) | (BigInt(page.readUInt32LE(ei + 24)) << 32n)),
    efi_memdesc_size: hex(page.readUInt32LE(ei + 8)),
    efi_memdesc_version: hex(page.readUInt32LE(ei + 12)),
    efi_memmap: hex(BigInt(page.readUInt32LE(ei + 16)) | (BigInt(page.readUInt32LE(ei + 28)) << 32n)),
    efi_memmap_size: hex(page.readUInt32LE(ei + 20)),
  };
  const si = BOOT_PARAMS.screen_info;
  const screenInfo = {
    orig_video_isVGA: hex(page[si + 0x0f]),
    lfb_width: String(page.readUInt16LE(si + 0x12)),
    lfb_height: String(page.readUInt16LE(si + 0x14)),
    lfb_depth: String(page.readUInt16LE(si + 0x16)),
    lfb_base: hex(BigInt(page.readUInt32LE(si + 0x18)) | (BigInt(page.readUInt32LE(si + 0x3a)) << 32n)),
    lfb_size: hex(page.readUInt32LE(si + 0x1c)),
    lfb_linelength: String(page.readUInt16LE(si + 0x24)),
  };
  const setupData = [];
  let next = hdr.setup_data as bigint;
  for (let guard = 0; next !== 0n && guard < 64; guard++) {
    const type = mem.u32(next + 8n);
    const len = mem.u32(next + 12n);
    setupData.push({ address: hex(next), type: SETUP_DATA_TYPES[type] ?? hex(type), length: len });
    next = mem.u64(next);
  }
  const setupHeader: Record<string, string> = {};
  for (const [k, v] of Object.entries(hdr)) setupHeader[k] = hex(v);
  return {
    address: hex(at),
    setupHeader,
    cmdline: cmdPtr !== 0n ? { address: hex(cmdPtr), text: mem.asciiz(cmdPtr, 1 << 20) } : null,
    ramdisk: rdImage !== 0n && rdSize > 0 ? { address: hex(rdImage), size: rdSize } : null,
    acpiRsdpAddr: hex(page.readBigUInt64LE(BOOT_PARAMS.acpi_rsdp_addr)),
    efiInfo,
    screenInfo,
    e820,
    setupData,
  };
}

/**
 * Is this page the boot_params an x86_64 EFI stub prepared for this firmware? Its efi_info carries "EL64" and
 * our system table (arch/x86/boot/compressed/efi.h). "HdrS" is not required: since the stub stopped copying the
 * whole setup header (Linux 6.8, backported to 6.1.y), boot_params only holds the fields the kernel uses.
 */
export function looksLikeBootParams(page: Buffer, systemTable: bigint): boolean {
  if (page.length < BOOT_PARAMS.size || page.readUInt32LE(BOOT_PARAMS.efi_info) !== EFI64_LOADER_SIGNATURE) return false;
  const ei = BOOT_PARAMS.efi_info;
  const systab = BigInt(page.readUInt32LE(ei + 4)) | (BigInt(page.readUInt32LE(ei + 24)) << 32n);
  return systab === systemTable;
}
