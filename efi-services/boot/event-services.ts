// EFI_BOOT_SERVICES task priority, event and timer services (UEFI 2.10 §7.1) over the EventSystem model.
import { hex } from '../../core/hex';
import { BootServicesImpl } from '../tables/boot-services-decl';
import { guidFromBytes } from '../../core/guid';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS, EfiStatus, statusName } from '../../core/status';
import { GuestMemoryError } from '../../core/guest-memory';
import { CreateResult, EventSystem } from './events';

/** A TPL argument as a number; anything beyond 32 bits is out of range however it rounds. */
const tplOf = (v: bigint) => (v > 0xffff_ffffn ? Number.MAX_SAFE_INTEGER : Number(v));

export function eventServices(platform: Platform, events: EventSystem): BootServicesImpl {
  const mem = platform.mem;

  /** *Event receives the new event; an unwritable pointer faults the guest and leaves no event behind. */
  function publish(r: CreateResult, eventPtr: bigint, note: (text: string) => void): EfiStatus {
    if (r.status !== EFI_SUCCESS) return r.status;
    try {
      mem.setU64(eventPtr, r.event);
    } catch (e) {
      events.close(r.event);
      throw e;
    }
    note(`*Event = ${hex(r.event)}`);
    return EFI_SUCCESS;
  }

  return {
    // UEFI 2.10 §7.1.8 RaiseTPL returns the previous TPL.
    RaiseTPL([newTpl]) {
      return BigInt(events.raiseTpl(tplOf(newTpl)));
    },

    // UEFI 2.10 §7.1.9 RestoreTPL is VOID.
    RestoreTPL([oldTpl]) {
      events.restoreTpl(tplOf(oldTpl));
    },

    // UEFI 2.10 §7.1.1 CreateEvent: Event NULL first, then Type, NotifyTpl, NotifyFunction (in the model).
    CreateEvent([type, notifyTpl, notifyFunction, notifyContext, eventPtr], call) {
      if (eventPtr === 0n) return EFI_INVALID_PARAMETER;
      return publish(events.create(Number(type), tplOf(notifyTpl), notifyFunction, notifyContext), eventPtr, call.note);
    },

    // UEFI 2.10 §7.1.2 CreateEventEx: as CreateEvent, with an optional EventGroup GUID.
    CreateEventEx([type, notifyTpl, notifyFunction, notifyContext, groupPtr, eventPtr], call) {
      if (eventPtr === 0n) return EFI_INVALID_PARAMETER;
      const group = groupPtr === 0n ? undefined : guidFromBytes(mem.read(groupPtr, 16));
      if (group !== undefined) call.note(`EventGroup ${group}`);
      return publish(events.create(Number(type), tplOf(notifyTpl), notifyFunction, notifyContext, group), eventPtr, call.note);
    },

    // UEFI 2.10 §7.1.7 SetTimer.
    SetTimer([event, type, triggerTime]) {
      return events.setTimer(event, Number(type), triggerTime);
    },

    // UEFI 2.10 §7.1.3 WaitForEvent: NumberOfEvents 0 and a NULL Event array are invalid; *Index names the
    // event that ended the wait or the invalid one (a NULL Index is tolerated, as edk2 does).
    WaitForEvent([count, eventsPtr, indexPtr], call) {
      if (count === 0n) return EFI_INVALID_PARAMETER;
      if (eventsPtr === 0n) return EFI_INVALID_PARAMETER;
      const n = Number(count);
      if (!mem.isMapped(eventsPtr, n * 8)) throw new GuestMemoryError(eventsPtr, n * 8, 'read');
      const list = Array.from({ length: n }, (_, i) => mem.u64(eventsPtr + BigInt(8 * i)));
      const r = events.waitForEvent(list);
      if (r.index !== undefined && indexPtr !== 0n) mem.setU64(indexPtr, BigInt(r.index));
      const waited = r.waitedMicros ? `, after ${r.waitedMicros} µs of virtual time` : '';
      call.note(`${statusName(r.status)}${r.index === undefined ? '' : ` at index ${r.index}`}${waited}`);
      return r.status;
    },

    // UEFI 2.10 §7.1.4 SignalEvent.
    SignalEvent([event]) {
      return events.signal(event);
    },

    // UEFI 2.10 §7.1.5 CloseEvent.
    CloseEvent([event]) {
      return events.close(event);
    },

    // UEFI 2.10 §7.1.6 CheckEvent.
    CheckEvent([event]) {
      return events.check(event);
    },
  };
}
