// An Authenticode signature (PKCS#7 SignedData over SpcIndirectDataContent, Microsoft "Windows Authenticode PE
// Signature Format") checked as edk2 CryptoPkg AuthenticodeVerify does: the image digest in SpcIndirectDataContent,
// then PKCS7_verify against one trusted certificate with OpenSSL's X509_V_FLAG_PARTIAL_CHAIN and
// X509_V_FLAG_NO_CHECK_TIME and X509_PURPOSE_ANY (CryptPkcs7VerifyCommon.c). pkijs parses the ASN.1; node:crypto
// checks every signature (synchronously: LoadImage runs inside a firmware call).
import { createHash, verify as verifySignature, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  spcIndirectDataContent: '1.3.6.1.4.1.311.2.1.4',
  messageDigest: '1.2.840.113549.1.9.4',
  contentType: '1.2.840.113549.1.9.3',
  basicConstraints: '2.5.29.19',
} as const;

/** Digest algorithms by OID, with their node:crypto names (edk2 mHash: SHA1, SHA224, SHA256, SHA384, SHA512). */
const DIGESTS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export class AuthenticodeSignatureError extends Error {}

/** A parsed Authenticode PKCS#7: what verification needs, with the certificates as node:crypto objects. */
export interface AuthenticodeSignature {
  /** node:crypto name of the hash in SpcIndirectDataContent (the image digest's algorithm). */
  readonly digestAlgorithm: string;
  /** The image digest the signer signed. */
  readonly imageDigest: Buffer;
  /** Every certificate the SignedData carries, DER, in order (edk2 Pkcs7GetSigners returns the signer's chain from these). */
  readonly certificates: readonly X509Certificate[];
  /** The signer's certificate, found by IssuerAndSerialNumber; undefined when the SignedData does not carry it. */
  readonly signer?: X509Certificate;
  /** Why the signer's own signature over the content is not valid, or undefined when it is. */
  readonly signerProblem?: string;
}

export const bytes = (v: Uint8Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

export function der(o: asn1js.BaseBlock): Buffer {
  return Buffer.from(o.toBER(false));
}

/** The contents octets of a constructed value as it was received (PKCS#7 signs SpcIndirectDataContent without its tag and length). */
function contentOctets(o: asn1js.BaseBlock): Buffer {
  const all = bytes(o.valueBeforeDecodeView);
  return all.subarray(o.idBlock.blockLength + o.lenBlock.blockLength);
}

/** Parses an Authenticode signature (the PKCS#7 ContentInfo of a WIN_CERTIFICATE) and checks the signer's signature. */
export function parseAuthenticode(authData: Uint8Array): AuthenticodeSignature {
  const fail = (why: string): never => {
    throw new AuthenticodeSignatureError(why);
  };
  const asn1 = asn1js.fromBER(new Uint8Array(authData));
  if (asn1.offset === -1) fail(`not DER: ${asn1.result.error}`);
  let signed: pkijs.SignedData;
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData) fail(`ContentInfo type ${info.contentType} is not SignedData`);
    signed = new pkijs.SignedData({ schema: info.content });
  } catch (e) {
    if (e instanceof AuthenticodeSignatureError) throw e;
    return fail(`not PKCS#7 SignedData: ${(e as Error).message}`);
  }
  const encap = signed.encapContentInfo;
  if (encap.eContentType !== OID.spcIndirectDataContent) fail(`content type ${encap.eContentType} is not SpcIndirectDataContent`);
  const content = encap.eContent as unknown as asn1js.Sequence | undefined;
  if (!content || !(content instanceof asn1js.Sequence) || content.valueBlock.value.length < 2) fail('SpcIndirectDataContent is not a SEQUENCE of data and messageDigest');
  let digestInfo: pkijs.DigestInfo;
  try {
    digestInfo = new pkijs.DigestInfo({ schema: content!.valueBlock.value[1] });
  } catch (e) {
    return fail(`SpcIndirectDataContent.messageDigest: ${(e as Error).message}`);
  }
  const digestAlgorithm = DIGESTS[digestInfo.digestAlgorithm.algorithmId] ?? fail(`image digest algorithm ${digestInfo.digestAlgorithm.algorithmId} is not supported`);
  const imageDigest = bytes(digestInfo.digest.valueBlock.valueHexView);

  const certificates: X509Certificate[] = [];
  const pkiCerts: pkijs.Certificate[] = [];
  for (const c of signed.certificates ?? []) {
    if (!(c instanceof pkijs.Certificate)) continue;
    try {
      certificates.push(new X509Certificate(der(c.toSchema())));
      pkiCerts.push(c);
    } catch (e) {
      fail(`a certificate in the SignedData cannot be read: ${(e as Error).message}`);
    }
  }
  if (signed.signerInfos.length !== 1) fail(`${signed.signerInfos.length} SignerInfos (Authenticode has exactly one)`);
  const si = signed.signerInfos[0];
  const signer = signerCertificate(si, pkiCerts, certificates);
  return { digestAlgorithm, imageDigest, certificates, signer, signerProblem: signerProblem(si, signer, contentOctets(content!)) };
}

/** The SignedData certificate a SignerInfo names by issuer and serial number (`certificates[i]` is `pkiCerts[i]`). */
export function signerCertificate(si: pkijs.SignerInfo, pkiCerts: readonly pkijs.Certificate[], certificates: readonly X509Certificate[]): X509Certificate | undefined {
  if (!(si.sid instanceof pkijs.IssuerAndSerialNumber)) return undefined;
  const sid = si.sid;
  const at = pkiCerts.findIndex((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber));
  return at >= 0 ? certificates[at] : undefined;
}

/** PKCS#7 §9.3/§9.4 (RFC 2315): the messageDigest attribute covers the content; the signature covers the attributes. */
export function signerProblem(si: pkijs.SignerInfo, signer: X509Certificate | undefined, content: Buffer): string | undefined {
  if (!signer) return 'the signer\'s certificate is not in the SignedData';
  const hash = DIGESTS[si.digestAlgorithm.algorithmId];
  if (!hash) return `signer digest algorithm ${si.digestAlgorithm.algorithmId} is not supported`;
  let signedBytes = content;
  if (si.signedAttrs) {
    const md = si.signedAttrs.attributes.find((a) => a.type === OID.messageDigest);
    if (!md || !(md.values[0] instanceof asn1js.OctetString)) return 'signed attributes have no messageDigest';
    const want = createHash(hash).update(content).digest();
    if (!want.equals(bytes(md.values[0].valueBlock.valueHexView))) return 'messageDigest does not match SpcIndirectDataContent';
    // The signature covers the DER of the attributes as a SET OF (tag 0x31), not as the [0] IMPLICIT field.
    signedBytes = Buffer.from(si.signedAttrs.encodedValue);
    signedBytes[0] = 0x31;
  }
  const signature = bytes(si.signature.valueBlock.valueHexView);
  try {
    return verifySignature(hash, signedBytes, signer.publicKey, signature) ? undefined : 'the signer\'s signature does not verify';
  } catch (e) {
    return `the signer's signature cannot be checked: ${(e as Error).message}`;
  }
}

/** Whether a certificate may issue others: basicConstraints cA, or no basicConstraints on a self-issued certificate (OpenSSL X509_check_ca). */
function mayIssue(c: X509Certificate): boolean {
  if (c.ca) return true;
  const parsed = pkijs.Certificate.fromBER(c.raw);
  const hasBasicConstraints = (parsed.extensions ?? []).some((e) => e.extnID === OID.basicConstraints);
  return !hasBasicConstraints && c.checkIssued(c);
}

/**
 * OpenSSL X509_verify_cert as edk2 configures it: a chain from the signer through the SignedData's certificates
 * to `trusted`, where `trusted` may be the signer itself or any intermediate (partial chain); validity dates are
 * not checked; every issuer must be allowed to issue.
 */
export function chainsTo(sig: Pick<AuthenticodeSignature, 'signer' | 'certificates'>, trusted: X509Certificate): boolean {
  let cert = sig.signer;
  for (let depth = 0; cert && depth < 32; depth++) {
    if (cert.raw.equals(trusted.raw)) return true;
    const c: X509Certificate = cert;
    if (c.checkIssued(trusted) && mayIssue(trusted) && c.verify(trusted.publicKey)) return true;
    if (c.checkIssued(c)) return false; // an untrusted root
    cert = sig.certificates.find((i) => !i.raw.equals(c.raw) && c.checkIssued(i) && mayIssue(i) && c.verify(i.publicKey));
  }
  return false;
}

/**
 * edk2 AuthenticodeVerify(AuthData, TrustedCert, ImageHash): the image digest in the signature equals `imageDigest`,
 * the signer's signature is valid, and its certificate chains to `trusted`.
 */
export function authenticodeVerify(sig: AuthenticodeSignature, trusted: X509Certificate, imageDigest: Buffer): boolean {
  return sig.imageDigest.equals(imageDigest) && sig.signerProblem === undefined && chainsTo(sig, trusted);
}

/** A certificate's subject on one line ("C=US, O=..."), as reasons and the report name it. */
export function subjectText(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/** The DER certificate of an EFI_CERT_X509_GUID entry, or undefined when node:crypto cannot read it. */
export function readCertificate(derBytes: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(Buffer.from(derBytes));
  } catch {
    return undefined;
  }
}

/** The TBSCertificate's hash (what EFI_CERT_X509_SHA* entries of dbx hold), via pkijs' view of the received bytes. */
export function tbsCertificateHash(c: X509Certificate, hash: string): Buffer {
  const parsed = pkijs.Certificate.fromBER(c.raw);
  return createHash(hash).update(parsed.tbsView).digest();
}
