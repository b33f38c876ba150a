// Where an image comes from, as edk2 DxeImageVerificationLib GetImageType decides it from the file's device path:
// a firmware volume, a Block I/O device (removable or fixed), a Simple File System without Block I/O (fixed media),
// or by the path's nodes an option ROM (relative offset range) or a network boot (MAC address).
import { GUID } from '../../core/guid';
import { DevicePathNode } from '../protocols/device-path';
import { ImageOrigin } from './image-verification';

/** EFI_FIRMWARE_VOLUME2_PROTOCOL (PI vol. 3 §3.4.1); stubemu installs none, so no image comes from a firmware volume. */
const FIRMWARE_VOLUME2_PROTOCOL = '220e73b6-6bdb-4413-8405-b974b108619a';

/** Device path node types and subtypes GetImageType looks at (UEFI 2.10 §10.3). */
const MEDIA_DEVICE_PATH = 4;
const MEDIA_RELATIVE_OFFSET_RANGE_DP = 8;
const MESSAGING_DEVICE_PATH = 3;
const MSG_MAC_ADDR_DP = 11;

/**
 * `resolves(guid, path)`: LocateDevicePath finds a handle with `guid` on a prefix of `path`. stubemu's ESP
 * partition has Block I/O (fixed media); a Simple File System without Block I/O counts as fixed media, as edk2 assumes.
 */
export function imageOrigin(
  path: readonly DevicePathNode[] | undefined,
  resolves: (guid: string, path: readonly DevicePathNode[]) => boolean,
  removable: (path: readonly DevicePathNode[]) => boolean = () => false,
): ImageOrigin {
  if (!path) return 'unknown';
  if (resolves(FIRMWARE_VOLUME2_PROTOCOL, path)) return 'firmware-volume';
  if (resolves(GUID.BLOCK_IO, path)) return removable(path) ? 'removable-media' : 'fixed-media';
  if (resolves(GUID.SIMPLE_FILE_SYSTEM, path)) return 'fixed-media';
  for (const n of path) {
    if (n.type === MEDIA_DEVICE_PATH && n.subType === MEDIA_RELATIVE_OFFSET_RANGE_DP) return 'option-rom';
    if (n.type === MESSAGING_DEVICE_PATH && n.subType === MSG_MAC_ADDR_DP) return 'removable-media';
  }
  return 'unknown';
}
