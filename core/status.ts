// EFI_STATUS values (UEFI 2.10 Appendix D): errors carry bit 63, warnings do not.
export type EfiStatus = bigint;

const ERR = 1n << 63n;

export const EFI_SUCCESS = 0n;
export const EFI_LOAD_ERROR = ERR | 1n;
export const EFI_INVALID_PARAMETER = ERR | 2n;
export const EFI_UNSUPPORTED = ERR | 3n;
export const EFI_BAD_BUFFER_SIZE = ERR | 4n;
export const EFI_BUFFER_TOO_SMALL = ERR | 5n;
export const EFI_NOT_READY = ERR | 6n;
export const EFI_DEVICE_ERROR = ERR | 7n;
export const EFI_WRITE_PROTECTED = ERR | 8n;
export const EFI_OUT_OF_RESOURCES = ERR | 9n;
export const EFI_VOLUME_CORRUPTED = ERR | 10n;
export const EFI_VOLUME_FULL = ERR | 11n;
export const EFI_NO_MEDIA = ERR | 12n;
export const EFI_MEDIA_CHANGED = ERR | 13n;
export const EFI_NOT_FOUND = ERR | 14n;
export const EFI_ACCESS_DENIED = ERR | 15n;
export const EFI_NO_RESPONSE = ERR | 16n;
export const EFI_NO_MAPPING = ERR | 17n;
export const EFI_TIMEOUT = ERR | 18n;
export const EFI_NOT_STARTED = ERR | 19n;
export const EFI_ALREADY_STARTED = ERR | 20n;
export const EFI_ABORTED = ERR | 21n;
export const EFI_ICMP_ERROR = ERR | 22n;
export const EFI_TFTP_ERROR = ERR | 23n;
export const EFI_PROTOCOL_ERROR = ERR | 24n;
export const EFI_INCOMPATIBLE_VERSION = ERR | 25n;
export const EFI_SECURITY_VIOLATION = ERR | 26n;
export const EFI_CRC_ERROR = ERR | 27n;
export const EFI_END_OF_MEDIA = ERR | 28n;
export const EFI_END_OF_FILE = ERR | 31n;
export const EFI_INVALID_LANGUAGE = ERR | 32n;
export const EFI_COMPROMISED_DATA = ERR | 33n;
export const EFI_IP_ADDRESS_CONFLICT = ERR | 34n;
export const EFI_HTTP_ERROR = ERR | 35n;

export const EFI_WARN_UNKNOWN_GLYPH = 1n;
export const EFI_WARN_DELETE_FAILURE = 2n;
export const EFI_WARN_WRITE_FAILURE = 3n;
export const EFI_WARN_BUFFER_TOO_SMALL = 4n;
export const EFI_WARN_STALE_DATA = 5n;
export const EFI_WARN_FILE_SYSTEM = 6n;
export const EFI_WARN_RESET_REQUIRED = 7n;

const ERROR_NAMES = [
  '', 'EFI_LOAD_ERROR', 'EFI_INVALID_PARAMETER', 'EFI_UNSUPPORTED', 'EFI_BAD_BUFFER_SIZE', 'EFI_BUFFER_TOO_SMALL',
  'EFI_NOT_READY', 'EFI_DEVICE_ERROR', 'EFI_WRITE_PROTECTED', 'EFI_OUT_OF_RESOURCES', 'EFI_VOLUME_CORRUPTED',
  'EFI_VOLUME_FULL', 'EFI_NO_MEDIA', 'EFI_MEDIA_CHANGED', 'EFI_NOT_FOUND', 'EFI_ACCESS_DENIED', 'EFI_NO_RESPONSE',
  'EFI_NO_MAPPING', 'EFI_TIMEOUT', 'EFI_NOT_STARTED', 'EFI_ALREADY_STARTED', 'EFI_ABORTED', 'EFI_ICMP_ERROR',
  'EFI_TFTP_ERROR', 'EFI_PROTOCOL_ERROR', 'EFI_INCOMPATIBLE_VERSION', 'EFI_SECURITY_VIOLATION', 'EFI_CRC_ERROR',
  'EFI_END_OF_MEDIA', '', '', 'EFI_END_OF_FILE', 'EFI_INVALID_LANGUAGE', 'EFI_COMPROMISED_DATA',
  'EFI_IP_ADDRESS_CONFLICT', 'EFI_HTTP_ERROR',
];
const WARNING_NAMES = [
  'EFI_SUCCESS', 'EFI_WARN_UNKNOWN_GLYPH', 'EFI_WARN_DELETE_FAILURE', 'EFI_WARN_WRITE_FAILURE',
  'EFI_WARN_BUFFER_TOO_SMALL', 'EFI_WARN_STALE_DATA', 'EFI_WARN_FILE_SYSTEM', 'EFI_WARN_RESET_REQUIRED',
];

export function isError(s: EfiStatus): boolean {
  return (s & ERR) !== 0n;
}

export function statusName(s: EfiStatus): string {
  const code = Number(s & ~ERR);
  const name = isError(s) ? ERROR_NAMES[code] : s < BigInt(WARNING_NAMES.length) ? WARNING_NAMES[code] : undefined;
  return name || `0x${s.toString(16)}`;
}

/** Thrown inside a service to return a status from a nested helper; translated in the dispatcher only. */
export class EfiError extends Error {
  constructor(readonly status: EfiStatus, message?: string) {
    super(message ?? statusName(status));
  }
}
