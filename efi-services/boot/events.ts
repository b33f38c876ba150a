// The event, timer and task-priority model behind UEFI 2.10 §7.1 (Event, Timer, and Task Priority Services).
import { hex } from '../../core/hex';
import { VirtualClock } from '../clock';
import { GUID } from '../../core/guid';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_NOT_READY, EFI_SUCCESS, EFI_UNSUPPORTED, EfiStatus } from '../../core/status';

// UEFI 2.10 §7.1.1 CreateEvent(), "Related Definitions". Values above 2^31 are kept unsigned (`>>> 0`).
export const EVT_TIMER = 0x80000000;
export const EVT_RUNTIME = 0x40000000;
export const EVT_NOTIFY_WAIT = 0x00000100;
export const EVT_NOTIFY_SIGNAL = 0x00000200;
export const EVT_SIGNAL_EXIT_BOOT_SERVICES = 0x00000201;
export const EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE = 0x60000202;

// UEFI 2.10 §7.1.8 RaiseTPL(), Table 7.3.
export const TPL_APPLICATION = 4;
export const TPL_CALLBACK = 8;
export const TPL_NOTIFY = 16;
export const TPL_HIGH_LEVEL = 31;

/** EFI_TIMER_DELAY (UEFI 2.10 §7.1.7 SetTimer()). */
export enum TimerDelay {
  TimerCancel = 0,
  TimerPeriodic = 1,
  TimerRelative = 2,
}

/**
 * The timer tick, in 100 ns units: SetTimer() with TriggerTime 0 fires "on the next timer tick" (relative) or
 * "on every timer tick" (periodic). 10 ms, the period OVMF programs into its 8254. Ticks fall on multiples of
 * this period of the virtual clock. Non-zero trigger times are not rounded to ticks: the virtual machine's timer
 * fires at exactly the requested time (rounded up to the clock's 1 µs resolution).
 */
export const TIMER_TICK_100NS = 100_000n;
const TICK_MICROS = TIMER_TICK_100NS / 10n;

/**
 * The accepted CreateEvent() types: the combinations edk2 (mEventTable) and U-Boot accept, plus
 * EVT_RUNTIME | EVT_NOTIFY_SIGNAL, which the UEFI SCT's CreateEvent conformance test treats as valid.
 * This also rejects EVT_NOTIFY_WAIT | EVT_NOTIFY_SIGNAL and every reserved bit.
 */
const VALID_TYPES = new Set(
  [
    0, EVT_TIMER, EVT_NOTIFY_WAIT, EVT_NOTIFY_SIGNAL, EVT_TIMER | EVT_NOTIFY_WAIT, EVT_TIMER | EVT_NOTIFY_SIGNAL,
    EVT_SIGNAL_EXIT_BOOT_SERVICES, EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE, EVT_RUNTIME | EVT_NOTIFY_SIGNAL,
  ].map((t) => t >>> 0),
);

/** Bytes of firmware memory behind each EFI_EVENT; the guest only ever sees the address. */
const EVENT_SIZE = 32;
/** WaitForEvent() rounds that poll EVT_NOTIFY_WAIT functions with no timer armed before the wait counts as hung. */
const POLL_LIMIT = 1000;

/** A WaitForEvent() that can never return. A real machine would wait forever; the run loop reports a guest error. */
export class GuestHang extends Error {
  constructor(readonly events: readonly bigint[], reason: string, names = events.map(hex).join(', ')) {
    super(`WaitForEvent(${names}) never returns: ${reason}`);
    this.name = 'GuestHang';
  }
}

interface Timer {
  /** Virtual-clock time (µs) at which the timer fires. */
  due: bigint;
  /** 0 for a one-shot (relative) timer. */
  period: bigint;
  /** Arming order: timers due at the same time fire in this order. */
  seq: number;
}

interface EventRecord {
  readonly address: bigint;
  readonly type: number;
  readonly notifyTpl: number;
  readonly notifyFunction: bigint;
  readonly notifyContext: bigint;
  /** Lower-case GUID of the event group (CreateEventEx, or implied by the EVT_SIGNAL_* types). */
  readonly group?: string;
  signaled: boolean;
  queued: boolean;
  timer?: Timer;
}

export interface CreateResult {
  status: EfiStatus;
  /** The new EFI_EVENT; 0 on failure. */
  event: bigint;
}

export interface WaitResult {
  status: EfiStatus;
  /** The event that satisfied the wait, or the invalid one (written to *Index); absent when no event is named. */
  index?: number;
  /** Virtual time the wait let pass (only once it got past the argument checks). */
  waitedMicros?: bigint;
}

/** One live event, for the run report. */
export interface EventReport {
  event: bigint;
  type: number;
  typeName: string;
  notifyTpl: number;
  notifyFunction: bigint;
  notifyContext: bigint;
  group?: string;
  groupName?: string;
  signaled: boolean;
  timer?: { dueMicros: bigint; periodMicros: bigint };
}

export class EventSystem {
  /** Guest misuse the spec leaves undefined and edk2 ASSERTs on (RaiseTPL to a lower level, ...). */
  onGuestError: (message: string) => void = () => {};
  /** Virtual time a WaitForEvent() may let pass on timers that only might signal what it waits for. */
  waitLimitMicros = 3_600_000_000n;

  private tpl = TPL_APPLICATION;
  /** Live events in creation order, which is also the order group members are notified in (as U-Boot). */
  private readonly events = new Map<bigint, EventRecord>();
  /** Pending notify functions, one FIFO per TPL (edk2 gEventQueue). */
  private readonly queues: EventRecord[][] = Array.from({ length: TPL_HIGH_LEVEL + 1 }, () => []);
  private readonly closeListeners: ((event: bigint) => void)[] = [];
  private timerSeq = 0;
  private timersEnabled = true;
  private exitBootServicesSignaled = false;

  constructor(private readonly platform: Platform, private readonly clock: VirtualClock) {
    clock.onAdvance(() => this.timerInterrupt());
  }

  get currentTpl(): number {
    return this.tpl;
  }

  /** UEFI 2.10 §7.1.8 RaiseTPL(): returns the previous TPL. */
  raiseTpl(newTpl: number): number {
    const old = this.tpl;
    if (newTpl > TPL_HIGH_LEVEL) {
      this.onGuestError(`RaiseTPL(${newTpl}): above TPL_HIGH_LEVEL; TPL stays ${old}`);
      return old;
    }
    if (newTpl < old) {
      this.onGuestError(`RaiseTPL(${newTpl}) below the current TPL ${old}; TPL stays ${old}`);
      return old;
    }
    this.tpl = newTpl;
    return old;
  }

  /** UEFI 2.10 §7.1.9 RestoreTPL(): notifies pending above the restored level run before it returns. */
  restoreTpl(oldTpl: number): void {
    if (oldTpl > this.tpl) {
      this.onGuestError(`RestoreTPL(${oldTpl}) above the current TPL ${this.tpl}; TPL stays ${this.tpl}`);
      return;
    }
    // Timer interrupts were masked at TPL_HIGH_LEVEL: catch up on timers that came due meanwhile.
    if (oldTpl < TPL_HIGH_LEVEL) this.fireDueTimers();
    this.dispatch(oldTpl);
  }

  /** UEFI 2.10 §7.1.1 CreateEvent() / §7.1.2 CreateEventEx() (`eventGroup` is the GUID text). */
  create(type: number, notifyTpl: number, notifyFunction: bigint, notifyContext: bigint, eventGroup?: string): CreateResult {
    const fail = { status: EFI_INVALID_PARAMETER, event: 0n };
    type >>>= 0;
    if (!VALID_TYPES.has(type)) return fail;
    let group = eventGroup?.toLowerCase();
    if (group !== undefined) {
      // CreateEventEx: these two types already name their group.
      if (type === EVT_SIGNAL_EXIT_BOOT_SERVICES || type === EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE) return fail;
    } else if (type === EVT_SIGNAL_EXIT_BOOT_SERVICES) {
      group = GUID.EVENT_GROUP_EXIT_BOOT_SERVICES;
    } else if (type === EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE) {
      group = GUID.EVENT_GROUP_VIRTUAL_ADDRESS_CHANGE;
    }
    const notifies = has(type, EVT_NOTIFY_WAIT | EVT_NOTIFY_SIGNAL);
    // A notify level must lie strictly between TPL_APPLICATION and TPL_HIGH_LEVEL (edk2 CoreCreateEventInternal).
    if (notifies && (notifyTpl <= TPL_APPLICATION || notifyTpl >= TPL_HIGH_LEVEL)) return fail;
    if (notifies && notifyFunction === 0n) return fail;
    // EVT_RUNTIME: "the event is allocated from runtime memory".
    const address = this.platform.allocate(EVENT_SIZE, has(type, EVT_RUNTIME));
    this.events.set(address, {
      address,
      type,
      // Without a notify type the three notify arguments are ignored.
      notifyTpl: notifies ? notifyTpl : 0,
      notifyFunction: notifies ? notifyFunction : 0n,
      notifyContext: notifies ? notifyContext : 0n,
      group,
      signaled: false,
      queued: false,
    });
    return { status: EFI_SUCCESS, event: address };
  }

  /** UEFI 2.10 §7.1.4 SignalEvent(): signaling a member of a group signals the whole group. */
  signal(event: bigint): EfiStatus {
    const e = this.events.get(event);
    if (!e) return EFI_INVALID_PARAMETER;
    if (e.group !== undefined) this.raiseGroup(e.group);
    else this.raise(e);
    this.dispatch(this.tpl);
    return EFI_SUCCESS;
  }

  /** Signals every event of a group (ReadyToBoot, VirtualAddressChange, ...); a group without members is fine. */
  signalGroup(guid: string): void {
    this.raiseGroup(guid.toLowerCase());
    this.dispatch(this.tpl);
  }

  /** EFI_EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES (UEFI 2.9+): signaled before ExitBootServices() checks the map key. */
  signalBeforeExitBootServices(): void {
    this.signalGroup(GUID.EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES);
  }

  /**
   * ExitBootServices() (UEFI 2.10 §7.4.6): timer activity stops before any EXIT_BOOT_SERVICES handler runs
   * (edk2 disables the timer first), then the group — including EVT_SIGNAL_EXIT_BOOT_SERVICES events — is
   * signaled, only once however often ExitBootServices() is called.
   */
  exitBootServices(): void {
    this.timersEnabled = false;
    if (this.exitBootServicesSignaled) return;
    this.exitBootServicesSignaled = true;
    this.signalGroup(GUID.EVENT_GROUP_EXIT_BOOT_SERVICES);
  }

  /** UEFI 2.10 §7.1.5 CloseEvent(): also cancels its timer, its pending notify and its group membership. */
  close(event: bigint): EfiStatus {
    const e = this.events.get(event);
    if (!e) return EFI_INVALID_PARAMETER;
    this.events.delete(event);
    if (e.queued) {
      const q = this.queues[e.notifyTpl];
      q.splice(q.indexOf(e), 1);
      e.queued = false;
    }
    for (const l of this.closeListeners) l(event);
    return EFI_SUCCESS;
  }

  /** Runs when an event is closed (RegisterProtocolNotify registrations die with their event). */
  onClose(listener: (event: bigint) => void): void {
    this.closeListeners.push(listener);
  }

  /** UEFI 2.10 §7.1.6 CheckEvent(): an EVT_NOTIFY_WAIT event gets its notify function queued while unsignaled. */
  check(event: bigint): EfiStatus {
    const e = this.events.get(event);
    if (!e || has(e.type, EVT_NOTIFY_SIGNAL)) return EFI_INVALID_PARAMETER;
    if (!e.signaled && has(e.type, EVT_NOTIFY_WAIT)) {
      this.enqueue(e);
      this.dispatch(this.tpl);
    }
    if (!e.signaled) return EFI_NOT_READY;
    e.signaled = false;
    return EFI_SUCCESS;
  }

  /**
   * UEFI 2.10 §7.1.3 WaitForEvent(), checks in the order the spec lists its status codes. Waiting moves the
   * virtual clock to the next timer that can matter; a wait nothing can end throws GuestHang.
   */
  waitForEvent(events: readonly bigint[]): WaitResult {
    if (events.length === 0) return { status: EFI_INVALID_PARAMETER };
    const bad = events.findIndex((ev) => {
      const e = this.events.get(ev);
      return !e || has(e.type, EVT_NOTIFY_SIGNAL);
    });
    if (bad >= 0) return { status: EFI_INVALID_PARAMETER, index: bad };
    if (this.tpl !== TPL_APPLICATION) return { status: EFI_UNSUPPORTED };
    const start = this.clock.nowMicros;
    let polls = 0;
    for (;;) {
      for (let i = 0; i < events.length; i++) {
        const s = this.check(events[i]);
        if (s !== EFI_NOT_READY) return { status: s, index: i, waitedMicros: this.clock.nowMicros - start };
      }
      const polling = events.some((ev) => has(this.events.get(ev)?.type ?? 0, EVT_NOTIFY_WAIT));
      const next = this.nextRelevantTimer(events, polling);
      if (next === undefined) {
        if (!polling) throw new GuestHang(events, 'no timer is armed and nothing else can signal them', this.describe(events));
        if (++polls >= POLL_LIMIT) {
          const reason = `no timer is armed and ${POLL_LIMIT} polls of their notify functions signaled nothing`;
          throw new GuestHang(events, reason, this.describe(events));
        }
        continue;
      }
      polls = 0;
      if (!next.certain && next.due - start > this.waitLimitMicros) {
        throw new GuestHang(events, `not signaled within ${this.waitLimitMicros} µs of virtual time`, this.describe(events));
      }
      this.advanceTo(next.due);
    }
  }

  /** UEFI 2.10 §7.1.7 SetTimer(); `triggerTime` is in 100 ns units. */
  setTimer(event: bigint, type: number, triggerTime: bigint): EfiStatus {
    const e = this.events.get(event);
    if (!e || !has(e.type, EVT_TIMER)) return EFI_INVALID_PARAMETER;
    if (type !== TimerDelay.TimerCancel && type !== TimerDelay.TimerPeriodic && type !== TimerDelay.TimerRelative) {
      return EFI_INVALID_PARAMETER;
    }
    e.timer = undefined;
    if (type === TimerDelay.TimerCancel) return EFI_SUCCESS;
    const now = this.clock.nowMicros;
    const periodic = type === TimerDelay.TimerPeriodic;
    if (triggerTime === 0n) {
      e.timer = { due: (now / TICK_MICROS + 1n) * TICK_MICROS, period: periodic ? TICK_MICROS : 0n, seq: this.timerSeq++ };
    } else {
      const micros = (triggerTime + 9n) / 10n;
      e.timer = { due: now + micros, period: periodic ? micros : 0n, seq: this.timerSeq++ };
    }
    return EFI_SUCCESS;
  }

  exists(event: bigint): boolean {
    return this.events.has(event);
  }

  /** EFI_SUCCESS for a live event, else EFI_INVALID_PARAMETER (as U-Boot's efi_is_event), for other services. */
  isEvent(event: bigint): EfiStatus {
    return this.events.has(event) ? EFI_SUCCESS : EFI_INVALID_PARAMETER;
  }

  /** The event's group GUID (lower case), if it has one. */
  groupOf(event: bigint): string | undefined {
    return this.events.get(event)?.group;
  }

  eventsReport(): EventReport[] {
    return [...this.events.values()].map((e) => ({
      event: e.address,
      type: e.type,
      typeName: typeName(e.type),
      notifyTpl: e.notifyTpl,
      notifyFunction: e.notifyFunction,
      notifyContext: e.notifyContext,
      group: e.group,
      groupName: e.group === undefined ? undefined : groupName(e.group),
      signaled: e.signaled,
      timer: e.timer && { dueMicros: e.timer.due, periodMicros: e.timer.period },
    }));
  }

  private raiseGroup(group: string): void {
    for (const e of this.events.values()) if (e.group === group) this.raise(e);
  }

  /** Sets the signaled state; an EVT_NOTIFY_SIGNAL event's notify is queued once until it runs. */
  private raise(e: EventRecord): void {
    if (e.signaled) return;
    e.signaled = true;
    if (has(e.type, EVT_NOTIFY_SIGNAL)) this.enqueue(e);
  }

  private enqueue(e: EventRecord): void {
    if (e.queued) return;
    e.queued = true;
    this.queues[e.notifyTpl].push(e);
  }

  /**
   * Runs the queued notify functions above `level`, highest TPL first and FIFO within a TPL, each with the TPL
   * raised to its notify level, then leaves the TPL at `level` (edk2 CoreRestoreTpl/CoreDispatchEventNotifies).
   * Dispatching an EVT_NOTIFY_SIGNAL event clears its signaled state; EVT_NOTIFY_WAIT events keep theirs.
   */
  private dispatch(level: number): void {
    try {
      for (;;) {
        let p = TPL_HIGH_LEVEL;
        while (p > level && this.queues[p].length === 0) p--;
        if (p <= level) break;
        this.tpl = p;
        const e = this.queues[p].shift() as EventRecord;
        e.queued = false;
        if (has(e.type, EVT_NOTIFY_SIGNAL)) e.signaled = false;
        this.platform.callGuest(e.notifyFunction, [e.address, e.notifyContext], `notify ${hex(e.address)} at TPL ${p}`);
      }
    } finally {
      this.tpl = level;
    }
  }

  /** The clock moved: timers fire unless interrupts are masked at TPL_HIGH_LEVEL. */
  private timerInterrupt(): void {
    if (this.tpl >= TPL_HIGH_LEVEL) return;
    if (this.fireDueTimers()) this.dispatch(this.tpl);
  }

  /**
   * Signals every timer that is due, in due-time order. A periodic timer whose clock jumped past several periods
   * fires once and keeps its phase (missed ticks coalesce, as when a tick handler runs late).
   */
  private fireDueTimers(): boolean {
    if (!this.timersEnabled) return false;
    const now = this.clock.nowMicros;
    const due = [...this.events.values()]
      .filter((e) => e.timer !== undefined && e.timer.due <= now)
      .sort((a, b) => compareTimers(a.timer as Timer, b.timer as Timer));
    for (const e of due) {
      const t = e.timer as Timer;
      if (t.period > 0n) t.due += t.period * ((now - t.due) / t.period + 1n);
      else e.timer = undefined;
      this.raise(e);
    }
    return due.length > 0;
  }

  /**
   * The earliest armed timer that can end a wait on `waited`: one of theirs (`certain`), one whose
   * EVT_NOTIFY_SIGNAL function might signal them, or — while their EVT_NOTIFY_WAIT functions poll — any.
   */
  private nextRelevantTimer(waited: readonly bigint[], polling: boolean): { due: bigint; certain: boolean } | undefined {
    if (!this.timersEnabled) return undefined;
    let next: { due: bigint; certain: boolean } | undefined;
    for (const e of this.events.values()) {
      if (!e.timer) continue;
      const mine = waited.includes(e.address);
      if (!mine && !polling && !has(e.type, EVT_NOTIFY_SIGNAL)) continue;
      if (!next || e.timer.due < next.due) next = { due: e.timer.due, certain: mine || next?.certain === true };
      else if (mine) next.certain = true;
    }
    return next;
  }

  private advanceTo(due: bigint): void {
    const now = this.clock.nowMicros;
    if (due > now) this.clock.advance(due - now);
    else this.timerInterrupt();
  }

  private describe(events: readonly bigint[]): string {
    return events.map((ev) => `${hex(ev)} (${typeName(this.events.get(ev)?.type ?? 0)})`).join(', ');
  }
}

function has(type: number, flags: number): boolean {
  return (type & flags) !== 0;
}

function compareTimers(a: Timer, b: Timer): number {
  return a.due < b.due ? -1 : a.due > b.due ? 1 : a.seq - b.seq;
}

export function typeName(type: number): string {
  type >>>= 0;
  if (type === EVT_SIGNAL_EXIT_BOOT_SERVICES) return 'EVT_SIGNAL_EXIT_BOOT_SERVICES';
  if (type === EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE) return 'EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE';
  const names: [number, string][] = [
    [EVT_TIMER, 'EVT_TIMER'], [EVT_RUNTIME, 'EVT_RUNTIME'], [EVT_NOTIFY_WAIT, 'EVT_NOTIFY_WAIT'], [EVT_NOTIFY_SIGNAL, 'EVT_NOTIFY_SIGNAL'],
  ];
  const parts = names.filter(([bit]) => has(type, bit)).map(([, n]) => n);
  return parts.length ? parts.join('|') : '0';
}

function groupName(guid: string): string {
  const known = Object.entries(GUID).find(([, g]) => g === guid);
  return known ? known[0] : guid;
}
