// The UEFI variable store (UEFI 2.10 §8.2): SetVariable/GetVariable/GetNextVariableName/QueryVariableInfo semantics
// over an in-memory, insertion-ordered map, with OVMF-like size limits and a change log for the report.
import {
  EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EFI_SECURITY_VIOLATION, EFI_SUCCESS, EFI_UNSUPPORTED,
  EFI_WRITE_PROTECTED, EfiStatus,
} from '../../core/status';
import { GUID } from '../../core/guid';

/** Variable attribute bits (UEFI 2.10 §8.2.1 "Related Definitions"). */
export const EFI_VARIABLE = {
  NON_VOLATILE: 0x01,
  BOOTSERVICE_ACCESS: 0x02,
  RUNTIME_ACCESS: 0x04,
  HARDWARE_ERROR_RECORD: 0x08,
  /** Deprecated since UEFI 2.5: SetVariable returns EFI_UNSUPPORTED. */
  AUTHENTICATED_WRITE_ACCESS: 0x10,
  TIME_BASED_AUTHENTICATED_WRITE_ACCESS: 0x20,
  APPEND_WRITE: 0x40,
  ENHANCED_AUTHENTICATED_ACCESS: 0x80,
} as const;

const ALL_DEFINED_BITS = 0xff;
const ACCESS = EFI_VARIABLE.BOOTSERVICE_ACCESS | EFI_VARIABLE.RUNTIME_ACCESS;

/** EFI_HARDWARE_ERROR_VARIABLE (UEFI 2.10 §8.2.4.2): the only namespace for HwErrRec#### variables. */
export const EFI_HARDWARE_ERROR_VARIABLE_GUID = '414e6bdd-e47b-47cc-b244-bb61020cf516';

/**
 * Firmware-owned variables of EFI_GLOBAL_VARIABLE that the guest may read but not write (UEFI 2.10 §3.3, the
 * variables the table marks as set by firmware; edk2 enforces the same list as read-only through VarCheckUefiLib
 * and AuthVariableLib). The firmware seeds them with `define()`.
 */
export const READ_ONLY_GLOBAL_VARIABLES: ReadonlySet<string> = new Set([
  'SecureBoot', 'SetupMode', 'AuditMode', 'DeployedMode', 'SignatureSupport', 'VendorKeys',
  'PKDefault', 'KEKDefault', 'dbDefault', 'dbxDefault', 'dbtDefault', 'dbrDefault',
  'OsIndicationsSupported', 'BootOptionSupport', 'BootCurrent', 'LangCodes', 'PlatformLangCodes',
  'ConInDev', 'ConOutDev', 'ErrOutDev', 'CryptoIndicationsSupported',
]);

export interface Variable {
  readonly guid: string;
  readonly name: string;
  /** Stored attributes; APPEND_WRITE is never stored (UEFI 2.10 §8.2.1 GetVariable). */
  readonly attributes: number;
  readonly data: Buffer;
}

export interface VariableChange {
  readonly op: 'set' | 'append' | 'delete';
  readonly guid: string;
  readonly name: string;
  readonly attributes: number;
  /** The variable's data size after the operation (0 after a delete). */
  readonly size: number;
}

export interface VariableStorageInfo {
  readonly maximumVariableStorageSize: bigint;
  readonly remainingVariableStorageSize: bigint;
  readonly maximumVariableSize: bigint;
}

/**
 * Size limits. Defaults follow OVMF's 4 MiB flash build (OvmfPkgX64.dsc: PcdMaxVariableSize and
 * PcdMaxAuthVariableSize 0x8400, PcdVariableStoreSize 0x40000; edk2 uses PcdMaxVariableSize for volatile variables
 * when PcdMaxVolatileVariableSize is 0). OVMF has no hardware error record store; stubemu gives it 64 KiB with
 * MdeModulePkg's default PcdMaxHardwareErrorVariableSize 0x8000 so that HwErrRec#### behaves as on real machines.
 * Sizes are counted as edk2 does: a 60-byte AUTHENTICATED_VARIABLE_HEADER, then name and data each padded to 4.
 */
export interface VariableStoreLimits {
  readonly maxVariableSize: number;
  readonly maxAuthVariableSize: number;
  readonly maxVolatileVariableSize: number;
  readonly maxHwErrVariableSize: number;
  readonly nonVolatileStorageSize: number;
  readonly volatileStorageSize: number;
  readonly hwErrStorageSize: number;
}

export const OVMF_VARIABLE_LIMITS: VariableStoreLimits = {
  maxVariableSize: 0x8400,
  maxAuthVariableSize: 0x8400,
  maxVolatileVariableSize: 0x8400,
  maxHwErrVariableSize: 0x8000,
  nonVolatileStorageSize: 0x40000,
  volatileStorageSize: 0x40000,
  hwErrStorageSize: 0x10000,
};

/** sizeof (AUTHENTICATED_VARIABLE_HEADER) in edk2's variable store format. */
export const VARIABLE_HEADER_SIZE = 60;

const align4 = (n: number) => (n + 3) & ~3;
const nameSize = (name: string) => 2 * (name.length + 1);
const entrySize = (name: string, dataSize: number) => VARIABLE_HEADER_SIZE + align4(nameSize(name)) + align4(dataSize);
const keyOf = (guid: string, name: string) => `${guid.toLowerCase()}\u0000${name}`;

type Pool = 'nv' | 'volatile' | 'hwerr';

function poolOf(attributes: number): Pool {
  if (!(attributes & EFI_VARIABLE.NON_VOLATILE)) return 'volatile';
  return attributes & EFI_VARIABLE.HARDWARE_ERROR_RECORD ? 'hwerr' : 'nv';
}

/** HwErrRec followed by four hex digits in the hardware error namespace (UEFI 2.10 §8.2.4.2). */
export function isHwErrRecName(guid: string, name: string): boolean {
  return guid.toLowerCase() === EFI_HARDWARE_ERROR_VARIABLE_GUID && /^HwErrRec[0-9A-Fa-f]{4}$/.test(name);
}

/**
 * Why a set of attributes can never describe a stored variable, or undefined when it can. Shared by `define()`
 * and the `--vars` loader so both reject what SetVariable would.
 */
export function attributeProblem(attributes: number): string | undefined {
  if (!Number.isInteger(attributes) || attributes < 0 || attributes > 0xffffffff) return 'not a 32-bit attribute mask';
  if (attributes & ~ALL_DEFINED_BITS) return `reserved bits 0x${((attributes & ~ALL_DEFINED_BITS) >>> 0).toString(16)} set`;
  if (attributes & EFI_VARIABLE.AUTHENTICATED_WRITE_ACCESS) return 'AUTHENTICATED_WRITE_ACCESS is deprecated';
  if (attributes & EFI_VARIABLE.ENHANCED_AUTHENTICATED_ACCESS) return 'ENHANCED_AUTHENTICATED_ACCESS is not supported';
  if (attributes & EFI_VARIABLE.APPEND_WRITE) return 'APPEND_WRITE is an operation, not a stored attribute';
  if (!(attributes & EFI_VARIABLE.BOOTSERVICE_ACCESS)) {
    return attributes & EFI_VARIABLE.RUNTIME_ACCESS ? 'RUNTIME_ACCESS requires BOOTSERVICE_ACCESS' : 'no access attribute (BS)';
  }
  if (attributes & EFI_VARIABLE.HARDWARE_ERROR_RECORD) {
    const need = EFI_VARIABLE.NON_VOLATILE | EFI_VARIABLE.RUNTIME_ACCESS;
    if ((attributes & need) !== need) return 'HARDWARE_ERROR_RECORD requires NV, BS and RT';
  }
  return undefined;
}

/**
 * Offset of CertData in EFI_VARIABLE_AUTHENTICATION_2: TimeStamp (EFI_TIME, 16) + WIN_CERTIFICATE_UEFI_GUID header
 * (dwLength 4, wRevision 2, wCertificateType 2, CertType GUID 16) (UEFI 2.10 §8.2.2).
 */
const AUTH2_CERT_DATA_OFFSET = 40;
const AUTH2_AUTHINFO_OFFSET = 16;
const WIN_CERT_UEFI_GUID_HEADER = 24;

/** Whether `data` starts with a structurally well-formed EFI_VARIABLE_AUTHENTICATION_2 (edk2's sanity check). */
export function isWellFormedAuthentication2(data: Buffer): boolean {
  if (data.length < AUTH2_CERT_DATA_OFFSET) return false;
  const dwLength = data.readUInt32LE(AUTH2_AUTHINFO_OFFSET);
  return dwLength >= WIN_CERT_UEFI_GUID_HEADER && dwLength <= data.length - AUTH2_AUTHINFO_OFFSET;
}

export class VariableStore {
  private readonly vars = new Map<string, Variable>();
  private runtime = false;
  /** Every successful SetVariable that changed or rewrote a variable, in call order. */
  readonly changes: VariableChange[] = [];
  /** Why the last refused SetVariable was refused, for the call's trace note. */
  lastRejection: string | undefined;
  /** Verifies time-based authenticated writes of the variables it knows (Secure Boot keys); unset: all refused. */
  timeBasedWrites?: {
    write(guid: string, name: string, attributes: number, data: Buffer): { refuse: EfiStatus; why: string } | { payload: Buffer; timestamp: Buffer } | undefined;
    written(guid: string, name: string, attributes: number, timestamp: Buffer, deleted: boolean): void;
  };

  constructor(readonly limits: VariableStoreLimits = OVMF_VARIABLE_LIMITS) {}

  get atRuntime(): boolean {
    return this.runtime;
  }

  /** After ExitBootServices only RUNTIME_ACCESS variables are visible and writable (UEFI 2.10 §8.2). */
  exitBootServices(): void {
    this.runtime = true;
  }

  /** Every variable, hidden or not, in store order (for the report). */
  all(): Variable[] {
    return [...this.vars.values()];
  }

  isReadOnly(guid: string, name: string): boolean {
    return guid.toLowerCase() === GUID.GLOBAL_VARIABLE && READ_ONLY_GLOBAL_VARIABLES.has(name);
  }

  /**
   * A firmware-owned write (platform setup, `--vars`): bypasses the read-only list, the authenticated-write rule
   * and the runtime rules, but not attribute consistency or size limits. Not recorded in `changes`.
   */
  define(guid: string, name: string, attributes: number, data: Uint8Array): void {
    const problem = name === '' ? 'empty name' : data.length === 0 ? 'empty data' : attributeProblem(attributes);
    if (problem) throw new Error(`variable ${guid}:${name}: ${problem}`);
    if (attributes & EFI_VARIABLE.HARDWARE_ERROR_RECORD && !isHwErrRecName(guid, name)) {
      throw new Error(`variable ${guid}:${name}: HARDWARE_ERROR_RECORD outside the HwErrRec#### namespace`);
    }
    if (nameSize(name) + data.length > this.maxPayload(attributes)) {
      throw new Error(`variable ${guid}:${name}: ${data.length} bytes exceed the maximum variable size`);
    }
    const old = this.vars.get(keyOf(guid, name));
    if (old && poolOf(old.attributes) !== poolOf(attributes)) this.vars.delete(keyOf(guid, name));
    if (!this.fits(attributes, entrySize(name, data.length), old)) {
      throw new Error(`variable ${guid}:${name}: variable storage is full`);
    }
    this.put(guid, name, attributes, Buffer.from(data));
  }

  /** GetVariable's lookup: the variable, or EFI_NOT_FOUND (also for variables hidden after ExitBootServices). */
  get(guid: string, name: string): Variable | EfiStatus {
    const v = this.vars.get(keyOf(guid, name));
    return v && this.visible(v) ? v : EFI_NOT_FOUND;
  }

  /**
   * GetNextVariableName (UEFI 2.10 §8.2.2): the visible variable after (guid, name), the first one for an empty
   * name; EFI_INVALID_PARAMETER when (guid, name) is not a visible variable, EFI_NOT_FOUND at the end.
   */
  getNext(guid: string, name: string): Variable | EfiStatus {
    const list = this.all().filter((v) => this.visible(v));
    let i = 0;
    if (name !== '') {
      const key = keyOf(guid, name);
      const at = list.findIndex((v) => keyOf(v.guid, v.name) === key);
      if (at < 0) return EFI_INVALID_PARAMETER;
      i = at + 1;
    }
    return i < list.length ? list[i] : EFI_NOT_FOUND;
  }

  /**
   * SetVariable (UEFI 2.10 §8.2.3), checks in the order edk2's VariableServiceSetVariable applies them:
   * name, attribute bits, authentication, hardware error namespace, size, read-only, runtime rules, then the
   * existing variable (attribute change, delete, append, replace) and the storage space.
   */
  set(guid: string, name: string, attributes: number, data: Uint8Array): EfiStatus {
    this.lastRejection = undefined;
    const refuse = (status: EfiStatus, why: string): EfiStatus => {
      this.lastRejection = why;
      return status;
    };
    attributes >>>= 0;
    const stored = attributes & ~EFI_VARIABLE.APPEND_WRITE;
    if (name === '') return refuse(EFI_INVALID_PARAMETER, 'empty variable name');
    if (attributes & ~ALL_DEFINED_BITS) return refuse(EFI_INVALID_PARAMETER, 'reserved attribute bits');
    // UEFI 2.10 §8.2.3: AUTHENTICATED_WRITE_ACCESS is deprecated; platforms return EFI_UNSUPPORTED.
    if (attributes & EFI_VARIABLE.AUTHENTICATED_WRITE_ACCESS) return refuse(EFI_UNSUPPORTED, 'AUTHENTICATED_WRITE_ACCESS is deprecated');
    if (attributes & EFI_VARIABLE.ENHANCED_AUTHENTICATED_ACCESS) {
      return refuse(EFI_UNSUPPORTED, 'ENHANCED_AUTHENTICATED_ACCESS is not implemented');
    }
    if ((attributes & ACCESS) === EFI_VARIABLE.RUNTIME_ACCESS) {
      return refuse(EFI_INVALID_PARAMETER, 'RUNTIME_ACCESS without BOOTSERVICE_ACCESS');
    }
    // A non-zero mask without any access bit (NV alone, as edk2 rejects it) describes no usable variable.
    if (stored !== 0 && !(stored & ACCESS)) return refuse(EFI_INVALID_PARAMETER, 'no access attribute');
    let authenticated: { timestamp: Buffer } | undefined;
    if (attributes & EFI_VARIABLE.TIME_BASED_AUTHENTICATED_WRITE_ACCESS) {
      // PK, KEK and the image databases are verified by the Secure Boot module (efi-services/security). Other
      // time-based authenticated variables (private ones, signed by their creator) are not implemented: refused
      // rather than pretend to have been verified.
      const r = this.timeBasedWrites?.write(guid, name, attributes, Buffer.from(data));
      if (!r) {
        const why = isWellFormedAuthentication2(Buffer.from(data))
          ? 'EFI_VARIABLE_AUTHENTICATION_2 cannot be verified: only PK, KEK, db, dbx, dbt and dbr are'
          : 'data is not a well-formed EFI_VARIABLE_AUTHENTICATION_2';
        return refuse(EFI_SECURITY_VIOLATION, why);
      }
      if ('refuse' in r) return refuse(r.refuse, r.why);
      data = r.payload;
      authenticated = r;
    }
    const status = this.commit(guid, name, attributes, data, authenticated !== undefined);
    if (authenticated && status === EFI_SUCCESS) {
      this.timeBasedWrites!.written(guid, name, attributes, authenticated.timestamp, !this.vars.has(keyOf(guid, name)));
    }
    return status;
  }

  /** SetVariable after the attribute and authentication checks (`authenticated`: the payload of a verified write). */
  private commit(guid: string, name: string, attributes: number, data: Uint8Array, authenticated: boolean): EfiStatus {
    const refuse = (status: EfiStatus, why: string): EfiStatus => {
      this.lastRejection = why;
      return status;
    };
    const append = (attributes & EFI_VARIABLE.APPEND_WRITE) !== 0;
    const stored = attributes & ~EFI_VARIABLE.APPEND_WRITE;
    if (attributes & EFI_VARIABLE.HARDWARE_ERROR_RECORD) {
      const need = EFI_VARIABLE.NON_VOLATILE | ACCESS;
      if ((attributes & need) !== need) return refuse(EFI_INVALID_PARAMETER, 'HARDWARE_ERROR_RECORD requires NV, BS and RT');
      if (!isHwErrRecName(guid, name)) return refuse(EFI_INVALID_PARAMETER, 'HARDWARE_ERROR_RECORD outside HwErrRec####');
    }
    // UEFI 2.10 §8.2.3: "the DataSize exceeds the maximum allowed" is EFI_INVALID_PARAMETER (edk2 agrees).
    if (stored !== 0 && nameSize(name) + data.length > this.maxPayload(stored)) {
      return refuse(EFI_INVALID_PARAMETER, 'name and data exceed the maximum variable size');
    }
    if (this.isReadOnly(guid, name)) return refuse(EFI_WRITE_PROTECTED, 'firmware-owned read-only variable');
    if (this.runtime && stored !== 0 && !(stored & EFI_VARIABLE.RUNTIME_ACCESS)) {
      return refuse(EFI_INVALID_PARAMETER, 'after ExitBootServices SetVariable needs RUNTIME_ACCESS');
    }

    const key = keyOf(guid, name);
    const old = this.vars.get(key);
    const deleting = stored === 0 || (!append && data.length === 0);
    if (!old) {
      if (append && data.length === 0) return EFI_SUCCESS;
      if (deleting) return refuse(EFI_NOT_FOUND, 'no such variable to delete');
      // UEFI 2.10 §8.2.3: after ExitBootServices only NV+RT variables can be created.
      if (this.runtime && !(stored & EFI_VARIABLE.NON_VOLATILE)) {
        return refuse(EFI_INVALID_PARAMETER, 'after ExitBootServices new variables must be NV');
      }
      if (!this.fits(stored, entrySize(name, data.length))) return refuse(EFI_OUT_OF_RESOURCES, 'variable storage is full');
      this.put(guid, name, stored, Buffer.from(data));
      this.log('set', guid, name, stored, data.length);
      return EFI_SUCCESS;
    }

    // edk2 finds hidden variables too and refuses them after ExitBootServices.
    if (this.runtime && !(old.attributes & EFI_VARIABLE.RUNTIME_ACCESS)) {
      return refuse(EFI_WRITE_PROTECTED, 'variable has no RUNTIME_ACCESS');
    }
    if (stored !== 0 && stored !== old.attributes) {
      return refuse(EFI_INVALID_PARAMETER, `existing variable has attributes 0x${old.attributes.toString(16)}`);
    }
    // UEFI 2.10 §8.2.3: volatile runtime variables are read-only data once ExitBootServices was called.
    if (this.runtime && !(old.attributes & EFI_VARIABLE.NON_VOLATILE)) {
      return refuse(EFI_WRITE_PROTECTED, 'volatile variable after ExitBootServices');
    }
    if (old.attributes & EFI_VARIABLE.TIME_BASED_AUTHENTICATED_WRITE_ACCESS && !authenticated) {
      return refuse(EFI_SECURITY_VIOLATION, 'authenticated variable changed without EFI_VARIABLE_AUTHENTICATION_2');
    }
    if (deleting) {
      this.vars.delete(key);
      this.log('delete', old.guid, old.name, old.attributes, 0);
      return EFI_SUCCESS;
    }
    if (append) {
      if (data.length === 0) return EFI_SUCCESS;
      if (nameSize(name) + old.data.length + data.length > this.maxPayload(old.attributes)) {
        return refuse(EFI_INVALID_PARAMETER, 'appended data exceed the maximum variable size');
      }
      const merged = Buffer.concat([old.data, data]);
      if (!this.fits(old.attributes, entrySize(name, merged.length), old)) {
        return refuse(EFI_OUT_OF_RESOURCES, 'variable storage is full');
      }
      this.put(old.guid, old.name, old.attributes, merged);
      this.log('append', old.guid, old.name, old.attributes, merged.length);
      return EFI_SUCCESS;
    }
    if (!this.fits(old.attributes, entrySize(name, data.length), old)) {
      return refuse(EFI_OUT_OF_RESOURCES, 'variable storage is full');
    }
    this.put(old.guid, old.name, old.attributes, Buffer.from(data));
    this.log('set', old.guid, old.name, old.attributes, data.length);
    return EFI_SUCCESS;
  }

  /**
   * QueryVariableInfo (UEFI 2.10 §8.2.4), with edk2's validation order: 0 → EFI_INVALID_PARAMETER; deprecated
   * AUTHENTICATED_WRITE_ACCESS or no storage class bit → EFI_UNSUPPORTED; NV alone, RT without BS, no RT after
   * ExitBootServices, HR without NV → EFI_INVALID_PARAMETER.
   */
  query(attributes: number): VariableStorageInfo | EfiStatus {
    attributes >>>= 0;
    const supported = ALL_DEFINED_BITS & ~(EFI_VARIABLE.AUTHENTICATED_WRITE_ACCESS | EFI_VARIABLE.ENHANCED_AUTHENTICATED_ACCESS);
    if (attributes === 0) return EFI_INVALID_PARAMETER;
    if (attributes & ~ALL_DEFINED_BITS) return EFI_INVALID_PARAMETER;
    if (attributes & EFI_VARIABLE.AUTHENTICATED_WRITE_ACCESS) return EFI_UNSUPPORTED;
    if (attributes & EFI_VARIABLE.ENHANCED_AUTHENTICATED_ACCESS) return EFI_UNSUPPORTED;
    const masked = attributes & supported & ~EFI_VARIABLE.APPEND_WRITE;
    if (masked === 0) return EFI_UNSUPPORTED;
    if (masked === EFI_VARIABLE.NON_VOLATILE) return EFI_INVALID_PARAMETER;
    if ((attributes & ACCESS) === EFI_VARIABLE.RUNTIME_ACCESS) return EFI_INVALID_PARAMETER;
    if (this.runtime && !(attributes & EFI_VARIABLE.RUNTIME_ACCESS)) return EFI_INVALID_PARAMETER;
    if ((attributes & (EFI_VARIABLE.NON_VOLATILE | EFI_VARIABLE.HARDWARE_ERROR_RECORD)) === EFI_VARIABLE.HARDWARE_ERROR_RECORD) {
      return EFI_INVALID_PARAMETER;
    }
    const pool = poolOf(attributes);
    const total = this.poolSize(pool);
    const remaining = Math.max(0, total - this.used(pool));
    const perVariable = this.maxPayload(attributes);
    const maxSize = Math.max(0, Math.min(perVariable, remaining - VARIABLE_HEADER_SIZE));
    return {
      maximumVariableStorageSize: BigInt(total),
      remainingVariableStorageSize: BigInt(remaining),
      maximumVariableSize: BigInt(maxSize),
    };
  }

  private visible(v: Variable): boolean {
    return !this.runtime || (v.attributes & EFI_VARIABLE.RUNTIME_ACCESS) !== 0;
  }

  /** Largest name + data size of one variable with these attributes (edk2: Max*VariableSize minus the header). */
  private maxPayload(attributes: number): number {
    const l = this.limits;
    const max = attributes & EFI_VARIABLE.HARDWARE_ERROR_RECORD ? l.maxHwErrVariableSize
      : attributes & EFI_VARIABLE.TIME_BASED_AUTHENTICATED_WRITE_ACCESS ? l.maxAuthVariableSize
        : attributes & EFI_VARIABLE.NON_VOLATILE ? l.maxVariableSize
          : l.maxVolatileVariableSize;
    return max - VARIABLE_HEADER_SIZE;
  }

  private poolSize(pool: Pool): number {
    return pool === 'nv' ? this.limits.nonVolatileStorageSize
      : pool === 'hwerr' ? this.limits.hwErrStorageSize : this.limits.volatileStorageSize;
  }

  private used(pool: Pool, except?: Variable): number {
    let n = 0;
    for (const v of this.vars.values()) if (v !== except && poolOf(v.attributes) === pool) n += entrySize(v.name, v.data.length);
    return n;
  }

  private fits(attributes: number, size: number, replacing?: Variable): boolean {
    const pool = poolOf(attributes);
    return this.used(pool, replacing) + size <= this.poolSize(pool);
  }

  /** Replaces in place (keeping the GetNextVariableName position) or appends at the end. */
  private put(guid: string, name: string, attributes: number, data: Buffer): void {
    this.vars.set(keyOf(guid, name), { guid: guid.toLowerCase(), name, attributes, data });
  }

  private log(op: VariableChange['op'], guid: string, name: string, attributes: number, size: number): void {
    this.changes.push({ op, guid: guid.toLowerCase(), name, attributes, size });
  }
}
