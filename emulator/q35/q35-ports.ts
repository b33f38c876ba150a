// The I/O port space of the q35 board stubemu models: which device answers each port, the floating bus
// elsewhere, and a count of every port's accesses for the report. Driven by PlatformTime (virtual, so runs repeat).
import { AcpiPmBlock, ACPI_PM_BLOCK_BYTES, ICH9_PMBASE } from './acpi-pm';
import { CmosRtc } from './cmos-rtc';
import { Pit8254 } from './pit8254';
import { PlatformTime } from './platform-time';
import { Port61 } from './port-61';
import { floating, PortDevice, PortIo, PortSize } from './port-io';
import { Uart16550 } from './uart16550';

export const COM1 = 0x3f8;

/**
 * Ports a q35 machine has a device behind that stubemu does not model: they read as the floating bus (all ones)
 * and drop writes like any unclaimed port, but the report names them. (PCI configuration through 0xcf8/0xcfc
 * therefore finds no device: a read-back of 0xcf8 sees all ones, the "no configuration mechanism #1" answer.)
 */
const NOT_MODELLED: [number, number, string][] = [
  [0x20, 2, '8259 PIC (master), not modelled'],
  [0x60, 1, '8042 keyboard controller data, not modelled'],
  [0x64, 1, '8042 keyboard controller status/command, not modelled'],
  [0x80, 1, 'POST code port, writes dropped'],
  [0x92, 1, 'fast A20 / init register, not modelled'],
  [0xa0, 2, '8259 PIC (slave), not modelled'],
  [0xb2, 2, 'APM/SMI control, not modelled'],
  [0x4d0, 2, 'ELCR (PIC edge/level), not modelled'],
  [0xcf9, 1, 'reset control register, not modelled'],
  [0xcf8, 4, 'PCI configuration address, not modelled'],
  [0xcfc, 4, 'PCI configuration data, not modelled'],
];

export interface PortCount {
  port: number;
  device: string;
  reads: number;
  writes: number;
}

interface Range {
  start: number;
  length: number;
  device: PortDevice;
}

export interface Q35PortOptions {
  memoryBytes: number;
  /** Bytes the guest sent out of COM1. */
  onSerial?: (text: string) => void;
}

export class Q35Ports implements PortIo {
  readonly pit: Pit8254;
  readonly pm: AcpiPmBlock;
  readonly rtc: CmosRtc;
  readonly uart: Uart16550;
  private readonly ranges: Range[];
  private readonly counts = new Map<number, { reads: number; writes: number }>();

  constructor(readonly time: PlatformTime, o: Q35PortOptions) {
    this.pit = new Pit8254(time);
    this.pm = new AcpiPmBlock(time);
    this.rtc = new CmosRtc(time, o.memoryBytes);
    this.uart = new Uart16550(o.onSerial ?? (() => {}));
    this.ranges = [
      { start: 0x40, length: 4, device: this.pit },
      { start: 0x61, length: 1, device: new Port61(this.pit, time) },
      { start: 0x70, length: 2, device: this.rtc },
      { start: COM1, length: 8, device: this.uart },
      { start: ICH9_PMBASE, length: ACPI_PM_BLOCK_BYTES, device: this.pm },
    ];
  }

  private find(port: number): Range | undefined {
    return this.ranges.find((r) => port >= r.start && port < r.start + r.length);
  }

  private count(port: number, write: boolean): void {
    let c = this.counts.get(port);
    if (!c) this.counts.set(port, (c = { reads: 0, writes: 0 }));
    if (write) c.writes++;
    else c.reads++;
    this.time.portAccess();
  }

  read(port: number, size: PortSize): number {
    port &= 0xffff;
    this.count(port, false);
    const r = this.find(port);
    if (!r) return floating(size);
    // A wide access to a byte-wide device reads the following ports too, as on the LPC bus.
    if (r.device === this.pm) return r.device.read(port - r.start, size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const ri = this.find(port + i);
      v = v * 256 + (ri ? ri.device.read(port + i - ri.start, 1) & 0xff : 0xff);
    }
    return v >>> 0;
  }

  write(port: number, size: PortSize, value: number): void {
    port &= 0xffff;
    this.count(port, true);
    const r = this.find(port);
    if (!r) return;
    if (r.device === this.pm) return r.device.write(port - r.start, size, value);
    for (let i = 0; i < size; i++) {
      const ri = this.find(port + i);
      ri?.device.write(port + i - ri.start, 1, (value >>> (8 * i)) & 0xff);
    }
  }

  /** Every port the guest touched, in port order, with what answers there. */
  report(): PortCount[] {
    return [...this.counts.entries()].sort(([a], [b]) => a - b).map(([port, c]) => ({ port, device: describePort(port, this.find(port)?.device), ...c }));
  }
}

function describePort(port: number, device: PortDevice | undefined): string {
  if (device) return device.name;
  const known = NOT_MODELLED.find(([start, n]) => port >= start && port < start + n);
  return known ? known[2] : 'no device: floating bus, reads all ones';
}
