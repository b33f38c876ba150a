// EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL (UEFI 2.10 §10.6.3): device-path-text-parse.ts's parser, results returned as
// pool the caller frees. NULL text, or a known node form whose arguments do not parse, gives NULL.
import { fnReturning, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { DEVICE_PATH_HEADER_SIZE, serializeDevicePath } from './device-path';
import { textToDeviceNode, textToDevicePath } from './device-path-text-parse';

export const EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL_GUID = GUID.DEVICE_PATH_FROM_TEXT;

export const EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL = tableDecl({
  name: 'EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL',
  traceName: 'DevicePathFromText',
  headerSize: 0,
  members: [
    fnReturning('UINTN', 'ConvertTextToDeviceNode', 'TextDeviceNode:STR16'),
    fnReturning('UINTN', 'ConvertTextToDevicePath', 'TextDevicePath:STR16'),
  ],
});

export function devicePathFromTextProtocol(platform: Platform, pool: (bytes: number) => bigint): bigint {
  const mem = platform.mem;
  const give = (bytes: Buffer): bigint => {
    const a = pool(bytes.length);
    if (a !== 0n) mem.write(a, bytes);
    return a;
  };
  return buildInterface(platform, EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL, {
    // A single node, without an End node after it (§10.6.3.1).
    ConvertTextToDeviceNode: ([text]) => {
      if (text === 0n) return 0n;
      const node = textToDeviceNode(mem.utf16z(text));
      if (!node) return 0n;
      return give(serializeDevicePath([node]).subarray(0, DEVICE_PATH_HEADER_SIZE + node.data.length));
    },
    ConvertTextToDevicePath: ([text]) => {
      if (text === 0n) return 0n;
      const nodes = textToDevicePath(mem.utf16z(text));
      return nodes ? give(serializeDevicePath(nodes)) : 0n;
    },
  });
}

/** Module entry (platform-protocols.ts): on a new handle. */
export function install(ctx: InstallContext): void {
  ctx.db.install(0n, EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL_GUID, devicePathFromTextProtocol(ctx.platform, ctx.guestPool));
}
