// The files `--pk/--kek/--db/--dbx` accept, turned into the EFI_SIGNATURE_LIST bytes the variables hold: X.509
// certificates (DER or PEM, several PEM blocks allowed), EFI signature lists (.esl, as efitools' cert-to-efi-sig-list
// writes them), authenticated variable payloads (.auth: EFI_VARIABLE_AUTHENTICATION_2 then the lists, as
// sign-efi-sig-list writes them), and `sha256:HEX` image hashes.
import { X509Certificate } from 'node:crypto';
import { guidFromBytes } from '../../core/guid';
import { EFI_CERT, encodeSignatureList, parseSignatureLists, SignatureListError } from './signature-list';

/** SignatureOwner of entries stubemu makes from certificates and hashes (EFI_SIGNATURE_DATA, UEFI 2.10 §32.4.1). */
export const STUBEMU_SIGNATURE_OWNER = '5a4e77d5-6a1b-4b0e-9a39-8d1d3c3e5b07';

/** EFI_VARIABLE_AUTHENTICATION_2 (UEFI 2.10 §8.2.2): EFI_TIME TimeStamp, then WIN_CERTIFICATE_UEFI_GUID AuthInfo. */
const EFI_TIME_SIZE = 16;
const WIN_CERT_TYPE_EFI_GUID = 0x0ef1;
const WIN_CERTIFICATE_UEFI_GUID_HEADER = 24;

export class KeyFileError extends Error {}

export interface AuthenticationDescriptor {
  /** The EFI_TIME TimeStamp bytes. */
  timestamp: Buffer;
  /** The PKCS#7 SignedData (AuthInfo.CertData). */
  signedData: Buffer;
  /** What follows the descriptor: the new variable data. */
  payload: Buffer;
}

/** An EFI_VARIABLE_AUTHENTICATION_2 descriptor at the start of `data`, or undefined when it is not one. */
export function parseAuthentication2(data: Buffer): AuthenticationDescriptor | undefined {
  if (data.length < EFI_TIME_SIZE + WIN_CERTIFICATE_UEFI_GUID_HEADER) return undefined;
  const dwLength = data.readUInt32LE(EFI_TIME_SIZE);
  const type = data.readUInt16LE(EFI_TIME_SIZE + 6);
  if (type !== WIN_CERT_TYPE_EFI_GUID || guidFromBytes(data, EFI_TIME_SIZE + 8) !== EFI_CERT.TYPE_PKCS7) return undefined;
  if (dwLength < WIN_CERTIFICATE_UEFI_GUID_HEADER || dwLength > data.length - EFI_TIME_SIZE) return undefined;
  return {
    timestamp: data.subarray(0, EFI_TIME_SIZE),
    signedData: data.subarray(EFI_TIME_SIZE + WIN_CERTIFICATE_UEFI_GUID_HEADER, EFI_TIME_SIZE + dwLength),
    payload: data.subarray(EFI_TIME_SIZE + dwLength),
  };
}

function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  return out;
}

function certificateList(ders: Buffer[], where: string): Buffer {
  return Buffer.concat(ders.map((der, i) => {
    try {
      const c = new X509Certificate(der);
      return encodeSignatureList(EFI_CERT.X509, [{ owner: STUBEMU_SIGNATURE_OWNER, data: c.raw }]);
    } catch (e) {
      throw new KeyFileError(`${where}: certificate ${i + 1} cannot be read: ${(e as Error).message}`);
    }
  }));
}

/**
 * The EFI_SIGNATURE_LIST bytes a key file stands for. `where` names the option and file in errors. Every result is
 * checked to walk as signature lists.
 */
export function signatureListsFromFile(bytes: Buffer, where: string): Buffer {
  const text = bytes.subarray(0, 64).toString('latin1');
  const hash = /^sha256:([0-9a-f]{64})$/i.exec(bytes.toString('latin1').trim());
  if (hash) return encodeSignatureList(EFI_CERT.SHA256, [{ owner: STUBEMU_SIGNATURE_OWNER, data: Buffer.from(hash[1], 'hex') }]);
  if (text.includes('-----BEGIN')) {
    const ders = pemCertificates(bytes.toString('latin1'));
    if (ders.length === 0) throw new KeyFileError(`${where}: PEM file without a CERTIFICATE block`);
    return certificateList(ders, where);
  }
  const auth = parseAuthentication2(bytes);
  if (auth) return checked(auth.payload, `${where} (.auth payload after ${bytes.length - auth.payload.length} bytes of EFI_VARIABLE_AUTHENTICATION_2)`);
  // DER X.509 begins with a SEQUENCE; an EFI_SIGNATURE_LIST with a signature type GUID.
  if (bytes[0] === 0x30) {
    try {
      return certificateList([bytes], where);
    } catch {
      /* not a certificate: try a signature list */
    }
  }
  return checked(bytes, where);
}

function checked(lists: Buffer, where: string): Buffer {
  try {
    parseSignatureLists(lists, where);
  } catch (e) {
    if (e instanceof SignatureListError) throw new KeyFileError(`${e.message} (not a certificate, .esl, .auth or sha256:HEX either)`);
    throw e;
  }
  return Buffer.from(lists);
}
