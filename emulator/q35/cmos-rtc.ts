// The MC146818-compatible RTC and CMOS RAM of a PC (ports 0x70 index, 0x71 data; ICH9 data sheet §13.6). The time
// is the firmware's clock (--time plus the virtual clock); registers A-D as QEMU starts them (A 0x26, B 0x02: BCD,
// 24-hour; D 0x80: valid RAM); the update-in-progress bit is set in the last 244 µs of each second; century at 0x32
// (QEMU's RTC_CENTURY). Writes to the time and date registers are ignored (the clock comes from the options); other
// CMOS bytes keep what is written and start as QEMU's q35 sets the memory size fields.
import { PortDevice, PortSize } from './port-io';
import { PlatformTime } from './platform-time';

const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32;
const B_24H = 0x02, B_BINARY = 0x04;
const UIP_NANOS = 244_000n;

export interface RtcTime { seconds: number; minutes: number; hours: number; weekday: number; day: number; month: number; year: number }

/** The calendar fields of `epochSeconds` (UTC); weekday 1 = Sunday, as the RTC counts. */
export function rtcTime(epochSeconds: bigint): RtcTime {
  const d = new Date(Number(epochSeconds) * 1000);
  return {
    seconds: d.getUTCSeconds(), minutes: d.getUTCMinutes(), hours: d.getUTCHours(), weekday: d.getUTCDay() + 1,
    day: d.getUTCDate(), month: d.getUTCMonth() + 1, year: d.getUTCFullYear(),
  };
}

const bcd = (v: number) => ((Math.floor(v / 10) % 10) << 4) | (v % 10);

export class CmosRtc implements PortDevice {
  readonly name = 'CMOS RTC (MC146818)';
  private index = 0;
  private readonly ram = Buffer.alloc(128);

  constructor(private readonly time: PlatformTime, memoryBytes: number) {
    this.ram[REG_A] = 0x26;
    this.ram[REG_B] = B_24H;
    this.ram[REG_D] = 0x80;
    // Memory size fields QEMU's pc/q35 boards set (hw/i386/pc.c pc_cmos_init): base memory 640 KiB, memory above
    // 1 MiB in KiB and above 16 MiB in 64 KiB units, each capped at 0xffff (all RAM here is below 4 GiB).
    const kib = (n: number, v: number) => { this.ram[n] = v & 0xff; this.ram[n + 1] = (v >> 8) & 0xff; };
    kib(0x15, 640);
    const ext = Math.min(Math.floor(memoryBytes / 1024) - 1024, 0xffff);
    kib(0x17, ext);
    kib(0x30, ext);
    kib(0x34, Math.min(Math.max(0, Math.floor((Math.min(memoryBytes, 0xb000_0000) - (16 << 20)) / 65536)), 0xffff));
  }

  private seconds(): { epoch: bigint; withinSecond: bigint } {
    const nanos = this.time.nowNanos();
    return { epoch: this.time.clock.epochSeconds + nanos / 1_000_000_000n, withinSecond: nanos % 1_000_000_000n };
  }

  read(offset: number, _size: PortSize): number {
    if (offset === 0) return 0xff; // the index register is write-only
    return this.register(this.index);
  }

  private register(i: number): number {
    const { epoch, withinSecond } = this.seconds();
    const t = rtcTime(epoch);
    const binary = (this.ram[REG_B] & B_BINARY) !== 0;
    const enc = (v: number) => (binary ? v : bcd(v));
    switch (i) {
      case 0: return enc(t.seconds);
      case 2: return enc(t.minutes);
      case 4: {
        if (this.ram[REG_B] & B_24H) return enc(t.hours);
        const h12 = t.hours % 12 === 0 ? 12 : t.hours % 12;
        return enc(h12) | (t.hours >= 12 ? 0x80 : 0);
      }
      case 6: return enc(t.weekday);
      case 7: return enc(t.day);
      case 8: return enc(t.month);
      case 9: return enc(t.year % 100);
      case CENTURY: return enc(Math.floor(t.year / 100));
      case REG_A: return (this.ram[REG_A] & 0x7f) | (withinSecond >= 1_000_000_000n - UIP_NANOS ? 0x80 : 0);
      case REG_C: {
        const v = this.ram[REG_C];
        this.ram[REG_C] = 0; // reading C clears the interrupt flags
        return v;
      }
      default: return this.ram[i];
    }
  }

  write(offset: number, _size: PortSize, value: number): void {
    if (offset === 0) {
      this.index = value & 0x7f; // bit 7 masks NMI
      return;
    }
    const i = this.index;
    if (i <= 9 || i === CENTURY || i === REG_C || i === REG_D) return;
    this.ram[i] = i === REG_A ? value & 0x7f : value & 0xff;
  }
}
