// LocateDevicePath's search (UEFI 2.10 §7.3.8), one rule for the boot service and for LoadImage's device lookup:
// as edk2 CoreLocateDevicePath, among the handles with the protocol, the one whose whole device path (without its
// End node) is the longest byte prefix of the first instance of the path; the first such handle wins a tie.
import { GUID } from '../../core/guid';
import { GuestMemory, GuestMemoryError } from '../../core/guest-memory';
import { EFI_NOT_FOUND, EfiError } from '../../core/status';
import { devicePathAt, DevicePathError, DevicePathNode, encodedLength, firstInstance, parseDevicePath, remainingAfter } from '../protocols/device-path';
import { ByProtocol, ProtocolDatabase } from './protocol-db';

export interface DevicePathMatch {
  handle: bigint;
  /** Bytes of the path the handle's device path covers: the remaining path starts this far in. */
  length: number;
  /** The nodes of the first instance after the handle's path. */
  remaining: DevicePathNode[];
}

/** A handle's device path in binary form, when something other than its DEVICE_PATH interface says it. */
export type DevicePathOverride = (handle: bigint) => Buffer | undefined;

/** The nodes of a handle's device path, or undefined when it has none that parses. */
export function handleDevicePath(db: ProtocolDatabase, mem: GuestMemory, handle: bigint, override?: DevicePathOverride): DevicePathNode[] | undefined {
  try {
    const bytes = override?.(handle);
    if (bytes) return parseDevicePath(bytes).nodes;
    const dp = db.find(handle, GUID.DEVICE_PATH);
    if (!dp || dp.interface === 0n) return undefined;
    return devicePathAt(mem, dp.interface).nodes;
  } catch (e) {
    if (e instanceof DevicePathError || e instanceof GuestMemoryError) return undefined;
    throw e;
  }
}

export function locateDevicePath(
  db: ProtocolDatabase,
  mem: GuestMemory,
  guid: string,
  path: readonly DevicePathNode[],
  override?: DevicePathOverride,
): DevicePathMatch | undefined {
  const source = firstInstance(path);
  let candidates: bigint[];
  try {
    candidates = db.locateHandles(ByProtocol, guid, 0n);
  } catch (e) {
    if (e instanceof EfiError && e.status === EFI_NOT_FOUND) return undefined;
    throw e;
  }
  let best: DevicePathMatch | undefined;
  for (const handle of candidates) {
    const nodes = handleDevicePath(db, mem, handle, override);
    const remaining = nodes && remainingAfter(nodes, source);
    if (!nodes || !remaining) continue;
    const length = encodedLength(nodes);
    if (!best || length > best.length) best = { handle, length, remaining };
  }
  return best;
}
