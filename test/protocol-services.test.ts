// The protocol handler boot services (UEFI 2.10 §7.3) called through their table slots on a CPU-less platform.
import test from 'ava';
import { FunctionDecl } from '../core/abi';
import {
  AllHandles, ByProtocol, ByRegisterNotify, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER, EFI_OPEN_PROTOCOL_BY_DRIVER,
  EFI_OPEN_PROTOCOL_EXCLUSIVE, EFI_OPEN_PROTOCOL_GET_PROTOCOL, EFI_OPEN_PROTOCOL_TEST_PROTOCOL, ProtocolDatabase,
} from '../efi-services/boot/protocol-db';
import { protocolServices } from '../efi-services/boot/protocol-services';
import { GUID, guidFromBytes, guidToBytes } from '../core/guid';
import { buildInterface } from '../efi-services/interface';
import {
  DevicePathNode, filePathNode, pciNode, pciRootNode, serializeDevicePath, vendorHardwareNode, vendorMediaNode,
} from '../efi-services/protocols/device-path';
import {
  EFI_ACCESS_DENIED, EFI_ALREADY_STARTED, EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS,
  EFI_UNSUPPORTED, EfiStatus, statusName,
} from '../core/status';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { FakePlatform } from './helpers/fake-platform';

const P1 = '11111111-2222-3333-4444-555555555501';
const P2 = '11111111-2222-3333-4444-555555555502';
const EVENT = 0xe000n;
const GARBAGE = 0x5a5a5a5a5a5a5a5an;

function setup(devicePathOf?: (handle: bigint) => Buffer | undefined) {
  const fake = new FakePlatform();
  const mem = fake.mem;
  const signalled: bigint[] = [];
  const db = new ProtocolDatabase(fake, (e) => signalled.push(e), (e) => e === EVENT);
  const pools: bigint[] = [];
  const bs = buildInterface(fake, EFI_BOOT_SERVICES, protocolServices(fake, db, {
    allocatePool: (size) => {
      const a = fake.allocate(size);
      pools.push(a);
      return a;
    },
    devicePathOf,
  }));
  /** Calls a member through its slot, as a guest does: the firmware's dispatcher turns an EfiError into its status. */
  const call = (name: string, args: readonly bigint[], varargs: readonly bigint[] = []): EfiStatus => {
    const index = EFI_BOOT_SERVICES.members.findIndex((m: FunctionDecl) => m.name === name);
    return fake.callMember(bs, EFI_BOOT_SERVICES.headerSize, index, args, varargs);
  };
  // Test data lives below the FakePlatform heap (8 MiB).
  let next = 0x10000n;
  const alloc = (n: number) => {
    const a = next;
    next += BigInt((n + 15) & ~15);
    return a;
  };
  const guid = (g: string) => {
    const a = alloc(16);
    mem.write(a, guidToBytes(g));
    return a;
  };
  const ptr = (v = 0n) => {
    const a = alloc(8);
    mem.setU64(a, v);
    return a;
  };
  const bytes = (b: Buffer) => {
    const a = alloc(b.length);
    mem.write(a, b);
    return a;
  };
  const install = (handle: bigint, g: string, iface: bigint): bigint => {
    const hp = ptr(handle);
    const s = call('InstallProtocolInterface', [hp, guid(g), 0n, iface]);
    if (s !== EFI_SUCCESS) throw new Error(`install: ${statusName(s)}`);
    return mem.u64(hp);
  };
  return { fake, mem, db, signalled, pools, call, alloc, guid, ptr, bytes, install };
}

const is = (t: { is: (a: unknown, b: unknown, m?: string) => void }, got: EfiStatus, want: EfiStatus, m?: string) =>
  t.is(statusName(got), statusName(want), m);

test('InstallProtocolInterface creates a handle, writes it back and HandleProtocol finds the interface', (t) => {
  const { mem, call, guid, ptr, db } = setup();
  const hp = ptr(0n);
  is(t, call('InstallProtocolInterface', [hp, guid(P1), 0n, 0x1234n]), EFI_SUCCESS);
  const h = mem.u64(hp);
  t.true(db.isHandle(h));
  const out = ptr(GARBAGE);
  is(t, call('HandleProtocol', [h, guid(P1), out]), EFI_SUCCESS);
  t.is(mem.u64(out), 0x1234n);
  // A second protocol on the same handle keeps *Handle.
  is(t, call('InstallProtocolInterface', [hp, guid(P2), 0n, 0x5678n]), EFI_SUCCESS);
  t.is(mem.u64(hp), h);
});

test('InstallProtocolInterface errors', (t) => {
  const { mem, call, guid, ptr, install } = setup();
  const h = install(0n, P1, 0x1000n);
  is(t, call('InstallProtocolInterface', [0n, guid(P1), 0n, 1n]), EFI_INVALID_PARAMETER, 'Handle NULL');
  is(t, call('InstallProtocolInterface', [ptr(0n), 0n, 0n, 1n]), EFI_INVALID_PARAMETER, 'Protocol NULL');
  is(t, call('InstallProtocolInterface', [ptr(0n), guid(P1), 1n, 1n]), EFI_INVALID_PARAMETER, 'InterfaceType');
  const hp = ptr(h);
  is(t, call('InstallProtocolInterface', [hp, guid(P1), 0n, 2n]), EFI_INVALID_PARAMETER, 'already installed');
  t.is(mem.u64(hp), h);
  is(t, call('InstallProtocolInterface', [ptr(0xbad0n), guid(P2), 0n, 2n]), EFI_INVALID_PARAMETER, 'not a handle');
});

test('HandleProtocol errors; EFI_UNSUPPORTED returns a NULL interface', (t) => {
  const { mem, call, guid, ptr, install } = setup();
  const h = install(0n, P1, 0x1000n);
  const out = ptr(GARBAGE);
  is(t, call('HandleProtocol', [h, guid(P2), out]), EFI_UNSUPPORTED);
  t.is(mem.u64(out), 0n);
  is(t, call('HandleProtocol', [0n, guid(P1), out]), EFI_INVALID_PARAMETER);
  is(t, call('HandleProtocol', [0xbad0n, guid(P1), out]), EFI_INVALID_PARAMETER);
  is(t, call('HandleProtocol', [h, 0n, out]), EFI_INVALID_PARAMETER);
  is(t, call('HandleProtocol', [h, guid(P1), 0n]), EFI_INVALID_PARAMETER);
});

test('ReinstallProtocolInterface replaces the interface; errors in spec order', (t) => {
  const { mem, call, guid, ptr, install } = setup();
  const h = install(0n, P1, 0x1000n);
  const agent = install(0n, P2, 0xa000n);
  is(t, call('ReinstallProtocolInterface', [0xbad0n, guid(P1), 0x1000n, 0x2000n]), EFI_INVALID_PARAMETER);
  is(t, call('ReinstallProtocolInterface', [h, 0n, 0x1000n, 0x2000n]), EFI_INVALID_PARAMETER);
  is(t, call('ReinstallProtocolInterface', [h, guid(P1), 0x1001n, 0x2000n]), EFI_NOT_FOUND);
  is(t, call('ReinstallProtocolInterface', [h, guid(P2), 0x1000n, 0x2000n]), EFI_NOT_FOUND);
  is(t, call('ReinstallProtocolInterface', [h, guid(P1), 0x1000n, 0x2000n]), EFI_SUCCESS);
  const out = ptr();
  call('HandleProtocol', [h, guid(P1), out]);
  t.is(mem.u64(out), 0x2000n);
  is(t, call('OpenProtocol', [h, guid(P1), ptr(), agent, h, BigInt(EFI_OPEN_PROTOCOL_BY_DRIVER)]), EFI_SUCCESS);
  is(t, call('ReinstallProtocolInterface', [h, guid(P1), 0x2000n, 0x3000n]), EFI_ACCESS_DENIED);
  call('HandleProtocol', [h, guid(P1), out]);
  t.is(mem.u64(out), 0x2000n);
});

test('UninstallProtocolInterface removes the protocol and then the handle; errors', (t) => {
  const { mem, call, guid, ptr, install, db, alloc } = setup();
  const h = install(0n, P1, 0x1000n);
  install(h, P2, 0x2000n);
  const agent = install(0n, GUID.LOADED_IMAGE, 0xa000n);
  is(t, call('UninstallProtocolInterface', [0xbad0n, guid(P1), 0x1000n]), EFI_INVALID_PARAMETER);
  is(t, call('UninstallProtocolInterface', [h, 0n, 0x1000n]), EFI_INVALID_PARAMETER);
  is(t, call('UninstallProtocolInterface', [h, guid(P1), 0x1001n]), EFI_NOT_FOUND);
  is(t, call('OpenProtocol', [h, guid(P1), ptr(), agent, 0n, BigInt(EFI_OPEN_PROTOCOL_EXCLUSIVE)]), EFI_SUCCESS);
  is(t, call('UninstallProtocolInterface', [h, guid(P1), 0x1000n]), EFI_ACCESS_DENIED);
  is(t, call('CloseProtocol', [h, guid(P1), agent, 0n]), EFI_SUCCESS);
  is(t, call('UninstallProtocolInterface', [h, guid(P1), 0x1000n]), EFI_SUCCESS);
  is(t, call('HandleProtocol', [h, guid(P1), ptr()]), EFI_UNSUPPORTED);
  is(t, call('UninstallProtocolInterface', [h, guid(P2), 0x2000n]), EFI_SUCCESS);
  t.false(db.isHandle(h));
  const size = ptr(64n);
  const buf = alloc(64);
  is(t, call('LocateHandle', [BigInt(AllHandles), 0n, 0n, size, buf]), EFI_SUCCESS);
  t.is(mem.u64(size), 8n);
  t.is(mem.u64(buf), agent);
});

test('RegisterProtocolNotify: an install signals the event; LocateHandle(ByRegisterNotify) returns it once', (t) => {
  const { mem, call, guid, ptr, install, signalled } = setup();
  install(0n, P1, 0x1000n); // installed before the registration: never reported
  const regPtr = ptr(GARBAGE);
  is(t, call('RegisterProtocolNotify', [guid(P1), EVENT, regPtr]), EFI_SUCCESS);
  const reg = mem.u64(regPtr);
  t.not(reg, 0n);
  t.not(reg, GARBAGE);
  t.deepEqual(signalled, []);

  const size = ptr(8n);
  const buf = ptr(GARBAGE);
  is(t, call('LocateHandle', [BigInt(ByRegisterNotify), 0n, reg, size, buf]), EFI_NOT_FOUND);

  const h = install(0n, P1, 0x2000n);
  t.deepEqual(signalled, [EVENT]);
  // Too small a buffer reports the size and does not consume the handle.
  mem.setU64(size, 4n);
  is(t, call('LocateHandle', [BigInt(ByRegisterNotify), 0n, reg, size, buf]), EFI_BUFFER_TOO_SMALL);
  t.is(mem.u64(size), 8n);
  t.is(mem.u64(buf), GARBAGE);
  is(t, call('LocateHandle', [BigInt(ByRegisterNotify), 0n, reg, size, buf]), EFI_SUCCESS);
  t.is(mem.u64(buf), h);
  t.is(mem.u64(size), 8n);
  is(t, call('LocateHandle', [BigInt(ByRegisterNotify), 0n, reg, size, buf]), EFI_NOT_FOUND);
});

test('RegisterProtocolNotify errors and bad registration keys', (t) => {
  const { call, guid, ptr } = setup();
  is(t, call('RegisterProtocolNotify', [0n, EVENT, ptr()]), EFI_INVALID_PARAMETER);
  is(t, call('RegisterProtocolNotify', [guid(P1), 0n, ptr()]), EFI_INVALID_PARAMETER);
  is(t, call('RegisterProtocolNotify', [guid(P1), EVENT, 0n]), EFI_INVALID_PARAMETER);
  is(t, call('RegisterProtocolNotify', [guid(P1), 0x4444n, ptr()]), EFI_INVALID_PARAMETER, 'not an event');
  is(t, call('LocateHandle', [BigInt(ByRegisterNotify), 0n, 0n, ptr(8n), ptr()]), EFI_INVALID_PARAMETER);
  is(t, call('LocateHandle', [BigInt(ByRegisterNotify), 0n, 0x4444n, ptr(8n), ptr()]), EFI_INVALID_PARAMETER);
});

test('LocateProtocol with a registration returns each new interface once', (t) => {
  const { mem, call, guid, ptr, install } = setup();
  const regPtr = ptr();
  call('RegisterProtocolNotify', [guid(P1), EVENT, regPtr]);
  const reg = mem.u64(regPtr);
  install(0n, P1, 0x1000n);
  install(0n, P1, 0x2000n);
  const out = ptr(GARBAGE);
  is(t, call('LocateProtocol', [guid(P1), reg, out]), EFI_SUCCESS);
  t.is(mem.u64(out), 0x1000n);
  is(t, call('LocateProtocol', [guid(P1), reg, out]), EFI_SUCCESS);
  t.is(mem.u64(out), 0x2000n);
  is(t, call('LocateProtocol', [guid(P1), reg, out]), EFI_NOT_FOUND);
  t.is(mem.u64(out), 0n);
  // Without a registration: the first installed.
  is(t, call('LocateProtocol', [guid(P1), 0n, out]), EFI_SUCCESS);
  t.is(mem.u64(out), 0x1000n);
});

test('LocateProtocol errors', (t) => {
  const { mem, call, guid, ptr } = setup();
  const out = ptr(GARBAGE);
  is(t, call('LocateProtocol', [guid(P1), 0n, out]), EFI_NOT_FOUND);
  t.is(mem.u64(out), 0n);
  is(t, call('LocateProtocol', [guid(P1), 0n, 0n]), EFI_INVALID_PARAMETER);
  is(t, call('LocateProtocol', [0n, 0n, ptr()]), EFI_INVALID_PARAMETER);
});

test('LocateHandle: sizes, order and errors', (t) => {
  const { mem, call, guid, ptr, install, alloc } = setup();
  const a = install(0n, P2, 0xa000n);
  const b = install(0n, P1, 0xb000n);
  install(a, P1, 0xa100n);
  const size = ptr(0n);
  is(t, call('LocateHandle', [BigInt(ByProtocol), guid(P1), 0n, size, 0n]), EFI_BUFFER_TOO_SMALL);
  t.is(mem.u64(size), 16n);
  const buf = alloc(16);
  is(t, call('LocateHandle', [BigInt(ByProtocol), guid(P1), 0n, size, buf]), EFI_SUCCESS);
  t.deepEqual([mem.u64(buf), mem.u64(buf + 8n)], [b, a]);
  mem.setU64(size, 16n);
  is(t, call('LocateHandle', [BigInt(AllHandles), GARBAGE, GARBAGE, size, buf]), EFI_SUCCESS);
  t.deepEqual([mem.u64(buf), mem.u64(buf + 8n)], [a, b]);

  mem.setU64(size, 16n);
  is(t, call('LocateHandle', [BigInt(ByProtocol), guid(GUID.LOAD_FILE2), 0n, size, buf]), EFI_NOT_FOUND);
  t.is(mem.u64(size), 16n);
  is(t, call('LocateHandle', [BigInt(ByProtocol), guid(P1), 0n, 0n, buf]), EFI_INVALID_PARAMETER, 'BufferSize NULL');
  is(t, call('LocateHandle', [BigInt(ByProtocol), guid(P1), 0n, size, 0n]), EFI_INVALID_PARAMETER, 'Buffer NULL');
  is(t, call('LocateHandle', [BigInt(ByProtocol), 0n, 0n, size, buf]), EFI_INVALID_PARAMETER, 'Protocol NULL');
  is(t, call('LocateHandle', [3n, guid(P1), 0n, size, buf]), EFI_INVALID_PARAMETER, 'SearchType');
});

test('LocateHandleBuffer allocates from pool; errors clear the outputs', (t) => {
  const { mem, call, guid, ptr, install, pools } = setup();
  const a = install(0n, P1, 0xa000n);
  const b = install(0n, P1, 0xb000n);
  const count = ptr(GARBAGE);
  const buf = ptr(GARBAGE);
  is(t, call('LocateHandleBuffer', [BigInt(ByProtocol), guid(P1), 0n, count, buf]), EFI_SUCCESS);
  t.is(mem.u64(count), 2n);
  t.deepEqual(pools, [mem.u64(buf)]);
  t.deepEqual([mem.u64(mem.u64(buf)), mem.u64(mem.u64(buf) + 8n)], [a, b]);

  mem.setU64(count, GARBAGE);
  mem.setU64(buf, GARBAGE);
  is(t, call('LocateHandleBuffer', [BigInt(ByProtocol), guid(P2), 0n, count, buf]), EFI_NOT_FOUND);
  t.is(mem.u64(count), 0n);
  t.is(mem.u64(buf), 0n);
  is(t, call('LocateHandleBuffer', [7n, guid(P2), 0n, count, buf]), EFI_INVALID_PARAMETER);
  is(t, call('LocateHandleBuffer', [BigInt(ByProtocol), guid(P1), 0n, 0n, buf]), EFI_INVALID_PARAMETER);
  is(t, call('LocateHandleBuffer', [BigInt(ByProtocol), guid(P1), 0n, count, 0n]), EFI_INVALID_PARAMETER);
  t.is(pools.length, 1);
});

test('LocateHandleBuffer(ByRegisterNotify) consumes the handle it returns', (t) => {
  const { mem, call, guid, ptr, install } = setup();
  const regPtr = ptr();
  call('RegisterProtocolNotify', [guid(P1), EVENT, regPtr]);
  const h = install(0n, P1, 0x1000n);
  const count = ptr();
  const buf = ptr();
  is(t, call('LocateHandleBuffer', [BigInt(ByRegisterNotify), 0n, mem.u64(regPtr), count, buf]), EFI_SUCCESS);
  t.is(mem.u64(count), 1n);
  t.is(mem.u64(mem.u64(buf)), h);
  is(t, call('LocateHandleBuffer', [BigInt(ByRegisterNotify), 0n, mem.u64(regPtr), count, buf]), EFI_NOT_FOUND);
});

test('OpenProtocol: attribute matrix through the service', (t) => {
  const { mem, call, guid, ptr, install } = setup();
  const h = install(0n, P1, 0x1000n);
  const a = install(0n, GUID.LOADED_IMAGE, 0xa000n);
  const b = install(0n, GUID.LOADED_IMAGE, 0xb000n);
  const out = ptr(GARBAGE);
  const open = (agent: bigint, controller: bigint, attributes: number, iface = out) =>
    call('OpenProtocol', [h, guid(P1), iface, agent, controller, BigInt(attributes)]);

  is(t, open(a, h, EFI_OPEN_PROTOCOL_BY_DRIVER), EFI_SUCCESS);
  t.is(mem.u64(out), 0x1000n);
  mem.setU64(out, GARBAGE);
  is(t, open(a, h, EFI_OPEN_PROTOCOL_BY_DRIVER), EFI_ALREADY_STARTED);
  t.is(mem.u64(out), 0x1000n, 'the interface comes back with EFI_ALREADY_STARTED');
  mem.setU64(out, GARBAGE);
  is(t, open(b, h, EFI_OPEN_PROTOCOL_BY_DRIVER), EFI_ACCESS_DENIED);
  t.is(mem.u64(out), GARBAGE, 'untouched on EFI_ACCESS_DENIED');
  is(t, open(b, 0n, EFI_OPEN_PROTOCOL_EXCLUSIVE), EFI_ACCESS_DENIED);
  is(t, open(b, h, EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE), EFI_ACCESS_DENIED);
  is(t, open(b, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL), EFI_SUCCESS);
  is(t, open(b, 0n, EFI_OPEN_PROTOCOL_TEST_PROTOCOL, 0n), EFI_SUCCESS, 'TEST_PROTOCOL needs no Interface');
  is(t, open(b, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL, 0n), EFI_INVALID_PARAMETER, 'Interface NULL');
  is(t, call('OpenProtocol', [h, 0n, out, b, 0n, BigInt(EFI_OPEN_PROTOCOL_GET_PROTOCOL)]), EFI_INVALID_PARAMETER);
  is(t, open(b, 0n, 0x40), EFI_INVALID_PARAMETER, 'illegal attributes');
  is(t, open(0n, h, EFI_OPEN_PROTOCOL_BY_DRIVER), EFI_INVALID_PARAMETER, 'BY_DRIVER without agent');
  is(t, open(b, 0n, EFI_OPEN_PROTOCOL_BY_DRIVER), EFI_INVALID_PARAMETER, 'BY_DRIVER without controller');
  is(t, open(b, h, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER), EFI_INVALID_PARAMETER, 'child controller == handle');
  is(t, open(0n, 0n, EFI_OPEN_PROTOCOL_EXCLUSIVE), EFI_INVALID_PARAMETER, 'EXCLUSIVE without agent');
  mem.setU64(out, GARBAGE);
  is(t, call('OpenProtocol', [h, guid(P2), out, b, 0n, BigInt(EFI_OPEN_PROTOCOL_GET_PROTOCOL)]), EFI_UNSUPPORTED);
  t.is(mem.u64(out), 0n);
  is(t, call('OpenProtocol', [0xbad0n, guid(P1), out, b, 0n, BigInt(EFI_OPEN_PROTOCOL_GET_PROTOCOL)]), EFI_INVALID_PARAMETER);
});

test('OpenProtocolInformation reports each open; CloseProtocol removes them', (t) => {
  const { mem, call, guid, ptr, install, pools } = setup();
  const h = install(0n, P1, 0x1000n);
  const a = install(0n, GUID.LOADED_IMAGE, 0xa000n);
  const child = install(0n, P2, 0xc000n);
  call('OpenProtocol', [h, guid(P1), ptr(), a, 0n, BigInt(EFI_OPEN_PROTOCOL_GET_PROTOCOL)]);
  call('OpenProtocol', [h, guid(P1), ptr(), a, 0n, BigInt(EFI_OPEN_PROTOCOL_GET_PROTOCOL)]);
  call('OpenProtocol', [h, guid(P1), ptr(), a, child, BigInt(EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER)]);
  const entries = ptr(GARBAGE);
  const count = ptr(GARBAGE);
  is(t, call('OpenProtocolInformation', [h, guid(P1), entries, count]), EFI_SUCCESS);
  t.is(mem.u64(count), 2n);
  const e = mem.u64(entries);
  t.deepEqual(pools, [e]);
  // EFI_OPEN_PROTOCOL_INFORMATION_ENTRY: AgentHandle, ControllerHandle, UINT32 Attributes, UINT32 OpenCount.
  const row = (i: number) => {
    const at = e + BigInt(24 * i);
    return [mem.u64(at), mem.u64(at + 8n), mem.u32(at + 16n), mem.u32(at + 20n)];
  };
  t.deepEqual(row(0), [a, 0n, 2, 2]);
  t.deepEqual(row(1), [a, child, 8, 1]);

  is(t, call('OpenProtocolInformation', [h, guid(P2), entries, count]), EFI_NOT_FOUND);
  is(t, call('OpenProtocolInformation', [0xbad0n, guid(P1), entries, count]), EFI_INVALID_PARAMETER);
  is(t, call('OpenProtocolInformation', [h, 0n, entries, count]), EFI_INVALID_PARAMETER);
  is(t, call('OpenProtocolInformation', [h, guid(P1), 0n, count]), EFI_INVALID_PARAMETER);
  is(t, call('OpenProtocolInformation', [h, guid(P1), entries, 0n]), EFI_INVALID_PARAMETER);

  is(t, call('CloseProtocol', [0xbad0n, guid(P1), a, 0n]), EFI_INVALID_PARAMETER);
  is(t, call('CloseProtocol', [h, guid(P1), 0n, 0n]), EFI_INVALID_PARAMETER);
  is(t, call('CloseProtocol', [h, guid(P1), a, 0xbad0n]), EFI_INVALID_PARAMETER);
  is(t, call('CloseProtocol', [h, 0n, a, 0n]), EFI_INVALID_PARAMETER);
  is(t, call('CloseProtocol', [h, guid(P2), a, 0n]), EFI_NOT_FOUND);
  is(t, call('CloseProtocol', [h, guid(P1), child, 0n]), EFI_NOT_FOUND);
  is(t, call('CloseProtocol', [h, guid(P1), a, 0n]), EFI_SUCCESS);
  is(t, call('CloseProtocol', [h, guid(P1), a, child]), EFI_SUCCESS);
  is(t, call('OpenProtocolInformation', [h, guid(P1), entries, count]), EFI_SUCCESS);
  t.is(mem.u64(count), 0n);
  t.not(mem.u64(entries), 0n, 'an empty list still gets a buffer (edk2)');
});

test('ProtocolsPerHandle returns pointers to the GUIDs in install order', (t) => {
  const { mem, call, ptr, install, pools } = setup();
  const h = install(0n, GUID.LOADED_IMAGE, 0x1000n);
  install(h, P1, 0x2000n);
  install(h, GUID.DEVICE_PATH, 0x3000n);
  const buf = ptr(GARBAGE);
  const count = ptr(GARBAGE);
  is(t, call('ProtocolsPerHandle', [h, buf, count]), EFI_SUCCESS);
  t.is(mem.u64(count), 3n);
  const array = mem.u64(buf);
  t.deepEqual(pools, [array]);
  const guids = [0, 1, 2].map((i) => guidFromBytes(mem.read(mem.u64(array + BigInt(8 * i)), 16)));
  t.deepEqual(guids, [GUID.LOADED_IMAGE, P1, GUID.DEVICE_PATH]);
  is(t, call('ProtocolsPerHandle', [0xbad0n, buf, count]), EFI_INVALID_PARAMETER);
  is(t, call('ProtocolsPerHandle', [h, 0n, count]), EFI_INVALID_PARAMETER);
  is(t, call('ProtocolsPerHandle', [h, buf, 0n]), EFI_INVALID_PARAMETER);
});

const ESP_PATH: DevicePathNode[] = [pciRootNode(0), pciNode(1, 0), vendorHardwareNode(P2)];

test('InstallMultipleProtocolInterfaces installs every pair on one new handle and notifies', (t) => {
  const { mem, call, guid, ptr, bytes, db, signalled } = setup();
  call('RegisterProtocolNotify', [guid(P1), EVENT, ptr()]);
  const dp = bytes(serializeDevicePath(ESP_PATH));
  const hp = ptr(0n);
  is(t, call('InstallMultipleProtocolInterfaces', [hp], [guid(GUID.DEVICE_PATH), dp, guid(P1), 0x1000n, 0n]), EFI_SUCCESS);
  const h = mem.u64(hp);
  t.deepEqual(db.protocolsPerHandle(h), [GUID.DEVICE_PATH, P1]);
  t.is(db.interfaceOf(h, GUID.DEVICE_PATH), dp);
  t.deepEqual(signalled, [EVENT]);
  is(t, call('InstallMultipleProtocolInterfaces', [0n], [guid(P2), 1n, 0n]), EFI_INVALID_PARAMETER);
});

test('InstallMultipleProtocolInterfaces: a device path already installed is EFI_ALREADY_STARTED, nothing installed', (t) => {
  const { mem, call, guid, ptr, bytes, db, install, signalled } = setup();
  const first = install(0n, GUID.DEVICE_PATH, bytes(serializeDevicePath(ESP_PATH)));
  call('RegisterProtocolNotify', [guid(P1), EVENT, ptr()]);
  const before = db.handles();
  // An identical copy at another address.
  const copy = bytes(serializeDevicePath(ESP_PATH));
  const hp = ptr(0n);
  is(t, call('InstallMultipleProtocolInterfaces', [hp], [guid(P1), 0x1000n, guid(GUID.DEVICE_PATH), copy, 0n]),
    EFI_ALREADY_STARTED);
  t.is(mem.u64(hp), 0n);
  t.deepEqual(db.handles(), before);
  t.deepEqual(signalled, []);
  // A longer path under the same device is a different device.
  const longer = bytes(serializeDevicePath([...ESP_PATH, filePathNode('\\x')]));
  is(t, call('InstallMultipleProtocolInterfaces', [hp], [guid(GUID.DEVICE_PATH), longer, 0n]), EFI_SUCCESS);
  t.not(mem.u64(hp), first);
});

test('InstallMultipleProtocolInterfaces: a GUID twice or one already on the handle installs nothing', (t) => {
  const { mem, call, guid, ptr, db, install } = setup();
  const hp = ptr(0n);
  is(t, call('InstallMultipleProtocolInterfaces', [hp], [guid(P1), 1n, guid(P2), 2n, guid(P1), 3n, 0n]),
    EFI_INVALID_PARAMETER);
  t.is(mem.u64(hp), 0n);
  t.deepEqual(db.handles(), []);
  const h = install(0n, P2, 0x2000n);
  mem.setU64(hp, h);
  is(t, call('InstallMultipleProtocolInterfaces', [hp], [guid(P1), 1n, guid(P2), 2n, 0n]), EFI_INVALID_PARAMETER);
  t.deepEqual(db.protocolsPerHandle(h), [P2]);
  mem.setU64(hp, 0xbad0n);
  is(t, call('InstallMultipleProtocolInterfaces', [hp], [guid(P1), 1n, 0n]), EFI_INVALID_PARAMETER);
});

test('UninstallMultipleProtocolInterfaces: all or nothing', (t) => {
  const { mem, call, guid, ptr, db } = setup();
  const hp = ptr(0n);
  call('InstallMultipleProtocolInterfaces', [hp], [guid(P1), 1n, guid(P2), 2n, 0n]);
  const h = mem.u64(hp);
  is(t, call('UninstallMultipleProtocolInterfaces', [h], [guid(P1), 1n, guid(P2), 3n, 0n]), EFI_INVALID_PARAMETER);
  t.deepEqual(db.protocolsPerHandle(h), [P1, P2]);
  is(t, call('UninstallMultipleProtocolInterfaces', [0xbad0n], [guid(P1), 1n, 0n]), EFI_INVALID_PARAMETER);
  is(t, call('UninstallMultipleProtocolInterfaces', [h], [guid(P2), 2n, guid(P1), 1n, 0n]), EFI_SUCCESS);
  t.false(db.isHandle(h));
});

test('LocateDevicePath picks the longest matching prefix and advances *DevicePath past it', (t) => {
  const { mem, call, guid, ptr, bytes, install } = setup();
  const root = install(0n, GUID.DEVICE_PATH, bytes(serializeDevicePath([pciRootNode(0)])));
  install(root, P1, 0x1000n);
  const bridge = install(0n, GUID.DEVICE_PATH, bytes(serializeDevicePath([pciRootNode(0), pciNode(1, 0)])));
  install(bridge, P1, 0x2000n);
  const other = install(0n, GUID.DEVICE_PATH, bytes(serializeDevicePath([pciRootNode(0), pciNode(2, 0)])));
  install(other, P1, 0x3000n);
  const noP1 = install(0n, GUID.DEVICE_PATH, bytes(serializeDevicePath([pciRootNode(0), pciNode(1, 0), vendorHardwareNode(P2)])));

  const tail = serializeDevicePath([filePathNode('\\EFI\\BOOT\\BOOTX64.EFI')]);
  const full = serializeDevicePath([pciRootNode(0), pciNode(1, 0), vendorHardwareNode(P2), filePathNode('\\EFI\\BOOT\\BOOTX64.EFI')]);
  const start = bytes(full);
  const dpp = ptr(start);
  const device = ptr(GARBAGE);
  // Among P1 handles the bridge is longest: PciRoot (4+8) and Pci (4+2) are 18 bytes.
  is(t, call('LocateDevicePath', [guid(P1), dpp, device]), EFI_SUCCESS);
  t.is(mem.u64(device), bridge);
  t.is(mem.u64(dpp), start + 18n);
  // Among DEVICE_PATH handles the vendor node (4+16) makes the third handle the longest.
  mem.setU64(dpp, start);
  is(t, call('LocateDevicePath', [guid(GUID.DEVICE_PATH), dpp, device]), EFI_SUCCESS);
  t.is(mem.u64(device), noP1);
  t.is(mem.u64(dpp), start + 38n);
  t.deepEqual(mem.read(mem.u64(dpp), tail.length), tail);
});

test('LocateDevicePath errors', (t) => {
  const { mem, call, guid, ptr, bytes, install } = setup();
  const h = install(0n, GUID.DEVICE_PATH, bytes(serializeDevicePath([pciRootNode(0)])));
  const start = bytes(serializeDevicePath([pciRootNode(0), pciNode(3, 1)]));
  const unrelated = bytes(serializeDevicePath([pciRootNode(1)]));
  is(t, call('LocateDevicePath', [0n, ptr(start), ptr()]), EFI_INVALID_PARAMETER, 'Protocol NULL');
  is(t, call('LocateDevicePath', [guid(GUID.DEVICE_PATH), 0n, ptr()]), EFI_INVALID_PARAMETER, 'DevicePath NULL');
  is(t, call('LocateDevicePath', [guid(GUID.DEVICE_PATH), ptr(0n), ptr()]), EFI_INVALID_PARAMETER, '*DevicePath NULL');
  const dpp = ptr(unrelated);
  is(t, call('LocateDevicePath', [guid(GUID.DEVICE_PATH), dpp, ptr()]), EFI_NOT_FOUND);
  t.is(mem.u64(dpp), unrelated);
  is(t, call('LocateDevicePath', [guid(P1), ptr(start), ptr()]), EFI_NOT_FOUND, 'no handle supports P1');
  is(t, call('LocateDevicePath', [guid(GUID.DEVICE_PATH), ptr(start), 0n]), EFI_INVALID_PARAMETER, 'Device NULL');
  const device = ptr();
  is(t, call('LocateDevicePath', [guid(GUID.DEVICE_PATH), ptr(start), device]), EFI_SUCCESS);
  t.is(mem.u64(device), h);
});

test('LocateDevicePath uses devicePathOf for a handle when given', (t) => {
  const initrd = serializeDevicePath([vendorMediaNode(GUID.LINUX_INITRD_MEDIA)]);
  let loadFile2 = 0n;
  const { mem, call, guid, ptr, bytes, install } = setup((h) => (h === loadFile2 ? initrd : undefined));
  loadFile2 = install(0n, GUID.LOAD_FILE2, 0x1000n);
  const start = bytes(initrd);
  const dpp = ptr(start);
  const device = ptr();
  is(t, call('LocateDevicePath', [guid(GUID.LOAD_FILE2), dpp, device]), EFI_SUCCESS);
  t.is(mem.u64(device), loadFile2);
  t.is(mem.u64(dpp), start + 20n);
  t.deepEqual([mem.u8(start + 20n), mem.u8(start + 21n)], [0x7f, 0xff]);
});
