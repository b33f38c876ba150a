// --ms-keys: PK, KEK, db and dbx read out of an OVMF varstore image (Debian's OVMF_VARS_4M.ms.fd): the firmware volume header (PI 1.8 vol. 3 §3.2.1), edk2's authenticated variable store header
// and AUTHENTICATED_VARIABLE_HEADER records (MdeModulePkg/Include/Guid/VariableFormat.h).
import { StructDef } from '../../pe/pe-format';
import { guidFromBytes, guidToBytes } from '../../core/guid';
import { parseSignatureLists } from './signature-list';
import { KEY_VARIABLES, KeyVariable, keyVariableGuid, SecureBootKeys } from './secure-boot';

export class VarstoreError extends Error {}

// EFI_FIRMWARE_VOLUME_HEADER up to its first EFI_FV_BLOCK_MAP_ENTRY (PI 1.8 vol. 3 §3.2.1).
const EFI_FIRMWARE_VOLUME_HEADER = new StructDef('EFI_FIRMWARE_VOLUME_HEADER', [
  ['ZeroVector', 'bytes', 16], ['FileSystemGuid', 'bytes', 16], ['FvLength', 'u64'], ['Signature', 'u32'],
  ['Attributes', 'u32'], ['HeaderLength', 'u16'], ['Checksum', 'u16'], ['ExtHeaderOffset', 'u16'], ['Reserved', 'u8'],
  ['Revision', 'u8'],
] as const);
// VARIABLE_STORE_HEADER (VariableFormat.h).
const VARIABLE_STORE_HEADER = new StructDef('VARIABLE_STORE_HEADER', [
  ['Signature', 'bytes', 16], ['Size', 'u32'], ['Format', 'u8'], ['State', 'u8'], ['Reserved', 'u16'], ['Reserved1', 'u32'],
] as const);
// AUTHENTICATED_VARIABLE_HEADER (VariableFormat.h): packed, 60 bytes.
const AUTHENTICATED_VARIABLE_HEADER = new StructDef('AUTHENTICATED_VARIABLE_HEADER', [
  ['StartId', 'u16'], ['State', 'u8'], ['Reserved', 'u8'], ['Attributes', 'u32'], ['MonotonicCount', 'u64'],
  ['TimeStamp', 'bytes', 16], ['PubKeyIndex', 'u32'], ['NameSize', 'u32'], ['DataSize', 'u32'], ['VendorGuid', 'bytes', 16],
] as const);
for (const [def, size] of [[EFI_FIRMWARE_VOLUME_HEADER, 56], [VARIABLE_STORE_HEADER, 28], [AUTHENTICATED_VARIABLE_HEADER, 60]] as const) {
  if (def.size !== size || def.parser.sizeOf() !== size) throw new Error(`${def.name} is ${size} bytes`);
}

/** EFI_SYSTEM_NV_DATA_FV_GUID: the FileSystemGuid of the NV variable firmware volume. */
const EFI_SYSTEM_NV_DATA_FV_GUID = 'fff12b8d-7696-4c8b-a985-2747075b4f50';
/** gEfiAuthenticatedVariableGuid: a store of AUTHENTICATED_VARIABLE_HEADER records. */
const EFI_AUTHENTICATED_VARIABLE_GUID = 'aaf32c78-947b-439a-a180-2e144ec37792';
const EFI_FVH_SIGNATURE = 0x4856465f; // '_FVH'
const VARIABLE_DATA = 0x55aa;
/** Variable states (VariableFormat.h): VAR_ADDED, and VAR_ADDED & VAR_IN_DELETED_TRANSITION (kept if no newer copy). */
const VAR_ADDED = 0x3f;
const VAR_ADDED_IN_DELETED_TRANSITION = 0x3e;

export interface StoredVariable {
  guid: string;
  name: string;
  attributes: number;
  data: Buffer;
}

const align4 = (n: number) => (n + 3) & ~3;

/** Every live variable of an OVMF varstore image, in store order. Errors name the offset. */
export function readVarstore(fd: Buffer, where: string): StoredVariable[] {
  return walkVarstore(fd, where).variables;
}

/** The live variables and the offset where the next record would go (the first erased header). */
function walkVarstore(fd: Buffer, where: string): { variables: StoredVariable[]; end: number; storeEnd: number } {
  const fail = (why: string): never => {
    throw new VarstoreError(`${where}: ${why}`);
  };
  if (fd.length < EFI_FIRMWARE_VOLUME_HEADER.size) fail(`${fd.length} bytes cannot hold a firmware volume header`);
  const fv = EFI_FIRMWARE_VOLUME_HEADER.parse(fd, 0);
  if (fv.Signature !== EFI_FVH_SIGNATURE) fail('no _FVH signature at offset 40: not a firmware volume');
  if (guidFromBytes(fv.FileSystemGuid) !== EFI_SYSTEM_NV_DATA_FV_GUID) fail(`FileSystemGuid ${guidFromBytes(fv.FileSystemGuid)} is not EFI_SYSTEM_NV_DATA_FV_GUID`);
  const storeAt = fv.HeaderLength;
  if (storeAt + VARIABLE_STORE_HEADER.size > fd.length) fail(`HeaderLength ${storeAt} leaves no room for the variable store header`);
  const store = VARIABLE_STORE_HEADER.parse(fd, storeAt);
  if (guidFromBytes(store.Signature) !== EFI_AUTHENTICATED_VARIABLE_GUID) fail(`variable store at offset ${storeAt} is not an authenticated variable store`);
  const end = Math.min(fd.length, storeAt + store.Size);
  const live = new Map<string, StoredVariable & { state: number }>();
  let at = align4(storeAt + VARIABLE_STORE_HEADER.size);
  for (; at + AUTHENTICATED_VARIABLE_HEADER.size <= end;) {
    const h = AUTHENTICATED_VARIABLE_HEADER.parse(fd, at);
    if (h.StartId !== VARIABLE_DATA) break; // erased flash (0xffff): the end of the records
    const nameAt = at + AUTHENTICATED_VARIABLE_HEADER.size;
    // The data follows the name unpadded (VariableFormat.h ALIGNMENT is 1 on x86); the next header is 4-aligned.
    const dataAt = nameAt + h.NameSize;
    if (h.NameSize < 2 || h.NameSize % 2 !== 0 || dataAt + h.DataSize > end) fail(`variable at offset ${at} has NameSize ${h.NameSize} and DataSize ${h.DataSize}, past the store`);
    if (h.State === VAR_ADDED || h.State === VAR_ADDED_IN_DELETED_TRANSITION) {
      const guid = guidFromBytes(h.VendorGuid);
      const name = fd.subarray(nameAt, nameAt + h.NameSize - 2).toString('utf16le');
      const key = `${guid}:${name}`;
      const old = live.get(key);
      if (!old || old.state !== VAR_ADDED || h.State === VAR_ADDED) {
        live.set(key, { guid, name, attributes: h.Attributes, data: Buffer.from(fd.subarray(dataAt, dataAt + h.DataSize)), state: h.State });
      }
    }
    at = align4(dataAt + h.DataSize);
  }
  return { variables: [...live.values()].map(({ state: _state, ...v }) => v), end: at, storeEnd: end };
}

/**
 * A copy of the varstore with `vars` appended as new VAR_ADDED records (no authentication data: for plain NV
 * variables such as shim's MokList, set up before the firmware first runs).
 */
export function appendVariables(fd: Buffer, vars: readonly StoredVariable[], where: string): Buffer {
  const out = Buffer.from(fd);
  const walked = walkVarstore(out, where);
  const storeEnd = walked.storeEnd;
  let at = walked.end;
  for (const v of vars) {
    if (readVarstore(out, where).some((x) => x.guid === v.guid && x.name === v.name)) throw new VarstoreError(`${where}: ${v.name} exists already`);
    const name = Buffer.from(`${v.name}\0`, 'utf16le');
    const size = AUTHENTICATED_VARIABLE_HEADER.size + name.length + v.data.length;
    if (at + size > storeEnd) throw new VarstoreError(`${where}: no room for ${v.name} (${size} bytes at offset ${at})`);
    const h = Buffer.alloc(AUTHENTICATED_VARIABLE_HEADER.size);
    h.writeUInt16LE(VARIABLE_DATA, AUTHENTICATED_VARIABLE_HEADER.offsetOf('StartId'));
    h.writeUInt8(VAR_ADDED, AUTHENTICATED_VARIABLE_HEADER.offsetOf('State'));
    h.writeUInt32LE(v.attributes, AUTHENTICATED_VARIABLE_HEADER.offsetOf('Attributes'));
    h.writeUInt32LE(name.length, AUTHENTICATED_VARIABLE_HEADER.offsetOf('NameSize'));
    h.writeUInt32LE(v.data.length, AUTHENTICATED_VARIABLE_HEADER.offsetOf('DataSize'));
    guidToBytes(v.guid).copy(h, AUTHENTICATED_VARIABLE_HEADER.offsetOf('VendorGuid'));
    Buffer.concat([h, name, v.data]).copy(out, at);
    at = align4(at + size);
  }
  return out;
}

/** PK, KEK, db and dbx of a varstore, each checked to be EFI_SIGNATURE_LIST data. */
export function msKeysFromVarstore(fd: Buffer, where: string, source = where): SecureBootKeys {
  const vars = readVarstore(fd, where);
  const lists: SecureBootKeys['lists'] = {};
  for (const name of KEY_VARIABLES) {
    const v = vars.find((x) => x.guid === keyVariableGuid(name) && x.name === name);
    if (!v) continue;
    try {
      parseSignatureLists(v.data, `${where}: ${name}`);
    } catch (e) {
      throw new VarstoreError((e as Error).message);
    }
    lists[name as KeyVariable] = v.data;
  }
  if (!lists.PK) throw new VarstoreError(`${where}: no PK variable (an empty varstore, not the .ms.fd one?)`);
  return { lists, source };
}
