// EFI_LOADED_IMAGE_PROTOCOL (UEFI 2.10 §9.1): the structure the firmware fills for every image it loads.
import { GuestMemory } from '../../core/guest-memory';

export const EFI_LOADED_IMAGE_PROTOCOL_REVISION = 0x1000;

/** Field offsets on x64. */
export const LOADED_IMAGE = {
  Revision: 0,
  ParentHandle: 8,
  SystemTable: 16,
  DeviceHandle: 24,
  FilePath: 32,
  Reserved: 40,
  LoadOptionsSize: 48,
  LoadOptions: 56,
  ImageBase: 64,
  ImageSize: 72,
  ImageCodeType: 80,
  ImageDataType: 84,
  Unload: 88,
  size: 96,
} as const;

export interface LoadedImageFields {
  parentHandle: bigint;
  systemTable: bigint;
  deviceHandle: bigint;
  filePath: bigint;
  loadOptionsSize: number;
  loadOptions: bigint;
  imageBase: bigint;
  imageSize: bigint;
  imageCodeType: number;
  imageDataType: number;
}

export function writeLoadedImage(mem: GuestMemory, at: bigint, f: LoadedImageFields): void {
  mem.fill(at, LOADED_IMAGE.size, 0);
  mem.setU32(at + BigInt(LOADED_IMAGE.Revision), EFI_LOADED_IMAGE_PROTOCOL_REVISION);
  mem.setU64(at + BigInt(LOADED_IMAGE.ParentHandle), f.parentHandle);
  mem.setU64(at + BigInt(LOADED_IMAGE.SystemTable), f.systemTable);
  mem.setU64(at + BigInt(LOADED_IMAGE.DeviceHandle), f.deviceHandle);
  mem.setU64(at + BigInt(LOADED_IMAGE.FilePath), f.filePath);
  mem.setU32(at + BigInt(LOADED_IMAGE.LoadOptionsSize), f.loadOptionsSize);
  mem.setU64(at + BigInt(LOADED_IMAGE.LoadOptions), f.loadOptions);
  mem.setU64(at + BigInt(LOADED_IMAGE.ImageBase), f.imageBase);
  mem.setU64(at + BigInt(LOADED_IMAGE.ImageSize), f.imageSize);
  mem.setU32(at + BigInt(LOADED_IMAGE.ImageCodeType), f.imageCodeType);
  mem.setU32(at + BigInt(LOADED_IMAGE.ImageDataType), f.imageDataType);
}

/** What the guest has in the structure now (it may change LoadOptions or set Unload). */
export function readLoadedImage(mem: GuestMemory, at: bigint): LoadedImageFields & { unload: bigint } {
  return {
    parentHandle: mem.u64(at + BigInt(LOADED_IMAGE.ParentHandle)),
    systemTable: mem.u64(at + BigInt(LOADED_IMAGE.SystemTable)),
    deviceHandle: mem.u64(at + BigInt(LOADED_IMAGE.DeviceHandle)),
    filePath: mem.u64(at + BigInt(LOADED_IMAGE.FilePath)),
    loadOptionsSize: mem.u32(at + BigInt(LOADED_IMAGE.LoadOptionsSize)),
    loadOptions: mem.u64(at + BigInt(LOADED_IMAGE.LoadOptions)),
    imageBase: mem.u64(at + BigInt(LOADED_IMAGE.ImageBase)),
    imageSize: mem.u64(at + BigInt(LOADED_IMAGE.ImageSize)),
    imageCodeType: mem.u32(at + BigInt(LOADED_IMAGE.ImageCodeType)),
    imageDataType: mem.u32(at + BigInt(LOADED_IMAGE.ImageDataType)),
    unload: mem.u64(at + BigInt(LOADED_IMAGE.Unload)),
  };
}
