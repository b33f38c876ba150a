// EFI_RUNTIME_SERVICES time members (UEFI 2.10 §8.3) over the deterministic VirtualClock, and the --time option.
import { RuntimeServicesImpl } from '../tables/runtime-services-decl';
import { CallInfo } from '../../core/abi';
import { VirtualClock } from '../clock';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS } from '../../core/status';
import { GuestMemory } from '../../core/guest-memory';

export const EFI_UNSPECIFIED_TIMEZONE = 0x07ff;
export const EFI_TIME_ADJUST_DAYLIGHT = 0x01;
export const EFI_TIME_IN_DAYLIGHT = 0x02;

/** EFI_TIME field offsets (UEFI 2.10 §8.3.1). */
export const EFI_TIME_LAYOUT = {
  Year: 0, Month: 2, Day: 3, Hour: 4, Minute: 5, Second: 6, Pad1: 7, Nanosecond: 8, TimeZone: 12, Daylight: 14, Pad2: 15,
  size: 16,
} as const;
if (EFI_TIME_LAYOUT.Pad2 + 1 !== EFI_TIME_LAYOUT.size) throw new Error('EFI_TIME layout');

/** EFI_TIME_CAPABILITIES field offsets (UEFI 2.10 §8.3.1): UINT32, UINT32, BOOLEAN, padded to 12. */
export const EFI_TIME_CAPABILITIES_LAYOUT = { Resolution: 0, Accuracy: 4, SetsToZero: 8, size: 12 } as const;
if (EFI_TIME_CAPABILITIES_LAYOUT.SetsToZero + 4 !== EFI_TIME_CAPABILITIES_LAYOUT.size) throw new Error('EFI_TIME_CAPABILITIES layout');

/**
 * What GetTime reports about the clock: a 1 Hz real-time clock (Nanosecond is always 0, as on the PC CMOS RTC that
 * OVMF's PcRtc drives), 50 ppm accurate (Accuracy counts in units of 1E-6 ppm, so 50 ppm is 50,000,000,
 * UEFI 2.10 §8.3.1), not reset by SetTime.
 */
export const TIME_CAPABILITIES = { resolution: 1, accuracy: 50_000_000, setsToZero: false } as const;

export interface EfiTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  timeZone: number;
  daylight: number;
}

export function readEfiTime(mem: GuestMemory, a: bigint): EfiTime {
  const L = EFI_TIME_LAYOUT;
  const b = mem.view(a, L.size);
  return {
    year: b.readUInt16LE(L.Year), month: b[L.Month], day: b[L.Day], hour: b[L.Hour], minute: b[L.Minute],
    second: b[L.Second], nanosecond: b.readUInt32LE(L.Nanosecond), timeZone: b.readInt16LE(L.TimeZone), daylight: b[L.Daylight],
  };
}

export function writeEfiTime(mem: GuestMemory, a: bigint, t: EfiTime): void {
  const L = EFI_TIME_LAYOUT;
  const b = Buffer.alloc(L.size);
  b.writeUInt16LE(t.year, L.Year);
  b[L.Month] = t.month;
  b[L.Day] = t.day;
  b[L.Hour] = t.hour;
  b[L.Minute] = t.minute;
  b[L.Second] = t.second;
  b.writeUInt32LE(t.nanosecond, L.Nanosecond);
  b.writeInt16LE(t.timeZone, L.TimeZone);
  b[L.Daylight] = t.daylight;
  mem.write(a, b);
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeapYear(year) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Why `t` is not a valid EFI_TIME (the ranges of UEFI 2.10 §8.3.1), or undefined. */
export function efiTimeProblem(t: EfiTime): string | undefined {
  if (t.year < 1900 || t.year > 9999) return `Year ${t.year} outside 1900-9999`;
  if (t.month < 1 || t.month > 12) return `Month ${t.month} outside 1-12`;
  if (t.day < 1 || t.day > daysInMonth(t.year, t.month)) return `Day ${t.day} not in ${t.year}-${t.month}`;
  if (t.hour > 23) return `Hour ${t.hour} outside 0-23`;
  if (t.minute > 59) return `Minute ${t.minute} outside 0-59`;
  if (t.second > 59) return `Second ${t.second} outside 0-59`;
  if (t.nanosecond > 999_999_999) return `Nanosecond ${t.nanosecond} outside 0-999999999`;
  if (t.timeZone !== EFI_UNSPECIFIED_TIMEZONE && (t.timeZone < -1440 || t.timeZone > 1440)) {
    return `TimeZone ${t.timeZone} outside -1440..1440 and not EFI_UNSPECIFIED_TIMEZONE`;
  }
  if (t.daylight & ~(EFI_TIME_ADJUST_DAYLIGHT | EFI_TIME_IN_DAYLIGHT)) return `Daylight 0x${t.daylight.toString(16)} has reserved bits`;
  return undefined;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic, valid for any year). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Calendar fields of `seconds` since 1970-01-01T00:00:00 (no time zone applied). */
export function efiTimeFromSeconds(seconds: bigint, timeZone = EFI_UNSPECIFIED_TIMEZONE, daylight = 0): EfiTime {
  const days = seconds >= 0n ? seconds / 86400n : -((-seconds + 86399n) / 86400n);
  const rest = Number(seconds - days * 86400n);
  const { year, month, day } = civilFromDays(Number(days));
  return {
    year, month, day, hour: Math.floor(rest / 3600), minute: Math.floor(rest / 60) % 60, second: rest % 60,
    nanosecond: 0, timeZone, daylight,
  };
}

/** Seconds since 1970-01-01T00:00:00 of the calendar fields (TimeZone and Nanosecond are not applied). */
export function secondsFromEfiTime(t: EfiTime): bigint {
  return BigInt(daysFromCivil(t.year, t.month, t.day)) * 86400n + BigInt(t.hour * 3600 + t.minute * 60 + t.second);
}

/**
 * The CLI's `--time`: an ISO 8601 instant with an explicit zone, `2024-01-01T00:00:00Z` or `...+02:00`, as
 * seconds since 1970-01-01T00:00:00Z. Local times are refused so that runs do not depend on the host.
 */
export function parseTimeOption(iso: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|([+-])(\d{2}):(\d{2}))$/.exec(iso.trim());
  if (!m) throw new Error(`--time: expected YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DDTHH:MM:SS+HH:MM, got ${JSON.stringify(iso)}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const t: EfiTime = { year, month, day, hour, minute, second, nanosecond: 0, timeZone: EFI_UNSPECIFIED_TIMEZONE, daylight: 0 };
  const problem = efiTimeProblem(t);
  if (problem) throw new Error(`--time: ${JSON.stringify(iso)}: ${problem}`);
  let offsetMinutes = 0;
  if (m[7] !== 'Z') {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) throw new Error(`--time: ${JSON.stringify(iso)}: bad UTC offset`);
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return secondsFromEfiTime(t) - BigInt(offsetMinutes * 60);
}

export interface TimeServicesOptions {
  /** EFI_TIME.TimeZone reported until SetTime changes it; OVMF starts with EFI_UNSPECIFIED_TIMEZONE. */
  timeZone?: number;
  daylight?: number;
}

/**
 * GetTime/SetTime/GetWakeupTime/SetWakeupTime. The clock holds wall-clock fields as seconds (what GetTime reads is
 * `epochSeconds + whole seconds of nowMicros`); TimeZone and Daylight are kept beside it and never converted, as
 * OVMF's PcRtc keeps them beside the CMOS clock.
 */
export function timeServices(platform: Platform, clock: VirtualClock, options: TimeServicesOptions = {}): RuntimeServicesImpl {
  const mem = platform.mem;
  let timeZone = options.timeZone ?? EFI_UNSPECIFIED_TIMEZONE;
  let daylight = options.daylight ?? 0;
  const initialProblem = efiTimeProblem(efiTimeFromSeconds(clock.epochSeconds, timeZone, daylight));
  if (initialProblem) throw new Error(`time services: ${initialProblem}`);
  const nowSeconds = () => clock.epochSeconds + clock.nowMicros / 1_000_000n;
  const wakeup = { enabled: false, time: efiTimeFromSeconds(nowSeconds(), timeZone, daylight) };
  /** The EFI_TIME at `ptr`, or undefined (with the reason in the trace) when a field is out of range. */
  const readValidTime = (ptr: bigint, call: CallInfo) => {
    const t = readEfiTime(mem, ptr);
    const problem = efiTimeProblem(t);
    if (problem) call.note(problem);
    return problem ? undefined : t;
  };

  return {
    /** UEFI 2.10 §8.3.1; Capabilities is optional. */
    GetTime: ([timePtr, capabilitiesPtr]) => {
      if (timePtr === 0n) return EFI_INVALID_PARAMETER;
      writeEfiTime(mem, timePtr, efiTimeFromSeconds(nowSeconds(), timeZone, daylight));
      if (capabilitiesPtr !== 0n) {
        const C = EFI_TIME_CAPABILITIES_LAYOUT;
        mem.setU32(capabilitiesPtr + BigInt(C.Resolution), TIME_CAPABILITIES.resolution);
        mem.setU32(capabilitiesPtr + BigInt(C.Accuracy), TIME_CAPABILITIES.accuracy);
        mem.setU8(capabilitiesPtr + BigInt(C.SetsToZero), TIME_CAPABILITIES.setsToZero ? 1 : 0);
      }
      return EFI_SUCCESS;
    },

    /** UEFI 2.10 §8.3.2: every field is checked; the clock's epoch moves so GetTime reads the new time. */
    SetTime: ([timePtr], call) => {
      if (timePtr === 0n) return EFI_INVALID_PARAMETER;
      const t = readValidTime(timePtr, call);
      if (!t) return EFI_INVALID_PARAMETER;
      // The 1 Hz clock keeps no sub-second part: Nanosecond is checked but not stored.
      clock.epochSeconds = secondsFromEfiTime(t) - clock.nowMicros / 1_000_000n;
      timeZone = t.timeZone;
      daylight = t.daylight;
      return EFI_SUCCESS;
    },

    /** UEFI 2.10 §8.3.3: Pending once an enabled alarm time has passed on the clock. */
    GetWakeupTime: ([enabledPtr, pendingPtr, timePtr]) => {
      if (enabledPtr === 0n || pendingPtr === 0n || timePtr === 0n) return EFI_INVALID_PARAMETER;
      const pending = wakeup.enabled && nowSeconds() >= secondsFromEfiTime(wakeup.time);
      mem.setU8(enabledPtr, wakeup.enabled ? 1 : 0);
      mem.setU8(pendingPtr, pending ? 1 : 0);
      writeEfiTime(mem, timePtr, wakeup.time);
      return EFI_SUCCESS;
    },

    /** UEFI 2.10 §8.3.4: Time is required and checked only when enabling. */
    SetWakeupTime: ([enable, timePtr], call) => {
      if (enable === 0n) {
        wakeup.enabled = false;
        return EFI_SUCCESS;
      }
      if (timePtr === 0n) return EFI_INVALID_PARAMETER;
      const t = readValidTime(timePtr, call);
      if (!t) return EFI_INVALID_PARAMETER;
      wakeup.enabled = true;
      wakeup.time = t;
      return EFI_SUCCESS;
    },
  };
}
