// A firmware-provided initrd for bare kernels (`--initrd FILE`): EFI_LOAD_FILE2_PROTOCOL on a handle whose device
// path is VenMedia(LINUX_EFI_INITRD_MEDIA_GUID)/End, which the Linux EFI stub (efi_load_initrd_dev_path) finds
// with LocateDevicePath, as OVMF's QemuKernelLoaderFsDxe provides QEMU's -initrd.
import { tableDecl } from '../../core/abi';
import { EFI_LOAD_FILE2_PROTOCOL } from './load-file';
import { GUID } from '../../core/guid';
import { buildInterface } from '../interface';
import { FirmwareOptions } from '../firmware-options';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS, EFI_UNSUPPORTED } from '../../core/status';
import { DevicePathError, devicePathAt, placeDevicePath, vendorMediaNode } from './device-path';

/** Its calls are traced as InitrdLoadFile2.LoadFile. */
const INITRD_LOAD_FILE2 = tableDecl({ ...EFI_LOAD_FILE2_PROTOCOL, traceName: 'InitrdLoadFile2' });

export interface InitrdLoadFile2 {
  handle: bigint;
  protocol: bigint;
  devicePath: bigint;
  /** Times the initrd bytes were copied to the guest, for the report. */
  deliveries: { buffer: bigint; size: number }[];
}

/**
 * Installs the device path and LoadFile2 on a new handle. LoadFile (UEFI 2.10 §13.2) checks in the order OVMF
 * does: BootPolicy TRUE is EFI_UNSUPPORTED (the spec's status for it; LoadFile2 never serves boot-manager loads),
 * a NULL BufferSize or a malformed FilePath EFI_INVALID_PARAMETER, a FilePath other than the End node (the
 * remaining path after our VenMedia node) EFI_NOT_FOUND; a NULL or short Buffer gets the size and
 * EFI_BUFFER_TOO_SMALL.
 */
export function installInitrdLoadFile2(
  platform: Platform,
  db: { install(handle: bigint, guid: string, iface: bigint): bigint },
  bytes: Uint8Array,
): InitrdLoadFile2 {
  const mem = platform.mem;
  // The caller's bytes, not a copy: they stay unchanged for the run (a large initrd is held once on the host).
  const initrd = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const deliveries: InitrdLoadFile2['deliveries'] = [];
  const protocol = buildInterface(platform, INITRD_LOAD_FILE2, {
    LoadFile: ([, filePath, bootPolicy, bufferSize, buffer], call) => {
      if (bootPolicy !== 0n) return EFI_UNSUPPORTED;
      if (bufferSize === 0n || filePath === 0n) return EFI_INVALID_PARAMETER;
      let nodes;
      try {
        nodes = devicePathAt(mem, filePath).nodes;
      } catch (e) {
        if (e instanceof DevicePathError) return EFI_INVALID_PARAMETER;
        throw e;
      }
      if (nodes.length !== 0) return EFI_NOT_FOUND;
      if (buffer === 0n || mem.u64(bufferSize) < BigInt(initrd.length)) {
        mem.setU64(bufferSize, BigInt(initrd.length));
        return EFI_BUFFER_TOO_SMALL;
      }
      mem.write(buffer, initrd);
      mem.setU64(bufferSize, BigInt(initrd.length));
      deliveries.push({ buffer, size: initrd.length });
      call.note(`initrd: ${initrd.length} bytes to 0x${buffer.toString(16)}`);
      return EFI_SUCCESS;
    },
  });
  const devicePath = placeDevicePath(platform, [vendorMediaNode(GUID.LINUX_INITRD_MEDIA)]);
  const handle = db.install(0n, GUID.DEVICE_PATH, devicePath);
  db.install(handle, GUID.LOAD_FILE2, protocol);
  return { handle, protocol, devicePath, deliveries };
}

/** Module entry (platform-protocols.ts): `options.initrd` on the initrd media device path. */
export function install(ctx: InstallContext, options: FirmwareOptions): InitrdLoadFile2 {
  if (!options.initrd) throw new Error('initrd LoadFile2 installed without an initrd');
  return installInitrdLoadFile2(ctx.platform, ctx.db, options.initrd);
}
