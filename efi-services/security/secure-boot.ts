// The platform's Secure Boot: the key variables and modes as edk2 AuthVariableLib sets them at start, the image
// verification the Security2 handler runs (image-verification.ts), the decision per image for the report, and the
// EV_EFI_VARIABLE_AUTHORITY measurement of each db entry that allowed an image (edk2 DxeImageVerificationLib
// Measurement.c SecureBootHook: once per distinct entry).
import { createHash } from 'node:crypto';
import { digestOfUnchanging } from '../../core/digest-memo';
import { GUID, guidToBytes } from '../../core/guid';
import { EFI_VARIABLE, VariableStore } from '../runtime/variable-store';
import { statusName } from '../../core/status';
import { encodeVariableData, EV } from '../tcg/event-data';
import { MeasuredBoot } from '../tcg/event-log';
import { ImageOrigin, ImageVerificationResult, verifyImage } from './image-verification';
import { SecureBootVariableWrites } from './authenticated-variables';
import { readCertificate, subjectText } from './authenticode-signature';
import { EFI_CERT, EFI_IMAGE_SECURITY_DATABASE_GUID, parseSignatureLists, SignatureEntry, signatureTypeName } from './signature-list';

const BS_RT = EFI_VARIABLE.BOOTSERVICE_ACCESS | EFI_VARIABLE.RUNTIME_ACCESS;
/** PK, KEK, db and dbx: NV, BS, RT and time-based authenticated writes (UEFI 2.10 §32.3, §32.6; edk2 0x27). */
export const SECURE_BOOT_KEY_ATTRIBUTES = EFI_VARIABLE.NON_VOLATILE | BS_RT | EFI_VARIABLE.TIME_BASED_AUTHENTICATED_WRITE_ACCESS;

/** edk2 AuthVariableLib mSignatureSupport: the signature types the firmware accepts in signature databases. */
const SIGNATURE_SUPPORT = [EFI_CERT.SHA1, EFI_CERT.SHA256, EFI_CERT.SHA384, EFI_CERT.SHA512, EFI_CERT.RSA2048, EFI_CERT.X509];

export type KeyVariable = 'PK' | 'KEK' | 'db' | 'dbx';
export const KEY_VARIABLES: readonly KeyVariable[] = ['PK', 'KEK', 'db', 'dbx'];

export function keyVariableGuid(name: KeyVariable): string {
  return name === 'PK' || name === 'KEK' ? GUID.GLOBAL_VARIABLE : EFI_IMAGE_SECURITY_DATABASE_GUID;
}

/** EFI_SIGNATURE_LIST bytes per key variable, and where they came from (for the report). */
export interface SecureBootKeys {
  readonly lists: Partial<Record<KeyVariable, Buffer>>;
  /** e.g. "--pk/--kek/--db/--dbx files" or "OVMF_VARS_4M.ms.fd of ovmf 2022.11-6+deb12u2". */
  readonly source: string;
}

export interface SecureBootOptions {
  /** --secure-boot: SecureBootEnable. With a PK this turns Secure Boot on; without keys it is only announced. */
  enabled: boolean;
  keys?: SecureBootKeys;
}

export interface ImageDecision extends ImageVerificationResult {
  /** The device path as text ('' for none) or the image name the boot manager used. */
  image: string;
  origin: ImageOrigin;
  /** SHA-256 of the file bytes (matches images[].fileSha256 when the image was loaded). */
  fileSha256?: string;
}

/** Sets SetupMode, SecureBoot, SignatureSupport and PK/KEK/db/dbx as edk2 AuthVariableLibInitialize leaves them. */
export function defineSecureBootVariables(store: VariableStore, o: SecureBootOptions): { secureBoot: number; setupMode: number } {
  const lists = o.keys?.lists ?? {};
  for (const name of KEY_VARIABLES) {
    const data = lists[name];
    if (data && data.length > 0) store.define(keyVariableGuid(name), name, SECURE_BOOT_KEY_ATTRIBUTES, data);
  }
  const hasPk = (lists.PK?.length ?? 0) > 0;
  // Without keys, --secure-boot keeps its old meaning (announced only: SecureBoot=1, SetupMode=0, nothing verified).
  const setupMode = hasPk || (o.enabled && !o.keys) ? 0 : 1;
  const secureBoot = o.enabled && (hasPk || !o.keys) ? 1 : 0;
  store.define(GUID.GLOBAL_VARIABLE, 'SetupMode', BS_RT, Uint8Array.of(setupMode));
  store.define(GUID.GLOBAL_VARIABLE, 'SecureBoot', BS_RT, Uint8Array.of(secureBoot));
  if (o.keys) {
    store.define(GUID.GLOBAL_VARIABLE, 'SignatureSupport', BS_RT, Buffer.concat(SIGNATURE_SUPPORT.map(guidToBytes)));
  }
  return { secureBoot, setupMode };
}

export interface KeyVariableReport {
  /** Bytes of EFI_SIGNATURE_LIST data; 0 when the variable does not exist. */
  size: number;
  sha256: string | null;
  /** Entries per signature type (EFI_CERT_X509_GUID, EFI_CERT_SHA256_GUID, ...). */
  entries: { [type: string]: number };
  certificates: { subject: string; owner: string; sha256: string }[];
}

export interface SecureBootReport {
  /** SecureBoot and SetupMode as the firmware set them at start. */
  secureBoot: number;
  setupMode: number;
  /** Whether LoadImage verifies signatures (keys are enrolled and Secure Boot is on). */
  verification: boolean;
  keySource: string | null;
  keys: { [name: string]: KeyVariableReport };
  /** One per image the Security2 handler or the boot manager checked, in order. */
  images: {
    image: string;
    origin: string;
    decision: string;
    status: string;
    reason: string;
    fileSha256?: string;
    authenticodeSha256?: string;
    signers?: string[];
    authority?: { variable: string; type: string; owner: string; sha256: string; subject?: string };
  }[];
  /** EV_EFI_VARIABLE_AUTHORITY events measured into PCR 7. */
  authoritiesMeasured: number;
}

export class SecureBoot {
  readonly decisions: ImageDecision[] = [];
  private readonly measured: Buffer[] = [];
  readonly mode: { secureBoot: number; setupMode: number };

  constructor(
    private readonly store: VariableStore,
    private readonly o: SecureBootOptions,
    private readonly measuredBoot: () => MeasuredBoot | undefined,
  ) {
    this.mode = defineSecureBootVariables(store, o);
    // With keys, the guest may change them as on a real machine: signed writes in user mode, any in setup mode.
    if (o.keys) store.timeBasedWrites = new SecureBootVariableWrites(store, (enrolled) => SecureBootVariableWrites.updatePlatformMode(store, enrolled));
  }

  /** Images are verified when keys were given, a PK is enrolled and SecureBoot is 1 (a guest may change both). */
  get verifying(): boolean {
    if (this.o.keys === undefined) return false;
    const sb = this.store.get(GUID.GLOBAL_VARIABLE, 'SecureBoot');
    return typeof sb !== 'bigint' && sb.data[0] === 1 && typeof this.store.get(GUID.GLOBAL_VARIABLE, 'PK') !== 'bigint';
  }

  /** The Security2 handler of edk2 DxeImageVerificationLib for one file; records the decision. */
  verify(file: Buffer | undefined, origin: ImageOrigin, image: string): ImageDecision {
    const result = verifyImage({
      readVariable: (guid, name) => {
        const v = this.store.get(guid, name);
        return typeof v === 'bigint' ? undefined : { attributes: v.attributes, data: v.data };
      },
      onAuthority: (_variable, entry) => this.measureAuthority(entry),
    }, { file, origin });
    const decision: ImageDecision = {
      ...result, image, origin, ...(file ? { fileSha256: digestOfUnchanging('sha256', file).toString('hex') } : {}),
    };
    this.decisions.push(decision);
    return decision;
  }

  /** SecureBootHook: EV_EFI_VARIABLE_AUTHORITY with UEFI_VARIABLE_DATA(db, EFI_SIGNATURE_DATA), once per distinct entry. */
  private measureAuthority(entry: SignatureEntry): void {
    if (this.measured.some((m) => m.equals(entry.raw))) return;
    const mb = this.measuredBoot();
    if (!mb) return;
    const event = encodeVariableData(EFI_IMAGE_SECURITY_DATABASE_GUID, 'db', entry.raw);
    mb.measure(7, EV.EFI_VARIABLE_AUTHORITY, event, event);
    this.measured.push(Buffer.from(entry.raw));
  }

  report(): SecureBootReport {
    const keys: SecureBootReport['keys'] = {};
    for (const name of KEY_VARIABLES) keys[name] = keyReport(this.store, name);
    return {
      secureBoot: this.mode.secureBoot,
      setupMode: this.mode.setupMode,
      verification: this.verifying,
      keySource: this.o.keys?.source ?? null,
      keys,
      images: this.decisions.map((d) => ({
        image: d.image, origin: d.origin, decision: d.decision, status: statusName(d.status), reason: d.reason,
        ...(d.fileSha256 ? { fileSha256: d.fileSha256 } : {}),
        ...(d.authenticodeSha256 ? { authenticodeSha256: d.authenticodeSha256 } : {}),
        ...(d.signers ? { signers: d.signers } : {}),
        ...(d.authority ? { authority: d.authority } : {}),
      })),
      authoritiesMeasured: this.measured.length,
    };
  }
}

function keyReport(store: VariableStore, name: KeyVariable): KeyVariableReport {
  const v = store.get(keyVariableGuid(name), name);
  if (typeof v === 'bigint') return { size: 0, sha256: null, entries: {}, certificates: [] };
  const entries: Record<string, number> = {};
  const certificates: KeyVariableReport['certificates'] = [];
  let list: SignatureEntry[] = [];
  try {
    list = parseSignatureLists(v.data, name);
  } catch {
    /* reported by size and hash only */
  }
  for (const e of list) {
    const t = signatureTypeName(e.type);
    entries[t] = (entries[t] ?? 0) + 1;
    if (e.type !== EFI_CERT.X509) continue;
    const cert = readCertificate(e.data);
    const subject = cert ? subjectText(cert) : '(unreadable certificate)';
    certificates.push({ subject, owner: e.owner, sha256: createHash('sha256').update(e.data).digest('hex') });
  }
  return { size: v.data.length, sha256: createHash('sha256').update(v.data).digest('hex'), entries, certificates };
}
