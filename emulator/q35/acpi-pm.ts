// The ACPI PM I/O block of q35's ICH9 LPC bridge at PMBASE 0x600, where OVMF programs it (OvmfPkg
// ICH9_PMBASE_VALUE): PM1a status/enable at +0, PM1a control at +4, the PM timer at +8 (ACPI 6.5 §4.8.3.3; a
// 24-bit counter at 3.579545 MHz, as QEMU's). Other registers of the 128-byte block keep what is written; PM1
// status bits are write-one-to-clear; no sleep state is entered (SLP_EN is stored only).
import { PortDevice, PortSize } from './port-io';
import { PlatformTime, ticksAt } from './platform-time';

export const ICH9_PMBASE = 0x600;
export const ACPI_PM_BLOCK_BYTES = 0x80;
export const PM_TIMER_HZ = 3_579_545n;
export const PM_TIMER_MASK = 0xff_ffff;
const PM1_STS = 0, PM1_TMR = 8;

export class AcpiPmBlock implements PortDevice {
  readonly name = 'ICH9 ACPI PM registers (PM1a, PM timer)';
  private readonly regs = Buffer.alloc(ACPI_PM_BLOCK_BYTES);

  constructor(private readonly time: PlatformTime) {}

  /** The PM timer's value now. */
  timer(): number {
    return Number(ticksAt(this.time.nowNanos(), PM_TIMER_HZ, 1n) & BigInt(PM_TIMER_MASK));
  }

  read(offset: number, size: PortSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.byteAt(offset + i);
    return v >>> 0;
  }

  private byteAt(o: number): number {
    if (o >= PM1_TMR && o < PM1_TMR + 4) return (this.timer() >>> (8 * (o - PM1_TMR))) & 0xff;
    return o < ACPI_PM_BLOCK_BYTES ? this.regs[o] : 0xff;
  }

  write(offset: number, size: PortSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      if (o >= ACPI_PM_BLOCK_BYTES || (o >= PM1_TMR && o < PM1_TMR + 4)) continue; // the timer is read-only
      if (o < PM1_STS + 2) this.regs[o] &= ~b; // write one to clear
      else this.regs[o] = b;
    }
  }
}
