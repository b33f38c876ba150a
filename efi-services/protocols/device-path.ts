// EFI_DEVICE_PATH_PROTOCOL in binary form (UEFI 2.10 §10.2–10.3): parsing with validation, building, comparing.
import { GuestMemory } from '../../core/guest-memory';
import { guidToBytes } from '../../core/guid';
import type { Platform } from '../platform';

/** One device path node; `data` excludes the 4-byte header (Type, SubType, Length). */
export interface DevicePathNode {
  type: number;
  subType: number;
  data: Buffer;
}

/** Device path types (UEFI 2.10 §10.3.1, Table 10.2). */
export const DP_TYPE = {
  HARDWARE: 0x01,
  ACPI: 0x02,
  MESSAGING: 0x03,
  MEDIA: 0x04,
  BBS: 0x05,
  END: 0x7f,
} as const;

/** Sub-types of the End type (UEFI 2.10 §10.3.1, Table 10.3). */
export const DP_END = { INSTANCE: 0x01, ENTIRE: 0xff } as const;
export const DP_HW = { PCI: 1, PCCARD: 2, MEMORY_MAPPED: 3, VENDOR: 4, CONTROLLER: 5, BMC: 6 } as const;
export const DP_ACPI = { ACPI: 1, EXPANDED: 2, ADR: 3, NVDIMM: 4 } as const;
export const DP_MEDIA = {
  HARD_DRIVE: 1, CDROM: 2, VENDOR: 3, FILE_PATH: 4, PROTOCOL: 5, PIWG_FV_FILE: 6, PIWG_FV: 7,
  RELATIVE_OFFSET_RANGE: 8, RAM_DISK: 9,
} as const;

export const DEVICE_PATH_HEADER_SIZE = 4;
/** Node-count cap while walking a path; real paths have a handful of nodes, the cap bounds hostile input. */
export const MAX_DEVICE_PATH_NODES = 1024;
/** Default read bound for devicePathAt. */
export const DEFAULT_MAX_DEVICE_PATH_BYTES = 64 * 1024;

/** A malformed device path; `nodeIndex` and `offset` locate the offending node header. */
export class DevicePathError extends Error {
  constructor(readonly nodeIndex: number, readonly offset: number, reason: string) {
    super(`device path node ${nodeIndex} at byte offset ${offset} (0x${offset.toString(16)}): ${reason}`);
  }
}

export interface ParsedDevicePath {
  /** The nodes up to, not including, the End Entire node; End Instance nodes are kept. */
  nodes: DevicePathNode[];
  /** Bytes used by the path including its End Entire node. */
  size: number;
}

export function isEndEntire(n: DevicePathNode): boolean {
  return n.type === DP_TYPE.END && n.subType === DP_END.ENTIRE;
}

export function isEndInstance(n: DevicePathNode): boolean {
  return n.type === DP_TYPE.END && n.subType === DP_END.INSTANCE;
}

/**
 * Walks node headers through `read(offset, length)` within `limit` bytes. Validation as edk2 IsDevicePathValid:
 * every Length ≥ 4 and inside the limit, the path ends with End Entire (0x7F,0xFF) whose Length is exactly 4;
 * End Instance (0x7F,0x01) separates instances (UEFI 2.10 §10.3.1).
 */
function walk(read: (offset: number, length: number) => Buffer, limit: number, limitText: string): ParsedDevicePath {
  const nodes: DevicePathNode[] = [];
  let offset = 0;
  for (let index = 0; ; index++) {
    if (index >= MAX_DEVICE_PATH_NODES) {
      throw new DevicePathError(index, offset, `more than ${MAX_DEVICE_PATH_NODES} nodes without an End node`);
    }
    if (offset + DEVICE_PATH_HEADER_SIZE > limit) {
      throw new DevicePathError(index, offset, `no End node: node header runs past the ${limitText}`);
    }
    const header = read(offset, DEVICE_PATH_HEADER_SIZE);
    const type = header[0];
    const subType = header[1];
    const length = header.readUInt16LE(2);
    if (length < DEVICE_PATH_HEADER_SIZE) {
      throw new DevicePathError(index, offset, `Length ${length} is less than the 4-byte node header`);
    }
    if (offset + length > limit) {
      throw new DevicePathError(index, offset, `Length ${length} runs past the ${limitText}`);
    }
    if (type === DP_TYPE.END) {
      if (subType === DP_END.ENTIRE) {
        if (length !== DEVICE_PATH_HEADER_SIZE) {
          throw new DevicePathError(index, offset, `End Entire node has Length ${length}, not 4`);
        }
        return { nodes, size: offset + length };
      }
      if (subType !== DP_END.INSTANCE) {
        throw new DevicePathError(index, offset, `unknown End sub-type 0x${subType.toString(16)}`);
      }
    }
    nodes.push({ type, subType, data: read(offset + DEVICE_PATH_HEADER_SIZE, length - DEVICE_PATH_HEADER_SIZE) });
    offset += length;
  }
}

/** Parses a device path at the start of `bytes`; bytes after its End Entire node are ignored. */
export function parseDevicePath(bytes: Buffer): ParsedDevicePath {
  return walk((o, n) => Buffer.from(bytes.subarray(o, o + n)), bytes.length, `end of the ${bytes.length}-byte buffer`);
}

/**
 * Reads a device path from guest memory, one node header at a time so no byte past the End node is touched.
 * GuestMemoryError propagates when the path leaves guest RAM.
 */
export function devicePathAt(
  mem: GuestMemory,
  address: bigint,
  maxBytes = DEFAULT_MAX_DEVICE_PATH_BYTES,
): ParsedDevicePath & { bytes: Buffer } {
  const parsed = walk((o, n) => mem.read(address + BigInt(o), n), maxBytes, `${maxBytes}-byte read limit`);
  return { ...parsed, bytes: mem.read(address, parsed.size) };
}

/** Byte length of `nodes` as serialized, without any End Entire node. */
export function encodedLength(nodes: readonly DevicePathNode[]): number {
  return withoutEnd(nodes).reduce((n, node) => n + DEVICE_PATH_HEADER_SIZE + node.data.length, 0);
}

/** The binary path; an End Entire node is appended unless the last node is one. */
export function serializeDevicePath(nodes: readonly DevicePathNode[]): Buffer {
  const all = nodes.length > 0 && isEndEntire(nodes[nodes.length - 1]) ? nodes : [...nodes, endNode()];
  const parts: Buffer[] = [];
  let offset = 0;
  all.forEach((node, index) => {
    const length = DEVICE_PATH_HEADER_SIZE + node.data.length;
    if (length > 0xffff) throw new DevicePathError(index, offset, `node of ${length} bytes does not fit Length (UINT16)`);
    if (isEndEntire(node) && index !== all.length - 1) {
      throw new DevicePathError(index, offset, 'End Entire node before the last node');
    }
    const header = Buffer.alloc(DEVICE_PATH_HEADER_SIZE);
    header[0] = node.type;
    header[1] = node.subType;
    header.writeUInt16LE(length, 2);
    parts.push(header, node.data);
    offset += length;
  });
  return Buffer.concat(parts);
}

/** `nodes` serialized (End node added) into firmware memory the guest may read; returns the address. */
export function placeDevicePath(platform: Pick<Platform, 'mem' | 'allocate'>, nodes: readonly DevicePathNode[]): bigint {
  const bytes = serializeDevicePath(nodes);
  const at = platform.allocate(bytes.length);
  platform.mem.write(at, bytes);
  return at;
}

// Builders (UEFI 2.10 §10.3.2–10.3.6); field layouts follow the spec tables.

export function endNode(): DevicePathNode {
  return { type: DP_TYPE.END, subType: DP_END.ENTIRE, data: Buffer.alloc(0) };
}

export function endInstanceNode(): DevicePathNode {
  return { type: DP_TYPE.END, subType: DP_END.INSTANCE, data: Buffer.alloc(0) };
}

/** Media File Path (4/4, §10.3.5.4): a NUL-terminated UCS-2 path name. */
export function filePathNode(path: string): DevicePathNode {
  const data = Buffer.alloc((path.length + 1) * 2);
  for (let i = 0; i < path.length; i++) data.writeUInt16LE(path.charCodeAt(i), 2 * i);
  return { type: DP_TYPE.MEDIA, subType: DP_MEDIA.FILE_PATH, data };
}

export interface HardDriveOptions {
  partitionNumber: number;
  /** In logical blocks. */
  partitionStart: bigint | number;
  /** In logical blocks. */
  partitionSize: bigint | number;
  /** A GUID string (GPT partition GUID) or a 32-bit MBR disk signature. */
  signature: string | number;
  /** 0x01 PC-AT MBR, 0x02 GUID partition table; defaults from the signature's kind. */
  mbrType?: number;
  /** 0x01 MBR signature, 0x02 GUID signature; defaults from the signature's kind. */
  signatureType?: number;
}

/** Media Hard Drive (4/1, §10.3.5.1): 42 bytes. */
export function hardDriveNode(o: HardDriveOptions): DevicePathNode {
  const gpt = typeof o.signature === 'string';
  const data = Buffer.alloc(38);
  data.writeUInt32LE(o.partitionNumber >>> 0, 0);
  data.writeBigUInt64LE(BigInt(o.partitionStart), 4);
  data.writeBigUInt64LE(BigInt(o.partitionSize), 12);
  if (typeof o.signature === 'string') guidToBytes(o.signature).copy(data, 20);
  else data.writeUInt32LE(o.signature >>> 0, 20);
  data[36] = o.mbrType ?? (gpt ? 0x02 : 0x01);
  data[37] = o.signatureType ?? (gpt ? 0x02 : 0x01);
  return { type: DP_TYPE.MEDIA, subType: DP_MEDIA.HARD_DRIVE, data };
}

function vendorNode(type: number, subType: number, guid: string, extra?: Uint8Array): DevicePathNode {
  return { type, subType, data: Buffer.concat([guidToBytes(guid), Buffer.from(extra ?? [])]) };
}

/** Media Vendor (4/3, §10.3.5.3), e.g. the Linux initrd media path of LoadFile2. */
export function vendorMediaNode(guid: string, data?: Uint8Array): DevicePathNode {
  return vendorNode(DP_TYPE.MEDIA, DP_MEDIA.VENDOR, guid, data);
}

/** Hardware Vendor (1/4, §10.3.2.4). */
export function vendorHardwareNode(guid: string, data?: Uint8Array): DevicePathNode {
  return vendorNode(DP_TYPE.HARDWARE, DP_HW.VENDOR, guid, data);
}

/** Hardware Memory Mapped (1/3, §10.3.2.3): EFI_MEMORY_TYPE, start and end (inclusive) addresses. */
export function memoryMappedNode(memType: number, start: bigint, end: bigint): DevicePathNode {
  const data = Buffer.alloc(20);
  data.writeUInt32LE(memType >>> 0, 0);
  data.writeBigUInt64LE(BigInt.asUintN(64, start), 4);
  data.writeBigUInt64LE(BigInt.asUintN(64, end), 12);
  return { type: DP_TYPE.HARDWARE, subType: DP_HW.MEMORY_MAPPED, data };
}

/** Compressed EISA ID of a PNP device (ACPI 6.x §6.1.5 _HID): "PNP" in the low word, the number in the high. */
export function eisaPnpId(num: number): number {
  return ((num & 0xffff) << 16 | 0x41d0) >>> 0;
}

/** ACPI (2/1, §10.3.3) with _HID PNP0A03, the PCI root bridge. */
export function pciRootNode(uid: number): DevicePathNode {
  const data = Buffer.alloc(8);
  data.writeUInt32LE(eisaPnpId(0x0a03), 0);
  data.writeUInt32LE(uid >>> 0, 4);
  return { type: DP_TYPE.ACPI, subType: DP_ACPI.ACPI, data };
}

/** Hardware PCI (1/1, §10.3.2.1): Function then Device. */
export function pciNode(device: number, fn: number): DevicePathNode {
  return { type: DP_TYPE.HARDWARE, subType: DP_HW.PCI, data: Buffer.from([fn & 0xff, device & 0xff]) };
}

/** `a` then `b`, dropping End Entire nodes at their ends (AppendDevicePath, UEFI 2.10 §10.5). */
export function appendNodes(a: readonly DevicePathNode[], b: readonly DevicePathNode[]): DevicePathNode[] {
  return [...withoutEnd(a), ...withoutEnd(b)];
}

// Comparison helpers for LocateDevicePath (UEFI 2.10 §7.3) and the image loader.

function withoutEnd(nodes: readonly DevicePathNode[]): readonly DevicePathNode[] {
  return nodes.length > 0 && isEndEntire(nodes[nodes.length - 1]) ? nodes.slice(0, -1) : nodes;
}

function nodesEqual(a: DevicePathNode, b: DevicePathNode): boolean {
  return a.type === b.type && a.subType === b.subType && a.data.equals(b.data);
}

/** The nodes before the first End Instance; edk2 and U-Boot LocateDevicePath match against this instance only. */
export function firstInstance(nodes: readonly DevicePathNode[]): DevicePathNode[] {
  const all = withoutEnd(nodes);
  const end = all.findIndex(isEndInstance);
  return end < 0 ? [...all] : all.slice(0, end);
}

/** Whether `prefix` equals the leading nodes of `path`, node by node and byte by byte (End Entire ignored). */
export function isPrefixOf(prefix: readonly DevicePathNode[], path: readonly DevicePathNode[]): boolean {
  return remainingAfter(prefix, path) !== undefined;
}

/** The nodes of `path` after `prefix`, or undefined when `prefix` is not a prefix of `path`. */
export function remainingAfter(
  prefix: readonly DevicePathNode[],
  path: readonly DevicePathNode[],
): DevicePathNode[] | undefined {
  const p = withoutEnd(prefix);
  const q = withoutEnd(path);
  if (p.length > q.length) return undefined;
  for (let i = 0; i < p.length; i++) if (!nodesEqual(p[i], q[i])) return undefined;
  return q.slice(p.length);
}

export function devicePathsEqual(a: readonly DevicePathNode[], b: readonly DevicePathNode[]): boolean {
  const p = withoutEnd(a);
  const q = withoutEnd(b);
  return p.length === q.length && p.every((n, i) => nodesEqual(n, q[i]));
}

/** The UCS-2 path name of a File Path node, up to its NUL. */
export function filePathNodeText(node: DevicePathNode): string {
  let s = '';
  for (let i = 0; i + 1 < node.data.length; i += 2) {
    const c = node.data.readUInt16LE(i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * The File Path nodes of the first instance joined into one path (`\EFI\BOOT\BOOTX64.EFI`), or undefined if
 * there are none. Consecutive nodes name successive directory levels (U-Boot efi_file_from_path opens each node
 * relative to the previous one), so exactly one `\` is placed between them.
 */
export function filePathOf(nodes: readonly DevicePathNode[]): string | undefined {
  const parts = firstInstance(nodes)
    .filter((n) => n.type === DP_TYPE.MEDIA && n.subType === DP_MEDIA.FILE_PATH)
    .map(filePathNodeText);
  if (parts.length === 0) return undefined;
  return parts.reduce((acc, part) => {
    if (acc === '') return part;
    if (part === '') return acc;
    const a = acc.endsWith('\\') ? acc.slice(0, -1) : acc;
    const b = part.startsWith('\\') ? part.slice(1) : part;
    return `${a}\\${b}`;
  });
}
