// EFI_DEVICE_PATH_UTILITIES_PROTOCOL, EFI_DEVICE_PATH_TO_TEXT_PROTOCOL and EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL
// called by guest code. Expected bytes are written out node by node from the UEFI 2.10 §10.3 structure tables and
// expected text from the §10.6.1.6 text forms, not from stubemu's own builders.
import test from 'ava';
import { GUID } from '../core/guid';
import { encodeUtf16z } from '../core/guest-memory';
import { EFI_DEVICE_PATH_UTILITIES_PROTOCOL } from '../efi-services/protocols/device-path-utilities';
import { EFI_DEVICE_PATH_TO_TEXT_PROTOCOL } from '../efi-services/protocols/device-path-to-text';
import { EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL } from '../efi-services/protocols/device-path-from-text';
import { callProtocolMember, GuestArg, GuestResult } from './helpers/guest-protocol';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** ACPI (Type 2, SubType 1, Length 12): _HID PNP0A03 as EISA ID 0x0A0341D0, _UID 0. */
const PCI_ROOT_0 = hex('02 01 0c00  d041030a  00000000');
/** Hardware PCI (1/1, Length 6): Function 2, Device 0x1F. */
const PCI_1F_2 = hex('01 01 0600  02 1f');
/** Hardware PCI: Function 0, Device 1 / Device 2. */
const PCI_1_0 = hex('01 01 0600  00 01');
const PCI_2_0 = hex('01 01 0600  00 02');
/** Messaging SATA (3/18, Length 10): HBA port 0, port multiplier 0xFFFF (none), LUN 0. */
const SATA = hex('03 12 0a00  0000 ffff 0000');
const END = hex('7f ff 0400');
const END_INSTANCE = hex('7f 01 0400');
const PATH = Buffer.concat([PCI_ROOT_0, PCI_1F_2, SATA, END]);
const PATH_TEXT = 'PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)';
const TWO_INSTANCES = Buffer.concat([PCI_ROOT_0, PCI_1_0, END_INSTANCE, PCI_ROOT_0, PCI_2_0, END]);

function util(member: string, args: readonly GuestArg[], result?: GuestResult) {
  return callProtocolMember(GUID.DEVICE_PATH_UTILITIES, EFI_DEVICE_PATH_UTILITIES_PROTOCOL, member, args, result);
}
const bytesAt = (r: ReturnType<typeof util>, n: number) => r.run.firmware.mem.read(r.value, n);

test('GetDevicePathSize counts every node and the End node; NULL and a malformed path are 0', (t) => {
  t.is(util('GetDevicePathSize', [{ bytes: PATH }]).value, 12n + 6n + 10n + 4n);
  t.is(util('GetDevicePathSize', [0n]).value, 0n);
  t.is(util('GetDevicePathSize', [{ bytes: hex('01 01 0200 7fff0400') }]).value, 0n);
});

test('DuplicateDevicePath and AppendDevicePath return pool copies with the bytes of the spec layout', (t) => {
  const dup = util('DuplicateDevicePath', [{ bytes: PATH }]);
  t.deepEqual(bytesAt(dup, PATH.length), PATH);
  t.true(dup.run.firmware.pool.sizeOf(dup.value)! >= PATH.length);
  const joined = util('AppendDevicePath', [{ bytes: Buffer.concat([PCI_ROOT_0, END]) }, { bytes: Buffer.concat([PCI_1F_2, SATA, END]) }]);
  t.deepEqual(bytesAt(joined, PATH.length), PATH);
  t.deepEqual(bytesAt(util('AppendDevicePath', [0n, 0n]), 4), END);
});

test('AppendDeviceNode puts the node before the End node; AppendDevicePathInstance joins with End Instance', (t) => {
  const r = util('AppendDeviceNode', [{ bytes: Buffer.concat([PCI_ROOT_0, PCI_1F_2, END]) }, { bytes: SATA }]);
  t.deepEqual(bytesAt(r, PATH.length), PATH);
  const i = util('AppendDevicePathInstance', [{ bytes: Buffer.concat([PCI_ROOT_0, PCI_1_0, END]) }, { bytes: Buffer.concat([PCI_ROOT_0, PCI_2_0, END]) }]);
  t.deepEqual(bytesAt(i, TWO_INSTANCES.length), TWO_INSTANCES);
});

test('GetNextDevicePathInstance returns the first instance ending in End Entire, its size, and moves on', (t) => {
  const first = Buffer.concat([PCI_ROOT_0, PCI_1_0, END]);
  const r = util('GetNextDevicePathInstance', [{ slot: 0, pointingTo: TWO_INSTANCES }, { slot: 1 }]);
  t.deepEqual(bytesAt(r, first.length), first);
  t.is(util('GetNextDevicePathInstance', [{ slot: 0, pointingTo: TWO_INSTANCES }, { slot: 1 }], { slot: 1 }).value, BigInt(first.length));
  // *DevicePathInstance now points at the second instance: its first node is PciRoot(0x0) then Pci(0x2,0x0).
  const next = util('GetNextDevicePathInstance', [{ slot: 0, pointingTo: TWO_INSTANCES }, { slot: 1 }], { slot: 0 });
  t.deepEqual(next.run.firmware.mem.read(next.value, PCI_ROOT_0.length + PCI_2_0.length + 4), Buffer.concat([PCI_ROOT_0, PCI_2_0, END]));
  // The last instance leaves NULL behind.
  t.is(util('GetNextDevicePathInstance', [{ slot: 0, pointingTo: PATH }, { slot: 1 }], { slot: 0 }).value, 0n);
});

test('IsDevicePathMultiInstance and CreateDeviceNode', (t) => {
  t.is(util('IsDevicePathMultiInstance', [{ bytes: TWO_INSTANCES }]).value, 1n);
  t.is(util('IsDevicePathMultiInstance', [{ bytes: PATH }]).value, 0n);
  const node = util('CreateDeviceNode', [4n, 4n, 10n]);
  t.deepEqual(bytesAt(node, 10), hex('04 04 0a00 000000000000'));
  t.is(util('CreateDeviceNode', [4n, 4n, 3n]).value, 0n);
});

function text(member: string, args: readonly GuestArg[]): string | undefined {
  const r = callProtocolMember(GUID.DEVICE_PATH_TO_TEXT, EFI_DEVICE_PATH_TO_TEXT_PROTOCOL, member, args);
  return r.value === 0n ? undefined : r.run.firmware.mem.utf16z(r.value);
}

function fromText(member: string, s: string, bytes: number): Buffer | undefined {
  const r = callProtocolMember(GUID.DEVICE_PATH_FROM_TEXT, EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL, member, [{ bytes: encodeUtf16z(s) }]);
  return r.value === 0n ? undefined : r.run.firmware.mem.read(r.value, bytes);
}

test('ConvertDevicePathToText and ConvertDeviceNodeToText give the §10.6.1.6 forms', (t) => {
  t.is(text('ConvertDevicePathToText', [{ bytes: PATH }, 0n, 0n]), PATH_TEXT);
  t.is(text('ConvertDevicePathToText', [{ bytes: TWO_INSTANCES }, 0n, 0n]), 'PciRoot(0x0)/Pci(0x1,0x0),PciRoot(0x0)/Pci(0x2,0x0)');
  // Messaging Vendor with the PC-ANSI terminal GUID E0C14753-F9BE-11D2-9A0C-0090273FC14D (§10.3.4.10).
  const pcAnsi = hex('03 0a 1400  5347c1e0 bef9 d211 9a0c 0090273fc14d');
  t.is(text('ConvertDeviceNodeToText', [{ bytes: pcAnsi }, 0n, 1n]), 'VenPcAnsi()');
  t.is(text('ConvertDeviceNodeToText', [{ bytes: pcAnsi }, 0n, 0n]), 'VenMsg(E0C14753-F9BE-11D2-9A0C-0090273FC14D)');
  t.is(text('ConvertDevicePathToText', [0n, 0n, 0n]), undefined);
});

test('ConvertTextToDevicePath and ConvertTextToDeviceNode build the §10.3 bytes', (t) => {
  t.deepEqual(fromText('ConvertTextToDevicePath', PATH_TEXT, PATH.length), PATH);
  t.deepEqual(fromText('ConvertTextToDevicePath', 'PciRoot(0x0)/Pci(0x1,0x0),PciRoot(0x0)/Pci(0x2,0x0)', TWO_INSTANCES.length), TWO_INSTANCES);
  t.deepEqual(fromText('ConvertTextToDeviceNode', 'Pci(0x1F,0x2)', 6), PCI_1F_2);
  // HD(1,GPT,<guid>,0x800,0x100000): Media 4/1, Length 42; MBR type 2 and signature type 2 mean GPT (§10.3.5.1).
  const hd = fromText('ConvertTextToDeviceNode', 'HD(1,GPT,6E3B2A17-5C4D-4F1E-9A0B-3C2D1E0F5A6B,0x800,0x100000)', 42);
  t.deepEqual(hd, hex('04 01 2a00 01000000 0008000000000000 0000100000000000 172a3b6e 4d5c 1e4f 9a0b 3c2d1e0f5a6b 02 02'));
  // Text with no node form is a File Path node (Media 4/4, Length 4 + 2 × 10) holding it as UCS-2 with its NUL.
  const file = Buffer.concat([hex('04 04 1800'), encodeUtf16z('\\EFI\\BOOT'), END]);
  t.deepEqual(fromText('ConvertTextToDevicePath', '\\EFI\\BOOT', file.length), file);
});
