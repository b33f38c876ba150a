// Reads an image's bytes for LoadImage from a device path: EFI_SIMPLE_FILE_SYSTEM_PROTOCOL, then
// EFI_LOAD_FILE2_PROTOCOL / EFI_LOAD_FILE_PROTOCOL (UEFI 2.10 §7.4.1 LoadImage, the order edk2 uses).
// Protocols are called through their function pointers, so guest-installed ones work like the firmware's.
import { MemberName } from '../../core/abi';
import { callMember } from '../interface';
import { DevicePathNode, filePathOf, serializeDevicePath } from '../protocols/device-path';
import { EFI_FILE_MODE_READ, EFI_FILE_PROTOCOL } from '../protocols/file';
import { EFI_LOAD_FILE_PROTOCOL } from '../protocols/load-file';
import { EFI_SIMPLE_FILE_SYSTEM_PROTOCOL } from '../protocols/simple-file-system';
import { encodeUtf16z } from '../../core/guest-memory';
import { GUID } from '../../core/guid';
import { Platform } from '../platform';
import { EFI_BUFFER_TOO_SMALL, EFI_NOT_FOUND, EFI_SUCCESS, EfiError, EfiStatus, isError, statusName } from '../../core/status';

export interface DeviceLocator {
  /** LocateDevicePath: the handle with the longest matching prefix supporting `guid`, and what remains. */
  locateDevicePath(guid: string, path: readonly DevicePathNode[]): { handle: bigint; remaining: DevicePathNode[] } | undefined;
  protocol(handle: bigint, guid: string): bigint | undefined;
}

export interface Scratch {
  allocate(size: number): bigint;
  free(address: bigint): void;
}

export interface ImageSource {
  bytes: Buffer;
  deviceHandle: bigint;
  /** The device path nodes after the device (the FilePath of EFI_LOADED_IMAGE_PROTOCOL). */
  filePath: DevicePathNode[];
  via: 'SimpleFileSystem' | 'LoadFile2' | 'LoadFile';
}

export function readImageFromDevicePath(platform: Platform, locator: DeviceLocator, scratch: Scratch, path: readonly DevicePathNode[], bootPolicy: boolean): ImageSource {
  const sfs = locator.locateDevicePath(GUID.SIMPLE_FILE_SYSTEM, path);
  if (sfs) {
    const name = filePathOf(sfs.remaining);
    if (name !== undefined) {
      return { bytes: readFile(platform, scratch, locator.protocol(sfs.handle, GUID.SIMPLE_FILE_SYSTEM)!, name), deviceHandle: sfs.handle, filePath: sfs.remaining, via: 'SimpleFileSystem' };
    }
  }
  // LoadFile2 is only for BootPolicy FALSE (UEFI 2.10 §13.2); LoadFile takes either.
  for (const [guid, via] of [...(bootPolicy ? [] : [[GUID.LOAD_FILE2, 'LoadFile2']]), [GUID.LOAD_FILE, 'LoadFile']] as [string, 'LoadFile2' | 'LoadFile'][]) {
    const found = locator.locateDevicePath(guid, path);
    if (!found) continue;
    const iface = locator.protocol(found.handle, guid)!;
    return { bytes: loadFile(platform, scratch, iface, found.remaining, bootPolicy, via), deviceHandle: found.handle, filePath: found.remaining, via };
  }
  throw new EfiError(EFI_NOT_FOUND, 'no SimpleFileSystem, LoadFile2 or LoadFile protocol on the device path');
}

function check(status: bigint, what: string): void {
  if (isError(status)) throw new EfiError(status, `${what}: ${statusName(status)}`);
}

function readFile(platform: Platform, scratch: Scratch, sfs: bigint, name: string): Buffer {
  const mem = platform.mem;
  const callFile = (f: bigint, member: MemberName<typeof EFI_FILE_PROTOCOL>, args: readonly bigint[], why: string) => callMember(platform, f, EFI_FILE_PROTOCOL, member, [f, ...args], why);
  const out = scratch.allocate(16);
  const nameBuf = scratch.allocate((name.length + 1) * 2);
  let root = 0n;
  let file = 0n;
  try {
    mem.write(nameBuf, encodeUtf16z(name));
    check(callMember(platform, sfs, EFI_SIMPLE_FILE_SYSTEM_PROTOCOL, 'OpenVolume', [sfs, out], 'SimpleFileSystem.OpenVolume for LoadImage'), 'OpenVolume');
    root = mem.u64(out);
    check(callFile(root, 'Open', [out, nameBuf, EFI_FILE_MODE_READ, 0n], `File.Open ${name}`), `open ${name}`);
    file = mem.u64(out);
    check(callFile(file, 'SetPosition', [0xffff_ffff_ffff_ffffn], 'File.SetPosition end'), 'seek');
    check(callFile(file, 'GetPosition', [out], 'File.GetPosition'), 'size');
    const size = mem.u64(out);
    check(callFile(file, 'SetPosition', [0n], 'File.SetPosition 0'), 'seek');
    const buf = scratch.allocate(Number(size) || 1);
    try {
      mem.setU64(out, size);
      check(callFile(file, 'Read', [out, buf], `File.Read ${name}`), `read ${name}`);
      return mem.read(buf, Number(mem.u64(out)));
    } finally {
      scratch.free(buf);
    }
  } finally {
    if (file) callFile(file, 'Close', [], 'File.Close');
    if (root) callFile(root, 'Close', [], 'File.Close');
    scratch.free(nameBuf);
    scratch.free(out);
  }
}

function loadFile(platform: Platform, scratch: Scratch, iface: bigint, remaining: DevicePathNode[], bootPolicy: boolean, via: string): Buffer {
  const mem = platform.mem;
  const pathBytes = serializeDevicePath(remaining);
  const path = scratch.allocate(pathBytes.length);
  const size = scratch.allocate(8);
  try {
    mem.write(path, pathBytes);
    mem.setU64(size, 0n);
    const bp = bootPolicy ? 1n : 0n;
    // EFI_LOAD_FILE_PROTOCOL and EFI_LOAD_FILE2_PROTOCOL have the same one member (UEFI 2.10 §13.1, §13.2).
    let status: EfiStatus = callMember(platform, iface, EFI_LOAD_FILE_PROTOCOL, 'LoadFile', [iface, path, bp, size, 0n], `${via}.LoadFile (size)`);
    if (status !== EFI_BUFFER_TOO_SMALL && status !== EFI_SUCCESS) check(status, `${via}.LoadFile`);
    const n = Number(mem.u64(size));
    const buf = scratch.allocate(n || 1);
    try {
      status = callMember(platform, iface, EFI_LOAD_FILE_PROTOCOL, 'LoadFile', [iface, path, bp, size, buf], `${via}.LoadFile`);
      check(status, `${via}.LoadFile`);
      return mem.read(buf, Number(mem.u64(size)));
    } finally {
      scratch.free(buf);
    }
  } finally {
    scratch.free(path);
    scratch.free(size);
  }
}
