// Secure Boot at the level of a run: the boot option's own verification (the boot manager's LoadImage) and its
// outcome when refused.
import { Firmware } from '../efi-services/firmware';
import { DevicePathNode } from '../efi-services/protocols/device-path';
import { devicePathToText } from '../efi-services/protocols/device-path-text';
import { imageOrigin } from '../efi-services/security/image-origin';
import { isError, statusName } from '../core/status';
import { RefusedOutcome } from './report-v1';

/**
 * edk2 BDS: ReadyToBoot is signalled, then LoadImage(BootPolicy TRUE, the option's device path) runs the Security2
 * handler on the file. A refusal ends the run before the image is loaded (EFI_ACCESS_DENIED: no handle) or
 * started (EFI_SECURITY_VIOLATION: BDS unloads it); undefined when the image may run.
 */
export function verifyBootOption(fw: Firmware, file: Buffer, devicePath: readonly DevicePathNode[]): RefusedOutcome | undefined {
  if (!fw.secureBoot.verifying) return undefined;
  fw.measurements?.beforeBootOption();
  // The option's path starts with the ESP's handle, which has EFI_SIMPLE_FILE_SYSTEM_PROTOCOL: fixed media.
  const origin = imageOrigin(devicePath, (guid, path) => fw.handleFor(guid, path));
  const d = fw.secureBoot.verify(file, origin, devicePathToText([...devicePath]));
  if (!isError(d.status)) return undefined;
  return { kind: 'refused', status: statusName(d.status), reason: d.reason };
}
