// EFI_MEMORY_TYPE, memory attribute bits and EFI_ALLOCATE_TYPE (UEFI 2.10 §7.2.1).

export const EFI_PAGE_SIZE = 0x1000;
export const EFI_PAGE_SHIFT = 12n;
export const EFI_PAGE_MASK = 0xfffn;

/** EFI_MEMORY_TYPE (UEFI 2.10 §7.2.1, "Memory Type Usage before/after ExitBootServices()"). */
export const EfiReservedMemoryType = 0;
export const EfiLoaderCode = 1;
export const EfiLoaderData = 2;
export const EfiBootServicesCode = 3;
export const EfiBootServicesData = 4;
export const EfiRuntimeServicesCode = 5;
export const EfiRuntimeServicesData = 6;
export const EfiConventionalMemory = 7;
export const EfiUnusableMemory = 8;
export const EfiACPIReclaimMemory = 9;
export const EfiACPIMemoryNVS = 10;
export const EfiMemoryMappedIO = 11;
export const EfiMemoryMappedIOPortSpace = 12;
export const EfiPalCode = 13;
export const EfiPersistentMemory = 14;
export const EfiUnacceptedMemoryType = 15;
export const EfiMaxMemoryType = 16;

/** UEFI 2.10 §7.2.1: 0x70000000..0x7FFFFFFF are reserved for OEM use, 0x80000000..0xFFFFFFFF for OS loaders. */
export const MEMORY_TYPE_OEM_RESERVED_MIN = 0x7000_0000;
export const MEMORY_TYPE_OEM_RESERVED_MAX = 0x7fff_ffff;
export const MEMORY_TYPE_OS_RESERVED_MIN = 0x8000_0000;
export const MEMORY_TYPE_OS_RESERVED_MAX = 0xffff_ffff;

const TYPE_NAMES = [
  'EfiReservedMemoryType', 'EfiLoaderCode', 'EfiLoaderData', 'EfiBootServicesCode', 'EfiBootServicesData',
  'EfiRuntimeServicesCode', 'EfiRuntimeServicesData', 'EfiConventionalMemory', 'EfiUnusableMemory',
  'EfiACPIReclaimMemory', 'EfiACPIMemoryNVS', 'EfiMemoryMappedIO', 'EfiMemoryMappedIOPortSpace', 'EfiPalCode',
  'EfiPersistentMemory', 'EfiUnacceptedMemoryType',
];

export function memoryTypeName(t: number): string {
  if (Number.isInteger(t) && t >= 0 && t < EfiMaxMemoryType) return TYPE_NAMES[t];
  const hex = `0x${(t >>> 0).toString(16)}`;
  if (t >= MEMORY_TYPE_OEM_RESERVED_MIN && t <= MEMORY_TYPE_OEM_RESERVED_MAX) return `OemReserved(${hex})`;
  if (t >= MEMORY_TYPE_OS_RESERVED_MIN && t <= MEMORY_TYPE_OS_RESERVED_MAX) return `OsReserved(${hex})`;
  return `InvalidMemoryType(${hex})`;
}

/**
 * Whether AllocatePages/AllocatePool accept `t` (UEFI 2.10 §7.2 AllocatePages, AllocatePool: EFI_INVALID_PARAMETER
 * for EfiMaxMemoryType..0x6FFFFFFF, EfiPersistentMemory, EfiUnacceptedMemoryType; edk2 CoreInternalAllocatePages
 * also refuses EfiConventionalMemory, which is what "free" means).
 */
export function isAllocatableType(t: number): boolean {
  if (!Number.isInteger(t) || t < 0 || t > MEMORY_TYPE_OS_RESERVED_MAX) return false;
  if (t >= EfiMaxMemoryType && t < MEMORY_TYPE_OEM_RESERVED_MIN) return false;
  return t !== EfiConventionalMemory && t !== EfiPersistentMemory && t !== EfiUnacceptedMemoryType;
}

/** Types that stay in use after ExitBootServices and get EFI_MEMORY_RUNTIME (UEFI 2.10 §7.2.1, §8.4). */
export function isRuntimeType(t: number): boolean {
  return t === EfiRuntimeServicesCode || t === EfiRuntimeServicesData;
}

/** Memory attribute definitions (UEFI 2.10 §7.2.3, EFI_MEMORY_DESCRIPTOR.Attribute). */
export const EFI_MEMORY_UC = 0x1n;
export const EFI_MEMORY_WC = 0x2n;
export const EFI_MEMORY_WT = 0x4n;
export const EFI_MEMORY_WB = 0x8n;
export const EFI_MEMORY_UCE = 0x10n;
export const EFI_MEMORY_WP = 0x1000n;
export const EFI_MEMORY_RP = 0x2000n;
export const EFI_MEMORY_XP = 0x4000n;
export const EFI_MEMORY_NV = 0x8000n;
export const EFI_MEMORY_MORE_RELIABLE = 0x10000n;
export const EFI_MEMORY_RO = 0x20000n;
export const EFI_MEMORY_SP = 0x40000n;
export const EFI_MEMORY_CPU_CRYPTO = 0x80000n;
export const EFI_MEMORY_ISA_VALID = 1n << 62n;
export const EFI_MEMORY_RUNTIME = 1n << 63n;

/** Cacheability that system RAM advertises (edk2 reports UC|WC|WT|WB for tested DRAM). */
export const RAM_ATTRIBUTES = EFI_MEMORY_UC | EFI_MEMORY_WC | EFI_MEMORY_WT | EFI_MEMORY_WB;

/** EFI_ALLOCATE_TYPE (UEFI 2.10 §7.2 AllocatePages). */
export const AllocateAnyPages = 0;
export const AllocateMaxAddress = 1;
export const AllocateAddress = 2;
export const MaxAllocateType = 3;

export type AllocateType = typeof AllocateAnyPages | typeof AllocateMaxAddress | typeof AllocateAddress;

export function pagesToBytes(pages: bigint): bigint {
  return pages << EFI_PAGE_SHIFT;
}

/** EFI_SIZE_TO_PAGES. */
export function bytesToPages(size: bigint): bigint {
  return (size + EFI_PAGE_MASK) >> EFI_PAGE_SHIFT;
}
