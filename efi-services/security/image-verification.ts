// Secure Boot image verification (UEFI 2.10 §32.5 "Image Verification"), with the rules and the order of edk2
// SecurityPkg DxeImageVerificationLib DxeImageVerificationHandler: policy by image origin, unsigned images only by
// hash in db, signed images by certificate or hash in db, anything in dbx refused, the db entry that allowed an image
// handed to the measurement hook (EV_EFI_VARIABLE_AUTHORITY).
import { X509Certificate } from 'node:crypto';
import { AuthenticodeError, authenticodeDigest, authenticodeLayout } from '../tcg/authenticode';
import { EFI_ACCESS_DENIED, EFI_SECURITY_VIOLATION, EFI_SUCCESS, EfiStatus } from '../../core/status';
import { GUID, guidFromBytes } from '../../core/guid';
import { EFI_VARIABLE } from '../runtime/variable-store';
import {
  AuthenticodeSignature, AuthenticodeSignatureError, authenticodeVerify, parseAuthenticode, readCertificate, subjectText, tbsCertificateHash,
} from './authenticode-signature';
import {
  CERT_HASH_SIGNATURE_TYPES, describeEntry, EFI_CERT, EFI_IMAGE_SECURITY_DATABASE_GUID, HASH_SIGNATURE_TYPES, parseSignatureLists, SignatureEntry,
  SignatureListError, signatureTypeName,
} from './signature-list';

/** Where an image comes from (edk2 GetImageType), which selects the verification policy. */
export type ImageOrigin = 'firmware-volume' | 'option-rom' | 'removable-media' | 'fixed-media' | 'unknown';

/** Verification policies (SecurityPkg.dec PcdOptionRomImageVerificationPolicy and its siblings). */
export const POLICY = {
  ALWAYS_EXECUTE: 0,
  NEVER_EXECUTE: 1,
  /** Refuse with EFI_ACCESS_DENIED: the image is not loaded (edk2's default for every origin). */
  DENY_EXECUTE_ON_SECURITY_VIOLATION: 4,
  /** Refuse with EFI_SECURITY_VIOLATION: the image is loaded but StartImage refuses it. */
  DEFER_EXECUTE_ON_SECURITY_VIOLATION: 5,
} as const;

/**
 * OVMF's policies (OvmfPkgX64.dsc sets PcdOptionRomImageVerificationPolicy to 0, so option ROMs always run; the
 * media policies keep SecurityPkg.dec's 0x04). Images of unknown origin are always DENY_EXECUTE_ON_SECURITY_VIOLATION.
 */
export const OVMF_POLICIES: Readonly<Record<Exclude<ImageOrigin, 'firmware-volume' | 'unknown'>, number>> = {
  'option-rom': POLICY.ALWAYS_EXECUTE,
  'removable-media': POLICY.DENY_EXECUTE_ON_SECURITY_VIOLATION,
  'fixed-media': POLICY.DENY_EXECUTE_ON_SECURITY_VIOLATION,
};

/** WIN_CERTIFICATE wCertificateType values (PE/COFF §4.7; UEFI 2.10 §32.2.4). */
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
const WIN_CERT_TYPE_EFI_GUID = 0x0ef1;
/** sizeof (WIN_CERTIFICATE): dwLength, wRevision, wCertificateType. */
const WIN_CERTIFICATE_SIZE = 8;
/** OFFSET_OF (WIN_CERTIFICATE_UEFI_GUID, CertData): the header and the CertType GUID. */
const WIN_CERTIFICATE_UEFI_GUID_CERT_DATA = 24;

export interface VariableReader {
  (guid: string, name: string): { attributes: number; data: Buffer } | undefined;
}

export interface AuthorityReport {
  variable: 'db';
  /** EFI_CERT_X509_GUID, EFI_CERT_SHA256_GUID, ... */
  type: string;
  owner: string;
  /** SHA-256 of the entry's data (the DER certificate, or the hash). */
  sha256: string;
  /** The certificate's subject, for X.509 entries. */
  subject?: string;
}

export interface ImageVerificationResult {
  /** What the Security2 handler returns: EFI_SUCCESS, EFI_ACCESS_DENIED or EFI_SECURITY_VIOLATION. */
  status: EfiStatus;
  decision: 'allowed' | 'refused' | 'not checked';
  /** Why, in one sentence (the reasons edk2 prints in its DEBUG messages). */
  reason: string;
  /** The Authenticode SHA-256 of the file, when it could be computed. */
  authenticodeSha256?: string;
  /** Signers of the image's signatures (certificate subjects). */
  signers?: string[];
  /** The db entry that allowed the image. */
  authority?: AuthorityReport;
}

export interface ImageVerificationContext {
  readVariable: VariableReader;
  /** edk2 SecureBootHook: a db entry (its EFI_SIGNATURE_DATA) was used to allow an image. */
  onAuthority?(variable: 'db', entry: SignatureEntry): void;
  policies?: Readonly<Record<string, number>>;
}

interface Database {
  entries: SignatureEntry[];
  /** The variable exists but cannot be walked: edk2 treats lookup errors as "found" in dbx and "not found" in db. */
  problem?: string;
}

function readDatabase(read: VariableReader, name: 'db' | 'dbx' | 'dbt'): Database | undefined {
  const v = read(EFI_IMAGE_SECURITY_DATABASE_GUID, name);
  if (!v) return undefined;
  try {
    return { entries: parseSignatureLists(v.data, name) };
  } catch (e) {
    if (!(e instanceof SignatureListError)) throw e;
    return { entries: [], problem: e.message };
  }
}

/** edk2 IsSignatureFoundInDatabase: an entry of `type` whose data is exactly `digest`. */
function findHash(db: Database | undefined, type: string, digest: Buffer): SignatureEntry | undefined {
  return db?.entries.find((e) => e.type === type && e.data.equals(digest));
}

/** dbx entries of EFI_CERT_X509_SHA*: the TBSCertificate hash of `cert`, with its revocation time (edk2 IsCertHashFoundInDbx). */
function certHashInDbx(dbx: Database, cert: X509Certificate): SignatureEntry | undefined {
  for (const t of CERT_HASH_SIGNATURE_TYPES) {
    const hit = dbx.entries.find((e) => e.type === t.guid && e.data.length === t.size + 16 && e.data.subarray(0, t.size).equals(tbsCertificateHash(cert, t.hash)));
    if (hit) return hit;
  }
  return undefined;
}

function x509Entries(db: Database | undefined): { entry: SignatureEntry; cert: X509Certificate }[] {
  return (db?.entries ?? []).flatMap((entry) => {
    if (entry.type !== EFI_CERT.X509) return [];
    const cert = readCertificate(entry.data);
    return cert ? [{ entry, cert }] : [];
  });
}

function authority(entry: SignatureEntry, cert?: X509Certificate): AuthorityReport {
  return {
    variable: 'db', ...describeEntry(entry), ...(cert ? { subject: subjectText(cert) } : {}),
  };
}

/** The image's origin from its device path and the handles it resolves to (edk2 GetImageType), decided by the caller. */
export interface VerifyInput {
  file: Buffer | undefined;
  origin: ImageOrigin;
}

/**
 * DxeImageVerificationHandler. The order matters for the measurements: the db entry that allowed an image is
 * measured during verification, before the image's own PCR 4 measurement.
 */
export function verifyImage(ctx: ImageVerificationContext, input: VerifyInput): ImageVerificationResult {
  const policies = ctx.policies ?? OVMF_POLICIES;
  const policy = input.origin === 'firmware-volume' ? POLICY.ALWAYS_EXECUTE
    : input.origin === 'unknown' ? POLICY.DENY_EXECUTE_ON_SECURITY_VIOLATION : policies[input.origin];
  if (policy === POLICY.ALWAYS_EXECUTE) return { status: EFI_SUCCESS, decision: 'not checked', reason: `policy ALWAYS_EXECUTE for ${input.origin} images` };
  if (policy === POLICY.NEVER_EXECUTE) return { status: EFI_ACCESS_DENIED, decision: 'refused', reason: `policy NEVER_EXECUTE for ${input.origin} images` };
  const sb = ctx.readVariable(GUID.GLOBAL_VARIABLE, 'SecureBoot');
  if (!sb) return { status: EFI_SUCCESS, decision: 'not checked', reason: 'no SecureBoot variable' };
  if (sb.attributes === (EFI_VARIABLE.BOOTSERVICE_ACCESS | EFI_VARIABLE.RUNTIME_ACCESS) && sb.data[0] === 0) {
    return { status: EFI_SUCCESS, decision: 'not checked', reason: 'Secure Boot is off (SecureBoot=0)' };
  }
  const refuse = (reason: string, extra: Partial<ImageVerificationResult> = {}): ImageVerificationResult => ({
    status: policy === POLICY.DEFER_EXECUTE_ON_SECURITY_VIOLATION ? EFI_SECURITY_VIOLATION : EFI_ACCESS_DENIED,
    decision: 'refused', reason, ...extra,
  });
  if (!input.file) return { status: EFI_ACCESS_DENIED, decision: 'refused', reason: 'no file buffer to verify' };
  const file = input.file;
  let layout;
  try {
    layout = authenticodeLayout(file);
  } catch (e) {
    if (!(e instanceof AuthenticodeError)) throw e;
    return refuse(`not a valid PE/COFF image (${e.message})`);
  }
  // Each algorithm's digest is computed once, over the layout parsed above.
  const digests = new Map<string, Buffer>();
  const digestOf = (algorithm: string): Buffer => {
    let d = digests.get(algorithm);
    if (!d) digests.set(algorithm, d = authenticodeDigest(file, algorithm, layout));
    return d;
  };
  const sha256 = digestOf('sha256').toString('hex');
  const db = readDatabase(ctx.readVariable, 'db');
  const dbx = readDatabase(ctx.readVariable, 'dbx');
  const allow = (reason: string, entry: SignatureEntry, cert?: X509Certificate, signers?: string[]): ImageVerificationResult => {
    ctx.onAuthority?.('db', entry);
    return { status: EFI_SUCCESS, decision: 'allowed', reason, authenticodeSha256: sha256, ...(signers ? { signers } : {}), authority: authority(entry, cert) };
  };

  if (!layout.certificateTable) {
    // Unsigned: only a hash in db allows it; any hash in dbx refuses it (edk2 tries SHA512 down to SHA1).
    let found: SignatureEntry | undefined;
    for (const t of [...HASH_SIGNATURE_TYPES].reverse()) {
      if (t.hash === 'sha224') continue; // edk2 has no SHA224 hash functions in mHash
      const digest = digestOf(t.hash);
      if (dbx?.problem || findHash(dbx, t.guid, digest)) {
        return refuse(`the image is not signed and its ${t.hash.toUpperCase()} hash is in dbx${dbx?.problem ? ` (dbx unreadable: ${dbx.problem})` : ''}`, { authenticodeSha256: sha256 });
      }
      found = findHash(db, t.guid, digest) ?? found;
    }
    if (found) return allow(`the image is not signed and its ${signatureTypeName(found.type)} hash is in db`, found);
    return refuse('the image is not signed and its hash is not in db', { authenticodeSha256: sha256 });
  }

  // Signed: every WIN_CERTIFICATE of the Certificate Table (PE/COFF §4.7), 8-byte aligned.
  const { offset: tableStart, length: tableSize } = layout.certificateTable;
  const tableEnd = tableStart + tableSize;
  let at = tableStart;
  let verified: ImageVerificationResult | undefined;
  let lastReason = 'no usable PKCS#7 signature in the certificate table';
  const signers: string[] = [];
  for (; at < tableEnd;) {
    const left = tableEnd - at;
    if (left <= WIN_CERTIFICATE_SIZE || at + WIN_CERTIFICATE_SIZE > file.length) break;
    const dwLength = file.readUInt32LE(at);
    const type = file.readUInt16LE(at + 6);
    const pad = (8 - (dwLength % 8)) % 8;
    if (left < dwLength || left - dwLength < pad || at + dwLength > file.length) break;
    const next = at + dwLength + pad;
    let authData: Buffer | undefined;
    if (type === WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      if (dwLength <= WIN_CERTIFICATE_SIZE) break;
      authData = file.subarray(at + WIN_CERTIFICATE_SIZE, at + dwLength);
    } else if (type === WIN_CERT_TYPE_EFI_GUID) {
      if (dwLength <= WIN_CERTIFICATE_UEFI_GUID_CERT_DATA) break;
      const certType = file.subarray(at + 8, at + 24);
      if (guidFromBytes(certType) !== EFI_CERT.TYPE_PKCS7) {
        at = next;
        continue;
      }
      authData = file.subarray(at + WIN_CERTIFICATE_UEFI_GUID_CERT_DATA, at + dwLength);
    } else {
      if (dwLength < WIN_CERTIFICATE_SIZE) break;
      at = next;
      continue;
    }
    at = next;
    let sig: AuthenticodeSignature;
    try {
      sig = parseAuthenticode(authData);
    } catch (e) {
      if (!(e instanceof AuthenticodeSignatureError)) throw e;
      lastReason = `a signature cannot be used: ${e.message}`;
      continue;
    }
    if (sig.signer) signers.push(subjectText(sig.signer));
    const hashType = HASH_SIGNATURE_TYPES.find((t) => t.hash === sig.digestAlgorithm)!;
    const digest = digestOf(sig.digestAlgorithm);
    const forbidden = forbiddenByDbx(dbx, sig, digest);
    if (forbidden) return refuse(forbidden, { authenticodeSha256: sha256, signers });
    if (!verified) verified = allowedByDb(db, dbx, sig, digest, allow, signers);
    if (dbx?.problem || findHash(dbx, hashType.guid, digest)) {
      return refuse(`the image is signed but its ${sig.digestAlgorithm.toUpperCase()} hash is in dbx`, { authenticodeSha256: sha256, signers });
    }
    if (!verified) {
      const byHash = findHash(db, hashType.guid, digest);
      if (byHash) verified = allow(`the image's ${sig.digestAlgorithm.toUpperCase()} hash is in db`, byHash, undefined, signers);
      else lastReason = sig.signerProblem ? `the signature is not valid: ${sig.signerProblem}`
        : sig.imageDigest.equals(digest) ? 'the image is signed but no db certificate verifies the signature and its hash is not in db'
          : 'the signed digest does not match the image (modified after signing)';
    }
  }
  if (at !== tableEnd) return refuse(`the attribute certificate table is corrupt (its walk stops at file offset ${at}, the table ends at ${tableEnd})`, { authenticodeSha256: sha256, signers });
  if (verified) return { ...verified, signers };
  return refuse(lastReason, { authenticodeSha256: sha256, signers });
}

/** edk2 IsForbiddenByDbx: a dbx certificate verifies the signature, or a signer-chain certificate's hash is revoked. */
function forbiddenByDbx(dbx: Database | undefined, sig: AuthenticodeSignature, digest: Buffer): string | undefined {
  if (!dbx) return undefined;
  if (dbx.problem) return `dbx cannot be read (${dbx.problem}), so every signature counts as forbidden`;
  for (const { cert } of x509Entries(dbx)) {
    if (authenticodeVerify(sig, cert, digest)) return `the signature is forbidden by a dbx certificate (${subjectText(cert)})`;
  }
  if (sig.certificates.length === 0) return 'the signature carries no certificates (edk2 treats that as forbidden when dbx exists)';
  for (const c of sig.certificates) {
    // A revocation time needs a timestamp checked against dbt; without dbt edk2 counts the certificate as revoked.
    if (certHashInDbx(dbx, c)) return `a certificate of the signature is revoked in dbx by its TBS hash (${subjectText(c)})`;
  }
  return undefined;
}

/** edk2 IsAllowedByDb: a db certificate verifies the signature and is not itself revoked by hash in dbx. */
function allowedByDb(
  db: Database | undefined, dbx: Database | undefined, sig: AuthenticodeSignature, digest: Buffer,
  allow: (reason: string, entry: SignatureEntry, cert: X509Certificate, signers: string[]) => ImageVerificationResult, signers: string[],
): ImageVerificationResult | undefined {
  if (!db || db.problem) return undefined;
  for (const { entry, cert } of x509Entries(db)) {
    if (!authenticodeVerify(sig, cert, digest)) continue;
    if (dbx && (dbx.problem || certHashInDbx(dbx, cert))) return undefined;
    return allow(`the signature verifies against a db certificate (${subjectText(cert)})`, entry, cert, signers);
  }
  return undefined;
}
