// PKCS#7 SignedData over detached content, verified as edk2 CryptoPkg Pkcs7Verify does for authenticated variables
// (UEFI 2.10 §8.2.2 EFI_VARIABLE_AUTHENTICATION_2): the DER may be a bare SignedData (what the spec and efitools'
// sign-efi-sig-list write) or wrapped in a ContentInfo (edk2 WrapPkcs7Data accepts both); the signer must chain to
// the trusted certificate (partial chain, no time check). pkijs parses, node:crypto verifies.
import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { chainsTo, der, signerCertificate, signerProblem, subjectText } from './authenticode-signature';

const SIGNED_DATA = '1.2.840.113549.1.7.2';

export interface SignedContent {
  readonly certificates: readonly X509Certificate[];
  readonly signer?: X509Certificate;
  readonly signerInfo: pkijs.SignerInfo;
}

/** The SignedData's certificates and its single signer; throws with the reason when it is not one. */
export function parseSignedData(bytes: Uint8Array): SignedContent {
  const asn1 = asn1js.fromBER(new Uint8Array(bytes));
  if (asn1.offset === -1) throw new Error(`not DER: ${asn1.result.error}`);
  let schema = asn1.result;
  const first = schema instanceof asn1js.Sequence ? schema.valueBlock.value[0] : undefined;
  if (first instanceof asn1js.ObjectIdentifier) {
    const info = new pkijs.ContentInfo({ schema });
    if (info.contentType !== SIGNED_DATA) throw new Error(`ContentInfo type ${info.contentType} is not SignedData`);
    schema = info.content;
  }
  const signed = new pkijs.SignedData({ schema });
  if (signed.signerInfos.length !== 1) throw new Error(`${signed.signerInfos.length} SignerInfos, expected 1`);
  const pkiCerts = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  const certificates = pkiCerts.map((c) => new X509Certificate(der(c.toSchema())));
  const si = signed.signerInfos[0];
  const signer = signerCertificate(si, pkiCerts, certificates);
  return { certificates, signer, signerInfo: si };
}

/** edk2 Pkcs7Verify(P7Data, TrustedCert, InData): why the signature does not verify, or undefined when it does. */
export function pkcs7Problem(signedData: Uint8Array, trusted: X509Certificate, content: Buffer): string | undefined {
  let sd: SignedContent;
  try {
    sd = parseSignedData(signedData);
  } catch (e) {
    return `not PKCS#7 SignedData: ${(e as Error).message}`;
  }
  const problem = signerProblem(sd.signerInfo, sd.signer, content);
  if (problem) return problem;
  return chainsTo(sd, trusted) ? undefined : `the signer (${subjectText(sd.signer!)}) does not chain to ${subjectText(trusted)}`;
}
