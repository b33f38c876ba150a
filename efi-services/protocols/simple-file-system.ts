// EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (UEFI 2.10 §13.4): OpenVolume hands out the root directory of a Volume.
import { fn, tableDecl } from '../../core/abi';
import { splitPath, Volume } from '../esp/volume';
import { buildInterface } from '../interface';
import { Platform } from '../platform';
import { EfiError, EFI_INVALID_PARAMETER, EFI_SUCCESS } from '../../core/status';
import { FileProtocolOptions, FileProtocols } from './file';

export const EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_REVISION = 0x00010000n;

export const EFI_SIMPLE_FILE_SYSTEM_PROTOCOL = tableDecl({
  name: 'EFI_SIMPLE_FILE_SYSTEM_PROTOCOL',
  traceName: 'SimpleFileSystem',
  headerSize: 8, // UINT64 Revision
  members: [fn('OpenVolume', 'This:PTR', 'Root:PTR')],
});

export interface SimpleFileSystem {
  /** The interface to install with EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID. */
  readonly protocol: bigint;
  /** The open files OpenVolume and Open hand out. */
  readonly files: FileProtocols;
}

export function simpleFileSystem(platform: Platform, volume: Volume, options: FileProtocolOptions = {}): SimpleFileSystem {
  const files = new FileProtocols(platform, volume, options);
  const protocol: bigint = buildInterface(platform, EFI_SIMPLE_FILE_SYSTEM_PROTOCOL, {
    // §13.4.2
    OpenVolume: ([self, root], call) => {
      if (self !== protocol) return files.guestError(`${call.name}: This=0x${self.toString(16)} is not this protocol`);
      if (root === 0n) return EFI_INVALID_PARAMETER;
      if (!platform.mem.isMapped(root, 8)) return files.guestError(`${call.name}: Root=0x${root.toString(16)} is outside RAM`);
      platform.mem.setU64(root, files.openRoot());
      return EFI_SUCCESS;
    },
  });
  platform.mem.setU64(protocol, EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_REVISION);
  return { protocol, files };
}

/**
 * The bytes of a file for LoadImage from a device path (UEFI 2.10 §7.4.1): `filePathText` is the path of the
 * device path's file path nodes joined, e.g. "\EFI\Linux\x.efi". undefined when it is not a file on the volume.
 */
export function loadFileFromVolume(volume: Volume, filePathText: string): Buffer | undefined {
  try {
    const path = splitPath(filePathText);
    const st = volume.stat(path);
    if (st?.kind !== 'file') return undefined;
    return volume.read(path, 0, st.size);
  } catch (e) {
    if (e instanceof EfiError) return undefined;
    throw e;
  }
}
