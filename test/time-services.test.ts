// Time services (UEFI 2.10 §8.3) on the virtual clock, checked against JavaScript's Date, and the --time option.
import test from 'ava';
import { VirtualClock } from '../efi-services/clock';
import { buildInterface } from '../efi-services/interface';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS } from '../core/status';
import { EFI_RUNTIME_SERVICES } from '../efi-services/tables/runtime-services-decl';
import { EFI_UNSPECIFIED_TIMEZONE, parseTimeOption, timeServices } from '../efi-services/runtime/time-services';
import { FakePlatform } from './helpers/fake-platform';

const TIME = 0x10000n, CAPS = 0x10100n, ENABLED = 0x10200n, PENDING = 0x10201n, WAKE = 0x10300n;

function setup(epochSeconds = 1704067200n) {
  const p = new FakePlatform();
  const clock = new VirtualClock(epochSeconds);
  const table = buildInterface(p, EFI_RUNTIME_SERVICES, timeServices(p, clock));
  const call = (member: string, args: bigint[]) =>
    p.callMember(table, EFI_RUNTIME_SERVICES.headerSize, EFI_RUNTIME_SERVICES.members.findIndex((m) => m.name === member), args);
  return { mem: p.mem, clock, call };
}

/** EFI_TIME bytes built by hand from the spec's layout. */
function efiTime(year: number, month: number, day: number, hour = 0, minute = 0, second = 0,
  nanosecond = 0, timeZone = EFI_UNSPECIFIED_TIMEZONE, daylight = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(year, 0);
  b.writeUInt8(month, 2);
  b.writeUInt8(day, 3);
  b.writeUInt8(hour, 4);
  b.writeUInt8(minute, 5);
  b.writeUInt8(second, 6);
  b.writeUInt32LE(nanosecond, 8);
  b.writeInt16LE(timeZone, 12);
  b.writeUInt8(daylight, 14);
  return b;
}

function decode(b: Buffer) {
  return {
    year: b.readUInt16LE(0), month: b[2], day: b[3], hour: b[4], minute: b[5], second: b[6],
    nanosecond: b.readUInt32LE(8), timeZone: b.readInt16LE(12), daylight: b[14],
  };
}

function fromDate(ms: number) {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(),
    minute: d.getUTCMinutes(), second: d.getUTCSeconds(), nanosecond: 0, timeZone: EFI_UNSPECIFIED_TIMEZONE, daylight: 0,
  };
}

test('GetTime fields match Date for the clock value, across leap days and centuries', (t) => {
  const instants = [
    0, 951782400, 951868799, 1704067200, 1709164800, 1709251199, 4107456000, 4107542399, -2203891200, 253402300797,
    1234567890, 1e9 + 86399,
  ];
  for (const s of instants) {
    const { call, mem, clock } = setup(BigInt(s));
    clock.advance(2_999_999n); // 2.999999 s later: the 1 Hz clock shows +2 s
    t.is(call('GetTime', [TIME, 0n]), EFI_SUCCESS);
    t.deepEqual(decode(mem.read(TIME, 16)), fromDate((s + 2) * 1000), `epoch ${s}`);
  }
});

test('GetTime: Time NULL is EFI_INVALID_PARAMETER; Capabilities is optional and describes a 1 Hz, 50 ppm clock', (t) => {
  const { call, mem } = setup();
  t.is(call('GetTime', [0n, CAPS]), EFI_INVALID_PARAMETER);
  mem.fill(CAPS, 12, 0xff);
  t.is(call('GetTime', [TIME, CAPS]), EFI_SUCCESS);
  t.is(mem.u32(CAPS), 1);
  t.is(mem.u32(CAPS + 4n), 50_000_000);
  t.is(mem.u8(CAPS + 8n), 0);
});

test('SetTime moves the clock: GetTime reads the new time and keeps counting', (t) => {
  const { call, mem, clock } = setup();
  clock.advance(5_500_000n);
  mem.write(TIME, efiTime(2030, 6, 15, 12, 34, 56, 0, -300, 3));
  t.is(call('SetTime', [TIME]), EFI_SUCCESS);
  mem.fill(TIME, 16, 0);
  t.is(call('GetTime', [TIME, 0n]), EFI_SUCCESS);
  t.deepEqual(decode(mem.read(TIME, 16)), { ...fromDate(Date.UTC(2030, 5, 15, 12, 34, 56)), timeZone: -300, daylight: 3 });
  clock.advance(61_000_000n);
  call('GetTime', [TIME, 0n]);
  t.deepEqual(decode(mem.read(TIME, 16)), { ...fromDate(Date.UTC(2030, 5, 15, 12, 35, 57)), timeZone: -300, daylight: 3 });
});

test('SetTime validates every field, including the day of the month in leap and common years', (t) => {
  const { call, mem } = setup();
  const cases: [Buffer, bigint, string][] = [
    [efiTime(2024, 2, 29), EFI_SUCCESS, 'leap day 2024'],
    [efiTime(2000, 2, 29), EFI_SUCCESS, '2000 is a leap year (divisible by 400)'],
    [efiTime(2023, 2, 29), EFI_INVALID_PARAMETER, '2023 is not a leap year'],
    [efiTime(1900, 2, 29), EFI_INVALID_PARAMETER, '1900 is not a leap year (divisible by 100)'],
    [efiTime(2100, 2, 29), EFI_INVALID_PARAMETER, '2100 is not a leap year'],
    [efiTime(2024, 4, 31), EFI_INVALID_PARAMETER, 'April has 30 days'],
    [efiTime(2024, 12, 31, 23, 59, 59, 999_999_999, 1440, 3), EFI_SUCCESS, 'every field at its maximum'],
    [efiTime(1900, 1, 1, 0, 0, 0, 0, -1440, 0), EFI_SUCCESS, 'every field at its minimum'],
    [efiTime(1899, 12, 31), EFI_INVALID_PARAMETER, 'year below 1900'],
    [efiTime(10000, 1, 1), EFI_INVALID_PARAMETER, 'year above 9999'],
    [efiTime(2024, 0, 1), EFI_INVALID_PARAMETER, 'month 0'],
    [efiTime(2024, 13, 1), EFI_INVALID_PARAMETER, 'month 13'],
    [efiTime(2024, 1, 0), EFI_INVALID_PARAMETER, 'day 0'],
    [efiTime(2024, 1, 1, 24), EFI_INVALID_PARAMETER, 'hour 24'],
    [efiTime(2024, 1, 1, 0, 60), EFI_INVALID_PARAMETER, 'minute 60'],
    [efiTime(2024, 1, 1, 0, 0, 60), EFI_INVALID_PARAMETER, 'second 60'],
    [efiTime(2024, 1, 1, 0, 0, 0, 1_000_000_000), EFI_INVALID_PARAMETER, 'nanosecond 10^9'],
    [efiTime(2024, 1, 1, 0, 0, 0, 0, 1441), EFI_INVALID_PARAMETER, 'TimeZone 1441'],
    [efiTime(2024, 1, 1, 0, 0, 0, 0, -1441), EFI_INVALID_PARAMETER, 'TimeZone -1441'],
    [efiTime(2024, 1, 1, 0, 0, 0, 0, 2046), EFI_INVALID_PARAMETER, 'TimeZone 2046'],
    [efiTime(2024, 1, 1, 0, 0, 0, 0, 2047), EFI_SUCCESS, 'EFI_UNSPECIFIED_TIMEZONE'],
    [efiTime(2024, 1, 1, 0, 0, 0, 0, 0, 4), EFI_INVALID_PARAMETER, 'reserved Daylight bit'],
  ];
  for (const [time, status, why] of cases) {
    mem.write(TIME, time);
    t.is(call('SetTime', [TIME]), status, why);
  }
  t.is(call('SetTime', [0n]), EFI_INVALID_PARAMETER, 'Time NULL');
  mem.write(TIME, efiTime(2025, 3, 1));
  call('SetTime', [TIME]);
  mem.write(TIME, efiTime(2023, 2, 29));
  call('SetTime', [TIME]);
  call('GetTime', [TIME, 0n]);
  t.deepEqual(decode(mem.read(TIME, 16)), fromDate(Date.UTC(2025, 2, 1)), 'a refused SetTime leaves the clock alone');
});

test('wakeup time: stored, enabled, pending once the clock passes it, and disabled', (t) => {
  const { call, mem, clock } = setup(); // 2024-01-01T00:00:00
  t.is(call('GetWakeupTime', [ENABLED, PENDING, WAKE]), EFI_SUCCESS);
  t.is(mem.u8(ENABLED), 0);
  t.is(mem.u8(PENDING), 0);
  t.is(call('GetWakeupTime', [0n, PENDING, WAKE]), EFI_INVALID_PARAMETER);
  t.is(call('GetWakeupTime', [ENABLED, 0n, WAKE]), EFI_INVALID_PARAMETER);
  t.is(call('GetWakeupTime', [ENABLED, PENDING, 0n]), EFI_INVALID_PARAMETER);

  t.is(call('SetWakeupTime', [1n, 0n]), EFI_INVALID_PARAMETER, 'enabling needs a time');
  mem.write(TIME, efiTime(2024, 1, 1, 0, 0, 61));
  t.is(call('SetWakeupTime', [1n, TIME]), EFI_INVALID_PARAMETER, 'second 61');
  mem.write(TIME, efiTime(2024, 1, 1, 0, 1, 0));
  t.is(call('SetWakeupTime', [1n, TIME]), EFI_SUCCESS);
  call('GetWakeupTime', [ENABLED, PENDING, WAKE]);
  t.is(mem.u8(ENABLED), 1);
  t.is(mem.u8(PENDING), 0);
  t.deepEqual(mem.read(WAKE, 16), efiTime(2024, 1, 1, 0, 1, 0));
  clock.advance(60_000_000n);
  call('GetWakeupTime', [ENABLED, PENDING, WAKE]);
  t.is(mem.u8(PENDING), 1);
  t.is(call('SetWakeupTime', [0n, 0n]), EFI_SUCCESS, 'disabling takes no time');
  call('GetWakeupTime', [ENABLED, PENDING, WAKE]);
  t.is(mem.u8(ENABLED), 0);
  t.is(mem.u8(PENDING), 0);
});

test('parseTimeOption reads ISO 8601 instants with a zone and refuses the rest', (t) => {
  for (const iso of ['2024-01-01T00:00:00Z', '2024-02-29T23:59:59Z', '1999-12-31T23:00:00-05:30', '2038-01-19T03:14:08+01:00', '1950-06-01T12:00:00Z']) {
    t.is(parseTimeOption(iso), BigInt(Date.parse(iso) / 1000), iso);
  }
  t.throws(() => parseTimeOption('2024-01-01T00:00:00'), { message: /expected YYYY-MM-DDTHH:MM:SSZ/ });
  t.throws(() => parseTimeOption('2023-02-29T00:00:00Z'), { message: /Day 29 not in 2023-2/ });
  t.throws(() => parseTimeOption('2024-01-01T24:00:00Z'), { message: /Hour 24/ });
  t.throws(() => parseTimeOption('yesterday'));
});
