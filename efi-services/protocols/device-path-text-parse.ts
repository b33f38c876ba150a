// Text → device path in the node forms of UEFI 2.10 §10.6.1.6 (the reverse of device-path-text.ts), for
// EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL. Node text with no known form becomes a File Path node holding the text, as
// edk2's DevicePathFromText does. Forms parsed: the generic Path/HardwarePath/AcpiPath/Msg/MediaPath/BbsPath, Pci,
// PcCard, MemoryMapped, VenHw, Ctrl, PciRoot, PcieRoot, Acpi, AcpiAdr, Scsi, USB, VenMsg and the terminal shortcuts,
// MAC, Uart, Sata, NVMe, HD, CDROM, VenMedia, Fv, FvFile, Offset; others fall back to File Path like unknown text.
import { GUID, guidToBytes } from '../../core/guid';
import { DevicePathNode, DP_ACPI, DP_END, DP_HW, DP_MEDIA, DP_TYPE, eisaPnpId, filePathNode } from './device-path';

const MSG = DP_TYPE.MESSAGING;

/** Strtoi of the text forms: "0x…" hexadecimal, otherwise decimal; empty is 0. */
export function parseNumber(text: string): bigint {
  const t = text.trim();
  if (t === '') return 0n;
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (/^[0-9]+$/.test(t)) return BigInt(t);
  throw new Error(`not a number: ${JSON.stringify(text)}`);
}

const num = (t: string | undefined) => Number(parseNumber(t ?? ''));
const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, v)); return b; };
const hexData = (t: string | undefined) => Buffer.from((t ?? '').trim(), 'hex');

/** "PNP0A03" → compressed EISA ID; a number is taken as the raw 32-bit value. */
export function parseEisaId(text: string): number {
  const m = /^([A-Z@-_]{3})([0-9A-F]{4})$/i.exec(text.trim());
  if (!m) return num(text);
  const [a, b, c] = [...m[1].toUpperCase()].map((ch) => ch.charCodeAt(0) - 0x40);
  return (((parseInt(m[2], 16) & 0xffff) << 16) | (a << 10) | (b << 5) | c) >>> 0;
}

const node = (type: number, subType: number, ...parts: Buffer[]): DevicePathNode => ({ type, subType, data: Buffer.concat(parts) });
const vendor = (type: number, subType: number) => (a: string[]) => node(type, subType, guidToBytes(a[0].trim()), hexData(a[1]));

/** Messaging Vendor GUIDs of the terminal shortcuts (§10.6.1.6). */
const TERMINALS: Record<string, string> = {
  VenPcAnsi: GUID.PC_ANSI_TERMINAL,
  VenVt100: 'dfa66065-b419-11d3-9a2d-0090273fc14d',
  VenVt100Plus: '7baec70b-57e0-4c76-8e87-2f9e28088343',
  VenUtf8: 'ad15a0d6-8bec-4acf-a073-d01de77e2d88',
};

const generic = (type: number) => (a: string[]) => node(type, num(a[0]), hexData(a[1]));

const FORMS: Record<string, (args: string[]) => DevicePathNode> = {
  Path: (a) => node(num(a[0]), num(a[1]), hexData(a[2])),
  HardwarePath: generic(DP_TYPE.HARDWARE),
  AcpiPath: generic(DP_TYPE.ACPI),
  Msg: generic(MSG),
  MediaPath: generic(DP_TYPE.MEDIA),
  BbsPath: generic(DP_TYPE.BBS),
  Pci: (a) => node(DP_TYPE.HARDWARE, DP_HW.PCI, Buffer.from([num(a[1]), num(a[0])])),
  PcCard: (a) => node(DP_TYPE.HARDWARE, DP_HW.PCCARD, Buffer.from([num(a[0])])),
  MemoryMapped: (a) => node(DP_TYPE.HARDWARE, DP_HW.MEMORY_MAPPED, u32(num(a[0])), u64(parseNumber(a[1] ?? '')), u64(parseNumber(a[2] ?? ''))),
  VenHw: vendor(DP_TYPE.HARDWARE, DP_HW.VENDOR),
  Ctrl: (a) => node(DP_TYPE.HARDWARE, DP_HW.CONTROLLER, u32(num(a[0]))),
  PciRoot: (a) => node(DP_TYPE.ACPI, DP_ACPI.ACPI, u32(eisaPnpId(0x0a03)), u32(num(a[0]))),
  PcieRoot: (a) => node(DP_TYPE.ACPI, DP_ACPI.ACPI, u32(eisaPnpId(0x0a08)), u32(num(a[0]))),
  Acpi: (a) => node(DP_TYPE.ACPI, DP_ACPI.ACPI, u32(parseEisaId(a[0] ?? '')), u32(num(a[1]))),
  AcpiAdr: (a) => node(DP_TYPE.ACPI, DP_ACPI.ADR, ...a.map((x) => u32(num(x)))),
  Scsi: (a) => node(MSG, 2, u16(num(a[0])), u16(num(a[1]))),
  USB: (a) => node(MSG, 5, Buffer.from([num(a[0]), num(a[1])])),
  VenMsg: vendor(MSG, 10),
  // MAC: the address in 32 bytes, then IfType (§10.3.4.11).
  MAC: (a) => {
    const addr = Buffer.alloc(32);
    hexData(a[0]).copy(addr);
    return node(MSG, 11, addr, Buffer.from([num(a[1])]));
  },
  // Uart(Baud,DataBits,Parity,StopBits): Reserved UINT32 first; parity D N E O M S, stop D 1 1.5 2 (§10.3.4.14).
  Uart: (a) => {
    const parity = Math.max(0, 'DNEOMS'.indexOf((a[2] ?? 'D').trim()));
    const stop = Math.max(0, ['D', '1', '1.5', '2'].indexOf((a[3] ?? 'D').trim()));
    const dflt = (t: string | undefined) => ((t ?? '').trim() === 'DEFAULT' ? '0' : t);
    return node(MSG, 14, u32(0), u64(parseNumber(dflt(a[0]) ?? '')), Buffer.from([num(dflt(a[1])), parity, stop]));
  },
  Sata: (a) => node(MSG, 18, u16(num(a[0])), u16(num(a[1])), u16(num(a[2]))),
  // NVMe(NSID,EUI-64): the EUI-64 text is written last byte first (the form device-path-text.ts prints).
  NVMe: (a) => node(MSG, 23, u32(num(a[0])), Buffer.from((a[1] ?? '').split('-').map((b) => parseInt(b, 16) & 0xff).reverse())),
  // HD(Partition,Type,Signature,Start,Size): MBR type 1 / signature type 1, GPT 2 / 2 (§10.3.5.1).
  HD: (a) => {
    const gpt = (a[1] ?? '').trim().toUpperCase() === 'GPT';
    const mbr = (a[1] ?? '').trim().toUpperCase() === 'MBR';
    const sig = Buffer.alloc(16);
    if (gpt) guidToBytes(a[2].trim()).copy(sig);
    else if (mbr) sig.writeUInt32LE(num(a[2]) >>> 0);
    const kind = gpt ? 2 : mbr ? 1 : num(a[1]);
    return node(DP_TYPE.MEDIA, DP_MEDIA.HARD_DRIVE, u32(num(a[0])), u64(parseNumber(a[3] ?? '')), u64(parseNumber(a[4] ?? '')), sig,
      Buffer.from([gpt ? 2 : mbr ? 1 : 0, kind]));
  },
  CDROM: (a) => node(DP_TYPE.MEDIA, DP_MEDIA.CDROM, u32(num(a[0])), u64(parseNumber(a[1] ?? '')), u64(parseNumber(a[2] ?? ''))),
  VenMedia: vendor(DP_TYPE.MEDIA, DP_MEDIA.VENDOR),
  Fv: (a) => node(DP_TYPE.MEDIA, DP_MEDIA.PIWG_FV, guidToBytes(a[0].trim())),
  FvFile: (a) => node(DP_TYPE.MEDIA, DP_MEDIA.PIWG_FV_FILE, guidToBytes(a[0].trim())),
  Offset: (a) => node(DP_TYPE.MEDIA, DP_MEDIA.RELATIVE_OFFSET_RANGE, u32(0), u64(parseNumber(a[0] ?? '')), u64(parseNumber(a[1] ?? ''))),
};
for (const [name, guid] of Object.entries(TERMINALS)) FORMS[name] = () => node(MSG, 10, guidToBytes(guid));

/** One node's text; undefined when a known form's arguments do not parse. */
export function textToDeviceNode(text: string): DevicePathNode | undefined {
  const m = /^([A-Za-z0-9]+)\((.*)\)$/s.exec(text);
  const form = m ? FORMS[m[1]] : undefined;
  if (!m || !form) return filePathNode(text);
  try {
    return form(m[2] === '' ? [] : m[2].split(','));
  } catch {
    return undefined;
  }
}

/** Splits at '/' and ',' outside parentheses: ',' separates instances (§10.6.1). */
function split(text: string): { node: string; endsInstance: boolean }[] {
  const out: { node: string; endsInstance: boolean }[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === '/' || ch === ',')) {
      if (cur !== '') out.push({ node: cur, endsInstance: ch === ',' });
      else if (ch === ',' && out.length > 0) out[out.length - 1].endsInstance = true;
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur !== '') out.push({ node: cur, endsInstance: false });
  return out;
}

/** A whole path's nodes, End Instance nodes between instances, no End Entire; undefined when a node fails. */
export function textToDevicePath(text: string): DevicePathNode[] | undefined {
  const nodes: DevicePathNode[] = [];
  const parts = split(text);
  for (let i = 0; i < parts.length; i++) {
    const n = textToDeviceNode(parts[i].node);
    if (!n) return undefined;
    nodes.push(n);
    if (parts[i].endsInstance && i < parts.length - 1) nodes.push({ type: DP_TYPE.END, subType: DP_END.INSTANCE, data: Buffer.alloc(0) });
  }
  return nodes;
}
