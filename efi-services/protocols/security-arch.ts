// EFI_SECURITY_ARCH_PROTOCOL and EFI_SECURITY2_ARCH_PROTOCOL (PI 1.8 vol. 2 §12.8, §12.9) and the LoadImage check
// that calls them. Security2 runs the platform's verifier (Secure Boot, efi-services/security) when one is given;
// Security accepts every file and only records the call.
// systemd-stub overwrites their function pointers (security_override) so LoadImage accepts the unsigned kernel
// it embeds; securityCheck therefore calls the pointers currently in guest memory, as edk2 DxeCore does.
import { GUID } from '../../core/guid';
import { fn, tableDecl } from '../../core/abi';
import { buildInterface, callMember } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS, EfiStatus, isError } from '../../core/status';
import { devicePathAt } from './device-path';
import { devicePathToText } from './device-path-text';

export const EFI_SECURITY_ARCH_PROTOCOL_GUID = GUID.SECURITY_ARCH;
export const EFI_SECURITY2_ARCH_PROTOCOL_GUID = GUID.SECURITY2_ARCH;

export const EFI_SECURITY_ARCH_PROTOCOL = tableDecl({
  name: 'EFI_SECURITY_ARCH_PROTOCOL',
  traceName: 'Security',
  headerSize: 0,
  members: [fn('FileAuthenticationState', 'This:PTR', 'AuthenticationStatus:UINT32', 'File:PTR')],
});

export const EFI_SECURITY2_ARCH_PROTOCOL = tableDecl({
  name: 'EFI_SECURITY2_ARCH_PROTOCOL',
  traceName: 'Security2',
  headerSize: 0,
  members: [fn('FileAuthentication', 'This:PTR', 'DevicePath:PTR', 'FileBuffer:PTR', 'FileSize:UINTN', 'BootPolicy:BOOLEAN')],
});

export interface SecurityCall {
  service: 'FileAuthenticationState' | 'FileAuthentication';
  /** The device path as text, '' for NULL, or the reason it could not be read. */
  file: string;
  authenticationStatus?: number;
  fileBuffer?: bigint;
  fileSize?: bigint;
  bootPolicy?: boolean;
}

/** The platform's image check behind Security2 (Secure Boot); undefined: not verifying, the file is accepted. */
export type FileVerifier = (devicePath: bigint, file: Buffer) => EfiStatus | undefined;

export interface SecurityArchProtocols {
  handle: bigint;
  /** EFI_SECURITY_ARCH_PROTOCOL interface. */
  security: bigint;
  /** EFI_SECURITY2_ARCH_PROTOCOL interface. */
  security2: bigint;
  /** Calls that reached the firmware's own functions (not a guest override), in order. */
  calls: SecurityCall[];
}

function pathText(platform: Platform, dp: bigint): string {
  if (dp === 0n) return '';
  try {
    return devicePathToText(devicePathAt(platform.mem, dp).nodes);
  } catch (e) {
    return `<unreadable device path: ${(e as Error).message}>`;
  }
}

/** Module entry (platform-protocols.ts): both protocols; Security2 runs ctx.verifyFile (Secure Boot) when given. */
export function install(ctx: InstallContext): SecurityArchProtocols {
  return installSecurityArchProtocols(ctx.platform, ctx.db, ctx.verifyFile);
}

/** Installs both protocols on one handle, as edk2 SecurityStubDxe does (Security2 first: PI requires it). */
export function installSecurityArchProtocols(
  platform: Platform,
  db: { install(handle: bigint, guid: string, iface: bigint): bigint },
  verify?: FileVerifier,
): SecurityArchProtocols {
  const calls: SecurityCall[] = [];
  const security2 = buildInterface(platform, EFI_SECURITY2_ARCH_PROTOCOL, {
    // PI vol. 2 §12.9: DevicePath and FileBuffer may each be NULL; image handlers (the verifier) run only with a
    // FileBuffer (edk2 ExecuteSecurity2Handlers, EFI_AUTH_IMAGE_OPERATION_MASK).
    FileAuthentication: ([, dp, buffer, size, bootPolicy]) => {
      calls.push({ service: 'FileAuthentication', file: pathText(platform, dp), fileBuffer: buffer, fileSize: size, bootPolicy: bootPolicy !== 0n });
      if (!verify || buffer === 0n) return EFI_SUCCESS;
      return verify(dp, platform.mem.read(buffer, Number(size))) ?? EFI_SUCCESS;
    },
  });
  const security = buildInterface(platform, EFI_SECURITY_ARCH_PROTOCOL, {
    // PI vol. 2 §12.8: File NULL is EFI_INVALID_PARAMETER; otherwise the file is accepted without a check.
    FileAuthenticationState: ([, status, file]) => {
      if (file === 0n) return EFI_INVALID_PARAMETER;
      calls.push({ service: 'FileAuthenticationState', file: pathText(platform, file), authenticationStatus: Number(status) });
      return EFI_SUCCESS;
    },
  });
  const handle = db.install(0n, EFI_SECURITY2_ARCH_PROTOCOL_GUID, security2);
  db.install(handle, EFI_SECURITY_ARCH_PROTOCOL_GUID, security);
  return { handle, security, security2, calls };
}

export interface ImageSource {
  /** The image was read through a firmware volume (never, in stubemu: images come from the ESP or memory). */
  fromFirmwareVolume?: boolean;
  /** AuthenticationStatus of a firmware-volume read (PI vol. 3); 0 otherwise. */
  authenticationStatus?: number;
}

/**
 * The LoadImage security check of edk2 CoreLoadImageCommon, through the function pointers currently stored in
 * the installed interfaces (a guest override runs):
 * - with Security2: FileAuthentication(This, FilePath, Buffer, Size, BootPolicy) for every image, then — only if
 *   that succeeded and the image came from a firmware volume — FileAuthenticationState(This, AuthStatus, FilePath);
 * - with only Security and a non-NULL FilePath: FileAuthenticationState.
 * Returns the last status (EFI_SUCCESS when no protocol is installed). The caller acts as edk2 does: an error other
 * than EFI_SECURITY_VIOLATION fails LoadImage (EFI_ACCESS_DENIED also leaves *ImageHandle NULL);
 * EFI_SECURITY_VIOLATION loads the image, returns that status, and StartImage refuses it.
 */
export function securityCheck(
  platform: Platform,
  protocols: { security?: bigint; security2?: bigint },
  filePath: bigint,
  buffer: bigint,
  size: bigint,
  bootPolicy: boolean,
  source: ImageSource = {},
): EfiStatus {
  const authenticationState = (security: bigint) =>
    BigInt.asUintN(64, callMember(platform, security, EFI_SECURITY_ARCH_PROTOCOL, 'FileAuthenticationState',
      [security, BigInt((source.authenticationStatus ?? 0) >>> 0), filePath], 'Security.FileAuthenticationState'));
  const { security, security2 } = protocols;
  if (security2 !== undefined && security2 !== 0n) {
    const s = BigInt.asUintN(64, callMember(platform, security2, EFI_SECURITY2_ARCH_PROTOCOL, 'FileAuthentication',
      [security2, filePath, buffer, size, bootPolicy ? 1n : 0n], 'Security2.FileAuthentication'));
    if (isError(s) || !source.fromFirmwareVolume || security === undefined || security === 0n) return s;
    return authenticationState(security);
  }
  if (security !== undefined && security !== 0n && filePath !== 0n) return authenticationState(security);
  return EFI_SUCCESS;
}
