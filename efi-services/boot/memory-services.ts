// EFI_BOOT_SERVICES memory services (UEFI 2.10 §7.2): AllocatePages, FreePages, GetMemoryMap, AllocatePool, FreePool.
import { hex } from '../../core/hex';
import { BootServicesImpl } from '../tables/boot-services-decl';
import { CallInfo } from '../../core/abi';
import { Platform } from '../platform';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_SUCCESS, EfiError, EfiStatus } from '../../core/status';
import { AllocationLimitError, MemoryDescriptor, MemoryMap } from './memory-map';
import { AllocateAddress, AllocateMaxAddress, isAllocatableType, MaxAllocateType } from './memory-types';
import { Pool } from './pool';

/** EFI_MEMORY_DESCRIPTOR field offsets (UEFI 2.10 §7.2.3; Type is a UINT32 followed by 4 bytes of padding). */
export const MEMORY_DESCRIPTOR = {
  Type: 0,
  PhysicalStart: 8,
  VirtualStart: 16,
  NumberOfPages: 24,
  Attribute: 32,
} as const;
export const EFI_MEMORY_DESCRIPTOR_SIZE = 40;
if (MEMORY_DESCRIPTOR.Attribute + 8 !== EFI_MEMORY_DESCRIPTOR_SIZE) throw new Error('EFI_MEMORY_DESCRIPTOR layout');

/**
 * The DescriptorSize GetMemoryMap reports: edk2 pads each descriptor to 48 bytes so that consumers which index by
 * sizeof(EFI_MEMORY_DESCRIPTOR) instead of DescriptorSize break here as they would on real machines.
 */
export const DESCRIPTOR_STRIDE = 48;
export const EFI_MEMORY_DESCRIPTOR_VERSION = 1;

/** The memory map as GetMemoryMap lays it out in guest memory, DESCRIPTOR_STRIDE bytes per descriptor. */
export function encodeMemoryMap(descriptors: readonly MemoryDescriptor[]): Buffer {
  const b = Buffer.alloc(descriptors.length * DESCRIPTOR_STRIDE);
  descriptors.forEach((d, i) => {
    const o = i * DESCRIPTOR_STRIDE;
    b.writeUInt32LE(d.type >>> 0, o + MEMORY_DESCRIPTOR.Type);
    b.writeBigUInt64LE(d.physicalStart, o + MEMORY_DESCRIPTOR.PhysicalStart);
    b.writeBigUInt64LE(d.virtualStart, o + MEMORY_DESCRIPTOR.VirtualStart);
    b.writeBigUInt64LE(d.numberOfPages, o + MEMORY_DESCRIPTOR.NumberOfPages);
    b.writeBigUInt64LE(d.attribute, o + MEMORY_DESCRIPTOR.Attribute);
  });
  return b;
}

export function memoryServices(
  platform: Platform, map: MemoryMap, pool: Pool, onGuestError: (message: string) => void,
): BootServicesImpl {
  const mem = platform.mem;

  /** A model refusal becomes the call's status, with its reason in the trace; hitting stubemu's limits is a guest error. */
  function refused(e: unknown, call: CallInfo): EfiStatus {
    if (!(e instanceof EfiError)) throw e;
    if (e instanceof AllocationLimitError) onGuestError(e.message);
    call.note(e.message);
    return e.status;
  }

  return {
    // UEFI 2.10 §7.2 AllocatePages: Type, MemoryType, then Memory NULL; *Memory is an input for
    // AllocateMaxAddress (inclusive limit) and AllocateAddress (exact start).
    AllocatePages([type, memoryType, pages, memory], call) {
      if (type >= BigInt(MaxAllocateType)) return EFI_INVALID_PARAMETER;
      if (!isAllocatableType(Number(memoryType))) return EFI_INVALID_PARAMETER;
      if (memory === 0n) return EFI_INVALID_PARAMETER;
      const t = Number(type);
      const address = t === AllocateMaxAddress || t === AllocateAddress ? mem.u64(memory) : undefined;
      let start: bigint;
      try {
        start = map.allocatePages(t, Number(memoryType), pages, address, 'guest');
      } catch (e) {
        return refused(e, call);
      }
      mem.setU64(memory, start);
      call.note(`*Memory = ${hex(start)}`);
      return EFI_SUCCESS;
    },

    // UEFI 2.10 §7.2 FreePages: only pages the guest got from AllocatePages.
    FreePages([memory, pages], call) {
      try {
        map.freePages(memory, pages, 'guest');
      } catch (e) {
        if (e instanceof EfiError) onGuestError(e.message);
        return refused(e, call);
      }
      return EFI_SUCCESS;
    },

    // UEFI 2.10 §7.2 GetMemoryMap. As edk2 does, DescriptorSize and DescriptorVersion are written before the size
    // check (Linux libstub sizes its buffer from the probing call's DescriptorSize) and *MemoryMapSize always
    // receives the size needed; MapKey is written only with a map.
    GetMemoryMap([memoryMapSize, memoryMap, mapKey, descriptorSize, descriptorVersion], call) {
      if (memoryMapSize === 0n) return EFI_INVALID_PARAMETER;
      const given = mem.u64(memoryMapSize);
      const image = encodeMemoryMap(map.descriptors());
      if (descriptorSize !== 0n) mem.setU64(descriptorSize, BigInt(DESCRIPTOR_STRIDE));
      if (descriptorVersion !== 0n) mem.setU32(descriptorVersion, EFI_MEMORY_DESCRIPTOR_VERSION);
      mem.setU64(memoryMapSize, BigInt(image.length));
      if (given < BigInt(image.length)) return EFI_BUFFER_TOO_SMALL;
      if (memoryMap === 0n) return EFI_INVALID_PARAMETER;
      mem.write(memoryMap, image);
      if (mapKey !== 0n) mem.setU64(mapKey, BigInt(map.mapKey));
      call.note(`${image.length / DESCRIPTOR_STRIDE} descriptors, MapKey ${map.mapKey}`);
      return EFI_SUCCESS;
    },

    // UEFI 2.10 §7.2 AllocatePool: PoolType, then Buffer NULL; *Buffer is NULL on failure (edk2 clears it first).
    AllocatePool([poolType, size, buffer], call) {
      if (!isAllocatableType(Number(poolType))) return EFI_INVALID_PARAMETER;
      if (buffer === 0n) return EFI_INVALID_PARAMETER;
      mem.setU64(buffer, 0n);
      let address: bigint;
      try {
        address = pool.allocate(Number(poolType), size, 'guest');
      } catch (e) {
        return refused(e, call);
      }
      mem.setU64(buffer, address);
      call.note(`*Buffer = ${hex(address)}`);
      return EFI_SUCCESS;
    },

    // UEFI 2.10 §7.2 FreePool: EFI_INVALID_PARAMETER for a Buffer that AllocatePool did not return (edk2 checks
    // its pool header signature; stubemu keeps the record on the host where the guest cannot overwrite it).
    FreePool([buffer], call) {
      const what = `FreePool: ${hex(buffer)}`;
      let problem: string | undefined;
      if (buffer === 0n) problem = 'FreePool: NULL pointer';
      else {
        const r = pool.free(buffer, 'guest');
        if (r === 'double-free') problem = `${what} already freed`;
        else if (r === 'not-allocated') {
          // The pool remembers only its recent frees (POOL_FREED_HISTORY): once it has forgotten one, say so.
          problem = pool.forgetsFrees
            ? `${what} was not allocated, or was freed more than ${pool.freedHistory} frees ago`
            : `${what} was never allocated`;
        }
        else if (r === 'firmware-owned') problem = `${what} is firmware memory`;
      }
      if (problem === undefined) return EFI_SUCCESS;
      onGuestError(problem);
      call.note(problem);
      return EFI_INVALID_PARAMETER;
    },
  };
}
