// Device path → text in the node forms of UEFI 2.10 §10.6.1.6 (Text Device Node Reference), printed as edk2 does.
import { guidFromBytes } from '../../core/guid';
import { DevicePathNode, DP_TYPE, filePathNodeText, isEndEntire, isEndInstance } from './device-path';

export interface DevicePathTextOptions {
  /** The shorter display forms (EFI_DEVICE_PATH_TO_TEXT_PROTOCOL DisplayOnly, UEFI 2.10 §10.6.2). */
  displayOnly?: boolean;
  /** Shortcut forms such as VenPcAnsi() (AllowShortcuts, §10.6.2). */
  allowShortcuts?: boolean;
}

type Options = Required<DevicePathTextOptions>;
type Format = (d: Buffer, o: Options, type: number) => string;

/**
 * Number rendering of edk2 PrintLib: `%x` digits are upper case and so is `%g` (the GUID is printed through
 * `%08x-%04x-...`), so paths read as edk2 and the UEFI Shell show them: Pci(0x1F,0x2), VenMedia(5568E427-...).
 */
const hx = (n: number | bigint) => `0x${n.toString(16).toUpperCase()}`;
const hexPad = (n: number | bigint, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
const hexBytes = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();
const guidAt = (d: Buffer, offset: number) => guidFromBytes(d, offset).toUpperCase();
const ipv4At = (d: Buffer, o: number) => `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
const ipv6At = (d: Buffer, o: number) =>
  Array.from({ length: 8 }, (_, i) => hexBytes(d.subarray(o + 2 * i, o + 2 * i + 2))).join(':');
/** ASCII bytes up to the first NUL (edk2 `%a`). */
const asciiz = (d: Buffer, o = 0) => {
  const end = d.indexOf(0, o);
  return d.toString('latin1', o, end < 0 ? d.length : end);
};

/** Vendor-defined terminal types, printed by name when shortcuts are allowed (§10.6.1.6, Messaging table). */
const TERMINAL_SHORTCUTS: Record<string, string> = {
  'E0C14753-F9BE-11D2-9A0C-0090273FC14D': 'VenPcAnsi()',
  'DFA66065-B419-11D3-9A2D-0090273FC14D': 'VenVt100()',
  '7BAEC70B-57E0-4C76-8E87-2F9E28088343': 'VenVt100Plus()',
  'AD15A0D6-8BEC-4ACF-A073-D01DE77E2D88': 'VenUtf8()',
};

/** RAM disk type GUIDs with their own text forms (§10.3.5.9). */
const RAM_DISK_NAMES: Record<string, string> = {
  '77AB535A-45FC-624B-5560-F7B281D1F96E': 'VirtualDisk',
  '3D5ABD30-4175-87CE-6D64-D2ADE523C4BB': 'VirtualCD',
  '5CEA02C9-4D07-69D3-269F-4496FBE096F9': 'PersistentVirtualDisk',
  '08018188-42CD-BB48-100F-5387D53DED3D': 'PersistentVirtualCD',
};

/** USB class codes with their own text forms (§10.6.1.6, UsbAudio ... UsbWireless). */
const USB_CLASS_NAMES: Record<number, string> = {
  0x01: 'UsbAudio', 0x02: 'UsbCDCControl', 0x03: 'UsbHID', 0x06: 'UsbImage', 0x07: 'UsbPrinter',
  0x08: 'UsbMassStorage', 0x09: 'UsbHub', 0x0a: 'UsbCDCData', 0x0b: 'UsbSmartCard', 0x0e: 'UsbVideo',
  0xdc: 'UsbDiagnostic', 0xe0: 'UsbWireless',
};
/** Sub-classes of the application-specific class 0xFE. */
const USB_FE_SUBCLASS_NAMES: Record<number, string> = {
  0x01: 'UsbDeviceFirmwareUpdate', 0x02: 'UsbIrdaBridge', 0x03: 'UsbTestAndMeasurement',
};

const BBS_TYPE_NAMES: Record<number, string> = {
  0x01: 'Floppy', 0x02: 'HD', 0x03: 'CDROM', 0x04: 'PCMCIA', 0x05: 'USB', 0x06: 'Network',
};

/** Compressed EISA ID → "PNP0A03" (three 5-bit letters in the low word, the number in the high word). */
export function eisaIdText(id: number): string {
  const letter = (shift: number) => String.fromCharCode(((id >>> shift) & 0x1f) + 0x40);
  return `${letter(10)}${letter(5)}${letter(0)}${hexPad((id >>> 16) & 0xffff, 4)}`;
}

const PNP_EISA_LOW = 0x41d0;

/** ACPI _HID device paths with a name of their own in §10.6.1.6. */
const ACPI_PNP_NAMES: Record<number, string> = {
  0x0a03: 'PciRoot', 0x0a08: 'PcieRoot', 0x0604: 'Floppy', 0x0301: 'Keyboard', 0x0501: 'Serial',
  0x0401: 'ParallelPort',
};

function vendor(kind: string): Format {
  return (d, o) => {
    const guid = guidAt(d, 0);
    if (kind === 'Msg' && o.allowShortcuts && TERMINAL_SHORTCUTS[guid]) return TERMINAL_SHORTCUTS[guid];
    return d.length > 16 ? `Ven${kind}(${guid},${hexBytes(d.subarray(16))})` : `Ven${kind}(${guid})`;
  };
}

function acpiEx(d: Buffer, o: Options): string {
  const hid = d.readUInt32LE(0);
  const uid = d.readUInt32LE(4);
  const cid = d.readUInt32LE(8);
  // HIDSTR, UIDSTR, CIDSTR follow in that order (§10.3.3, Table 10.10); absent strings read as empty.
  const strings: string[] = [];
  for (let at = 12; at < d.length && strings.length < 3; ) {
    const s = asciiz(d, at);
    strings.push(s);
    at += s.length + 1;
  }
  const [hidStr = '', uidStr = '', cidStr = ''] = strings;
  if (o.displayOnly) {
    // PCI root bridges by _HID or _CID, as edk2 since 2018 (bug 1228) and the §10.6.1.6 PciRoot/PcieRoot rows.
    const num = (id: number) => ((id & 0xffff) === PNP_EISA_LOW ? id >>> 16 : -1);
    const root = num(hid) === 0x0a03 || (num(cid) === 0x0a03 && num(hid) !== 0x0a08) ? 'PciRoot'
      : num(hid) === 0x0a08 || num(cid) === 0x0a08 ? 'PcieRoot' : undefined;
    if (root) return `${root}(${uidStr || hx(uid)})`;
  }
  if (hidStr === '' && cidStr === '' && uidStr !== '') {
    return `AcpiExp(${eisaIdText(hid)},${cid === 0 ? '0' : eisaIdText(cid)},${uidStr})`;
  }
  if (o.displayOnly) {
    return `AcpiEx(${hidStr || eisaIdText(hid)},${cidStr || eisaIdText(cid)},${uidStr || hx(uid)})`;
  }
  return `AcpiEx(${eisaIdText(hid)},${eisaIdText(cid)},${hx(uid)},${hidStr},${cidStr},${uidStr})`;
}

function ipv4(d: Buffer, o: Options): string {
  const remote = ipv4At(d, 4);
  if (o.displayOnly) return `IPv4(${remote})`;
  const protocol = protocolText(d.readUInt16LE(12));
  const origin = d[14] ? 'Static' : 'DHCP';
  // Gateway and subnet were added in UEFI 2.4; older 19-byte nodes stop after StaticIpAddress.
  const tail = d.length >= 23 ? `,${ipv4At(d, 15)},${ipv4At(d, 19)}` : '';
  return `IPv4(${remote},${protocol},${origin},${ipv4At(d, 0)}${tail})`;
}

function ipv6(d: Buffer, o: Options): string {
  const remote = ipv6At(d, 16);
  if (o.displayOnly) return `IPv6(${remote})`;
  const origin = ['Static', 'StatelessAutoConfigure'][d[38]] ?? 'StatefulAutoConfigure';
  const tail = d.length >= 56 ? `,${hx(d[39])},${ipv6At(d, 40)}` : '';
  return `IPv6(${remote},${protocolText(d.readUInt16LE(36))},${origin},${ipv6At(d, 0)}${tail})`;
}

/** RFC 1700 protocol numbers named in the IPv4/IPv6 forms. */
function protocolText(p: number): string {
  return p === 6 ? 'TCP' : p === 17 ? 'UDP' : hx(p);
}

function uart(d: Buffer): string {
  const baud = d.readBigUInt64LE(4);
  const parity = 'DNEOMS'[d[13]] ?? 'x';
  const stop = ['D', '1', '1.5', '2'][d[14]] ?? 'x';
  return `Uart(${baud === 0n ? 'DEFAULT' : baud},${d[12] === 0 ? 'DEFAULT' : d[12]},${parity},${stop})`;
}

function usbClass(d: Buffer): string {
  const vid = hx(d.readUInt16LE(0));
  const pid = hx(d.readUInt16LE(2));
  const [cls, sub, proto] = [d[4], d[5], d[6]];
  if (USB_CLASS_NAMES[cls]) return `${USB_CLASS_NAMES[cls]}(${vid},${pid},${hx(sub)},${hx(proto)})`;
  if (cls === 0xfe && USB_FE_SUBCLASS_NAMES[sub]) return `${USB_FE_SUBCLASS_NAMES[sub]}(${vid},${pid},${hx(proto)})`;
  return `UsbClass(${vid},${pid},${hx(cls)},${hx(sub)},${hx(proto)})`;
}

function usbWwid(d: Buffer): string {
  let serial = '';
  for (let i = 6; i + 1 < d.length; i += 2) {
    const c = d.readUInt16LE(i);
    if (c === 0) break;
    serial += String.fromCharCode(c);
  }
  return `UsbWwid(${hx(d.readUInt16LE(2))},${hx(d.readUInt16LE(4))},${hx(d.readUInt16LE(0))},"${serial}")`;
}

function hardDrive(d: Buffer): string {
  const part = d.readUInt32LE(0);
  const range = `${hx(d.readBigUInt64LE(4))},${hx(d.readBigUInt64LE(12))}`;
  switch (d[37]) {
    case 0x01: return `HD(${part},MBR,0x${hexPad(d.readUInt32LE(20), 8)},${range})`;
    case 0x02: return `HD(${part},GPT,${guidAt(d, 20)},${range})`;
    default: return `HD(${part},${d[37]},0,${range})`;
  }
}

function ramDisk(d: Buffer): string {
  const range = `${hx(d.readBigUInt64LE(0))},${hx(d.readBigUInt64LE(8))},${d.readUInt16LE(32)}`;
  const guid = guidAt(d, 16);
  return RAM_DISK_NAMES[guid] ? `${RAM_DISK_NAMES[guid]}(${range})` : `RamDisk(${range},${guid})`;
}

function bbs(d: Buffer, o: Options): string {
  const type = d.readUInt16LE(0);
  const head = `BBS(${BBS_TYPE_NAMES[type] ?? hx(type)},${asciiz(d, 4)}`;
  return o.displayOnly ? `${head})` : `${head},${hx(d.readUInt16LE(2))})`;
}

/** Converters keyed by (type << 8 | subType), with the least data (bytes after the header) each one reads. */
const CONVERTERS = new Map<number, { min: number; format: Format }>();
function def(type: number, subType: number, min: number, format: Format): void {
  CONVERTERS.set((type << 8) | subType, { min, format });
}

const { HARDWARE: HW, ACPI, MESSAGING: MSG, MEDIA, BBS } = DP_TYPE;
// Hardware (§10.3.2)
def(HW, 1, 2, (d) => `Pci(${hx(d[1])},${hx(d[0])})`);
def(HW, 2, 1, (d) => `PcCard(${hx(d[0])})`);
def(HW, 3, 20, (d) => `MemoryMapped(${hx(d.readUInt32LE(0))},${hx(d.readBigUInt64LE(4))},${hx(d.readBigUInt64LE(12))})`);
def(HW, 4, 16, vendor('Hw'));
def(HW, 5, 4, (d) => `Ctrl(${hx(d.readUInt32LE(0))})`);
def(HW, 6, 9, (d) => `BMC(${hx(d[0])},${hx(d.readBigUInt64LE(1))})`);
// ACPI (§10.3.3)
def(ACPI, 1, 8, (d) => {
  const hid = d.readUInt32LE(0);
  const uid = hx(d.readUInt32LE(4));
  if ((hid & 0xffff) !== PNP_EISA_LOW) return `Acpi(0x${hexPad(hid, 8)},${uid})`;
  const name = ACPI_PNP_NAMES[hid >>> 16];
  return name ? `${name}(${uid})` : `Acpi(${eisaIdText(hid)},${uid})`;
});
def(ACPI, 2, 12, acpiEx);
def(ACPI, 3, 4, (d) => {
  const adrs: string[] = [];
  for (let i = 0; i + 4 <= d.length; i += 4) adrs.push(hx(d.readUInt32LE(i)));
  return `AcpiAdr(${adrs.join(',')})`;
});
// Messaging (§10.3.4)
def(MSG, 1, 4, (d, o) => o.displayOnly
  ? `Ata(${hx(d.readUInt16LE(2))})`
  : `Ata(${d[0] === 1 ? 'Secondary' : 'Primary'},${d[1] === 1 ? 'Slave' : 'Master'},${hx(d.readUInt16LE(2))})`);
def(MSG, 2, 4, (d) => `Scsi(${hx(d.readUInt16LE(0))},${hx(d.readUInt16LE(2))})`);
def(MSG, 3, 20, (d) => `Fibre(${hx(d.readBigUInt64LE(4))},${hx(d.readBigUInt64LE(12))})`);
def(MSG, 4, 12, (d) => `I1394(${hexPad(d.readBigUInt64LE(4), 16)})`);
def(MSG, 5, 2, (d) => `USB(${hx(d[0])},${hx(d[1])})`);
def(MSG, 6, 4, (d) => `I2O(${hx(d.readUInt32LE(0))})`);
def(MSG, 9, 44, (d) => `Infiniband(${hx(d.readUInt32LE(0))},${guidAt(d, 4)},${hx(d.readBigUInt64LE(20))},`
  + `${hx(d.readBigUInt64LE(28))},${hx(d.readBigUInt64LE(36))})`);
def(MSG, 10, 16, vendor('Msg'));
// MAC: interface types 0 and 1 (Ethernet) use 6 of the 32 address bytes.
def(MSG, 11, 33, (d) => `MAC(${hexBytes(d.subarray(0, d[32] <= 1 ? 6 : 32))},${hx(d[32])})`);
def(MSG, 12, 15, ipv4);
def(MSG, 13, 39, ipv6);
def(MSG, 14, 15, uart);
def(MSG, 15, 7, usbClass);
def(MSG, 16, 6, usbWwid);
def(MSG, 17, 1, (d) => `Unit(${hx(d[0])})`);
def(MSG, 18, 6, (d) => `Sata(${hx(d.readUInt16LE(0))},${hx(d.readUInt16LE(2))},${hx(d.readUInt16LE(4))})`);
def(MSG, 20, 2, (d) => `Vlan(${d.readUInt16LE(0)})`);
// NVMe: the EUI-64 is printed from its last byte to its first, as edk2 does.
def(MSG, 23, 12, (d) => `NVMe(${hx(d.readUInt32LE(0))},${Array.from(d.subarray(4, 12)).reverse()
  .map((b) => hexPad(b, 2)).join('-')})`);
def(MSG, 24, 0, (d) => `Uri(${asciiz(d)})`);
def(MSG, 25, 2, (d) => `UFS(${hx(d[0])},${hx(d[1])})`);
def(MSG, 26, 1, (d) => `SD(${hx(d[0])})`);
def(MSG, 29, 1, (d) => `eMMC(${hx(d[0])})`);
// Media (§10.3.5)
def(MEDIA, 1, 38, hardDrive);
def(MEDIA, 2, 20, (d, o) => o.displayOnly
  ? `CDROM(${hx(d.readUInt32LE(0))})`
  : `CDROM(${hx(d.readUInt32LE(0))},${hx(d.readBigUInt64LE(4))},${hx(d.readBigUInt64LE(12))})`);
def(MEDIA, 3, 16, vendor('Media'));
def(MEDIA, 4, 0, (d, _o, type) => filePathNodeText({ type, subType: 4, data: d }));
def(MEDIA, 5, 16, (d) => `Media(${guidAt(d, 0)})`);
def(MEDIA, 6, 16, (d) => `FvFile(${guidAt(d, 0)})`);
def(MEDIA, 7, 16, (d) => `Fv(${guidAt(d, 0)})`);
def(MEDIA, 8, 20, (d) => `Offset(${hx(d.readBigUInt64LE(4))},${hx(d.readBigUInt64LE(12))})`);
def(MEDIA, 9, 34, ramDisk);
// BIOS Boot Specification (§10.3.6)
def(BBS, 1, 4, bbs);

/** Generic names by type for nodes without a form of their own (§10.6.1.6, first rows of the table). */
const GENERIC_NAMES: Record<number, string> = {
  [HW]: 'HardwarePath', [ACPI]: 'AcpiPath', [MSG]: 'Msg', [MEDIA]: 'MediaPath', [BBS]: 'BbsPath',
};

function genericText(node: DevicePathNode): string {
  const data = node.data.length > 0 ? `,${hexBytes(node.data)}` : '';
  const name = GENERIC_NAMES[node.type];
  return name ? `${name}(${node.subType}${data})` : `Path(${node.type},${node.subType}${data})`;
}

/** One node's text; nodes too short for their structure fall back to the generic form. */
export function deviceNodeToText(node: DevicePathNode, options: DevicePathTextOptions = {}): string {
  const o: Options = { displayOnly: options.displayOnly ?? false, allowShortcuts: options.allowShortcuts ?? false };
  const conv = CONVERTERS.get((node.type << 8) | node.subType);
  if (!conv || node.data.length < conv.min) return genericText(node);
  return conv.format(node.data, o, node.type);
}

/**
 * A whole path: nodes joined by '/', instances by ',' (§10.6.1); an End Entire node stops the conversion.
 * edk2 writes ",/" between instances (its separator check reads the string terminator); the spec form is used here.
 */
export function devicePathToText(nodes: readonly DevicePathNode[], options: DevicePathTextOptions = {}): string {
  let text = '';
  let instanceStart = true;
  for (const node of nodes) {
    if (isEndEntire(node)) break;
    if (isEndInstance(node)) {
      text += ',';
      instanceStart = true;
      continue;
    }
    if (!instanceStart) text += '/';
    text += deviceNodeToText(node, options);
    instanceStart = false;
  }
  return text;
}
