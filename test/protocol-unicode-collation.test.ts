// EFI_UNICODE_COLLATION2_PROTOCOL called by guest code; expected results follow the member descriptions of
// UEFI 2.10 §19.2 (case-insensitive compare, * ? [set] patterns, FAT 8.3 conversions).
import test from 'ava';
import { GUID } from '../core/guid';
import { encodeUtf16z } from '../core/guest-memory';
import { EFI_UNICODE_COLLATION2_PROTOCOL } from '../efi-services/protocols/unicode-collation';
import { callProtocolMember, GuestArg, GuestResult } from './helpers/guest-protocol';

const call = (member: string, args: readonly GuestArg[], result?: GuestResult) =>
  callProtocolMember(GUID.UNICODE_COLLATION2, EFI_UNICODE_COLLATION2_PROTOCOL, member, args, result);
const s16 = (s: string) => ({ bytes: encodeUtf16z(s) });

test('StriColl compares without case: equal is 0, the first differing character decides the sign', (t) => {
  t.is(call('StriColl', ['This', s16('\\EFI\\Boot'), s16('\\efi\\BOOT')]).value, 0n);
  t.true(BigInt.asIntN(64, call('StriColl', ['This', s16('abc'), s16('ABD')]).value) < 0n);
  t.true(BigInt.asIntN(64, call('StriColl', ['This', s16('abcd'), s16('ABC')]).value) > 0n);
});

test('MetaiMatch: * any run, ? one character, [set] and [a-z] ranges, all without case', (t) => {
  const match = (s: string, p: string) => call('MetaiMatch', ['This', s16(s), s16(p)]).value;
  t.is(match('BOOTX64.EFI', '*.efi'), 1n);
  t.is(match('bootx64.efi', 'BOOT[W-Z]64.???'), 1n);
  t.is(match('bootx64.efi', 'boot[abc]64.efi'), 0n);
  t.is(match('startup.nsh', 'startup.ns'), 0n);
  t.is(match('', '*'), 1n);
});

test('StrUpr and StrLwr change the string in place', (t) => {
  const up = call('StrUpr', ['This', s16('Shell.efi')], { argAddress: 1 });
  t.is(up.run.firmware.mem.utf16z(up.value), 'SHELL.EFI');
  const low = call('StrLwr', ['This', s16('Shell.EFI')], { argAddress: 1 });
  t.is(low.run.firmware.mem.utf16z(low.value), 'shell.efi');
});

test('FatToStr widens at most FatSize OEM bytes and terminates; StrToFat drops . and space, maps others to _', (t) => {
  const out = { bytes: Buffer.alloc(32, 0xee) };
  const r = call('FatToStr', ['This', 8n, { bytes: Buffer.from('BOOTX64 EFI', 'latin1') }, out], { argAddress: 3 });
  t.is(r.run.firmware.mem.utf16z(r.value), 'BOOTX64 ');
  const fat = call('StrToFat', ['This', s16('a.b c+d'), 4n, { bytes: Buffer.alloc(8, 0xee) }], { argAddress: 3 });
  t.deepEqual(fat.run.firmware.mem.read(fat.value, 5), Buffer.from([0x41, 0x42, 0x43, 0x5f, 0xee]));
  t.is(call('StrToFat', ['This', s16('a.b c+d'), 4n, { bytes: Buffer.alloc(8) }]).value, 1n);
  t.is(call('StrToFat', ['This', s16('boot.efi'), 8n, { bytes: Buffer.alloc(8) }]).value, 0n);
});

test('SupportedLanguages is the ASCII list "en" (RFC 4646), which PlatformLang en-US selects', (t) => {
  const r = call('StriColl', ['This', s16('a'), s16('a')]);
  const handle = r.run.report.handles.flatMap((h) => h.protocols).find((p) => p.guid === GUID.UNICODE_COLLATION2)!;
  const table = BigInt(handle.interface);
  const slot = EFI_UNICODE_COLLATION2_PROTOCOL.members.findIndex((m) => m.name === 'SupportedLanguages');
  t.is(r.run.firmware.mem.asciiz(r.run.firmware.mem.u64(table + BigInt(8 * slot))), 'en');
});
