// EFI_DEVICE_PATH_UTILITIES_PROTOCOL (UEFI 2.10 §10.5): size, duplicate, append and split device paths in guest
// memory. Results are pool the caller frees; malformed paths give 0/NULL, as edk2's DevicePathLib answers after its
// IsDevicePathValid check. edk2's UefiDevicePathLib (linked into the UEFI Shell) uses this protocol when present.
import { fnReturning, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { GuestMemory } from '../../core/guest-memory';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { DEVICE_PATH_HEADER_SIZE, DevicePathError, devicePathAt, DP_END, DP_TYPE } from './device-path';

export const EFI_DEVICE_PATH_UTILITIES_PROTOCOL_GUID = GUID.DEVICE_PATH_UTILITIES;

export const EFI_DEVICE_PATH_UTILITIES_PROTOCOL = tableDecl({
  name: 'EFI_DEVICE_PATH_UTILITIES_PROTOCOL',
  traceName: 'DevicePathUtilities',
  headerSize: 0,
  members: [
    fnReturning('UINTN', 'GetDevicePathSize', 'DevicePath:PTR'),
    fnReturning('UINTN', 'DuplicateDevicePath', 'DevicePath:PTR'),
    fnReturning('UINTN', 'AppendDevicePath', 'Src1:PTR', 'Src2:PTR'),
    fnReturning('UINTN', 'AppendDeviceNode', 'DevicePath:PTR', 'DeviceNode:PTR'),
    fnReturning('UINTN', 'AppendDevicePathInstance', 'DevicePath:PTR', 'DevicePathInstance:PTR'),
    fnReturning('UINTN', 'GetNextDevicePathInstance', 'DevicePathInstance:PTR', 'DevicePathInstanceSize:PTR'),
    fnReturning('UINTN', 'IsDevicePathMultiInstance', 'DevicePath:PTR'),
    fnReturning('UINTN', 'CreateDeviceNode', 'NodeType:UINT8', 'NodeSubType:UINT8', 'NodeLength:UINT16'),
  ],
});

const END_ENTIRE = Buffer.from([DP_TYPE.END, DP_END.ENTIRE, DEVICE_PATH_HEADER_SIZE, 0]);

/** The whole path's bytes including its End Entire node; undefined for NULL or a malformed path. */
function pathBytes(mem: GuestMemory, at: bigint): Buffer | undefined {
  if (at === 0n) return undefined;
  try {
    return devicePathAt(mem, at).bytes;
  } catch (e) {
    if (e instanceof DevicePathError) return undefined;
    throw e;
  }
}

/** Byte offsets of the End nodes (instance and entire) of a valid path. */
function endOffsets(path: Buffer): number[] {
  const ends: number[] = [];
  for (let o = 0; o < path.length; o += path.readUInt16LE(o + 2)) if (path[o] === DP_TYPE.END) ends.push(o);
  return ends;
}

export function devicePathUtilities(platform: Platform, pool: (bytes: number) => bigint): bigint {
  const mem = platform.mem;
  const copy = (bytes: Buffer): bigint => {
    const a = pool(bytes.length);
    if (a !== 0n) mem.write(a, bytes);
    return a;
  };
  /** Src1 without its End Entire node, then Src2 whole (§10.5.3). */
  const append = (a: Buffer | undefined, b: Buffer | undefined): bigint => {
    if (!a && !b) return copy(END_ENTIRE);
    if (!a) return copy(b!);
    if (!b) return copy(a);
    return copy(Buffer.concat([a.subarray(0, a.length - DEVICE_PATH_HEADER_SIZE), b]));
  };
  return buildInterface(platform, EFI_DEVICE_PATH_UTILITIES_PROTOCOL, {
    GetDevicePathSize: ([dp]) => BigInt(pathBytes(mem, dp)?.length ?? 0),
    DuplicateDevicePath: ([dp]) => {
      const p = pathBytes(mem, dp);
      return p ? copy(p) : 0n;
    },
    AppendDevicePath: ([src1, src2]) => {
      const a = pathBytes(mem, src1);
      const b = pathBytes(mem, src2);
      if ((src1 !== 0n && !a) || (src2 !== 0n && !b)) return 0n;
      return append(a, b);
    },
    // §10.5.4: a NULL node duplicates the path (or gives an empty one), a NULL path gives the node and an End.
    AppendDeviceNode: ([dp, node]) => {
      const a = pathBytes(mem, dp);
      if (dp !== 0n && !a) return 0n;
      if (node === 0n) return append(a, undefined);
      const length = mem.u16(node + 2n);
      if (length < DEVICE_PATH_HEADER_SIZE) return 0n;
      return append(a, Buffer.concat([mem.read(node, length), END_ENTIRE]));
    },
    // §10.5.5: the path's End Entire becomes End Instance, then the instance follows.
    AppendDevicePathInstance: ([dp, instance]) => {
      const b = pathBytes(mem, instance);
      if (!b) return 0n;
      if (dp === 0n) return copy(b);
      const a = pathBytes(mem, dp);
      if (!a) return 0n;
      const joined = Buffer.concat([a, b]);
      joined[a.length - DEVICE_PATH_HEADER_SIZE + 1] = DP_END.INSTANCE;
      return copy(joined);
    },
    // §10.5.6: a copy of the first instance ending in End Entire, its size with that node; *DevicePathInstance
    // moves to the next instance, or NULL after the last.
    GetNextDevicePathInstance: ([instancePtr, sizePtr]) => {
      if (instancePtr === 0n || sizePtr === 0n) return 0n;
      const at = mem.u64(instancePtr);
      if (at === 0n) {
        mem.setU64(sizePtr, 0n);
        return 0n;
      }
      const p = pathBytes(mem, at);
      if (!p) return 0n;
      const end = endOffsets(p)[0];
      const size = end + DEVICE_PATH_HEADER_SIZE;
      const first = Buffer.from(p.subarray(0, size));
      first[end + 1] = DP_END.ENTIRE;
      mem.setU64(sizePtr, BigInt(size));
      mem.setU64(instancePtr, p[end + 1] === DP_END.ENTIRE ? 0n : at + BigInt(size));
      return copy(first);
    },
    IsDevicePathMultiInstance: ([dp]) => {
      const p = pathBytes(mem, dp);
      return p && endOffsets(p).length > 1 ? 1n : 0n;
    },
    // §10.5.8: a zeroed node with its header filled; Length below the 4-byte header gives NULL.
    CreateDeviceNode: ([type, subType, length]) => {
      if (length < BigInt(DEVICE_PATH_HEADER_SIZE)) return 0n;
      const node = Buffer.alloc(Number(length));
      node[0] = Number(type);
      node[1] = Number(subType);
      node.writeUInt16LE(Number(length), 2);
      return copy(node);
    },
  });
}

/** Module entry (platform-protocols.ts): on a new handle (OVMF's DevicePathDxe has it with ToText and FromText). */
export function install(ctx: InstallContext): void {
  ctx.db.install(0n, EFI_DEVICE_PATH_UTILITIES_PROTOCOL_GUID, devicePathUtilities(ctx.platform, ctx.guestPool));
}
