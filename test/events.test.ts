// Events, timers and TPLs (UEFI 2.10 §7.1) through the boot services table on a CPU-less platform.
import test from 'ava';
import { buildInterface } from '../efi-services/interface';
import { VirtualClock } from '../efi-services/clock';
import { GUID, guidToBytes } from '../core/guid';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { EFI_INVALID_PARAMETER, EFI_NOT_READY, EFI_SUCCESS, EFI_UNSUPPORTED } from '../core/status';
import { eventServices } from '../efi-services/boot/event-services';
import {
  EVT_NOTIFY_SIGNAL, EVT_NOTIFY_WAIT, EVT_RUNTIME, EVT_SIGNAL_EXIT_BOOT_SERVICES, EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE,
  EVT_TIMER, EventSystem, GuestHang, TimerDelay, TPL_APPLICATION, TPL_CALLBACK, TPL_HIGH_LEVEL, TPL_NOTIFY,
} from '../efi-services/boot/events';
import { FakePlatform } from './helpers/fake-platform';

const EVENT_OUT = 0x2000n;
const EVENT_ARRAY = 0x3000n;
const INDEX_OUT = 0x4000n;
const GROUP_GUID = 0x5000n;
const SENTINEL = 0xdead_beefn;
const MY_GROUP = '1d5bc16e-7e6a-4a11-9c6a-64b5d2f7a0e1';

function setup() {
  const platform = new FakePlatform();
  const clock = new VirtualClock();
  const events = new EventSystem(platform, clock);
  const guestErrors: string[] = [];
  events.onGuestError = (m) => guestErrors.push(m);
  const table = buildInterface(platform, EFI_BOOT_SERVICES, eventServices(platform, events));
  const bs = (name: string, ...args: bigint[]) => {
    const i = EFI_BOOT_SERVICES.members.findIndex((m) => m.name === name);
    return platform.callMember(table, EFI_BOOT_SERVICES.headerSize, i, args);
  };
  /** What each stand-in notify function saw: its label, the TPL it ran at, the clock, its arguments. */
  const log: { label: string; tpl: number; now: bigint; args: readonly bigint[] }[] = [];
  let nextFn = 0x10_0000n;
  /** Installs a guest "function" that logs its call and then runs `body`. */
  const guestFn = (label: string, body: (args: readonly bigint[]) => void = () => {}) => {
    const a = nextFn;
    nextFn += 0x10n;
    platform.guestFunctions.set(a, (args) => {
      log.push({ label, tpl: events.currentTpl, now: clock.nowMicros, args });
      body(args);
      return 0n;
    });
    return a;
  };
  const create = (type: number, tpl: number, fn = 0n, ctx = 0n): bigint => {
    platform.mem.setU64(EVENT_OUT, SENTINEL);
    const s = bs('CreateEvent', BigInt(type >>> 0), BigInt(tpl), fn, ctx, EVENT_OUT);
    if (s !== EFI_SUCCESS) throw new Error(`CreateEvent failed: ${s}`);
    return platform.mem.u64(EVENT_OUT);
  };
  const createEx = (type: number, tpl: number, fn: bigint, group: string): bigint => {
    platform.mem.write(GROUP_GUID, guidToBytes(group));
    const s = bs('CreateEventEx', BigInt(type >>> 0), BigInt(tpl), fn, 0n, GROUP_GUID, EVENT_OUT);
    if (s !== EFI_SUCCESS) throw new Error(`CreateEventEx failed: ${s}`);
    return platform.mem.u64(EVENT_OUT);
  };
  const wait = (...evs: bigint[]) => {
    evs.forEach((e, i) => platform.mem.setU64(EVENT_ARRAY + BigInt(8 * i), e));
    platform.mem.setU64(INDEX_OUT, SENTINEL);
    const status = bs('WaitForEvent', BigInt(evs.length), EVENT_ARRAY, INDEX_OUT);
    return { status, index: platform.mem.u64(INDEX_OUT) };
  };
  const labels = () => log.map((l) => l.label);
  return { platform, clock, events, guestErrors, bs, log, labels, guestFn, create, createEx, wait };
}

test('notify functions run highest TPL first, FIFO within a TPL, at their own TPL', (t) => {
  const { bs, create, guestFn, log, labels, events } = setup();
  const a = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('a'), 0xaan);
  const b = create(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, guestFn('b'), 0xbbn);
  const c = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('c'));
  const d = create(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, guestFn('d'));
  t.is(bs('RaiseTPL', BigInt(TPL_HIGH_LEVEL)), BigInt(TPL_APPLICATION));
  for (const e of [a, b, c, d]) t.is(bs('SignalEvent', e), EFI_SUCCESS);
  t.deepEqual(log, []);
  bs('RestoreTPL', BigInt(TPL_APPLICATION));
  t.deepEqual(labels(), ['b', 'd', 'a', 'c']);
  t.deepEqual(log.map((l) => l.tpl), [TPL_NOTIFY, TPL_NOTIFY, TPL_CALLBACK, TPL_CALLBACK]);
  t.deepEqual(log[0].args, [b, 0xbbn]);
  t.deepEqual(log[2].args, [a, 0xaan]);
  t.is(events.currentTpl, TPL_APPLICATION);
});

test('a notify runs at once below its TPL, is deferred by RaiseTPL and runs when RestoreTPL drops below it', (t) => {
  const { bs, create, guestFn, labels, events } = setup();
  const cb = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('callback'));
  const nt = create(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, guestFn('notify'));
  bs('SignalEvent', cb);
  t.deepEqual(labels(), ['callback']);

  t.is(bs('RaiseTPL', BigInt(TPL_NOTIFY)), BigInt(TPL_APPLICATION));
  bs('SignalEvent', cb);
  bs('SignalEvent', cb); // still pending: queued once
  bs('SignalEvent', nt); // equal to the current TPL: deferred too
  t.deepEqual(labels(), ['callback']);
  bs('RestoreTPL', BigInt(TPL_CALLBACK));
  t.deepEqual(labels(), ['callback', 'notify']);
  t.is(events.currentTpl, TPL_CALLBACK);
  bs('RestoreTPL', BigInt(TPL_APPLICATION));
  t.deepEqual(labels(), ['callback', 'notify', 'callback']);
  // Dispatch cleared the signaled state, so a new signal notifies again.
  bs('SignalEvent', cb);
  t.deepEqual(labels(), ['callback', 'notify', 'callback', 'callback']);
});

test('a notify function that signals a higher-TPL event is preempted by it', (t) => {
  const { bs, create, guestFn, log, labels } = setup();
  const high = create(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, guestFn('high'));
  const low2 = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('low2'));
  const low = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('low', () => {
    bs('SignalEvent', low2);
    bs('SignalEvent', high);
    log.push({ label: 'low-end', tpl: 0, now: 0n, args: [] });
  }));
  bs('SignalEvent', low);
  t.deepEqual(labels(), ['low', 'high', 'low-end', 'low2']);
});

test('signaling one member of an event group signals all of them, in creation order', (t) => {
  const { bs, events, createEx, create, guestFn, labels } = setup();
  const m1 = createEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('m1'), MY_GROUP);
  const plain = createEx(0, 0, 0n, MY_GROUP);
  const m2 = createEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('m2'), MY_GROUP);
  createEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('other group'), GUID.EVENT_GROUP_READY_TO_BOOT);
  create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('no group'));
  t.is(events.groupOf(m2), MY_GROUP);

  t.is(bs('SignalEvent', m2), EFI_SUCCESS);
  t.deepEqual(labels(), ['m1', 'm2']);
  t.is(bs('CheckEvent', plain), EFI_SUCCESS);

  // Closing an event removes it from its group.
  t.is(bs('CloseEvent', m1), EFI_SUCCESS);
  events.signalGroup(MY_GROUP.toUpperCase());
  t.deepEqual(labels(), ['m1', 'm2', 'm2']);
  t.is(bs('CheckEvent', plain), EFI_SUCCESS);
  t.is(bs('CheckEvent', plain), EFI_NOT_READY);
});

test('CheckEvent: signaled state is consumed; EVT_NOTIFY_WAIT functions are queued while unsignaled', (t) => {
  const { bs, create, guestFn, log, events } = setup();
  const plain = create(0, 0);
  t.is(bs('CheckEvent', plain), EFI_NOT_READY);
  bs('SignalEvent', plain);
  t.is(bs('CheckEvent', plain), EFI_SUCCESS);
  t.is(bs('CheckEvent', plain), EFI_NOT_READY);

  let calls = 0;
  const waitEv = create(EVT_NOTIFY_WAIT, TPL_CALLBACK, guestFn('poll', ([ev]) => {
    if (++calls === 3) events.signal(ev);
  }), 0x77n);
  t.is(bs('CheckEvent', waitEv), EFI_NOT_READY);
  t.is(bs('CheckEvent', waitEv), EFI_NOT_READY);
  t.is(bs('CheckEvent', waitEv), EFI_SUCCESS);
  t.is(calls, 3);
  t.deepEqual(log[0].args, [waitEv, 0x77n]);
  t.is(log[0].tpl, TPL_CALLBACK);

  // At or above the notify TPL the poll is only queued; RestoreTPL runs it.
  bs('RaiseTPL', BigInt(TPL_NOTIFY));
  t.is(bs('CheckEvent', waitEv), EFI_NOT_READY);
  t.is(calls, 3);
  bs('RestoreTPL', BigInt(TPL_APPLICATION));
  t.is(calls, 4);

  const sig = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('sig'));
  t.is(bs('CheckEvent', sig), EFI_INVALID_PARAMETER);
});

test('WaitForEvent on a relative timer advances the clock by exactly the trigger time and returns its index', (t) => {
  const { bs, create, wait, clock } = setup();
  clock.advance(123n);
  const plain = create(0, 0);
  const timer = create(EVT_TIMER, 0);
  t.is(bs('SetTimer', timer, BigInt(TimerDelay.TimerRelative), 10_000_000n /* 1 s in 100 ns */), EFI_SUCCESS);
  const r = wait(plain, timer);
  t.is(r.status, EFI_SUCCESS);
  t.is(r.index, 1n);
  t.is(clock.nowMicros, 123n + 1_000_000n);
  // One-shot: consumed and not re-armed.
  t.is(bs('CheckEvent', timer), EFI_NOT_READY);
});

test('WaitForEvent ends when a timer notify function signals the waited event', (t) => {
  const { bs, create, guestFn, wait, clock } = setup();
  const done = create(0, 0);
  const timer = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('tick', () => bs('SignalEvent', done)));
  bs('SetTimer', timer, BigInt(TimerDelay.TimerRelative), 2_500n /* 250 µs */);
  const r = wait(done);
  t.deepEqual(r, { status: EFI_SUCCESS, index: 0n });
  t.is(clock.nowMicros, 250n);
});

test('periodic timers fire every period, missed periods coalesce, and period 0 means every 10 ms tick', (t) => {
  const { bs, create, guestFn, log, clock, wait } = setup();
  const p = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_NOTIFY, guestFn('p'));
  bs('SetTimer', p, BigInt(TimerDelay.TimerPeriodic), 1_000_000n /* 100 ms */);
  for (let i = 0; i < 3; i++) clock.advance(100_000n);
  t.deepEqual(log.map((l) => l.now), [100_000n, 200_000n, 300_000n]);
  clock.advance(250_000n); // to 550 ms: the 400 and 500 ms ticks coalesce
  t.is(log.length, 4);
  clock.advance(50_000n); // 600 ms: phase kept
  t.deepEqual(log.map((l) => l.now), [100_000n, 200_000n, 300_000n, 550_000n, 600_000n]);
  bs('SetTimer', p, BigInt(TimerDelay.TimerCancel), 0n);
  clock.advance(1_000_000n);
  t.is(log.length, 5);

  // Now at 1.6 s + 3 ms: ticks fall on multiples of 10 ms.
  clock.advance(3_000n);
  const tick = create(EVT_TIMER, 0);
  bs('SetTimer', tick, BigInt(TimerDelay.TimerPeriodic), 0n);
  t.is(wait(tick).status, EFI_SUCCESS);
  t.is(clock.nowMicros, 1_610_000n);
  t.is(wait(tick).status, EFI_SUCCESS);
  t.is(clock.nowMicros, 1_620_000n);
});

test('timers do not fire at TPL_HIGH_LEVEL; RestoreTPL catches up', (t) => {
  const { bs, create, guestFn, labels, clock } = setup();
  const ev = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('late'));
  const plain = create(EVT_TIMER, 0);
  bs('SetTimer', ev, BigInt(TimerDelay.TimerRelative), 10n);
  bs('SetTimer', plain, BigInt(TimerDelay.TimerRelative), 10n);
  bs('RaiseTPL', BigInt(TPL_HIGH_LEVEL));
  clock.advance(5n);
  t.is(bs('CheckEvent', plain), EFI_NOT_READY);
  t.deepEqual(labels(), []);
  bs('RestoreTPL', BigInt(TPL_APPLICATION));
  t.deepEqual(labels(), ['late']);
  t.is(bs('CheckEvent', plain), EFI_SUCCESS);
});

test('CloseEvent cancels the timer and the pending notify; the event is gone', (t) => {
  const { bs, create, guestFn, labels, clock, events } = setup();
  const timed = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('timed'));
  bs('SetTimer', timed, BigInt(TimerDelay.TimerPeriodic), 10n);
  t.is(bs('CloseEvent', timed), EFI_SUCCESS);
  clock.advance(1000n);
  const pending = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('pending'));
  bs('RaiseTPL', BigInt(TPL_NOTIFY));
  bs('SignalEvent', pending);
  t.is(bs('CloseEvent', pending), EFI_SUCCESS);
  bs('RestoreTPL', BigInt(TPL_APPLICATION));
  t.deepEqual(labels(), []);
  t.false(events.exists(pending));
  t.is(events.isEvent(pending), EFI_INVALID_PARAMETER);
  for (const name of ['CloseEvent', 'SignalEvent', 'CheckEvent']) t.is(bs(name, pending), EFI_INVALID_PARAMETER);
});

test('ExitBootServices stops timers, then runs the exit-boot-services notify functions once', (t) => {
  const { events, create, createEx, guestFn, labels, clock, bs } = setup();
  const timer = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('timer'));
  bs('SetTimer', timer, BigInt(TimerDelay.TimerRelative), 1000n);
  const byType = create(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_NOTIFY, guestFn('by type', () => clock.advance(1000n)));
  createEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('by group'), GUID.EVENT_GROUP_EXIT_BOOT_SERVICES);
  createEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('before'), GUID.EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES);
  t.is(events.groupOf(byType), GUID.EVENT_GROUP_EXIT_BOOT_SERVICES);

  events.signalBeforeExitBootServices();
  t.deepEqual(labels(), ['before']);
  events.exitBootServices();
  // The by-type handler advanced the clock past the timer, which did not fire.
  t.deepEqual(labels(), ['before', 'by type', 'by group']);
  events.exitBootServices();
  clock.advance(1_000_000n);
  t.deepEqual(labels(), ['before', 'by type', 'by group']);
});

test('virtual-address-change events belong to their group', (t) => {
  const { events, create, guestFn, labels } = setup();
  const vac = create(EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE, TPL_NOTIFY, guestFn('vac'));
  t.is(events.groupOf(vac), GUID.EVENT_GROUP_VIRTUAL_ADDRESS_CHANGE);
  events.signalGroup(GUID.EVENT_GROUP_VIRTUAL_ADDRESS_CHANGE);
  t.deepEqual(labels(), ['vac']);
});

test('CreateEvent and CreateEventEx reject what the spec lists, and leave *Event alone', (t) => {
  const { bs, platform, guestFn } = setup();
  const fn = guestFn('f');
  const tryCreate = (type: number, tpl: number, notify: bigint) => {
    platform.mem.setU64(EVENT_OUT, SENTINEL);
    const s = bs('CreateEvent', BigInt(type >>> 0), BigInt(tpl), notify, 0n, EVENT_OUT);
    return { s, out: platform.mem.u64(EVENT_OUT) };
  };
  t.is(bs('CreateEvent', 0n, 0n, 0n, 0n, 0n), EFI_INVALID_PARAMETER);
  for (const type of [EVT_NOTIFY_WAIT | EVT_NOTIFY_SIGNAL, 0x1, EVT_RUNTIME, EVT_TIMER | EVT_NOTIFY_WAIT | EVT_NOTIFY_SIGNAL]) {
    t.deepEqual(tryCreate(type, TPL_CALLBACK, fn), { s: EFI_INVALID_PARAMETER, out: SENTINEL }, `type 0x${(type >>> 0).toString(16)}`);
  }
  for (const tpl of [0, TPL_APPLICATION, TPL_HIGH_LEVEL, 32]) {
    t.is(tryCreate(EVT_NOTIFY_SIGNAL, tpl, fn).s, EFI_INVALID_PARAMETER, `TPL ${tpl}`);
  }
  t.is(tryCreate(EVT_NOTIFY_WAIT, TPL_CALLBACK, 0n).s, EFI_INVALID_PARAMETER);
  t.is(tryCreate(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, 0n).s, EFI_INVALID_PARAMETER);
  // Without a notify type, NotifyTpl and NotifyFunction are ignored.
  const ok = tryCreate(EVT_TIMER, 0, 0n);
  t.is(ok.s, EFI_SUCCESS);
  t.not(ok.out, SENTINEL);
  t.not(ok.out, 0n);
  for (const type of [EVT_TIMER | EVT_NOTIFY_SIGNAL, EVT_TIMER | EVT_NOTIFY_WAIT, EVT_RUNTIME | EVT_NOTIFY_SIGNAL]) {
    t.is(tryCreate(type, TPL_NOTIFY, fn).s, EFI_SUCCESS);
  }

  platform.mem.write(GROUP_GUID, guidToBytes(MY_GROUP));
  t.is(bs('CreateEventEx', 0n, 0n, 0n, 0n, GROUP_GUID, 0n), EFI_INVALID_PARAMETER);
  for (const type of [EVT_SIGNAL_EXIT_BOOT_SERVICES, EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE]) {
    t.is(bs('CreateEventEx', BigInt(type), BigInt(TPL_CALLBACK), fn, 0n, GROUP_GUID, EVENT_OUT), EFI_INVALID_PARAMETER);
  }
  t.is(bs('CreateEventEx', BigInt(EVT_NOTIFY_SIGNAL), BigInt(TPL_CALLBACK), fn, 0n, 0n, EVENT_OUT), EFI_SUCCESS);
});

test('events are distinct non-NULL addresses', (t) => {
  const { create } = setup();
  const evs = [create(0, 0), create(EVT_TIMER, 0), create(0, 0)];
  t.true(evs.every((e) => e !== 0n));
  t.is(new Set(evs).size, 3);
});

test('SetTimer and WaitForEvent error statuses', (t) => {
  const { bs, create, guestFn, wait, platform } = setup();
  const plain = create(0, 0);
  const timer = create(EVT_TIMER, 0);
  const sig = create(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('sig'));
  t.is(bs('SetTimer', plain, BigInt(TimerDelay.TimerRelative), 10n), EFI_INVALID_PARAMETER);
  t.is(bs('SetTimer', timer, 3n, 10n), EFI_INVALID_PARAMETER);
  t.is(bs('SetTimer', 0x1234n, BigInt(TimerDelay.TimerRelative), 10n), EFI_INVALID_PARAMETER);

  t.is(bs('WaitForEvent', 0n, EVENT_ARRAY, INDEX_OUT), EFI_INVALID_PARAMETER);
  t.is(bs('WaitForEvent', 1n, 0n, INDEX_OUT), EFI_INVALID_PARAMETER);
  t.deepEqual(wait(plain, sig), { status: EFI_INVALID_PARAMETER, index: 1n });
  t.deepEqual(wait(0x1234n), { status: EFI_INVALID_PARAMETER, index: 0n });
  bs('SignalEvent', plain);
  bs('RaiseTPL', BigInt(TPL_CALLBACK));
  t.deepEqual(wait(plain), { status: EFI_UNSUPPORTED, index: SENTINEL });
  bs('RestoreTPL', BigInt(TPL_APPLICATION));
  // A NULL Index is tolerated.
  platform.mem.setU64(EVENT_ARRAY, plain);
  t.is(bs('WaitForEvent', 1n, EVENT_ARRAY, 0n), EFI_SUCCESS);
});

test('TPL misuse is reported as a guest error and leaves the TPL alone', (t) => {
  const { bs, events, guestErrors } = setup();
  t.is(bs('RaiseTPL', BigInt(TPL_NOTIFY)), BigInt(TPL_APPLICATION));
  t.is(bs('RaiseTPL', BigInt(TPL_CALLBACK)), BigInt(TPL_NOTIFY));
  t.is(events.currentTpl, TPL_NOTIFY);
  t.is(bs('RaiseTPL', 32n), BigInt(TPL_NOTIFY));
  bs('RestoreTPL', BigInt(TPL_HIGH_LEVEL));
  t.is(events.currentTpl, TPL_NOTIFY);
  t.is(guestErrors.length, 3);
  t.regex(guestErrors[0], /RaiseTPL\(8\)/);
});

test('a wait nothing can end raises GuestHang instead of hanging', (t) => {
  const { create, guestFn, wait, clock, bs, events } = setup();
  const plain = create(0, 0);
  const unrelated = create(EVT_TIMER, 0);
  bs('SetTimer', unrelated, BigInt(TimerDelay.TimerRelative), 100n);
  const e = t.throws(() => wait(plain), { instanceOf: GuestHang });
  t.deepEqual(e?.events, [plain]);
  t.true(e?.message.includes(`0x${plain.toString(16)}`));
  t.is(clock.nowMicros, 0n);

  let polls = 0;
  const key = create(EVT_NOTIFY_WAIT, TPL_NOTIFY, guestFn('no key', () => polls++));
  t.throws(() => wait(key), { instanceOf: GuestHang });
  t.true(polls > 1);

  // A periodic timer whose notify might signal keeps the wait going, up to the virtual-time limit.
  events.waitLimitMicros = 1_000_000n;
  const beat = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('beat'));
  bs('SetTimer', beat, BigInt(TimerDelay.TimerPeriodic), 1_000_000n /* 100 ms */);
  const start = clock.nowMicros;
  t.throws(() => wait(plain), { instanceOf: GuestHang, message: /virtual time/ });
  t.true(clock.nowMicros - start <= 1_000_000n);
  t.true(clock.nowMicros - start >= 900_000n);
});

test('eventsReport describes each live event', (t) => {
  const { events, create, createEx, guestFn, bs } = setup();
  const timer = create(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, guestFn('t'), 0x55n);
  bs('SetTimer', timer, BigInt(TimerDelay.TimerPeriodic), 20n);
  const fn = guestFn('g');
  createEx(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, fn, GUID.EVENT_GROUP_READY_TO_BOOT);
  const closed = create(0, 0);
  bs('CloseEvent', closed);
  const r = events.eventsReport();
  t.is(r.length, 2);
  t.like(r[0], { event: timer, typeName: 'EVT_TIMER|EVT_NOTIFY_SIGNAL', notifyTpl: TPL_CALLBACK, notifyContext: 0x55n, timer: { dueMicros: 2n, periodMicros: 2n } });
  t.like(r[1], { typeName: 'EVT_NOTIFY_SIGNAL', notifyFunction: fn, group: GUID.EVENT_GROUP_READY_TO_BOOT, groupName: 'EVENT_GROUP_READY_TO_BOOT' });
});
