// EFI_TCG2_PROTOCOL driven through its guest table on a CPU-less platform: structures and TPM responses read back
// from guest memory and compared with values computed here.
import test from 'ava';
import { createHash } from 'node:crypto';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_SUCCESS, EFI_UNSUPPORTED, EFI_VOLUME_FULL, statusName } from '../core/status';
import { EV } from '../efi-services/tcg/event-data';
import { MeasuredBoot, parseEventLog, serializeEvent2 } from '../efi-services/tcg/event-log';
import {
  EFI_TCG2_EVENT_LOG_FORMAT_TCG_1_2, EFI_TCG2_EVENT_LOG_FORMAT_TCG_2, EFI_TCG2_EXTEND_ONLY, EFI_TCG2_FINAL_EVENTS_TABLE_GUID,
  EFI_TCG2_PROTOCOL, installTcg2, PE_COFF_IMAGE, pendingBanks, Tcg2Options,
} from '../efi-services/tcg/tcg2-protocol';
import { FakePlatform } from './helpers/fake-platform';
import { fixture, fixturePath } from './helpers/fixtures';
import { pesignHash } from './helpers/tools';

const s = statusName;
const sha1 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha1')).digest();
const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

function setup(options: Tcg2Options = {}) {
  const fake = new FakePlatform();
  const tables: { guid: string; address: bigint }[] = [];
  const tcg2 = installTcg2(fake, { installConfigTable: (guid, address) => tables.push({ guid, address }), ...options });
  const index = (name: string) => EFI_TCG2_PROTOCOL.members.findIndex((m) => m.name === name);
  const call = (name: string, ...args: bigint[]) => s(fake.callMember(tcg2.protocol, 0, index(name), [tcg2.protocol, ...args]));
  let next = 0x10000n;
  const scratch = (n: number) => {
    const a = next;
    next += BigInt((n + 15) & ~15);
    return a;
  };
  return { fake, mem: fake.mem, tcg2, tables, call, scratch };
}

type Env = ReturnType<typeof setup>;

/** EFI_TCG2_EVENT: Size, HeaderSize 14, HeaderVersion 1, PCRIndex, EventType, then the event data (packed). */
function tcgEvent(env: Env, pcr: number, type: number, data: Buffer, patch?: (b: Buffer) => void): bigint {
  const b = Buffer.alloc(18 + data.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(14, 4);
  b.writeUInt16LE(1, 8);
  b.writeUInt32LE(pcr, 10);
  b.writeUInt32LE(type, 14);
  data.copy(b, 18);
  patch?.(b);
  const a = env.scratch(b.length);
  env.mem.write(a, b);
  return a;
}

function hashLogExtend(env: Env, flags: bigint, data: Buffer, pcr: number, type: number, eventData: Buffer): string {
  const d = env.scratch(data.length);
  env.mem.write(d, data);
  return env.call('HashLogExtendEvent', flags, d, BigInt(data.length), tcgEvent(env, pcr, type, eventData));
}

test('GetCapability: the 1.1 structure, the 1.0 structure for older callers, and the size handshake', (t) => {
  const env = setup({ banks: ['sha256'], manufacturerId: 0x49424d00 });
  const cap = env.scratch(64);
  env.mem.setU8(cap, 36);
  t.is(env.call('GetCapability', cap), 'EFI_SUCCESS');
  const c = env.mem.read(cap, 36);
  t.deepEqual([c[0], c[1], c[2], c[3], c[4]], [36, 1, 1, 1, 1]);
  t.is(c.readUInt32LE(8), 0xf, 'HashAlgorithmBitmap: sha1 sha256 sha384 sha512');
  t.is(c.readUInt32LE(12), EFI_TCG2_EVENT_LOG_FORMAT_TCG_2);
  t.is(c[16], 1, 'TPMPresentFlag');
  t.deepEqual([c.readUInt16LE(18), c.readUInt16LE(20)], [4096, 4096]);
  t.is(c.readUInt32LE(24), 0x49424d00);
  t.is(c.readUInt32LE(28), 4, 'NumberOfPCRBanks');
  t.is(c.readUInt32LE(32), 0x2, 'ActivePcrBanks');

  const old = env.scratch(64);
  env.mem.fill(old, 64, 0xaa);
  env.mem.setU8(old, 28);
  t.is(env.call('GetCapability', old), 'EFI_SUCCESS');
  const o = env.mem.read(old, 29);
  t.deepEqual([o[0], o[1], o[2], o[3], o[4]], [28, 1, 0, 1, 0]);
  t.is(o.readUInt32LE(24), 0x49424d00);
  t.is(o[28], 0xaa, 'nothing written past the 1.0 structure');

  const tiny = env.scratch(8);
  env.mem.setU8(tiny, 8);
  t.is(env.call('GetCapability', tiny), s(EFI_BUFFER_TOO_SMALL));
  t.is(env.mem.u8(tiny), 36);
  t.is(env.call('GetCapability', 0n), s(EFI_INVALID_PARAMETER));
  t.is(s(env.fake.callMember(env.tcg2.protocol, 0, 0, [0n, cap])), s(EFI_INVALID_PARAMETER));
});

test('HashLogExtendEvent extends every active bank and logs a TCG_PCR_EVENT2', (t) => {
  const env = setup();
  const data = Buffer.from('kernel command line');
  const event = Buffer.from('.cmdline\0', 'utf16le');
  t.is(hashLogExtend(env, 0n, data, 12, EV.IPL, event), 'EFI_SUCCESS');
  const pcrs = env.tcg2.measuredBoot.pcrs();
  t.is(pcrs.sha1[12], sha1(Buffer.alloc(20), sha1(data)).toString('hex'));
  t.is(pcrs.sha256[12], sha256(Buffer.alloc(32), sha256(data)).toString('hex'));
  const expected = serializeEvent2(12, EV.IPL, [{ algorithmId: 0x4, digest: sha1(data) }, { algorithmId: 0xb, digest: sha256(data) }], event);
  const log = env.tcg2.measuredBoot.serialize();
  t.deepEqual(log.subarray(log.length - expected.length), expected);
  // The guest's copy of the log holds the same bytes, followed by the 0xFF fill.
  t.deepEqual(env.mem.read(env.tcg2.logArea, log.length), log);
  t.is(env.mem.u8(env.tcg2.logArea + BigInt(log.length)), 0xff);

  // EFI_TCG2_EXTEND_ONLY: the PCR moves, the log does not.
  t.is(hashLogExtend(env, EFI_TCG2_EXTEND_ONLY, Buffer.from('more'), 12, EV.IPL, event), 'EFI_SUCCESS');
  t.is(env.tcg2.measuredBoot.serialize().length, log.length);
  t.is(env.tcg2.measuredBoot.pcrs().sha256[12], sha256(Buffer.from(pcrs.sha256[12], 'hex'), sha256(Buffer.from('more'))).toString('hex'));

  // EV_NO_ACTION: logged with zero digests, nothing extended, DataToHash may be NULL.
  const before = env.tcg2.measuredBoot.pcrs();
  t.is(env.call('HashLogExtendEvent', 0n, 0n, 0n, tcgEvent(env, 0, EV.NO_ACTION, Buffer.from('StartupLocality\0\x00', 'latin1'))), 'EFI_SUCCESS');
  t.deepEqual(env.tcg2.measuredBoot.pcrs(), before);
  const last = parseEventLog(env.tcg2.measuredBoot.serialize()).events.pop()!;
  t.is(last.type, EV.NO_ACTION);
  t.deepEqual(last.digests.map((d) => d.digest.toString('hex')), ['00'.repeat(20), '00'.repeat(32)]);
});

test('HashLogExtendEvent parameter checks', (t) => {
  const env = setup();
  const d = env.scratch(4);
  const ok = () => tcgEvent(env, 8, EV.IPL, Buffer.from('x'));
  t.is(env.call('HashLogExtendEvent', 0n, d, 4n, 0n), s(EFI_INVALID_PARAMETER), 'NULL event');
  t.is(env.call('HashLogExtendEvent', 0n, 0n, 4n, ok()), s(EFI_INVALID_PARAMETER), 'NULL DataToHash');
  t.is(env.call('HashLogExtendEvent', 0n, d, 4n, tcgEvent(env, 24, EV.IPL, Buffer.from('x'))), s(EFI_INVALID_PARAMETER), 'PCR 24');
  t.is(env.call('HashLogExtendEvent', 0n, d, 4n, tcgEvent(env, 8, EV.IPL, Buffer.alloc(0), (b) => b.writeUInt32LE(17, 0))), s(EFI_INVALID_PARAMETER), 'Size < HeaderSize + 4');
  t.is(env.call('HashLogExtendEvent', 0n, d, 4n, tcgEvent(env, 8, EV.IPL, Buffer.alloc(0), (b) => b.writeUInt16LE(2, 8))), s(EFI_INVALID_PARAMETER), 'HeaderVersion 2');
  t.is(env.call('HashLogExtendEvent', 0n, d, 4n, tcgEvent(env, 8, EV.IPL, Buffer.alloc(4), (b) => b.writeUInt32LE(10, 4))), s(EFI_INVALID_PARAMETER), 'HeaderSize 10');
  t.is(s(env.fake.callMember(env.tcg2.protocol, 0, 2, [0n, 0n, d, 4n, ok()])), s(EFI_INVALID_PARAMETER), 'NULL This');
  t.is(env.tcg2.measuredBoot.events.length, 0);
  t.is(env.call('HashLogExtendEvent', 0n, d, 4n, ok()), 'EFI_SUCCESS');
});

test('PE_COFF_IMAGE: DataToHash is hashed Authenticode-style', (t) => {
  const env = setup();
  const stub = fixture('stub-252', 'linuxx64.efi.stub');
  const pesign = pesignHash(fixturePath('stub-252', 'linuxx64.efi.stub'));
  t.is(hashLogExtend(env, PE_COFF_IMAGE, stub, 4, EV.EFI_BOOT_SERVICES_APPLICATION, Buffer.alloc(32)), 'EFI_SUCCESS');
  const last = parseEventLog(env.tcg2.measuredBoot.serialize()).events.pop()!;
  t.is(last.digests.find((d) => d.bank === 'sha256')!.digest.toString('hex'), pesign);
  t.is(env.tcg2.measuredBoot.pcrs().sha256[4], sha256(Buffer.alloc(32), Buffer.from(pesign, 'hex')).toString('hex'));
  const pcr4 = env.tcg2.measuredBoot.pcrs().sha256[4];
  t.is(hashLogExtend(env, PE_COFF_IMAGE, Buffer.from('MZ not a PE image'), 4, EV.EFI_BOOT_SERVICES_APPLICATION, Buffer.alloc(32)), s(EFI_UNSUPPORTED));
  t.is(env.tcg2.measuredBoot.pcrs().sha256[4], pcr4);
});

test('a full log: the PCR is extended and EFI_VOLUME_FULL returned', (t) => {
  const probe = new MeasuredBoot({ banks: ['sha256'] });
  const env = setup({ measuredBoot: new MeasuredBoot({ banks: ['sha256'], logCapacity: probe.header.length + 60 }) });
  t.is(hashLogExtend(env, 0n, Buffer.from('a'), 8, EV.IPL, Buffer.alloc(10)), 'EFI_SUCCESS');
  t.is(hashLogExtend(env, 0n, Buffer.from('b'), 8, EV.IPL, Buffer.alloc(10)), s(EFI_VOLUME_FULL));
  t.is(env.tcg2.measuredBoot.pcrs().sha256[8], sha256(sha256(Buffer.alloc(32), sha256(Buffer.from('a'))), sha256(Buffer.from('b'))).toString('hex'));
  const out = env.scratch(24);
  t.is(env.call('GetEventLog', BigInt(EFI_TCG2_EVENT_LOG_FORMAT_TCG_2), out, out + 8n, out + 16n), 'EFI_SUCCESS');
  t.is(env.mem.u8(out + 16n), 1, 'EventLogTruncated');
});

test('GetEventLog: location, last entry, and events after the call in the final events table', (t) => {
  const env = setup();
  t.is(env.tables.length, 1);
  t.is(env.tables[0].guid, EFI_TCG2_FINAL_EVENTS_TABLE_GUID);
  const final = env.tables[0].address;
  t.is(env.mem.u64(final), 1n, 'Version');
  t.is(hashLogExtend(env, 0n, Buffer.from('one'), 9, EV.IPL, Buffer.from('before')), 'EFI_SUCCESS');

  const out = env.scratch(24);
  env.mem.fill(out, 24, 0xcc);
  t.is(env.call('GetEventLog', BigInt(EFI_TCG2_EVENT_LOG_FORMAT_TCG_1_2), out, out + 8n, out + 16n), s(EFI_INVALID_PARAMETER));
  t.is(env.call('GetEventLog', BigInt(EFI_TCG2_EVENT_LOG_FORMAT_TCG_2), out, out + 8n, out + 16n), 'EFI_SUCCESS');
  const location = env.mem.u64(out);
  const lastEntry = env.mem.u64(out + 8n);
  t.is(location, env.tcg2.logArea);
  t.is(env.mem.u8(out + 16n), 0);
  // Walk the guest log as the Linux stub does: its size is the last entry's offset plus that entry's size.
  const lastSize = 4 + 4 + 4 + (2 + 20) + (2 + 32) + 4 + 'before'.length;
  const guestLog = env.mem.read(location, Number(lastEntry - location) + lastSize);
  t.deepEqual(guestLog, env.tcg2.measuredBoot.serialize());
  t.is(env.mem.u64(final + 8n), 0n, 'nothing in the final table before the first GetEventLog');

  t.is(hashLogExtend(env, 0n, Buffer.from('two'), 9, EV.IPL, Buffer.from('after')), 'EFI_SUCCESS');
  t.is(env.mem.u64(final + 8n), 1n, 'NumberOfEvents');
  const record = serializeEvent2(9, EV.IPL, [{ algorithmId: 4, digest: sha1(Buffer.from('two')) }, { algorithmId: 0xb, digest: sha256(Buffer.from('two')) }], Buffer.from('after'));
  t.deepEqual(env.mem.read(final + 16n, record.length), record);
  t.is(env.mem.u8(final + 16n + BigInt(record.length)), 0xff);
  // The main log keeps growing too.
  t.is(env.call('GetEventLog', BigInt(EFI_TCG2_EVENT_LOG_FORMAT_TCG_2), 0n, out + 8n, 0n), 'EFI_SUCCESS');
  t.is(env.mem.u64(out + 8n), location + BigInt(guestLog.length));
});

/** A TPM2 command: header (tag, size, code) and a big-endian body. */
function tpmCommand(tag: number, code: number, body: Buffer): Buffer {
  const h = Buffer.alloc(10);
  h.writeUInt16BE(tag, 0);
  h.writeUInt32BE(10 + body.length, 2);
  h.writeUInt32BE(code, 6);
  return Buffer.concat([h, body]);
}

function submit(env: Env, command: Buffer, outSize = 4096): { status: string; response: Buffer } {
  const input = env.scratch(command.length);
  env.mem.write(input, command);
  const output = env.scratch(outSize);
  const status = env.call('SubmitCommand', BigInt(command.length), input, BigInt(outSize), output);
  const size = env.mem.ram.readUInt32BE(Number(output) + 2);
  return { status, response: status === 'EFI_SUCCESS' ? env.mem.read(output, size) : Buffer.alloc(0) };
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('SubmitCommand TPM2_PCR_Read: a byte-exact response for a known PCR state', (t) => {
  const env = setup();
  t.is(hashLogExtend(env, 0n, Buffer.from('zero'), 0, EV.POST_CODE, Buffer.alloc(0)), 'EFI_SUCCESS');
  t.is(hashLogExtend(env, 0n, Buffer.from('seven'), 7, EV.POST_CODE, Buffer.alloc(0)), 'EFI_SUCCESS');
  const pcr0 = sha256(Buffer.alloc(32), sha256(Buffer.from('zero')));
  const pcr7 = sha1(Buffer.alloc(20), sha1(Buffer.from('seven')));
  // Two selections: sha256 PCRs 0 and 1, sha1 PCR 7.
  const { status, response } = submit(env, tpmCommand(0x8001, 0x17e, hex('00000002 000b 03 030000 0004 03 800000')));
  t.is(status, 'EFI_SUCCESS');
  const body = Buffer.concat([
    hex('00000004'), // pcrUpdateCounter: two extends in two banks
    hex('00000002 000b 03 030000 0004 03 800000'),
    hex('00000003'), hex('0020'), pcr0, hex('0020'), Buffer.alloc(32), hex('0014'), pcr7,
  ]);
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + body.length, 2);
  t.deepEqual(response, Buffer.concat([header, body]));

  // sha384 is implemented but not allocated: its selection comes back cleared; past 8 digests the rest is cleared.
  const r2 = submit(env, tpmCommand(0x8001, 0x17e, hex('00000002 000c 03 ff0000 000b 03 ff0300'))).response;
  t.deepEqual(r2.subarray(10, 30), hex('00000004 00000002 000c 03 000000 000b 03 ff0000'));
  t.is(r2.readUInt32BE(30), 8);
  // An algorithm the TPM does not implement: TPM_RC_HASH for parameter 1; a 4-byte select: TPM_RC_VALUE.
  t.deepEqual(submit(env, tpmCommand(0x8001, 0x17e, hex('00000001 0012 03 010000'))).response, hex('8001 0000000a 000001c3'));
  t.deepEqual(submit(env, tpmCommand(0x8001, 0x17e, hex('00000001 000b 04 01000000'))).response, hex('8001 0000000a 000001c4'));
});

test('SubmitCommand TPM2_GetCapability, TPM2_GetRandom and unknown commands', (t) => {
  const env = setup({ random: (n) => Buffer.alloc(n, 0x5a) });
  const pcrs = submit(env, tpmCommand(0x8001, 0x17a, hex('00000005 00000000 00000001'))).response;
  t.deepEqual(pcrs, hex('8001 0000002b 00000000 00 00000005 00000004 0004 03 ffffff 000b 03 ffffff 000c 03 000000 000d 03 000000'));
  const algs = submit(env, tpmCommand(0x8001, 0x17a, hex('00000000 00000005 00000002'))).response;
  t.deepEqual(algs, hex('8001 0000001f 00000000 01 00000000 00000002 000b 00000004 000c 00000004'));
  const props = submit(env, tpmCommand(0x8001, 0x17a, hex('00000006 0000011e 00000002'))).response;
  t.deepEqual(props, hex('8001 00000023 00000000 01 00000006 00000002 0000011e 00001000 0000011f 00001000'));
  t.deepEqual(submit(env, tpmCommand(0x8001, 0x17a, hex('00000099 00000000 00000001'))).response, hex('8001 0000000a 000001c4'));

  t.deepEqual(submit(env, tpmCommand(0x8001, 0x17b, hex('0008'))).response, hex('8001 00000014 00000000 0008 5a5a5a5a5a5a5a5a'));
  const big = submit(env, tpmCommand(0x8001, 0x17b, hex('0400'))).response;
  t.is(big.readUInt16BE(10), 64, 'at most one SHA-512 digest of random bytes');

  // TPM2_Startup is not answered: a well-formed TPM_RC_COMMAND_CODE response.
  t.deepEqual(submit(env, tpmCommand(0x8001, 0x144, hex('0000'))).response, hex('8001 0000000a 00000143'));
  const badSize = tpmCommand(0x8001, 0x17b, hex('0008'));
  badSize.writeUInt32BE(99, 2);
  t.deepEqual(submit(env, badSize).response, hex('8001 0000000a 00000142'));
  t.deepEqual(submit(env, tpmCommand(0xc4, 0x17b, hex('0008'))).response, hex('8001 0000000a 0000001e'));

  const cmd = tpmCommand(0x8001, 0x17b, hex('0008'));
  t.is(submit(env, cmd, 12).status, s(EFI_BUFFER_TOO_SMALL));
  const a = env.scratch(64);
  t.is(env.call('SubmitCommand', 0n, a, 64n, a), s(EFI_INVALID_PARAMETER));
  t.is(env.call('SubmitCommand', 12n, a, 0n, a), s(EFI_INVALID_PARAMETER));
  t.is(env.call('SubmitCommand', 12n, 0n, 64n, a), s(EFI_INVALID_PARAMETER));
  t.is(env.call('SubmitCommand', 5000n, a, 64n, a), s(EFI_INVALID_PARAMETER), 'larger than MaxCommandSize');
});

test('SubmitCommand TPM2_PCR_Extend with a password session', (t) => {
  const env = setup();
  const digest = sha256(Buffer.from('extended by the OS'));
  const auth = hex('00000009 40000009 0000 01 0000');
  const { status, response } = submit(env, tpmCommand(0x8002, 0x182, Buffer.concat([hex('00000010'), auth, hex('00000001 000b'), digest])));
  t.is(status, 'EFI_SUCCESS');
  t.deepEqual(response, hex('8002 00000013 00000000 00000000 0000 01 0000'));
  t.is(env.tcg2.measuredBoot.pcrs().sha256[16], sha256(Buffer.alloc(32), digest).toString('hex'));
  t.is(env.tcg2.measuredBoot.pcrs().sha1[16], '00'.repeat(20), 'no sha1 digest given, sha1 bank untouched');
  t.is(env.tcg2.measuredBoot.events.length, 0, 'a raw TPM command is not logged');

  const extend = (handle: string, a: Buffer, tag = 0x8002) => submit(env, tpmCommand(tag, 0x182, Buffer.concat([hex(handle), a, hex('00000001 000b'), digest]))).response;
  t.deepEqual(extend('00000011', auth), hex('8001 0000000a 00000907'), 'PCR 17 needs locality 2+');
  t.deepEqual(extend('00000018', auth), hex('8001 0000000a 00000184'), 'no PCR 24');
  t.deepEqual(extend('00000010', hex('0000000b 40000009 0000 01 0002 6869')), hex('8001 0000000a 0000098e'), 'wrong password');
  t.deepEqual(extend('00000010', hex('00000009 02000000 0000 01 0000')), hex('8001 0000000a 00000918'), 'no such session');
  t.deepEqual(submit(env, tpmCommand(0x8001, 0x182, Buffer.concat([hex('00000010 00000001 000b'), digest]))).response, hex('8001 0000000a 00000125'));
});

test('Get/SetActivePcrBanks and GetResultOfSetActivePcrBanks', (t) => {
  const env = setup();
  const out = env.scratch(8);
  t.is(env.call('GetActivePcrBanks', out), 'EFI_SUCCESS');
  t.is(env.mem.u32(out), 0x3);
  t.is(env.call('GetActivePcrBanks', 0n), s(EFI_INVALID_PARAMETER));
  t.is(env.call('SetActivePcrBanks', 0n), s(EFI_INVALID_PARAMETER));
  t.is(env.call('SetActivePcrBanks', 0x10n), s(EFI_INVALID_PARAMETER), 'SM3 is not implemented');
  t.is(env.call('SetActivePcrBanks', 0xcn), 'EFI_SUCCESS');
  t.deepEqual(pendingBanks(env.tcg2.state), ['sha384', 'sha512']);
  t.is(env.call('GetActivePcrBanks', out), 'EFI_SUCCESS');
  t.is(env.mem.u32(out), 0x3, 'takes effect only after a reset');
  t.is(env.call('SetActivePcrBanks', 0x3n), 'EFI_SUCCESS');
  t.is(pendingBanks(env.tcg2.state), undefined);
  env.mem.fill(out, 8, 0xff);
  t.is(env.call('GetResultOfSetActivePcrBanks', out, out + 4n), 'EFI_SUCCESS');
  t.deepEqual([env.mem.u32(out), env.mem.u32(out + 4n)], [0, 0]);
  t.is(env.call('GetResultOfSetActivePcrBanks', 0n, out), s(EFI_INVALID_PARAMETER));
  t.is(EFI_SUCCESS, 0n);
});
