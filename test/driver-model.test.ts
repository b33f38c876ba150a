// Unit tests of the driver model (ConnectController/DisconnectController, UEFI 2.10 §7.3.12-13) without a CPU:
// driver bindings are JS stand-ins at fake guest addresses; expected orders are edk2 DriverSupport.c's.
import test from 'ava';
import { DriverModel } from '../efi-services/boot/driver-model';
import { EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER, EFI_OPEN_PROTOCOL_BY_DRIVER, ProtocolDatabase } from '../efi-services/boot/protocol-db';
import { EFI_DRIVER_BINDING_PROTOCOL_GUID } from '../efi-services/protocols/driver-binding';
import { EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS, EFI_UNSUPPORTED } from '../core/status';
import { FakePlatform } from './helpers/fake-platform';

const IO = '11111111-2222-3333-4444-555555555501';

function setup() {
  const fake = new FakePlatform();
  const db = new ProtocolDatabase(fake, () => {}, () => false);
  const calls: string[] = [];
  const model = new DriverModel(fake, db, { allocate: (n) => fake.allocate(n), free: () => {} });
  let nextFn = 0x7000_0000n;
  /** A binding on a new handle: offsets 0/8/16 Supported/Start/Stop, 24 Version, 32 ImageHandle, 40 its handle. */
  const binding = (name: string, version: number, supported: (controller: bigint) => bigint, start: (self: bigint, controller: bigint) => bigint = () => EFI_SUCCESS) => {
    const b = fake.allocate(48);
    const handle = db.install(0n, EFI_DRIVER_BINDING_PROTOCOL_GUID, b);
    const fns: ((a: readonly bigint[]) => bigint)[] = [
      ([, c]) => (calls.push(`${name}.Supported(${c === controller ? 'ctl' : c})`), supported(c)),
      ([, c]) => (calls.push(`${name}.Start`), start(handle, c)),
      ([, , n, buf]) => {
        calls.push(`${name}.Stop(${n}${n > 0n ? `:${Array.from({ length: Number(n) }, (_, i) => fake.mem.u64(buf + BigInt(8 * i)) === child1 ? 'c1' : 'c2').join(',')}` : ''})`);
        return EFI_SUCCESS;
      },
    ];
    fns.forEach((f, i) => {
      const a = nextFn++;
      fake.guestFunctions.set(a, f);
      fake.mem.setU64(b + BigInt(8 * i), a);
    });
    fake.mem.setU32(b + 24n, version);
    fake.mem.setU64(b + 32n, handle);
    fake.mem.setU64(b + 40n, handle);
    return handle;
  };
  const controller = db.install(0n, IO, 0x1000n);
  const child1 = db.install(0n, IO, 0x2000n);
  const child2 = db.install(0n, IO, 0x3000n);
  return { fake, db, model, calls, binding, controller, child1, child2 };
}

test('Version orders the drivers (edk2 selection sort with swaps: equal versions need not keep install order), a DriverImageHandle list goes first', (t) => {
  const { fake, model, calls, binding, controller } = setup();
  const no = () => EFI_UNSUPPORTED;
  const a = binding('A', 1, no);
  binding('B', 5, no);
  binding('C', 1, no);
  binding('D', 3, no);
  t.is(model.connect(controller, 0n, 0n, false), EFI_NOT_FOUND);
  // [A1 B5 C1 D3]: B swaps with A, then D with A: [B D C A].
  t.deepEqual(calls, ['B.Supported(ctl)', 'D.Supported(ctl)', 'C.Supported(ctl)', 'A.Supported(ctl)']);
  calls.length = 0;
  const list = fake.allocate(16);
  fake.mem.setU64(list, a);
  t.is(model.connect(controller, list, 0n, false), EFI_NOT_FOUND);
  t.deepEqual(calls, ['A.Supported(ctl)', 'B.Supported(ctl)', 'D.Supported(ctl)', 'C.Supported(ctl)']);
});

test('a failed Start still takes the driver out; EFI_SUCCESS only when one Start succeeded', (t) => {
  const { model, calls, binding, controller } = setup();
  binding('A', 2, () => EFI_SUCCESS, () => EFI_UNSUPPORTED);
  binding('B', 1, () => EFI_SUCCESS, () => EFI_SUCCESS);
  t.is(model.connect(controller, 0n, 0n, false), EFI_SUCCESS);
  t.deepEqual(calls, ['A.Supported(ctl)', 'A.Start', 'B.Supported(ctl)', 'B.Start']);
});

test('no driver started: EFI_SUCCESS for an End RemainingDevicePath, else EFI_NOT_FOUND; not a handle: EFI_INVALID_PARAMETER', (t) => {
  const { fake, model, binding, controller } = setup();
  binding('A', 1, () => EFI_UNSUPPORTED);
  const end = fake.allocate(4);
  fake.mem.write(end, Buffer.from([0x7f, 0xff, 4, 0]));
  const vendor = fake.allocate(24);
  fake.mem.write(vendor, Buffer.from([0x01, 0x04, 20, 0, ...new Array(16).fill(0), 0x7f, 0xff, 4, 0]));
  t.is(model.connect(controller, 0n, end, false), EFI_SUCCESS);
  t.is(model.connect(controller, 0n, vendor, false), EFI_NOT_FOUND);
  t.is(model.connect(0x1234n, 0n, 0n, false), EFI_INVALID_PARAMETER);
});

test('Recursive connects the handles that opened the controller BY_CHILD_CONTROLLER', (t) => {
  const { db, model, calls, binding, controller, child1 } = setup();
  binding('A', 1, (c) => (c === controller ? EFI_SUCCESS : EFI_UNSUPPORTED), (self, c) => {
    db.open(c, IO, self, c, EFI_OPEN_PROTOCOL_BY_DRIVER);
    db.open(c, IO, self, child1, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
    return EFI_SUCCESS;
  });
  t.is(model.connect(controller, 0n, 0n, true), EFI_SUCCESS);
  t.deepEqual(calls, ['A.Supported(ctl)', 'A.Start', `A.Supported(${child1})`]);
});

test('DisconnectController stops children then the controller; one ChildHandle of two stops only that child', (t) => {
  const { db, model, calls, binding, controller, child1, child2 } = setup();
  const a = binding('A', 1, () => EFI_UNSUPPORTED);
  db.open(controller, IO, a, controller, EFI_OPEN_PROTOCOL_BY_DRIVER);
  db.open(controller, IO, a, child1, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
  db.open(controller, IO, a, child2, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
  t.is(model.disconnect(controller, 0n, child2), EFI_SUCCESS);
  t.deepEqual(calls, ['A.Stop(1:c2)']);
  calls.length = 0;
  t.is(model.disconnect(controller, 0n, 0n), EFI_SUCCESS);
  t.deepEqual(calls, ['A.Stop(2:c1,c2)', 'A.Stop(0)']);
  calls.length = 0;
  // A driver not managing the controller: nothing stopped.
  t.is(model.disconnect(controller, 0n, controller), EFI_NOT_FOUND);
  t.deepEqual(calls, []);
});

test('DisconnectController: a BY_DRIVER agent without a driver binding is EFI_INVALID_PARAMETER', (t) => {
  const { db, model, controller, child1 } = setup();
  db.open(controller, IO, child1, controller, EFI_OPEN_PROTOCOL_BY_DRIVER);
  t.is(model.disconnect(controller, 0n, 0n), EFI_INVALID_PARAMETER);
  t.is(model.disconnect(controller, 0x1234n, 0n), EFI_INVALID_PARAMETER);
});
