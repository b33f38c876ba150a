// The 8254 programmable interval timer of a PC (Intel 8254 data sheet; ports 0x40-0x43), counting on the board's
// platform time at 1.193182 MHz (the 14.31818 MHz crystal divided by 12). Channel 2's gate and output are in
// port 0x61 (port-61.ts): GRUB and memtest86+ calibrate the TSC by waiting for that output to rise.
import { floating, PortDevice, PortSize } from './port-io';
import { PlatformTime, ticksAt } from './platform-time';

/** 3579545 / 3 Hz = 1193181.67 Hz. */
export const PIT_HZ_NUMERATOR = 3_579_545n;
export const PIT_HZ_DENOMINATOR = 3n;

interface Channel {
  /** Operating mode 0-5 (control word bits 3-1; 6 and 7 are modes 2 and 3). */
  mode: number;
  /** Read/write access: 1 low byte, 2 high byte, 3 low then high. */
  rw: number;
  bcd: boolean;
  /** The count written (1..65536, 0 is 65536); undefined after a control word until a count is written. */
  reload?: number;
  /** The low byte of a two-byte count, waiting for the high byte. */
  lowWritten?: number;
  /** The next live read of a two-byte count returns the high byte. */
  readHigh: boolean;
  /** Latched bytes (counter latch or read-back), returned before the live count. */
  latched: number[];
  /** A latched status byte (read-back), returned first. */
  status?: number;
  /** Ticks counted before `since`. */
  counted: bigint;
  /** The tick counting (re)started at, while it runs. */
  since?: bigint;
  /** Modes 1 and 5 count only after a gate trigger. */
  triggered: boolean;
}

export class Pit8254 implements PortDevice {
  readonly name = '8254 PIT';
  private readonly channels: Channel[] = [0, 1, 2].map(() => ({
    mode: 0, rw: 3, bcd: false, readHigh: false, latched: [], counted: 0n, triggered: false,
  }));
  private gate2 = false;

  constructor(private readonly time: PlatformTime) {}

  private now(): bigint {
    return ticksAt(this.time.nowNanos(), PIT_HZ_NUMERATOR, PIT_HZ_DENOMINATOR);
  }

  private gate(i: number): boolean {
    return i === 2 ? this.gate2 : true; // channels 0 and 1 have their gates tied high on a PC
  }

  private elapsed(c: Channel, now: bigint): bigint {
    return c.counted + (c.since !== undefined ? now - c.since : 0n);
  }

  /** The counting element (8254 data sheet, each mode's description). */
  count(i: number): number {
    const c = this.channels[i];
    if (c.reload === undefined) return 0;
    const n = BigInt(c.reload);
    if ((c.mode === 1 || c.mode === 5) && !c.triggered) return c.reload & 0xffff;
    const e = this.elapsed(c, this.now());
    switch (c.mode) {
      case 2: return Number(n - (e % n)) & 0xffff;
      case 3: {
        const half = (n + 1n) / 2n;
        const phase = e % n;
        return Number(n - 2n * (phase < half ? phase : phase - half)) & 0xfffe;
      }
      default: return Number((((n - e) % 65536n) + 65536n) % 65536n);
    }
  }

  /** The OUT pin. */
  out(i: number): boolean {
    const c = this.channels[i];
    if (c.reload === undefined) return c.mode !== 0;
    const n = BigInt(c.reload);
    const e = this.elapsed(c, this.now());
    switch (c.mode) {
      case 0: return e >= n;
      case 1: return !c.triggered || e >= n;
      case 2: return !this.gate(i) || e % n !== n - 1n;
      case 3: return !this.gate(i) || e % n < (n + 1n) / 2n;
      case 4: return e !== n;
      default: return !c.triggered || e !== n;
    }
  }

  /** Port 0x61 bit 0: channel 2's gate. A rising edge triggers modes 1 and 5 and restarts 2 and 3 (8254 Table 7). */
  setGate2(level: boolean): void {
    if (level === this.gate2) return;
    const c = this.channels[2];
    const now = this.now();
    this.gate2 = level;
    if (c.reload === undefined) return;
    if (level) {
      if (c.mode === 0 || c.mode === 4) c.since = now;
      else {
        c.counted = 0n;
        c.since = now;
        c.triggered = true;
      }
    } else if (c.mode !== 1 && c.mode !== 5 && c.since !== undefined) {
      c.counted += now - c.since;
      c.since = undefined;
    }
  }

  read(offset: number, size: PortSize): number {
    if (offset === 3) return floating(size); // the control word register is write-only
    const c = this.channels[offset];
    if (c.status !== undefined) {
      const s = c.status;
      c.status = undefined;
      return s;
    }
    if (c.latched.length > 0) return c.latched.shift()!;
    const v = this.count(offset);
    if (c.rw === 1) return v & 0xff;
    if (c.rw === 2) return v >> 8;
    c.readHigh = !c.readHigh;
    return c.readHigh ? v & 0xff : v >> 8;
  }

  write(offset: number, _size: PortSize, value: number): void {
    value &= 0xff;
    if (offset === 3) return this.control(value);
    const c = this.channels[offset];
    if (c.rw === 3 && c.lowWritten === undefined) {
      c.lowWritten = value;
      return;
    }
    const v = c.rw === 1 ? value : c.rw === 2 ? value << 8 : c.lowWritten! | (value << 8);
    c.lowWritten = undefined;
    this.load(offset, v === 0 ? 65536 : v);
  }

  private load(i: number, reload: number): void {
    const c = this.channels[i];
    c.reload = reload;
    c.counted = 0n;
    c.triggered = false;
    // Modes 0, 2, 3, 4 start counting on the write while the gate is high; 1 and 5 wait for a gate trigger.
    c.since = c.mode === 1 || c.mode === 5 || !this.gate(i) ? undefined : this.now();
  }

  private control(value: number): void {
    const sc = value >> 6;
    if (sc === 3) {
      // Read-back command: bit 5 clear latches the counts, bit 4 clear the status, of the channels in bits 3-1.
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        const c = this.channels[i];
        if (!(value & 0x10) && c.status === undefined) c.status = this.statusByte(i);
        if (!(value & 0x20) && c.latched.length === 0) this.latch(i);
      }
      return;
    }
    const c = this.channels[sc];
    const rw = (value >> 4) & 3;
    if (rw === 0) {
      if (c.latched.length === 0) this.latch(sc); // counter latch command
      return;
    }
    let mode = (value >> 1) & 7;
    if (mode > 5) mode -= 4;
    Object.assign(c, { mode, rw, bcd: (value & 1) !== 0, reload: undefined, lowWritten: undefined, readHigh: false, latched: [], status: undefined, counted: 0n, since: undefined, triggered: false });
  }

  private latch(i: number): void {
    const c = this.channels[i];
    const v = this.count(i);
    c.latched = c.rw === 1 ? [v & 0xff] : c.rw === 2 ? [v >> 8] : [v & 0xff, v >> 8];
  }

  private statusByte(i: number): number {
    const c = this.channels[i];
    return (this.out(i) ? 0x80 : 0) | (c.reload === undefined ? 0x40 : 0) | (c.rw << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
  }
}
