// Event types and event data structures of the TCG PC Client Platform Firmware Profile (PFP 1.05 §10.4):
// encoders for what firmware logs, and a decoder per type for the report.
import { encodeUtf16z } from '../../core/guest-memory';
import { guidFromBytes, guidToBytes } from '../../core/guid';
import { parseDevicePath } from '../protocols/device-path';
import { devicePathToText } from '../protocols/device-path-text';
import { bankOfAlgId } from './pcr-banks';

/** Event types (PFP 1.05 §10.4.1, Table 9). */
export const EV = {
  PREBOOT_CERT: 0x0,
  POST_CODE: 0x1,
  UNUSED: 0x2,
  NO_ACTION: 0x3,
  SEPARATOR: 0x4,
  ACTION: 0x5,
  EVENT_TAG: 0x6,
  S_CRTM_CONTENTS: 0x7,
  S_CRTM_VERSION: 0x8,
  CPU_MICROCODE: 0x9,
  PLATFORM_CONFIG_FLAGS: 0xa,
  TABLE_OF_DEVICES: 0xb,
  COMPACT_HASH: 0xc,
  IPL: 0xd,
  IPL_PARTITION_DATA: 0xe,
  NONHOST_CODE: 0xf,
  NONHOST_CONFIG: 0x10,
  NONHOST_INFO: 0x11,
  OMIT_BOOT_DEVICE_EVENTS: 0x12,
  POST_CODE2: 0x13,
  EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EFI_VARIABLE_BOOT: 0x80000002,
  EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EFI_GPT_EVENT: 0x80000006,
  EFI_ACTION: 0x80000007,
  EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EFI_HANDOFF_TABLES: 0x80000009,
  EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EFI_HANDOFF_TABLES2: 0x8000000b,
  EFI_VARIABLE_BOOT2: 0x8000000c,
  EFI_GPT_EVENT2: 0x8000000d,
  EFI_HCRTM_EVENT: 0x80000010,
  EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
  EFI_SPDM_DEVICE_POLICY: 0x800000e3,
  EFI_SPDM_DEVICE_AUTHORITY: 0x800000e4,
} as const;

const EV_NAMES = new Map<number, string>(Object.entries(EV).map(([k, v]) => [v, `EV_${k}`]));

export function eventTypeName(type: number): string {
  return EV_NAMES.get(type) ?? `0x${type.toString(16).padStart(8, '0')}`;
}

/** EV_EVENT_TAG identifiers (TCG_PCClientTaggedEvent.taggedEventID) used by the Linux EFI stub and systemd. */
export const EVENT_TAG_NAMES: Readonly<Record<number, string>> = {
  0x8f3b22ec: 'LINUX_EFI_INITRD_EVENT_TAG_ID',
  0x8f3b22ed: 'LINUX_EFI_LOAD_OPTIONS_EVENT_TAG_ID',
  0xf5bc582a: 'LOADER_CONF_EVENT_TAG_ID',
  0x6c46f751: 'DEVICETREE_ADDON_EVENT_TAG_ID',
  0x49dffe0f: 'INITRD_ADDON_EVENT_TAG_ID',
  0xdac08e1a: 'UCODE_ADDON_EVENT_TAG_ID',
  0x13aed6db: 'UKI_PROFILE_EVENT_TAG_ID',
  // systemd-boot and systemd-stub 261+, PCR 1 (docs/TPM2_PCR_MEASUREMENTS.md "SMBIOS information").
  0xd5cb7cbc: 'SMBIOS_TYPE1_EVENT_TAG_ID',
  0xe0d47bc8: 'SMBIOS_TYPE2_EVENT_TAG_ID',
  0xc0b3bd23: 'SMBIOS_TYPE11_EVENT_TAG_ID',
};

/** EFI action strings (PFP 1.05 §10.4.4, as edk2 Tcg2Dxe measures them). */
export const EFI_ACTION = {
  CALLING_EFI_APPLICATION: 'Calling EFI Application from Boot Option',
  RETURNING_FROM_EFI_APPLICATION: 'Returning from EFI Application from Boot Option',
  EXIT_BOOT_SERVICES_INVOCATION: 'Exit Boot Services Invocation',
  EXIT_BOOT_SERVICES_FAILED: 'Exit Boot Services Returned with Failure',
  EXIT_BOOT_SERVICES_SUCCEEDED: 'Exit Boot Services Returned with Success',
} as const;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type EventDataReport = { [key: string]: JsonValue };

// ---- TCG_EfiSpecIDEventStruct (PFP 1.05 §10.4.5.1) -------------------------------------------------------------

export const SPEC_ID_SIGNATURE = 'Spec ID Event03';

export interface SpecIdEvent {
  platformClass: number;
  specVersionMinor: number;
  specVersionMajor: number;
  specErrata: number;
  /** 1 = UINT32, 2 = UINT64 (UINTN of the firmware in UINT32 units). */
  uintnSize: number;
  algorithms: { algorithmId: number; digestSize: number }[];
  vendorInfo: Buffer;
}

export function encodeSpecIdEvent(s: SpecIdEvent): Buffer {
  const b = Buffer.alloc(16 + 4 + 4 + 4 + 4 * s.algorithms.length + 1 + s.vendorInfo.length);
  b.write(SPEC_ID_SIGNATURE, 0, 'latin1'); // NUL-terminated in its 16 bytes
  b.writeUInt32LE(s.platformClass, 16);
  b[20] = s.specVersionMinor;
  b[21] = s.specVersionMajor;
  b[22] = s.specErrata;
  b[23] = s.uintnSize;
  b.writeUInt32LE(s.algorithms.length, 24);
  s.algorithms.forEach((a, i) => {
    b.writeUInt16LE(a.algorithmId, 28 + 4 * i);
    b.writeUInt16LE(a.digestSize, 30 + 4 * i);
  });
  const v = 28 + 4 * s.algorithms.length;
  b[v] = s.vendorInfo.length;
  s.vendorInfo.copy(b, v + 1);
  return b;
}

/** Parses the Spec ID event data; throws on a wrong signature or a truncated structure. */
export function decodeSpecIdEvent(d: Buffer): SpecIdEvent {
  if (d.length < 29 || d.toString('latin1', 0, 16) !== `${SPEC_ID_SIGNATURE}\0`) throw new Error('not a "Spec ID Event03" structure');
  const n = d.readUInt32LE(24);
  const v = 28 + 4 * n;
  if (n > 64 || v + 1 > d.length) throw new Error(`Spec ID event: ${n} algorithms do not fit in ${d.length} bytes`);
  const algorithms = Array.from({ length: n }, (_, i) => ({ algorithmId: d.readUInt16LE(28 + 4 * i), digestSize: d.readUInt16LE(30 + 4 * i) }));
  const vendorSize = d[v];
  if (v + 1 + vendorSize > d.length) throw new Error('Spec ID event: vendorInfo runs past the event');
  return {
    platformClass: d.readUInt32LE(16), specVersionMinor: d[20], specVersionMajor: d[21], specErrata: d[22], uintnSize: d[23],
    algorithms, vendorInfo: Buffer.from(d.subarray(v + 1, v + 1 + vendorSize)),
  };
}

// ---- Encoders for what the firmware logs ----------------------------------------------------------------------

/** UEFI_VARIABLE_DATA (PFP 1.05 §10.4.6): GUID, name length in characters (no NUL), data length, name, data. */
export function encodeVariableData(guid: string, name: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(32);
  guidToBytes(guid).copy(head, 0);
  head.writeBigUInt64LE(BigInt(name.length), 16);
  head.writeBigUInt64LE(BigInt(data.length), 24);
  return Buffer.concat([head, encodeUtf16z(name).subarray(0, 2 * name.length), data]);
}

export interface ImageLoadEvent {
  imageLocationInMemory: bigint;
  imageLengthInMemory: bigint;
  imageLinkTimeAddress: bigint;
  /** The device path in binary form, End node included. */
  devicePath: Buffer;
}

/** UEFI_IMAGE_LOAD_EVENT (PFP 1.05 §10.4.3): four UINT64s (UINTN on x64) then the device path. */
export function encodeImageLoadEvent(e: ImageLoadEvent): Buffer {
  const b = Buffer.alloc(32 + e.devicePath.length);
  b.writeBigUInt64LE(e.imageLocationInMemory, 0);
  b.writeBigUInt64LE(e.imageLengthInMemory, 8);
  b.writeBigUInt64LE(e.imageLinkTimeAddress, 16);
  b.writeBigUInt64LE(BigInt(e.devicePath.length), 24);
  e.devicePath.copy(b, 32);
  return b;
}

/** TCG_PCClientTaggedEvent (PFP 1.05 §10.4.2.1): taggedEventID, taggedEventDataSize, data. */
export function encodeTaggedEvent(id: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(id >>> 0, 0);
  b.writeUInt32LE(data.length, 4);
  return Buffer.concat([b, data]);
}

// ---- Decoding --------------------------------------------------------------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hex64 = (v: bigint) => `0x${v.toString(16)}`;

function stripNuls(b: Buffer, unit: 1 | 2): Buffer {
  let end = b.length;
  while (end >= unit && b.subarray(end - unit, end).every((x) => x === 0)) end -= unit;
  return b.subarray(0, end);
}

/** Printable ASCII (tab, CR, LF allowed) once trailing NULs are dropped; undefined otherwise. */
export function asciiText(b: Buffer): string | undefined {
  const t = stripNuls(b, 1);
  if (t.length === 0 && b.length > 0) return '';
  return t.every((c) => (c >= 0x20 && c < 0x7f) || c === 9 || c === 10 || c === 13) ? t.toString('latin1') : undefined;
}

/** UCS-2 text (no NUL inside, trailing NULs dropped); undefined when the bytes do not read as such. */
export function utf16Text(b: Buffer): string | undefined {
  if (b.length % 2 !== 0) return undefined;
  const t = stripNuls(b, 2);
  let s = '';
  for (let i = 0; i < t.length; i += 2) {
    const c = t.readUInt16LE(i);
    if (c === 0 || (c < 0x20 && c !== 9 && c !== 10 && c !== 13)) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Text as systemd-stub (UTF-16, NUL-terminated) or the Linux stub and GRUB (ASCII) write it. */
function text(b: Buffer): EventDataReport {
  const looksUtf16 = b.length >= 2 && b.length % 2 === 0 && b[1] === 0;
  const u = looksUtf16 ? utf16Text(b) : undefined;
  if (u !== undefined) return { text: u, encoding: 'UTF-16' };
  const a = asciiText(b);
  if (a !== undefined) return { text: a, encoding: 'ASCII' };
  return { hex: hex(b) };
}

function devicePathText(bytes: Buffer): JsonValue {
  // shim logs the images it verifies for GRUB (shim_lock) with no device path: LengthOfDevicePath 0.
  if (bytes.length === 0) return '';
  try {
    return devicePathToText(parseDevicePath(bytes).nodes);
  } catch (e) {
    return `(invalid device path: ${(e as Error).message}) ${hex(bytes)}`;
  }
}

/** Reads fields in order and throws when the data ends early. */
class Reader {
  offset = 0;
  constructor(readonly b: Buffer) {}
  need(n: number): void {
    if (this.offset + n > this.b.length) throw new Error(`${this.b.length}-byte event data ends at offset ${this.offset}, ${n} more bytes needed`);
  }
  u8(): number { this.need(1); return this.b[this.offset++]; }
  u16(): number { this.need(2); const v = this.b.readUInt16LE(this.offset); this.offset += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32LE(this.offset); this.offset += 4; return v; }
  u64(): bigint { this.need(8); const v = this.b.readBigUInt64LE(this.offset); this.offset += 8; return v; }
  bytes(n: number | bigint): Buffer {
    const k = Number(n);
    if (!Number.isSafeInteger(k) || k < 0) throw new Error(`length ${n} out of range`);
    this.need(k);
    const v = this.b.subarray(this.offset, this.offset + k);
    this.offset += k;
    return v;
  }
  guid(): string { return guidFromBytes(this.bytes(16)); }
  rest(): Buffer { return this.bytes(this.b.length - this.offset); }
}

function variableData(d: Buffer, type: number): EventDataReport {
  const r = new Reader(d);
  const guid = r.guid();
  const nameLength = r.u64();
  const dataLength = r.u64();
  const name = r.bytes(nameLength * 2n);
  const data = r.bytes(dataLength);
  const out: EventDataReport = {
    variableName: guid,
    unicodeName: utf16Text(name) ?? hex(name),
    variableDataLength: Number(dataLength),
    variableData: hex(data),
  };
  const unicodeName = out.unicodeName as string;
  if (type === EV.EFI_VARIABLE_AUTHORITY && unicodeName === 'SbatLevel' && asciiText(data) !== undefined) {
    out.sbatLevel = asciiText(data)!; // shim's SBAT revocation level (CSV text), not an EFI_SIGNATURE_DATA
  } else if (type === EV.EFI_VARIABLE_AUTHORITY && data.length >= 16) {
    out.signatureOwner = guidFromBytes(data); // EFI_SIGNATURE_DATA (UEFI 2.10 §32.4.1)
  } else if (unicodeName === 'BootOrder' && data.length % 2 === 0) {
    out.bootOrder = Array.from({ length: data.length / 2 }, (_, i) => `Boot${data.readUInt16LE(2 * i).toString(16).toUpperCase().padStart(4, '0')}`);
  } else if (/^Boot[0-9A-Fa-f]{4}$/.test(unicodeName)) {
    Object.assign(out, loadOption(data));
  }
  if (r.offset !== d.length) out.trailingBytes = d.length - r.offset;
  return out;
}

/** EFI_LOAD_OPTION (UEFI 2.10 §3.1.3): Attributes, FilePathListLength, Description, FilePathList, OptionalData. */
function loadOption(d: Buffer): EventDataReport {
  try {
    const r = new Reader(d);
    const attributes = r.u32();
    const pathLength = r.u16();
    let end = r.offset;
    while (end + 1 < d.length && d.readUInt16LE(end) !== 0) end += 2;
    const description = utf16Text(r.bytes(end + 2 - r.offset)) ?? '';
    const path = r.bytes(pathLength);
    const optional = r.rest();
    return { loadOption: { attributes, description, devicePath: devicePathText(path), optionalData: hex(optional) } };
  } catch (e) {
    return { loadOptionError: (e as Error).message };
  }
}

function imageLoad(d: Buffer): EventDataReport {
  const r = new Reader(d);
  const location = r.u64();
  const length = r.u64();
  const linkTime = r.u64();
  const dpLength = r.u64();
  const dp = r.bytes(dpLength);
  return {
    imageLocationInMemory: hex64(location),
    imageLengthInMemory: Number(length),
    imageLinkTimeAddress: hex64(linkTime),
    lengthOfDevicePath: Number(dpLength),
    devicePath: devicePathText(dp),
  };
}

/** UEFI_GPT_DATA (PFP 1.05 §10.4.7): the 92-byte EFI_PARTITION_TABLE_HEADER, a UINT64 count, the entries. */
function gptData(d: Buffer): EventDataReport {
  const r = new Reader(d);
  const h = new Reader(r.bytes(92));
  const signature = h.bytes(8).toString('latin1');
  const revision = h.u32();
  h.bytes(4 + 4 + 4); // HeaderSize, HeaderCRC32, Reserved
  const myLba = h.u64();
  h.u64(); // AlternateLBA
  const firstUsable = h.u64();
  const lastUsable = h.u64();
  const diskGuid = h.guid();
  h.u64(); // PartitionEntryLBA
  h.u32(); // NumberOfPartitionEntries
  const entrySize = h.u32();
  const count = r.u64();
  if (entrySize < 128 || count > 1024n) throw new Error(`GPT event: ${count} entries of ${entrySize} bytes`);
  const partitions: JsonValue[] = [];
  for (let i = 0n; i < count; i++) {
    const e = new Reader(r.bytes(entrySize));
    partitions.push({
      partitionTypeGuid: e.guid(),
      uniquePartitionGuid: e.guid(),
      startingLba: Number(e.u64()),
      endingLba: Number(e.u64()),
      attributes: hex64(e.u64()),
      partitionName: utf16Text(e.bytes(72)) ?? '',
    });
  }
  return {
    signature, revision: `0x${revision.toString(16)}`, myLba: Number(myLba), firstUsableLba: Number(firstUsable),
    lastUsableLba: Number(lastUsable), diskGuid, partitions,
  };
}

function firmwareBlob(r: Reader): EventDataReport {
  return { blobBase: hex64(r.u64()), blobLength: Number(r.u64()) };
}

function handoffTables(r: Reader): EventDataReport {
  const n = r.u64();
  if (n > 256n) throw new Error(`${n} handoff tables`);
  const tables: JsonValue[] = [];
  for (let i = 0n; i < n; i++) tables.push({ vendorGuid: r.guid(), vendorTable: hex64(r.u64()) });
  return { numberOfTables: Number(n), tables };
}

function noAction(d: Buffer): EventDataReport {
  const sig = d.toString('latin1', 0, Math.min(16, d.length));
  if (sig === `${SPEC_ID_SIGNATURE}\0`) {
    const s = decodeSpecIdEvent(d);
    return {
      signature: SPEC_ID_SIGNATURE, platformClass: s.platformClass, specVersionMinor: s.specVersionMinor,
      specVersionMajor: s.specVersionMajor, specErrata: s.specErrata, uintnSize: s.uintnSize,
      algorithms: s.algorithms.map((a) => ({ algorithmId: bankOfAlgId(a.algorithmId) ?? `0x${a.algorithmId.toString(16)}`, digestSize: a.digestSize })),
      vendorInfo: hex(s.vendorInfo),
    };
  }
  if (sig === 'StartupLocality\0' && d.length === 17) return { signature: 'StartupLocality', startupLocality: d[16] };
  return { signature: sig.replace(/\0+$/, ''), hex: hex(d) };
}

function separator(d: Buffer): EventDataReport {
  if (d.length !== 4) return { hex: hex(d) };
  const v = d.readUInt32LE(0);
  // PFP 1.05 §10.4.4: 0x00000000 normally, 0xFFFFFFFF when a pre-OS error occurred.
  return { value: `0x${v.toString(16).padStart(8, '0')}`, meaning: v === 0 ? 'normal' : v === 0xffffffff ? 'error' : 'other' };
}

function taggedEvent(d: Buffer): EventDataReport {
  const r = new Reader(d);
  const id = r.u32();
  const size = r.u32();
  const data = r.bytes(size);
  return { taggedEventId: `0x${id.toString(16).padStart(8, '0')}`, name: EVENT_TAG_NAMES[id] ?? 'unknown', ...text(data) };
}

function postCode(d: Buffer): EventDataReport {
  const a = asciiText(d);
  if (a !== undefined && a.length > 0) return { text: a };
  return d.length === 16 ? firmwareBlob(new Reader(d)) : { hex: hex(d) };
}

const DECODERS = new Map<number, (d: Buffer, type: number) => EventDataReport>([
  [EV.NO_ACTION, noAction],
  [EV.SEPARATOR, separator],
  [EV.S_CRTM_VERSION, (d) => text(d)],
  [EV.S_CRTM_CONTENTS, postCode],
  [EV.POST_CODE, postCode],
  [EV.ACTION, (d) => text(d)],
  [EV.EFI_ACTION, (d) => text(d)],
  [EV.IPL, (d) => text(d)],
  [EV.COMPACT_HASH, (d) => text(d)],
  [EV.OMIT_BOOT_DEVICE_EVENTS, (d) => text(d)],
  [EV.EVENT_TAG, taggedEvent],
  [EV.EFI_VARIABLE_DRIVER_CONFIG, variableData],
  [EV.EFI_VARIABLE_BOOT, variableData],
  [EV.EFI_VARIABLE_BOOT2, variableData],
  [EV.EFI_VARIABLE_AUTHORITY, variableData],
  [EV.EFI_SPDM_DEVICE_POLICY, variableData],
  [EV.EFI_BOOT_SERVICES_APPLICATION, imageLoad],
  [EV.EFI_BOOT_SERVICES_DRIVER, imageLoad],
  [EV.EFI_RUNTIME_SERVICES_DRIVER, imageLoad],
  [EV.EFI_GPT_EVENT, gptData],
  [EV.EFI_GPT_EVENT2, gptData],
  [EV.EFI_PLATFORM_FIRMWARE_BLOB, (d) => firmwareBlob(new Reader(d))],
  [EV.EFI_PLATFORM_FIRMWARE_BLOB2, (d) => {
    const r = new Reader(d);
    const description = r.bytes(r.u8()).toString('latin1');
    return { description, ...firmwareBlob(r) };
  }],
  [EV.EFI_HANDOFF_TABLES, (d) => handoffTables(new Reader(d))],
  [EV.EFI_HANDOFF_TABLES2, (d) => {
    const r = new Reader(d);
    const description = r.bytes(r.u8()).toString('latin1');
    return { description, ...handoffTables(r) };
  }],
]);

/** The event data of one log record, decoded by type; malformed data is reported with its bytes, never thrown. */
export function decodeEventData(type: number, data: Buffer): EventDataReport {
  const decode = DECODERS.get(type);
  if (!decode) return data.length === 0 ? {} : { hex: hex(data) };
  try {
    return decode(data, type);
  } catch (e) {
    return { error: (e as Error).message, hex: hex(data) };
  }
}
