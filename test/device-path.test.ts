// Device paths: binary layout of the builders, validation of malformed paths, prefix matching and UEFI text form.
import test from 'ava';
import { GuestMemory, GuestMemoryError } from '../core/guest-memory';
import { GUID } from '../core/guid';
import {
  DevicePathError, DevicePathNode, MAX_DEVICE_PATH_NODES, appendNodes, devicePathAt, devicePathsEqual, encodedLength,
  endInstanceNode, endNode, filePathNode, filePathOf, firstInstance, hardDriveNode, isPrefixOf, memoryMappedNode,
  parseDevicePath, pciNode, pciRootNode, remainingAfter, serializeDevicePath, vendorHardwareNode, vendorMediaNode,
} from '../efi-services/protocols/device-path';
import { devicePathToText, deviceNodeToText } from '../efi-services/protocols/device-path-text';
import { serialTerminalDevicePath } from '../efi-services/protocols/serial-terminal-path';

const ESP_GUID = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const raw = (type: number, subType: number, data: number[] | Buffer): DevicePathNode =>
  ({ type, subType, data: Buffer.from(data) });

function u16le(n: number): number[] {
  return [n & 0xff, n >> 8];
}

// Builders: bytes written out by hand from the UEFI 2.10 §10.3 tables, and parse(serialize(x)) == x.

const builderCases: [string, DevicePathNode, string][] = [
  ['pciNode', pciNode(0x1f, 2), '0101 0600 02 1f'],
  ['pciRootNode', pciRootNode(0), '0201 0c00 d041030a 00000000'],
  ['memoryMappedNode', memoryMappedNode(0xb, 0x1000n, 0x1fffn),
    '0103 1800 0b000000 0010000000000000 ff1f000000000000'],
  ['filePathNode', filePathNode('\\EFI'), '0404 0e00 5c00 4500 4600 4900 0000'],
  ['vendorMediaNode', vendorMediaNode(GUID.LINUX_INITRD_MEDIA), '0403 1400 27e46855 fc68 3d4f ac74ca555231cc68'],
  ['vendorHardwareNode', vendorHardwareNode(GUID.LINUX_INITRD_MEDIA, Buffer.from([0xde, 0xad])),
    '0104 1600 27e46855 fc68 3d4f ac74ca555231cc68 dead'],
  ['hardDriveNode GPT', hardDriveNode({ partitionNumber: 1, partitionStart: 0x800, partitionSize: 0x100000n,
    signature: ESP_GUID }),
  '0401 2a00 01000000 0008000000000000 0000100000000000 2873 2ac1 1ff8 d211 ba4b00a0c93ec93b 02 02'],
  ['hardDriveNode MBR', hardDriveNode({ partitionNumber: 2, partitionStart: 63, partitionSize: 4096,
    signature: 0x1234abcd }),
  '0401 2a00 02000000 3f00000000000000 0010000000000000 cdab3412 000000000000000000000000 01 01'],
];

for (const [name, node, bytes] of builderCases) {
  test(`${name}: serialized bytes match the spec layout and parse back`, (t) => {
    const wire = serializeDevicePath([node]);
    t.deepEqual(wire, Buffer.concat([hex(bytes), hex('7fff0400')]));
    const parsed = parseDevicePath(wire);
    t.is(parsed.size, wire.length);
    t.is(parsed.nodes.length, 1);
    t.is(parsed.nodes[0].type, node.type);
    t.is(parsed.nodes[0].subType, node.subType);
    t.deepEqual(parsed.nodes[0].data, node.data);
  });
}

test('HD node is 42 bytes long', (t) => {
  const wire = serializeDevicePath([hardDriveNode({ partitionNumber: 1, partitionStart: 1, partitionSize: 1,
    signature: ESP_GUID })]);
  t.is(wire.readUInt16LE(2), 42);
});

test('serialize keeps an existing End node and rejects End Entire before the last node', (t) => {
  t.deepEqual(serializeDevicePath([pciNode(1, 0), endNode()]), hex('0101 0600 0001 7fff0400'));
  t.deepEqual(serializeDevicePath([]), hex('7fff0400'));
  const e = t.throws(() => serializeDevicePath([endNode(), pciNode(1, 0)]), { instanceOf: DevicePathError });
  t.is(e?.nodeIndex, 0);
  t.throws(() => serializeDevicePath([raw(4, 4, Buffer.alloc(0xfffc))]), { instanceOf: DevicePathError });
});

test('multi-instance path parses with the End Instance node kept and the End Entire node dropped', (t) => {
  const nodes = [pciRootNode(0), pciNode(1, 0), endInstanceNode(), pciRootNode(1)];
  const wire = serializeDevicePath(nodes);
  t.is(wire.length, 12 + 6 + 4 + 12 + 4);
  const parsed = parseDevicePath(Buffer.concat([wire, hex('deadbeef')]));
  t.is(parsed.size, wire.length);
  t.true(devicePathsEqual(parsed.nodes, nodes));
  t.is(parsed.nodes.length, 4);
});

// Malformed input: every error names the node index and the byte offset of its header.

test('Length below 4 is rejected with its offset', (t) => {
  const e = t.throws(() => parseDevicePath(hex('0101 0200 7fff0400')), { instanceOf: DevicePathError });
  t.is(e?.nodeIndex, 0);
  t.is(e?.offset, 0);
  t.regex(e!.message, /offset 0 .*Length 2/);
  const second = t.throws(() => parseDevicePath(hex('0101 0600 0001 0404 0200 7fff0400')), { instanceOf: DevicePathError });
  t.is(second?.nodeIndex, 1);
  t.is(second?.offset, 6);
});

test('a node running past the buffer is rejected', (t) => {
  const e = t.throws(() => parseDevicePath(hex('0101 0600 0001 0404 1000 4100')), { instanceOf: DevicePathError });
  t.is(e?.nodeIndex, 1);
  t.is(e?.offset, 6);
  t.regex(e!.message, /Length 16 runs past/);
});

test('a path without End Entire is rejected where the next header would start', (t) => {
  const e = t.throws(() => parseDevicePath(hex('0101 0600 0001 7f01 0400')), { instanceOf: DevicePathError });
  t.is(e?.nodeIndex, 2);
  t.is(e?.offset, 10);
  t.regex(e!.message, /no End node/);
});

test('End Entire must be 4 bytes and End sub-types other than 0x01/0xFF are rejected', (t) => {
  const long = t.throws(() => parseDevicePath(hex('7fff 0500 00')), { instanceOf: DevicePathError });
  t.is(long?.offset, 0);
  const odd = t.throws(() => parseDevicePath(hex('0101 0600 0001 7f02 0400 7fff0400')), { instanceOf: DevicePathError });
  t.is(odd?.offset, 6);
});

test('the node count is capped', (t) => {
  const many = Buffer.concat([...Array(MAX_DEVICE_PATH_NODES + 1).fill(hex('7f01 0400')), hex('7fff0400')]);
  const e = t.throws(() => parseDevicePath(many), { instanceOf: DevicePathError });
  t.is(e?.nodeIndex, MAX_DEVICE_PATH_NODES);
  t.is(e?.offset, MAX_DEVICE_PATH_NODES * 4);
  const ok = Buffer.concat([...Array(MAX_DEVICE_PATH_NODES - 1).fill(hex('7f01 0400')), hex('7fff0400')]);
  t.is(parseDevicePath(ok).nodes.length, MAX_DEVICE_PATH_NODES - 1);
});

// Reading from guest memory.

function ram(size: number): GuestMemory {
  return new GuestMemory(Buffer.alloc(size), [{ start: 0x1000n, end: BigInt(size) }]);
}

test('devicePathAt reads a path that ends exactly at the end of guest RAM', (t) => {
  const mem = ram(0x2000);
  const wire = serializeDevicePath([pciRootNode(0), pciNode(3, 0), filePathNode('\\vmlinuz')]);
  const at = 0x2000n - BigInt(wire.length);
  mem.write(at, wire);
  const got = devicePathAt(mem, at);
  t.deepEqual(got.bytes, wire);
  t.is(got.size, wire.length);
  t.is(devicePathToText(got.nodes), 'PciRoot(0x0)/Pci(0x3,0x0)/\\vmlinuz');
});

test('devicePathAt lets GuestMemoryError through and honours maxBytes', (t) => {
  const mem = ram(0x2000);
  const wire = serializeDevicePath([pciNode(1, 0)]).subarray(0, 6);
  mem.write(0x2000n - 6n, wire);
  t.throws(() => devicePathAt(mem, 0x2000n - 6n), { instanceOf: GuestMemoryError });
  t.throws(() => devicePathAt(mem, 0x10n), { instanceOf: GuestMemoryError });
  mem.write(0x1000n, serializeDevicePath([pciRootNode(0), pciNode(1, 0)]));
  const e = t.throws(() => devicePathAt(mem, 0x1000n, 16), { instanceOf: DevicePathError });
  t.is(e?.nodeIndex, 1);
  t.is(e?.offset, 12);
});

// Prefix matching as LocateDevicePath uses it.

const disk = [pciRootNode(0), pciNode(4, 0)];
const esp = hardDriveNode({ partitionNumber: 1, partitionStart: 0x800, partitionSize: 0x100000, signature: ESP_GUID });
const loader = [...disk, esp, filePathNode('\\EFI\\BOOT\\BOOTX64.EFI')];

test('isPrefixOf and remainingAfter compare whole nodes', (t) => {
  t.true(isPrefixOf(disk, loader));
  t.true(isPrefixOf([...disk, endNode()], [...loader, endNode()]));
  t.true(isPrefixOf([], loader));
  t.false(isPrefixOf([pciRootNode(0), pciNode(4, 1)], loader));
  t.false(isPrefixOf(loader, disk));
  t.is(remainingAfter([pciRootNode(1)], loader), undefined);
  const rest = remainingAfter(disk, loader)!;
  t.true(devicePathsEqual(rest, [esp, filePathNode('\\EFI\\BOOT\\BOOTX64.EFI')]));
  // LocateDevicePath returns the source pointer advanced past the matched nodes.
  const wire = serializeDevicePath(loader);
  t.is(encodedLength(disk), 18);
  t.deepEqual(wire.subarray(encodedLength(disk)), serializeDevicePath(rest));
});

test('the longest matching handle path wins, matched against the first instance only', (t) => {
  const handles = [[pciRootNode(0)], disk, [...disk, esp], [pciRootNode(0), pciNode(5, 0)]];
  const source = [...loader, endInstanceNode(), pciRootNode(0), pciNode(5, 0)];
  const best = handles
    .filter((h) => isPrefixOf(h, firstInstance(source)))
    .sort((a, b) => encodedLength(b) - encodedLength(a))[0];
  t.true(devicePathsEqual(best, [...disk, esp]));
  t.false(isPrefixOf([...loader, endInstanceNode(), pciRootNode(0)], firstInstance(source)));
});

test('filePathOf joins File Path nodes with one separator', (t) => {
  t.is(filePathOf(loader), '\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(filePathOf([esp, filePathNode('\\EFI\\BOOT'), filePathNode('BOOTX64.EFI')]), '\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(filePathOf([esp, filePathNode('\\EFI\\BOOT\\'), filePathNode('\\BOOTX64.EFI')]), '\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(filePathOf(disk), undefined);
});

test('appendNodes drops the End node between the two paths', (t) => {
  const joined = appendNodes([...disk, endNode()], [esp, endNode()]);
  t.is(joined.length, 3);
  t.deepEqual(serializeDevicePath(joined), serializeDevicePath([...disk, esp]));
});

// Text form (UEFI 2.10 §10.6.1.6), upper-case hex as edk2 PrintLib prints %x and %g.

test('paths the brief names print as the spec tables give them', (t) => {
  t.is(devicePathToText([pciRootNode(0), pciNode(1, 1)]), 'PciRoot(0x0)/Pci(0x1,0x1)');
  t.is(devicePathToText(parseDevicePath(serializeDevicePath(loader.slice(2))).nodes),
    'HD(1,GPT,C12A7328-F81F-11D2-BA4B-00A0C93EC93B,0x800,0x100000)/\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(devicePathToText([vendorMediaNode(GUID.LINUX_INITRD_MEDIA)]), 'VenMedia(5568E427-68FC-4F3D-AC74-CA555231CC68)');
  t.is(devicePathToText([memoryMappedNode(0xb, 0x1000n, 0x1fffn)]), 'MemoryMapped(0xB,0x1000,0x1FFF)');
  t.is(devicePathToText([hardDriveNode({ partitionNumber: 2, partitionStart: 63, partitionSize: 4096,
    signature: 0xabcd })]), 'HD(2,MBR,0x0000ABCD,0x3F,0x1000)');
  t.is(devicePathToText([vendorHardwareNode(GUID.LINUX_INITRD_MEDIA, Buffer.from([0xde, 0xad]))]),
    'VenHw(5568E427-68FC-4F3D-AC74-CA555231CC68,DEAD)');
});

test('instances are separated by a comma and End Entire stops the text', (t) => {
  t.is(devicePathToText([pciRootNode(0), pciNode(1, 0), endInstanceNode(), pciRootNode(1), endNode(), pciNode(9, 9)]),
    'PciRoot(0x0)/Pci(0x1,0x0),PciRoot(0x1)');
  t.is(devicePathToText([]), '');
});

const guidBytes = (g: string) => vendorMediaNode(g).data;
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return [...b]; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return [...b]; };

const textCases: [string, DevicePathNode, string, string?][] = [
  ['PcCard', raw(1, 2, [5]), 'PcCard(0x5)'],
  ['Ctrl', raw(1, 5, u32(0)), 'Ctrl(0x0)'],
  ['BMC', raw(1, 6, [1, ...u64(0xfed40000n)]), 'BMC(0x1,0xFED40000)'],
  ['PcieRoot', raw(2, 1, [...u32(0x0a0841d0), ...u32(1)]), 'PcieRoot(0x1)'],
  ['Serial', raw(2, 1, [...u32(0x050141d0), ...u32(0)]), 'Serial(0x0)'],
  ['Acpi PNP', raw(2, 1, [...u32(0x0c0a41d0), ...u32(1)]), 'Acpi(PNP0C0A,0x1)'],
  ['Acpi non-PNP', raw(2, 1, [...u32(0x12345678), ...u32(0)]), 'Acpi(0x12345678,0x0)'],
  ['AcpiAdr', raw(2, 3, [...u32(0x80010100), ...u32(0x80010200)]), 'AcpiAdr(0x80010100,0x80010200)'],
  ['AcpiEx', raw(2, 2, [...u32(0x0a0841d0), ...u32(0), ...u32(0x0a0341d0), 0, 0, 0]),
    'AcpiEx(PNP0A08,PNP0A03,0x0,,,)', 'PcieRoot(0x0)'],
  ['AcpiExp', raw(2, 2, [...u32(0x0a0341d0), ...u32(0), ...u32(0), 0, ...Buffer.from('PCI0'), 0, 0]),
    'AcpiExp(PNP0A03,0,PCI0)', 'PciRoot(PCI0)'],
  ['Ata', raw(3, 1, [1, 0, ...u16le(0)]), 'Ata(Secondary,Master,0x0)', 'Ata(0x0)'],
  ['Scsi', raw(3, 2, [...u16le(1), ...u16le(2)]), 'Scsi(0x1,0x2)'],
  ['USB', raw(3, 5, [3, 0]), 'USB(0x3,0x0)'],
  ['Sata', raw(3, 18, [...u16le(0), ...u16le(0xffff), ...u16le(0)]), 'Sata(0x0,0xFFFF,0x0)'],
  ['NVMe', raw(3, 23, [...u32(1), 1, 2, 3, 4, 5, 6, 7, 8]), 'NVMe(0x1,08-07-06-05-04-03-02-01)'],
  ['MAC', raw(3, 11, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56, ...Array(26).fill(0), 1]), 'MAC(525400123456,0x1)'],
  ['IPv4', raw(3, 12, [10, 0, 2, 15, 10, 0, 2, 2, ...u16le(68), ...u16le(67), ...u16le(6), 0, 10, 0, 2, 2,
    255, 255, 255, 0]), 'IPv4(10.0.2.2,TCP,DHCP,10.0.2.15,10.0.2.2,255.255.255.0)', 'IPv4(10.0.2.2)'],
  ['Uri', raw(3, 24, Buffer.from('http://10.0.2.2/uki.efi')), 'Uri(http://10.0.2.2/uki.efi)'],
  ['VenMsg', raw(3, 10, guidBytes('dfa66065-b419-11d3-9a2d-0090273fc14d')), 'VenMsg(DFA66065-B419-11D3-9A2D-0090273FC14D)'],
  ['Vlan', raw(3, 20, u16le(100)), 'Vlan(100)'],
  ['CDROM', raw(4, 2, [...u32(0), ...u64(0x1an), ...u64(0x2000n)]), 'CDROM(0x0,0x1A,0x2000)', 'CDROM(0x0)'],
  ['Media', raw(4, 5, guidBytes(GUID.SIMPLE_FILE_SYSTEM)), 'Media(964E5B22-6459-11D2-8E39-00A0C969723B)'],
  ['FvFile', raw(4, 6, guidBytes('7c04a583-9e3e-4f1c-ad65-e05268d0b4d1')), 'FvFile(7C04A583-9E3E-4F1C-AD65-E05268D0B4D1)'],
  ['Fv', raw(4, 7, guidBytes('7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1')), 'Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)'],
  ['Offset', raw(4, 8, [...u32(0), ...u64(0x10n), ...u64(0x20n)]), 'Offset(0x10,0x20)'],
  ['VirtualDisk', raw(4, 9, [...u64(0x1000n), ...u64(0x1fffn), ...guidBytes('77ab535a-45fc-624b-5560-f7b281d1f96e'),
    ...u16le(0)]), 'VirtualDisk(0x1000,0x1FFF,0)'],
  ['RamDisk', raw(4, 9, [...u64(0x1000n), ...u64(0x1fffn), ...guidBytes(ESP_GUID), ...u16le(2)]),
    'RamDisk(0x1000,0x1FFF,2,C12A7328-F81F-11D2-BA4B-00A0C93EC93B)'],
  ['BBS', raw(5, 1, [...u16le(2), ...u16le(0), ...Buffer.from('ubuntu'), 0]), 'BBS(HD,ubuntu,0x0)', 'BBS(HD,ubuntu)'],
  ['unknown messaging sub-type', raw(3, 99, [0xab]), 'Msg(99,AB)'],
  ['unknown type', raw(0x42, 1, [1, 2]), 'Path(66,1,0102)'],
  ['Pci node too short for its structure', raw(1, 1, [5]), 'HardwarePath(1,05)'],
];

for (const [name, node, full, display] of textCases) {
  test(`text of ${name}`, (t) => {
    t.is(deviceNodeToText(node), full);
    t.is(deviceNodeToText(node, { displayOnly: true }), display ?? full);
  });
}

test('terminal vendor GUIDs use their shortcut only when shortcuts are allowed', (t) => {
  const vt100 = raw(3, 10, guidBytes('dfa66065-b419-11d3-9a2d-0090273fc14d'));
  t.is(deviceNodeToText(vt100, { allowShortcuts: true }), 'VenVt100()');
  t.is(deviceNodeToText(vt100), 'VenMsg(DFA66065-B419-11D3-9A2D-0090273FC14D)');
});

test("the serial terminal path is OVMF's COM1 console path on q35, with the PNP0501 node systemd-stub 262 looks for", (t) => {
  const nodes = serialTerminalDevicePath();
  t.is(devicePathToText(nodes, { allowShortcuts: true }), 'PciRoot(0x0)/Pci(0x1F,0x0)/Serial(0x0)/Uart(115200,8,N,1)/VenPcAnsi()');
  // After PciRoot (12 bytes) and Pci (6): ACPI_DEVICE_PATH/ACPI_DP, 12 bytes, _HID EISA_PNP_ID(0x0501) = 0x050141d0, _UID 0 (COM1 at 0x3F8).
  t.deepEqual([...serializeDevicePath(nodes).subarray(12 + 6, 12 + 6 + 12)], [0x02, 0x01, 0x0c, 0x00, 0xd0, 0x41, 0x01, 0x05, 0, 0, 0, 0]);
});
