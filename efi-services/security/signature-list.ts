// EFI_SIGNATURE_LIST and EFI_SIGNATURE_DATA, the format of PK, KEK, db and dbx (UEFI 2.10 §32.4.1), with the
// signature types edk2's DxeImageVerificationLib and AuthVariableLib know.
import { createHash } from 'node:crypto';
import { StructDef } from '../../pe/pe-format';
import { GUID, guidFromBytes, guidToBytes } from '../../core/guid';

/** EFI_IMAGE_SECURITY_DATABASE_GUID: the namespace of db, dbx and dbt (UEFI 2.10 §32.6.1). */
export const EFI_IMAGE_SECURITY_DATABASE_GUID = GUID.IMAGE_SECURITY_DATABASE;

/** Signature types (UEFI 2.10 §32.4.1 "Related Definitions"; edk2 MdePkg/Include/Guid/ImageAuthentication.h). */
export const EFI_CERT = {
  SHA256: 'c1c41626-504c-4092-aca9-41f936934328',
  RSA2048: '3c5766e8-269c-4e34-aa14-ed776e85b3b6',
  SHA1: '826ca512-cf10-4ac9-b187-be01496631bd',
  X509: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072',
  SHA224: '0b6e5233-a65c-44c9-9407-d9ab83bfc8bd',
  SHA384: 'ff3e5307-9fd0-48c9-85f1-8ad56c701e01',
  SHA512: '093e0fae-a6c4-4f50-9f1b-d41e2b89c19a',
  X509_SHA256: '3bd2a492-96c0-4079-b420-fcf98ef103ed',
  X509_SHA384: '7076876e-80c2-4ee6-aad2-28b349a6865b',
  X509_SHA512: '446dbf63-2502-4cda-bcfa-2465d2b0fe9d',
  /** EFI_CERT_TYPE_PKCS7_GUID: CertType of a WIN_CERTIFICATE_UEFI_GUID carrying PKCS#7 SignedData. */
  TYPE_PKCS7: '4aafd29d-68df-49ee-8aa9-347d375665a7',
} as const;

/** Image-hash signature types and their node:crypto names, in edk2's mHash order (SHA1 … SHA512). */
export const HASH_SIGNATURE_TYPES: readonly { guid: string; hash: string; size: number }[] = [
  { guid: EFI_CERT.SHA1, hash: 'sha1', size: 20 },
  { guid: EFI_CERT.SHA224, hash: 'sha224', size: 28 },
  { guid: EFI_CERT.SHA256, hash: 'sha256', size: 32 },
  { guid: EFI_CERT.SHA384, hash: 'sha384', size: 48 },
  { guid: EFI_CERT.SHA512, hash: 'sha512', size: 64 },
];

/** EFI_CERT_X509_SHA* in dbx: the TBSCertificate hash followed by an EFI_TIME revocation time (UEFI 2.10 §32.4.1). */
export const CERT_HASH_SIGNATURE_TYPES: readonly { guid: string; hash: string; size: number }[] = [
  { guid: EFI_CERT.X509_SHA256, hash: 'sha256', size: 32 },
  { guid: EFI_CERT.X509_SHA384, hash: 'sha384', size: 48 },
  { guid: EFI_CERT.X509_SHA512, hash: 'sha512', size: 64 },
];

const NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(EFI_CERT).map(([k, v]) => [v, `EFI_CERT_${k}_GUID`]),
);

/** EFI_CERT_..._GUID by name, or the GUID itself. */
export function signatureTypeName(guid: string): string {
  return NAMES[guid] ?? guid;
}

// EFI_SIGNATURE_LIST header (UEFI 2.10 §32.4.1): SignatureType, SignatureListSize, SignatureHeaderSize, SignatureSize.
export const EFI_SIGNATURE_LIST = new StructDef('EFI_SIGNATURE_LIST', [
  ['SignatureType', 'bytes', 16], ['SignatureListSize', 'u32'], ['SignatureHeaderSize', 'u32'], ['SignatureSize', 'u32'],
] as const);
if (EFI_SIGNATURE_LIST.size !== 28 || EFI_SIGNATURE_LIST.parser.sizeOf() !== 28) throw new Error('EFI_SIGNATURE_LIST is 28 bytes');

/** One EFI_SIGNATURE_DATA: SignatureOwner, then the signature (a DER certificate, a hash, ...). */
export interface SignatureEntry {
  readonly type: string;
  readonly owner: string;
  readonly data: Buffer;
  /** The whole EFI_SIGNATURE_DATA (owner + data): what PCR 7 records for the authority that allowed an image. */
  readonly raw: Buffer;
  /** Which list and entry of the variable, counting from 0. */
  readonly list: number;
  readonly index: number;
}

export class SignatureListError extends Error {}

/**
 * Every entry of a signature database, in order. A list whose sizes do not add up ends the walk with an error
 * naming the offset (edk2's IsSignatureFoundInDatabase stops walking at such a list; stubemu says why).
 */
export function parseSignatureLists(data: Buffer, what = 'signature database'): SignatureEntry[] {
  const out: SignatureEntry[] = [];
  let at = 0;
  for (let list = 0; at < data.length; list++) {
    if (data.length - at < EFI_SIGNATURE_LIST.size) throw new SignatureListError(`${what}: ${data.length - at} trailing bytes at offset ${at} are not an EFI_SIGNATURE_LIST`);
    const h = EFI_SIGNATURE_LIST.parse(data, at);
    const type = guidFromBytes(h.SignatureType);
    const body = EFI_SIGNATURE_LIST.size + h.SignatureHeaderSize;
    if (h.SignatureListSize < body || h.SignatureListSize > data.length - at) {
      throw new SignatureListError(`${what}: EFI_SIGNATURE_LIST at offset ${at} has SignatureListSize ${h.SignatureListSize} (${data.length - at} bytes left)`);
    }
    if (h.SignatureSize <= 16 || (h.SignatureListSize - body) % h.SignatureSize !== 0) {
      throw new SignatureListError(`${what}: EFI_SIGNATURE_LIST at offset ${at} has SignatureSize ${h.SignatureSize}, which does not divide its ${h.SignatureListSize - body} signature bytes`);
    }
    const count = (h.SignatureListSize - body) / h.SignatureSize;
    for (let i = 0; i < count; i++) {
      const s = at + body + i * h.SignatureSize;
      const raw = data.subarray(s, s + h.SignatureSize);
      out.push({ type, owner: guidFromBytes(raw), data: raw.subarray(16), raw, list, index: i });
    }
    at += h.SignatureListSize;
  }
  return out;
}

/** One EFI_SIGNATURE_LIST holding `entries` of one type (all of the same size), with no signature header. */
export function encodeSignatureList(type: string, entries: readonly { owner: string; data: Uint8Array }[]): Buffer {
  if (entries.length === 0) return Buffer.alloc(0);
  const size = 16 + entries[0].data.length;
  if (entries.some((e) => 16 + e.data.length !== size)) throw new SignatureListError('entries of one EFI_SIGNATURE_LIST must have one size');
  const head = Buffer.alloc(EFI_SIGNATURE_LIST.size);
  guidToBytes(type).copy(head, 0);
  head.writeUInt32LE(EFI_SIGNATURE_LIST.size + size * entries.length, 16);
  head.writeUInt32LE(0, 20);
  head.writeUInt32LE(size, 24);
  return Buffer.concat([head, ...entries.flatMap((e) => [guidToBytes(e.owner), Buffer.from(e.data)])]);
}

/** A short, stable description of an entry for the report: its type and the SHA-256 of its data. */
export function describeEntry(e: SignatureEntry): { type: string; owner: string; sha256: string } {
  return { type: signatureTypeName(e.type), owner: e.owner, sha256: createHash('sha256').update(e.data).digest('hex') };
}
