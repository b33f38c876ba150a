// The device path of the serial terminal that OVMF's console output goes to on QEMU q35 with a serial port
// (OvmfPkg PlatformBootManagerLib: the LPC bridge, a PNP0501 16550 COM port with UID 0, a UART node 115200 8N1,
// and the PC-ANSI terminal type): PciRoot(0x0)/Pci(0x1F,0x0)/Serial(0x0)/Uart(115200,8,N,1)/VenPcAnsi().
// systemd-stub 262 walks such paths for the ACPI PNP0501 node to pick the kernel's console= (console.c).
import { DevicePathNode, DP_TYPE, eisaPnpId, pciNode, pciRootNode } from './device-path';
import { GUID, guidToBytes } from '../../core/guid';

/** Messaging sub-types used here (UEFI 2.10 §10.3.4, Table 10.16). */
const DP_MSG_UART = 14;
const DP_MSG_VENDOR = 10;
/** DEVICE_PATH_MESSAGING_PC_ANSI (UEFI 2.10 §10.3.4.4, terminal types). */
export const PC_ANSI_TERMINAL_GUID = GUID.PC_ANSI_TERMINAL;

/** ACPI (2/1, §10.3.3): _HID as a compressed EISA id and _UID. */
export function acpiNode(hid: number, uid: number): DevicePathNode {
  const data = Buffer.alloc(8);
  data.writeUInt32LE(hid >>> 0, 0);
  data.writeUInt32LE(uid >>> 0, 4);
  return { type: DP_TYPE.ACPI, subType: 1, data };
}

/** Messaging UART (3/14, §10.3.4.13): reserved UINT32, BaudRate UINT64, DataBits, Parity (1 none), StopBits (1 one). */
export function uartNode(baud: number, dataBits: number, parity: number, stopBits: number): DevicePathNode {
  const data = Buffer.alloc(15);
  data.writeBigUInt64LE(BigInt(baud), 4);
  data[12] = dataBits;
  data[13] = parity;
  data[14] = stopBits;
  return { type: DP_TYPE.MESSAGING, subType: DP_MSG_UART, data };
}

/** COM1 (PNP0501 UID 0, I/O 0x3F8) behind q35's LPC bridge at 00:1f.0, as OVMF's console path names it. */
export function serialTerminalDevicePath(): DevicePathNode[] {
  return [
    pciRootNode(0), pciNode(0x1f, 0), acpiNode(eisaPnpId(0x0501), 0), uartNode(115200, 8, 1, 1),
    { type: DP_TYPE.MESSAGING, subType: DP_MSG_VENDOR, data: guidToBytes(PC_ANSI_TERMINAL_GUID) },
  ];
}
