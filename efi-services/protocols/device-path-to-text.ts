// EFI_DEVICE_PATH_TO_TEXT_PROTOCOL (UEFI 2.10 §10.6.2): device-path-text.ts's text forms returned to the guest as
// pool strings (CHAR16, NUL-terminated) the caller frees. A malformed path gives NULL.
import { fnReturning, tableDecl } from '../../core/abi';
import { encodeUtf16z } from '../../core/guest-memory';
import { GUID } from '../../core/guid';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { DEVICE_PATH_HEADER_SIZE, DevicePathError, devicePathAt } from './device-path';
import { deviceNodeToText, devicePathToText } from './device-path-text';

export const EFI_DEVICE_PATH_TO_TEXT_PROTOCOL_GUID = GUID.DEVICE_PATH_TO_TEXT;

export const EFI_DEVICE_PATH_TO_TEXT_PROTOCOL = tableDecl({
  name: 'EFI_DEVICE_PATH_TO_TEXT_PROTOCOL',
  traceName: 'DevicePathToText',
  headerSize: 0,
  members: [
    fnReturning('UINTN', 'ConvertDeviceNodeToText', 'DeviceNode:PTR', 'DisplayOnly:BOOLEAN', 'AllowShortcuts:BOOLEAN'),
    fnReturning('UINTN', 'ConvertDevicePathToText', 'DevicePath:PTR', 'DisplayOnly:BOOLEAN', 'AllowShortcuts:BOOLEAN'),
  ],
});

export function devicePathToTextProtocol(platform: Platform, pool: (bytes: number) => bigint): bigint {
  const mem = platform.mem;
  const give = (text: string): bigint => {
    const bytes = encodeUtf16z(text);
    const a = pool(bytes.length);
    if (a !== 0n) mem.write(a, bytes);
    return a;
  };
  return buildInterface(platform, EFI_DEVICE_PATH_TO_TEXT_PROTOCOL, {
    ConvertDeviceNodeToText: ([at, displayOnly, allowShortcuts]) => {
      if (at === 0n) return 0n;
      const length = mem.u16(at + 2n);
      if (length < DEVICE_PATH_HEADER_SIZE) return 0n;
      const node = { type: mem.u8(at), subType: mem.u8(at + 1n), data: mem.read(at + 4n, length - DEVICE_PATH_HEADER_SIZE) };
      return give(deviceNodeToText(node, { displayOnly: displayOnly !== 0n, allowShortcuts: allowShortcuts !== 0n }));
    },
    ConvertDevicePathToText: ([at, displayOnly, allowShortcuts]) => {
      if (at === 0n) return 0n;
      try {
        const { nodes } = devicePathAt(mem, at);
        return give(devicePathToText(nodes, { displayOnly: displayOnly !== 0n, allowShortcuts: allowShortcuts !== 0n }));
      } catch (e) {
        if (e instanceof DevicePathError) return 0n;
        throw e;
      }
    },
  });
}

/** Module entry (platform-protocols.ts): on a new handle. */
export function install(ctx: InstallContext): void {
  ctx.db.install(0n, EFI_DEVICE_PATH_TO_TEXT_PROTOCOL_GUID, devicePathToTextProtocol(ctx.platform, ctx.guestPool));
}
