// Unit tests of the protocol handler database model (UEFI 2.10 §7.3) without a CPU.
import test from 'ava';
import {
  AllHandles, ByProtocol, ByRegisterNotify, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER, EFI_OPEN_PROTOCOL_BY_DRIVER,
  EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL, EFI_OPEN_PROTOCOL_EXCLUSIVE, EFI_OPEN_PROTOCOL_GET_PROTOCOL,
  EFI_OPEN_PROTOCOL_TEST_PROTOCOL, ProtocolDatabase,
} from '../efi-services/boot/protocol-db';
import { GUID, guidFromBytes } from '../core/guid';
import {
  EFI_ACCESS_DENIED, EFI_ALREADY_STARTED, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_UNSUPPORTED, EfiError, EfiStatus,
} from '../core/status';
import { FakePlatform } from './helpers/fake-platform';

const P1 = '11111111-2222-3333-4444-555555555501';
const P2 = '11111111-2222-3333-4444-555555555502';
const BY_DRIVER = EFI_OPEN_PROTOCOL_BY_DRIVER;
const EXCLUSIVE = EFI_OPEN_PROTOCOL_EXCLUSIVE;

function setup() {
  const fake = new FakePlatform();
  const signalled: bigint[] = [];
  const events = new Set([0xe000n, 0xe010n]);
  const db = new ProtocolDatabase(fake, (e) => signalled.push(e), (e) => events.has(e));
  return { fake, db, signalled };
}

/** The status an EfiError thrown by `f` carries; fails the test if nothing is thrown. */
function statusOf(f: () => unknown): EfiStatus {
  try {
    f();
  } catch (e) {
    if (e instanceof EfiError) return e.status;
    throw e;
  }
  throw new Error('expected an EfiError');
}

test('install creates distinct handles in order, each with a signature in firmware memory', (t) => {
  const { fake, db } = setup();
  const a = db.install(0n, P1, 0x1000n);
  const b = db.install(0n, P1, 0x2000n);
  t.not(a, 0n);
  t.not(a, b);
  t.is(fake.mem.read(a, 4).toString('latin1'), 'hndl');
  t.is(fake.mem.u32(a + 4n), 1);
  t.is(fake.mem.u32(b + 4n), 2);
  t.is(db.install(a, P2, 0x3000n), a);
  t.deepEqual(db.locateHandles(AllHandles, undefined, 0n), [a, b]);
  t.deepEqual(db.protocolsPerHandle(a), [P1, P2]);
});

test('install refuses a protocol already on the handle and a non-handle', (t) => {
  const { db } = setup();
  const a = db.install(0n, P1, 0x1000n);
  t.is(statusOf(() => db.install(a, P1, 0x9999n)), EFI_INVALID_PARAMETER);
  t.is(db.interfaceOf(a, P1), 0x1000n);
  t.is(statusOf(() => db.install(0xdead0n, P1, 0x1000n)), EFI_INVALID_PARAMETER);
});

test('handles() names well-known GUIDs and keeps install order', (t) => {
  const { db } = setup();
  const h = db.install(0n, GUID.LOADED_IMAGE, 0x1000n);
  db.install(h, P1, 0x2000n);
  db.install(h, GUID.DEVICE_PATH, 0x3000n);
  t.deepEqual(db.handles(), [{
    handle: h,
    protocols: [
      { guid: GUID.LOADED_IMAGE, name: 'LOADED_IMAGE', interface: 0x1000n },
      { guid: P1, name: undefined, interface: 0x2000n },
      { guid: GUID.DEVICE_PATH, name: 'DEVICE_PATH', interface: 0x3000n },
    ],
  }]);
});

test('uninstalling the last protocol destroys the handle and clears its signature', (t) => {
  const { fake, db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  db.install(h, P2, 0x2000n);
  t.is(statusOf(() => db.uninstall(h, P1, 0x1234n)), EFI_NOT_FOUND);
  db.uninstall(h, P1, 0x1000n);
  t.true(db.isHandle(h));
  t.deepEqual(db.protocolsPerHandle(h), [P2]);
  db.uninstall(h, P2, 0x2000n);
  t.false(db.isHandle(h));
  t.is(fake.mem.u32(h), 0);
  t.is(statusOf(() => db.locateHandles(AllHandles, undefined, 0n)), EFI_NOT_FOUND);
  t.is(statusOf(() => db.uninstall(h, P2, 0x2000n)), EFI_INVALID_PARAMETER);
});

test('OpenProtocol attribute checks come before the protocol lookup', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const agent = db.install(0n, P2, 0x2000n);
  for (const bad of [0, 3, 0x11 | 0x02, 0x40, BY_DRIVER | EFI_OPEN_PROTOCOL_GET_PROTOCOL]) {
    t.is(statusOf(() => db.open(h, P1, agent, h, bad)), EFI_INVALID_PARAMETER, `attributes 0x${bad.toString(16)}`);
  }
  t.is(statusOf(() => db.open(h, P1, agent, h, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.open(h, P1, 0n, h, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.open(h, P1, agent, 0n, BY_DRIVER)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.open(h, P1, 0n, h, BY_DRIVER | EXCLUSIVE)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.open(h, P1, 0xbad0n, 0n, EXCLUSIVE)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.open(0xbad0n, P1, agent, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL)), EFI_INVALID_PARAMETER);
  // Unknown protocol with legal attributes.
  t.is(statusOf(() => db.open(agent, P1, agent, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL)), EFI_UNSUPPORTED);
  t.is(statusOf(() => db.open(agent, P1, 0n, 0n, 0x40)), EFI_INVALID_PARAMETER);
  t.deepEqual(db.openInformation(h, P1), []);
});

test('OpenProtocol BY_DRIVER and EXCLUSIVE rules', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const a = db.install(0n, P2, 0xa000n);
  const b = db.install(0n, P2, 0xb000n);
  t.is(db.open(h, P1, a, h, BY_DRIVER), 0x1000n);
  t.is(statusOf(() => db.open(h, P1, a, h, BY_DRIVER)), EFI_ALREADY_STARTED);
  t.is(statusOf(() => db.open(h, P1, b, h, BY_DRIVER)), EFI_ACCESS_DENIED);
  // A's driver cannot be stopped (no driver model): EXCLUSIVE is refused and nothing is recorded.
  t.is(statusOf(() => db.open(h, P1, b, 0n, EXCLUSIVE)), EFI_ACCESS_DENIED);
  t.is(db.openInformation(h, P1).length, 1);
  // Shared opens still work next to a driver.
  t.is(db.open(h, P1, b, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL), 0x1000n);

  // With a DisconnectController that stops A (its Stop closes the protocol), EXCLUSIVE takes over.
  const stopped: bigint[] = [];
  db.disconnect = (controller, agent) => {
    stopped.push(agent);
    db.close(controller, P1, agent, controller);
    return true;
  };
  t.is(db.open(h, P1, b, 0n, EXCLUSIVE), 0x1000n);
  t.deepEqual(stopped, [a]);
  t.is(statusOf(() => db.open(h, P1, a, h, BY_DRIVER)), EFI_ACCESS_DENIED);
  t.is(statusOf(() => db.open(h, P1, a, 0n, EXCLUSIVE)), EFI_ACCESS_DENIED);
  t.is(statusOf(() => db.open(h, P1, a, h, BY_DRIVER | EXCLUSIVE)), EFI_ACCESS_DENIED);
  t.deepEqual(db.openInformation(h, P1), [
    { agent: b, controller: 0n, attributes: EFI_OPEN_PROTOCOL_GET_PROTOCOL, openCount: 1 },
    { agent: b, controller: 0n, attributes: EXCLUSIVE, openCount: 1 },
  ]);
});

test('OpenProtocol BY_DRIVER|EXCLUSIVE twice by the same driver is EFI_ALREADY_STARTED', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const a = db.install(0n, P2, 0xa000n);
  const b = db.install(0n, P2, 0xb000n);
  db.open(h, P1, a, h, BY_DRIVER | EXCLUSIVE);
  t.is(statusOf(() => db.open(h, P1, a, h, BY_DRIVER | EXCLUSIVE)), EFI_ALREADY_STARTED);
  t.is(statusOf(() => db.open(h, P1, b, h, BY_DRIVER | EXCLUSIVE)), EFI_ACCESS_DENIED);
  t.is(statusOf(() => db.open(h, P1, b, h, BY_DRIVER)), EFI_ACCESS_DENIED);
});

test('identical shared opens count up; agent 0 is not recorded; CloseProtocol removes them', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const a = db.install(0n, P2, 0xa000n);
  db.open(h, P1, a, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
  db.open(h, P1, a, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
  db.open(h, P1, 0n, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
  t.is(db.handleProtocol(h, P1), 0x1000n);
  t.deepEqual(db.openInformation(h, P1), [{ agent: a, controller: 0n, attributes: EFI_OPEN_PROTOCOL_GET_PROTOCOL, openCount: 2 }]);
  t.is(statusOf(() => db.close(h, P1, a, h)), EFI_NOT_FOUND);
  t.is(statusOf(() => db.close(h, P1, 0xbad0n, 0n)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.close(h, P1, a, 0xbad0n)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.close(h, P2, a, 0n)), EFI_NOT_FOUND);
  db.close(h, P1, a, 0n);
  t.deepEqual(db.openInformation(h, P1), []);
  t.is(statusOf(() => db.close(h, P1, a, 0n)), EFI_NOT_FOUND);
});

test('HandleProtocol records under handleProtocolAgent when one is set', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const fw = db.install(0n, P2, 0xf000n);
  db.handleProtocolAgent = fw;
  t.is(db.handleProtocol(h, P1), 0x1000n);
  t.deepEqual(db.openInformation(h, P1), [{ agent: fw, controller: 0n, attributes: EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL, openCount: 1 }]);
  t.is(statusOf(() => db.handleProtocol(h, P2)), EFI_UNSUPPORTED);
});

test('uninstall and reinstall: informational opens are dropped, driver and exclusive opens refuse', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const a = db.install(0n, P2, 0xa000n);
  db.open(h, P1, a, 0n, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
  db.open(h, P1, a, 0n, EFI_OPEN_PROTOCOL_TEST_PROTOCOL);
  db.reinstall(h, P1, 0x1000n, 0x1100n);
  t.deepEqual(db.openInformation(h, P1), []);
  t.is(db.interfaceOf(h, P1), 0x1100n);
  t.is(statusOf(() => db.reinstall(h, P1, 0x1000n, 0x1200n)), EFI_NOT_FOUND);

  db.open(h, P1, a, h, BY_DRIVER);
  t.is(statusOf(() => db.uninstall(h, P1, 0x1100n)), EFI_ACCESS_DENIED);
  t.is(statusOf(() => db.reinstall(h, P1, 0x1100n, 0x1200n)), EFI_ACCESS_DENIED);
  t.is(db.interfaceOf(h, P1), 0x1100n);
  db.close(h, P1, a, h);
  db.open(h, P1, a, 0n, EXCLUSIVE);
  t.is(statusOf(() => db.uninstall(h, P1, 0x1100n)), EFI_ACCESS_DENIED);
  db.close(h, P1, a, 0n);
  const child = db.install(0n, P2, 0xc000n);
  db.open(h, P1, a, child, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
  t.is(statusOf(() => db.uninstall(h, P1, 0x1100n)), EFI_ACCESS_DENIED);
  db.close(h, P1, a, child);
  db.uninstall(h, P1, 0x1100n);
  t.false(db.isHandle(h));
});

test('uninstall succeeds when DisconnectController stops the driver', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const a = db.install(0n, P2, 0xa000n);
  db.open(h, P1, a, h, BY_DRIVER);
  db.disconnect = (controller, agent) => {
    db.close(controller, P1, agent, controller);
    return true;
  };
  db.uninstall(h, P1, 0x1000n);
  t.false(db.isHandle(h));
});

test('a disconnect that reports success but leaves the open in place is still EFI_ACCESS_DENIED', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const a = db.install(0n, P2, 0xa000n);
  db.open(h, P1, a, h, BY_DRIVER);
  db.disconnect = () => true;
  t.is(statusOf(() => db.uninstall(h, P1, 0x1000n)), EFI_ACCESS_DENIED);
  t.true(db.isHandle(h));
});

test('ByProtocol follows the protocol list order; a reinstall moves the interface to its end', (t) => {
  const { db } = setup();
  const a = db.install(0n, P2, 0xa000n);
  const b = db.install(0n, P1, 0xb000n);
  db.install(a, P1, 0xa100n);
  t.deepEqual(db.locateHandles(ByProtocol, P1, 0n), [b, a]);
  t.deepEqual(db.locateHandles(AllHandles, undefined, 0n), [a, b]);
  t.is(db.locateProtocol(P1), 0xb000n);
  db.reinstall(b, P1, 0xb000n, 0xb100n);
  t.deepEqual(db.locateHandles(ByProtocol, P1, 0n), [a, b]);
  t.is(db.locateProtocol(P1), 0xa100n);
  t.is(statusOf(() => db.locateHandles(ByProtocol, '99999999-0000-0000-0000-000000000000', 0n)), EFI_NOT_FOUND);
  t.is(statusOf(() => db.locateHandles(ByProtocol, undefined, 0n)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.locateHandles(3, P1, 0n)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.locateProtocol(GUID.LOAD_FILE2)), EFI_NOT_FOUND);
});

test('RegisterProtocolNotify: installs and reinstalls signal and queue handles, uninstall unqueues', (t) => {
  const { fake, db, signalled } = setup();
  const before = db.install(0n, P1, 0x1000n);
  t.is(statusOf(() => db.registerNotify(P1, 0x1234n)), EFI_INVALID_PARAMETER);
  const reg = db.registerNotify(P1, 0xe000n);
  t.is(fake.mem.read(reg, 4).toString('latin1'), 'pnot');
  t.is(statusOf(() => db.locateHandles(ByRegisterNotify, undefined, reg)), EFI_NOT_FOUND);
  t.is(statusOf(() => db.locateHandles(ByRegisterNotify, undefined, 0n)), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.locateHandles(ByRegisterNotify, undefined, 0x4444n)), EFI_INVALID_PARAMETER);

  const x = db.install(0n, P1, 0x2000n);
  db.install(0n, P2, 0x3000n); // another protocol: no signal
  const y = db.install(0n, P1, 0x4000n);
  t.deepEqual(signalled, [0xe000n, 0xe000n]);
  // Peeking does not consume.
  t.deepEqual(db.locateHandles(ByRegisterNotify, undefined, reg), [x]);
  t.deepEqual(db.locateHandles(ByRegisterNotify, undefined, reg), [x]);
  t.deepEqual(db.nextNotify(reg), { handle: x, interface: 0x2000n });
  db.uninstall(y, P1, 0x4000n);
  t.is(db.nextNotify(reg), undefined);

  db.reinstall(before, P1, 0x1000n, 0x1100n);
  t.deepEqual(signalled, [0xe000n, 0xe000n, 0xe000n]);
  t.is(db.locateProtocol(P2, reg), 0x1100n);
  t.is(statusOf(() => db.locateProtocol(P1, reg)), EFI_NOT_FOUND);
  t.deepEqual(db.notifications(), [{ registration: reg, guid: P1, event: 0xe000n, pending: [] }]);

  db.unregisterNotify(0xe000n);
  db.install(0n, P1, 0x5000n);
  t.is(signalled.length, 3);
  t.deepEqual(db.notifications(), []);
});

test('installMultiple is all or nothing and signals after the last install', (t) => {
  const { db, signalled } = setup();
  db.registerNotify(P1, 0xe000n);
  db.registerNotify(P2, 0xe010n);
  t.is(statusOf(() => db.installMultiple(0n, [[P1, 1n], [P2, 2n], [P1, 3n]])), EFI_INVALID_PARAMETER);
  t.is(statusOf(() => db.locateHandles(AllHandles, undefined, 0n)), EFI_NOT_FOUND);
  t.deepEqual(signalled, []);
  const h = db.installMultiple(0n, [[P1, 1n], [P2, 2n]]);
  t.deepEqual(signalled, [0xe000n, 0xe010n]);
  t.deepEqual(db.protocolsPerHandle(h), [P1, P2]);
  t.is(statusOf(() => db.installMultiple(h, [[GUID.LOAD_FILE2, 4n], [P2, 5n]])), EFI_INVALID_PARAMETER);
  t.deepEqual(db.protocolsPerHandle(h), [P1, P2]);
});

test('uninstallMultiple is all or nothing; every failure is EFI_INVALID_PARAMETER', (t) => {
  const { db } = setup();
  const h = db.installMultiple(0n, [[P1, 1n], [P2, 2n]]);
  const a = db.install(0n, GUID.LOADED_IMAGE, 0xa000n);
  t.is(statusOf(() => db.uninstallMultiple(h, [[P1, 1n], [P2, 9n]])), EFI_INVALID_PARAMETER);
  t.deepEqual(db.protocolsPerHandle(h), [P1, P2]);
  db.open(h, P2, a, h, BY_DRIVER);
  t.is(statusOf(() => db.uninstallMultiple(h, [[P1, 1n], [P2, 2n]])), EFI_INVALID_PARAMETER);
  t.deepEqual(db.protocolsPerHandle(h), [P1, P2]);
  db.close(h, P2, a, h);
  db.uninstallMultiple(h, [[P1, 1n], [P2, 2n]]);
  t.false(db.isHandle(h));
});

test('removeHandle drops the handle and every open it made', (t) => {
  const { db } = setup();
  const h = db.install(0n, P1, 0x1000n);
  const image = db.install(0n, GUID.LOADED_IMAGE, 0xa000n);
  db.open(h, P1, image, h, BY_DRIVER);
  db.removeHandle(image);
  t.false(db.isHandle(image));
  t.deepEqual(db.openInformation(h, P1), []);
  db.uninstall(h, P1, 0x1000n);
  t.deepEqual(db.handles(), []);
});

test('guidAddress keeps one firmware copy per GUID', (t) => {
  const { fake, db } = setup();
  const a = db.guidAddress(P1);
  t.is(db.guidAddress(P1), a);
  t.not(db.guidAddress(P2), a);
  t.is(guidFromBytes(fake.mem.read(a, 16)), P1);
});
