// Time-based authenticated writes of the Secure Boot key variables (UEFI 2.10 §8.2.2, §32.3.4), with the rules of
// edk2 AuthVariableLib ProcessVarWithPk / ProcessVarWithKek / VerifyTimeBasedPayload: in setup mode PK, KEK and the
// image databases are written without a signature (only the descriptor and the list format are checked); in user
// mode PK and KEK need a PKCS#7 signature by the PK certificate, db/dbx/dbt/dbr one by a KEK certificate, over
// VariableName ‖ VendorGuid ‖ Attributes ‖ TimeStamp ‖ payload, with a TimeStamp later than the stored one.
import { X509Certificate } from 'node:crypto';
import { GUID, guidToBytes } from '../../core/guid';
import { EFI_VARIABLE, VariableStore } from '../runtime/variable-store';
import { EFI_INVALID_PARAMETER, EFI_SECURITY_VIOLATION, EfiStatus } from '../../core/status';
import { parseAuthentication2 } from './key-files';
import { pkcs7Problem } from './pkcs7';
import { EFI_CERT, EFI_IMAGE_SECURITY_DATABASE_GUID, parseSignatureLists, SignatureListError } from './signature-list';

const BS_RT = EFI_VARIABLE.BOOTSERVICE_ACCESS | EFI_VARIABLE.RUNTIME_ACCESS;

/** What the variable store does with a time-based authenticated SetVariable. */
export type TimeBasedWriteResult =
  | { readonly refuse: EfiStatus; readonly why: string }
  | { readonly payload: Buffer; readonly timestamp: Buffer; readonly note: string };

/** EFI_TIME fields (UEFI 2.10 §8.3.1): Year u16, Month, Day, Hour, Minute, Second, Pad1, Nanosecond u32, TimeZone i16, Daylight, Pad2. */
function timeProblem(t: Buffer): string | undefined {
  if (t[7] !== 0 || t.readUInt32LE(8) !== 0 || t.readInt16LE(12) !== 0 || t[14] !== 0 || t[15] !== 0) {
    return 'TimeStamp has a non-zero Pad1, Nanosecond, TimeZone, Daylight or Pad2';
  }
  return undefined;
}

/** edk2 AuthServiceInternalCompareTimeStamp: the first time is not later than the second. */
function notLater(a: Buffer, b: Buffer): boolean {
  const key = (t: Buffer) => [t.readUInt16LE(0), t[2], t[3], t[4], t[5], t[6]];
  const x = key(a);
  const y = key(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i];
  return true;
}

type Kind = 'PK' | 'KEK' | 'image-database';

function kindOf(guid: string, name: string): Kind | undefined {
  const g = guid.toLowerCase();
  if (g === GUID.GLOBAL_VARIABLE && (name === 'PK' || name === 'KEK')) return name;
  if (g === EFI_IMAGE_SECURITY_DATABASE_GUID && ['db', 'dbx', 'dbt', 'dbr'].includes(name)) return 'image-database';
  return undefined;
}

/** The key variables' time-based writes; other authenticated variables are left to the store (which refuses them). */
export class SecureBootVariableWrites {
  /** TimeStamp of each key variable's last authenticated write (zero for keys enrolled at start). */
  private readonly timestamps = new Map<string, Buffer>();

  constructor(private readonly store: VariableStore, private readonly onPlatformKeyChange: (enrolled: boolean) => void) {}

  private certificates(guid: string, name: string): X509Certificate[] {
    const v = this.store.get(guid, name);
    if (typeof v === 'bigint') return [];
    try {
      return parseSignatureLists(v.data, name).flatMap((e) => {
        if (e.type !== EFI_CERT.X509) return [];
        try {
          return [new X509Certificate(e.data)];
        } catch {
          return [];
        }
      });
    } catch {
      return [];
    }
  }

  /** Handles SetVariable of PK, KEK, db, dbx, dbt, dbr with TIME_BASED_AUTHENTICATED_WRITE_ACCESS; undefined for others. */
  write(guid: string, name: string, attributes: number, data: Buffer): TimeBasedWriteResult | undefined {
    const kind = kindOf(guid, name);
    if (!kind) return undefined;
    if (!(attributes & EFI_VARIABLE.NON_VOLATILE)) return { refuse: EFI_INVALID_PARAMETER, why: `${name} must be NON_VOLATILE` };
    const auth = parseAuthentication2(data);
    if (!auth) return { refuse: EFI_SECURITY_VIOLATION, why: 'data does not start with an EFI_VARIABLE_AUTHENTICATION_2 carrying PKCS#7 (WIN_CERT_TYPE_EFI_GUID, EFI_CERT_TYPE_PKCS7_GUID)' };
    const key = `${guid.toLowerCase()}:${name}`;
    const userMode = typeof this.store.get(GUID.GLOBAL_VARIABLE, 'PK') !== 'bigint';
    const payload = Buffer.from(auth.payload);
    let note = 'setup mode: no signature needed';
    if (userMode) {
      const t = timeProblem(auth.timestamp);
      if (t) return { refuse: EFI_SECURITY_VIOLATION, why: t };
      const old = this.timestamps.get(key) ?? (typeof this.store.get(guid, name) !== 'bigint' ? Buffer.alloc(16) : undefined);
      if (old && !(attributes & EFI_VARIABLE.APPEND_WRITE) && notLater(auth.timestamp, old)) {
        return { refuse: EFI_SECURITY_VIOLATION, why: 'TimeStamp is not later than the stored one (replay)' };
      }
      // VerifyTimeBasedPayload: VariableName (no NUL) ‖ VendorGuid ‖ Attributes ‖ TimeStamp ‖ payload.
      const attr = Buffer.alloc(4);
      attr.writeUInt32LE(attributes >>> 0);
      const signed = Buffer.concat([Buffer.from(name, 'utf16le'), guidToBytes(guid), attr, auth.timestamp, payload]);
      const signerVariable = kind === 'image-database' ? 'KEK' : 'PK';
      const trusted = this.certificates(GUID.GLOBAL_VARIABLE, signerVariable);
      const problems = trusted.map((c) => pkcs7Problem(auth.signedData, c, signed));
      if (trusted.length === 0 || problems.every((p) => p !== undefined)) {
        return { refuse: EFI_SECURITY_VIOLATION, why: `not signed by a ${signerVariable} certificate${problems[0] ? `: ${problems[0]}` : ''}` };
      }
      note = `signed by a ${signerVariable} certificate`;
    }
    if (payload.length > 0) {
      try {
        const entries = parseSignatureLists(payload, name);
        if (kind === 'PK' && (entries.length !== 1 || entries[0].type !== EFI_CERT.X509)) {
          return { refuse: EFI_INVALID_PARAMETER, why: `PK must hold exactly one X.509 certificate (got ${entries.length} entries)` };
        }
      } catch (e) {
        if (!(e instanceof SignatureListError)) throw e;
        return { refuse: EFI_INVALID_PARAMETER, why: e.message };
      }
    }
    return { payload, timestamp: Buffer.from(auth.timestamp), note };
  }

  /** After the store wrote the variable: the new timestamp, and SetupMode/SecureBoot when PK came or went. */
  written(guid: string, name: string, attributes: number, timestamp: Buffer, deleted: boolean): void {
    const key = `${guid.toLowerCase()}:${name}`;
    const old = this.timestamps.get(key);
    // An append keeps the later of the two timestamps (UEFI 2.10 §8.2.3 APPEND_WRITE).
    if (deleted) this.timestamps.delete(key);
    else if (!(attributes & EFI_VARIABLE.APPEND_WRITE) || !old || notLater(old, timestamp)) this.timestamps.set(key, timestamp);
    if (kindOf(guid, name) === 'PK') this.onPlatformKeyChange(!deleted);
  }

  /** edk2 UpdatePlatformMode: SetupMode follows PK; SecureBoot too, but only before ExitBootServices. */
  static updatePlatformMode(store: VariableStore, enrolled: boolean): void {
    store.define(GUID.GLOBAL_VARIABLE, 'SetupMode', BS_RT, Uint8Array.of(enrolled ? 0 : 1));
    if (!store.atRuntime) store.define(GUID.GLOBAL_VARIABLE, 'SecureBoot', BS_RT, Uint8Array.of(enrolled ? 1 : 0));
  }
}
