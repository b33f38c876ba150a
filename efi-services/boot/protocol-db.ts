// The protocol handler database (UEFI 2.10 §7.3): handles, their protocol interfaces, open records, notifications.
import { hex } from '../../core/hex';
import { GUID, guidToBytes } from '../../core/guid';
import { Platform } from '../platform';
import {
  EFI_ACCESS_DENIED, EFI_ALREADY_STARTED, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_UNSUPPORTED, EfiError,
} from '../../core/status';

/** OpenProtocol() Attributes (UEFI 2.10 §7.3.9). */
export const EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL = 0x01;
export const EFI_OPEN_PROTOCOL_GET_PROTOCOL = 0x02;
export const EFI_OPEN_PROTOCOL_TEST_PROTOCOL = 0x04;
export const EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER = 0x08;
export const EFI_OPEN_PROTOCOL_BY_DRIVER = 0x10;
export const EFI_OPEN_PROTOCOL_EXCLUSIVE = 0x20;

/** Opens that UninstallProtocolInterface may drop without asking anyone (UEFI 2.10 §7.3.3). */
const INFORMATIONAL_OPENS =
  EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL | EFI_OPEN_PROTOCOL_GET_PROTOCOL | EFI_OPEN_PROTOCOL_TEST_PROTOCOL;

/** EFI_LOCATE_SEARCH_TYPE (UEFI 2.10 §7.3.6). */
export const AllHandles = 0;
export const ByRegisterNotify = 1;
export const ByProtocol = 2;

/** Handles and registration keys are 16 firmware bytes starting with a signature, as edk2 IHANDLE starts "hndl". */
const HANDLE_SIGNATURE = 0x6c646e68; // "hndl"
const NOTIFY_SIGNATURE = 0x746f6e70; // "pnot"
const RECORD_SIZE = 16;

/** One EFI_OPEN_PROTOCOL_INFORMATION_ENTRY (UEFI 2.10 §7.3.11). */
export interface OpenProtocolInformationEntry {
  agent: bigint;
  controller: bigint;
  attributes: number;
  openCount: number;
}

/** One protocol interface on a handle. */
export interface ProtocolInterface {
  readonly guid: string;
  interface: bigint;
  readonly openers: OpenProtocolInformationEntry[];
  /** Position in this protocol's interface list: install order, moved to the end by a reinstall (edk2 ByProtocol). */
  order: number;
}

interface HandleRecord {
  readonly handle: bigint;
  /** In install order. */
  readonly protocols: ProtocolInterface[];
}

/** A RegisterProtocolNotify() registration and the handles LocateHandle(ByRegisterNotify) has yet to return. */
export interface ProtocolNotifyRecord {
  readonly registration: bigint;
  readonly guid: string;
  readonly event: bigint;
  readonly pending: bigint[];
}

export interface HandleReport {
  handle: bigint;
  protocols: { guid: string; name?: string; interface: bigint }[];
}

const GUID_NAMES = new Map<string, string>(Object.entries(GUID).map(([name, guid]) => [guid, name]));

/** The name stubemu gives a well-known GUID (guid.ts), if any. */
export function guidName(guid: string): string | undefined {
  return GUID_NAMES.get(guid.toLowerCase());
}

function fail(status: bigint, why: string): never {
  throw new EfiError(status, why);
}

export class ProtocolDatabase {
  /**
   * DisconnectController(controller, agent): stops a driver holding a BY_DRIVER open so the interface can be
   * uninstalled, reinstalled or opened EXCLUSIVE (UEFI 2.10 §7.3.3, §7.3.9). The firmware wires it to its driver
   * model (driver-model.ts); by default no driver can be stopped and such requests fail with EFI_ACCESS_DENIED.
   */
  disconnect: (controller: bigint, agent: bigint) => boolean = () => false;
  /** ConnectController(controller, NULL, NULL, TRUE) after a reinstall, as edk2 CoreReinstallProtocolInterface. */
  reconnect: (controller: bigint) => void = () => {};
  /** Agent that HandleProtocol records its BY_HANDLE_PROTOCOL open under (edk2: the DXE core image); 0n: none. */
  handleProtocolAgent = 0n;

  /** Insertion order is creation order (LocateHandle AllHandles). */
  private readonly records = new Map<bigint, HandleRecord>();
  private readonly registrations = new Map<bigint, ProtocolNotifyRecord>();
  private readonly guidCopies = new Map<string, bigint>();
  private order = 0;
  private created = 0;
  private registered = 0;

  constructor(
    private readonly platform: Platform,
    private readonly signalEvent: (event: bigint) => void,
    private readonly isEvent: (event: bigint) => boolean,
  ) {}

  isHandle(h: bigint): boolean {
    return this.records.has(h);
  }

  /** The protocol interface `guid` on `handle`, without recording an open; undefined for a non-handle. */
  find(handle: bigint, guid: string): ProtocolInterface | undefined {
    return this.records.get(handle)?.protocols.find((p) => p.guid === guid);
  }

  /** The interface of `guid` on `handle`, if installed. */
  interfaceOf(handle: bigint, guid: string): bigint | undefined {
    return this.find(handle, guid)?.interface;
  }

  /** Handles carrying `guid`, in that protocol's list order; empty when none. */
  handlesWith(guid: string): bigint[] {
    return this.interfacesOf(guid).map(([h]) => h);
  }

  /**
   * Firmware teardown of a handle (UnloadImage): every protocol goes without the in-use checks, and open records
   * naming the handle as agent or controller are dropped everywhere, as edk2 CoreUnloadImage does for the image.
   */
  removeHandle(handle: bigint): void {
    const rec = this.records.get(handle);
    if (rec) this.remove(rec, [...rec.protocols]);
    for (const r of this.records.values()) {
      for (const p of r.protocols) {
        const kept = p.openers.filter((o) => o.agent !== handle && o.controller !== handle);
        p.openers.splice(0, p.openers.length, ...kept);
      }
    }
  }

  /** InstallProtocolInterface (§7.3.2): `handle` 0n creates a handle. Returns the handle. */
  install(handle: bigint, guid: string, iface: bigint): bigint {
    return this.installMultiple(handle, [[guid, iface]]);
  }

  /**
   * InstallMultipleProtocolInterfaces (§7.3.17) without the device path check: all pairs or none. Notify events
   * are signalled after the last install, as edk2 holds them back by running at TPL_NOTIFY.
   */
  installMultiple(handle: bigint, pairs: readonly (readonly [string, bigint])[]): bigint {
    const existing = handle === 0n ? undefined : this.record(handle);
    const seen = new Set<string>();
    for (const [guid] of pairs) {
      if (seen.has(guid) || (existing && this.find(handle, guid))) {
        fail(EFI_INVALID_PARAMETER, `${guidName(guid) ?? guid} is already installed on the handle`);
      }
      seen.add(guid);
    }
    if (pairs.length === 0) return handle;
    const rec = existing ?? this.createHandle();
    const signals: bigint[] = [];
    for (const [guid, iface] of pairs) {
      rec.protocols.push({ guid, interface: iface, openers: [], order: ++this.order });
      this.queueNotify(rec.handle, guid, signals);
    }
    signals.forEach((e) => this.signalEvent(e));
    return rec.handle;
  }

  /** ReinstallProtocolInterface (§7.3.4): drivers are disconnected first and connected after; notifies as an install does. */
  reinstall(handle: bigint, guid: string, oldIface: bigint, newIface: bigint): void {
    this.record(handle);
    const p = this.find(handle, guid);
    if (!p || p.interface !== oldIface) {
      fail(EFI_NOT_FOUND, `OldInterface ${hex(oldIface)} is not installed on the handle`);
    }
    this.release(handle, p);
    p.interface = newIface;
    p.order = ++this.order;
    const signals: bigint[] = [];
    this.queueNotify(handle, guid, signals);
    signals.forEach((e) => this.signalEvent(e));
    // The drivers stopped above (and any other) get the new interface (UEFI 2.10 §7.3.4).
    this.reconnect(handle);
  }

  /** UninstallProtocolInterface (§7.3.3): a handle left without protocols is destroyed. */
  uninstall(handle: bigint, guid: string, iface: bigint): void {
    const rec = this.record(handle);
    const p = this.find(handle, guid);
    if (!p || p.interface !== iface) fail(EFI_NOT_FOUND, `interface ${hex(iface)} is not installed on the handle`);
    this.release(handle, p);
    this.remove(rec, [p]);
  }

  /**
   * UninstallMultipleProtocolInterfaces (§7.3.18): all pairs or none; any failure is EFI_INVALID_PARAMETER as the
   * spec lists it.
   */
  uninstallMultiple(handle: bigint, pairs: readonly (readonly [string, bigint])[]): void {
    const rec = this.record(handle);
    const found: ProtocolInterface[] = [];
    for (const [guid, iface] of pairs) {
      const p = this.find(handle, guid);
      if (!p || p.interface !== iface || found.includes(p)) {
        fail(EFI_INVALID_PARAMETER, `${guidName(guid) ?? guid} ${hex(iface)} is not installed on the handle`);
      }
      found.push(p);
    }
    for (const p of found) {
      try {
        this.release(handle, p);
      } catch (e) {
        if (e instanceof EfiError) fail(EFI_INVALID_PARAMETER, e.message);
        throw e;
      }
    }
    this.remove(rec, found);
  }

  /** HandleProtocol (§7.3.7): OpenProtocol BY_HANDLE_PROTOCOL, as edk2 and U-Boot implement it. */
  handleProtocol(handle: bigint, guid: string): bigint {
    return this.open(handle, guid, this.handleProtocolAgent, 0n, EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL);
  }

  /**
   * OpenProtocol (§7.3.9) after the pointer checks: attribute rules and open records. On EFI_ALREADY_STARTED the
   * caller still returns the interface (find()). An open by agent 0n is not recorded (edk2).
   */
  open(handle: bigint, guid: string, agent: bigint, controller: bigint, attributes: number): bigint {
    const rec = this.record(handle);
    switch (attributes) {
      case EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER:
        this.agentAndController(agent, controller);
        if (controller === handle) fail(EFI_INVALID_PARAMETER, 'BY_CHILD_CONTROLLER with ControllerHandle == Handle');
        break;
      case EFI_OPEN_PROTOCOL_BY_DRIVER:
      case EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE:
        this.agentAndController(agent, controller);
        break;
      case EFI_OPEN_PROTOCOL_EXCLUSIVE:
        if (!this.isHandle(agent)) fail(EFI_INVALID_PARAMETER, `AgentHandle ${hex(agent)} is not a handle`);
        break;
      case EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL:
      case EFI_OPEN_PROTOCOL_GET_PROTOCOL:
      case EFI_OPEN_PROTOCOL_TEST_PROTOCOL:
        break;
      default:
        fail(EFI_INVALID_PARAMETER, `Attributes 0x${attributes.toString(16)} is not a legal value`);
    }
    const p = rec.protocols.find((q) => q.guid === guid);
    if (!p) fail(EFI_UNSUPPORTED, `the handle does not support ${guidName(guid) ?? guid}`);

    // The open list decides, as edk2 CoreOpenProtocol: an identical BY_DRIVER open is EFI_ALREADY_STARTED, an
    // identical shared open only counts up.
    let byDriver = false;
    let exclusive = false;
    for (const o of p.openers) {
      const same = o.agent === agent && o.controller === controller && o.attributes === attributes;
      if (o.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER) {
        byDriver = true;
        if (same) fail(EFI_ALREADY_STARTED, `already opened by agent ${hex(agent)}`);
      }
      if (o.attributes & EFI_OPEN_PROTOCOL_EXCLUSIVE) exclusive = true;
      else if (same) {
        o.openCount++;
        return p.interface;
      }
    }
    if (attributes === EFI_OPEN_PROTOCOL_BY_DRIVER && (byDriver || exclusive)) {
      fail(EFI_ACCESS_DENIED, exclusive ? 'opened EXCLUSIVE' : 'opened BY_DRIVER by another agent');
    }
    if (attributes & EFI_OPEN_PROTOCOL_EXCLUSIVE) {
      if (exclusive) fail(EFI_ACCESS_DENIED, 'already opened EXCLUSIVE');
      this.disconnectDrivers(handle, p);
    }
    if (agent !== 0n) p.openers.push({ agent, controller, attributes, openCount: 1 });
    return p.interface;
  }

  /** CloseProtocol (§7.3.10): removes every open of (agent, controller). */
  close(handle: bigint, guid: string, agent: bigint, controller: bigint): void {
    this.record(handle);
    if (!this.isHandle(agent)) fail(EFI_INVALID_PARAMETER, `AgentHandle ${hex(agent)} is not a handle`);
    if (controller !== 0n && !this.isHandle(controller)) {
      fail(EFI_INVALID_PARAMETER, `ControllerHandle ${hex(controller)} is not a handle`);
    }
    const p = this.find(handle, guid);
    if (!p) fail(EFI_NOT_FOUND, `the handle does not support ${guidName(guid) ?? guid}`);
    const kept = p.openers.filter((o) => o.agent !== agent || o.controller !== controller);
    if (kept.length === p.openers.length) fail(EFI_NOT_FOUND, `not opened by agent ${hex(agent)}`);
    p.openers.splice(0, p.openers.length, ...kept);
  }

  /** OpenProtocolInformation (§7.3.11): copies of the open records. */
  openInformation(handle: bigint, guid: string): OpenProtocolInformationEntry[] {
    this.record(handle);
    const p = this.find(handle, guid);
    if (!p) fail(EFI_NOT_FOUND, `the handle does not support ${guidName(guid) ?? guid}`);
    return p.openers.map((o) => ({ ...o }));
  }

  /** ProtocolsPerHandle (§7.3.14): GUIDs in install order. */
  protocolsPerHandle(handle: bigint): string[] {
    return this.record(handle).protocols.map((p) => p.guid);
  }

  /**
   * LocateHandle (§7.3.6) matches. ByRegisterNotify only peeks at the next queued handle: the caller consumes it
   * with nextNotify() once it has been returned (edk2 moves the position only on success).
   */
  locateHandles(searchType: number, guid: string | undefined, searchKey: bigint): bigint[] {
    let found: bigint[];
    switch (searchType) {
      case AllHandles:
        found = [...this.records.keys()];
        break;
      case ByRegisterNotify: {
        const reg = this.registrations.get(searchKey);
        if (!reg) fail(EFI_INVALID_PARAMETER, `SearchKey ${hex(searchKey)} is not a registration`);
        found = reg.pending.slice(0, 1);
        break;
      }
      case ByProtocol:
        if (guid === undefined) fail(EFI_INVALID_PARAMETER, 'ByProtocol without Protocol');
        found = this.handlesWith(guid);
        break;
      default:
        fail(EFI_INVALID_PARAMETER, `SearchType ${searchType} is not an EFI_LOCATE_SEARCH_TYPE`);
    }
    if (found.length === 0) fail(EFI_NOT_FOUND, 'no handle matches');
    return found;
  }

  /** Takes the next handle installed since the registration, with its interface of the registered protocol. */
  nextNotify(registration: bigint): { handle: bigint; interface: bigint } | undefined {
    const reg = this.registrations.get(registration);
    const handle = reg?.pending.shift();
    if (reg === undefined || handle === undefined) return undefined;
    return { handle, interface: this.find(handle, reg.guid)!.interface };
  }

  /** RegisterProtocolNotify (§7.3.5): later installs and reinstalls of `guid` signal `event`. */
  registerNotify(guid: string, event: bigint): bigint {
    if (!this.isEvent(event)) fail(EFI_INVALID_PARAMETER, `Event ${hex(event)} is not an event`);
    const registration = this.platform.allocate(RECORD_SIZE);
    this.platform.mem.setU32(registration, NOTIFY_SIGNATURE);
    this.platform.mem.setU32(registration + 4n, ++this.registered);
    this.registrations.set(registration, { registration, guid, event, pending: [] });
    return registration;
  }

  /** Drops the registrations of a closed event (edk2 CoreCloseEvent → CoreUnregisterProtocolNotify). */
  unregisterNotify(event: bigint): void {
    for (const [key, reg] of this.registrations) if (reg.event === event) this.registrations.delete(key);
  }

  /** LocateProtocol (§7.3.16): the first interface installed, or the next one since `registration`. */
  locateProtocol(guid: string, registration = 0n): bigint {
    if (registration !== 0n) {
      const next = this.nextNotify(registration);
      if (!next) fail(EFI_NOT_FOUND, 'nothing installed since the registration');
      return next.interface;
    }
    const first = this.interfacesOf(guid)[0];
    if (!first) fail(EFI_NOT_FOUND, `no ${guidName(guid) ?? guid} installed`);
    return first[1].interface;
  }

  /** A firmware-owned copy of `guid` (what ProtocolsPerHandle points into, like edk2 PROTOCOL_ENTRY.ProtocolID). */
  guidAddress(guid: string): bigint {
    let a = this.guidCopies.get(guid);
    if (a === undefined) {
      a = this.platform.allocate(16);
      this.platform.mem.write(a, guidToBytes(guid));
      this.guidCopies.set(guid, a);
    }
    return a;
  }

  /** For the report: every handle in creation order with its protocols in install order. */
  handles(): HandleReport[] {
    return [...this.records.values()].map((r) => ({
      handle: r.handle,
      protocols: r.protocols.map((p) => ({ guid: p.guid, name: guidName(p.guid), interface: p.interface })),
    }));
  }

  notifications(): ProtocolNotifyRecord[] {
    return [...this.registrations.values()].map((r) => ({ ...r, pending: [...r.pending] }));
  }

  private record(handle: bigint): HandleRecord {
    const rec = this.records.get(handle);
    if (!rec) fail(EFI_INVALID_PARAMETER, `${hex(handle)} is not a handle`);
    return rec;
  }

  private agentAndController(agent: bigint, controller: bigint): void {
    if (!this.isHandle(agent)) fail(EFI_INVALID_PARAMETER, `AgentHandle ${hex(agent)} is not a handle`);
    if (!this.isHandle(controller)) fail(EFI_INVALID_PARAMETER, `ControllerHandle ${hex(controller)} is not a handle`);
  }

  private createHandle(): HandleRecord {
    const handle = this.platform.allocate(RECORD_SIZE);
    this.platform.mem.setU32(handle, HANDLE_SIGNATURE);
    this.platform.mem.setU32(handle + 4n, ++this.created);
    const rec = { handle, protocols: [] };
    this.records.set(handle, rec);
    return rec;
  }

  /** Handles carrying `guid` with that interface, in the protocol's list order (edk2 ProtEntry->Protocols). */
  private interfacesOf(guid: string): [bigint, ProtocolInterface][] {
    const out: [bigint, ProtocolInterface][] = [];
    for (const r of this.records.values()) {
      const p = r.protocols.find((q) => q.guid === guid);
      if (p) out.push([r.handle, p]);
    }
    return out.sort((a, b) => a[1].order - b[1].order);
  }

  /** CoreNotifyProtocolEntry: each registration for `guid` gets the handle queued (once, at the end). */
  private queueNotify(handle: bigint, guid: string, signals: bigint[]): void {
    for (const reg of this.registrations.values()) {
      if (reg.guid !== guid) continue;
      const at = reg.pending.indexOf(handle);
      if (at >= 0) reg.pending.splice(at, 1);
      reg.pending.push(handle);
      signals.push(reg.event);
    }
  }

  /** Stops BY_DRIVER openers through DisconnectController; any that stays is EFI_ACCESS_DENIED (§7.3.9). */
  private disconnectDrivers(handle: bigint, p: ProtocolInterface): void {
    for (const o of p.openers.filter((q) => q.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER)) {
      if (!this.disconnect(handle, o.agent)) fail(EFI_ACCESS_DENIED, `driver ${hex(o.agent)} cannot be disconnected`);
    }
    if (p.openers.some((q) => q.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER)) {
      fail(EFI_ACCESS_DENIED, 'a driver still has the protocol open');
    }
  }

  /**
   * Before an uninstall or reinstall (§7.3.3, §7.3.4; edk2 CoreDisconnectControllersUsingProtocolInterface):
   * drivers are disconnected, BY_HANDLE_PROTOCOL/GET_PROTOCOL/TEST_PROTOCOL opens dropped, and any other open
   * left (BY_CHILD_CONTROLLER, EXCLUSIVE) makes it EFI_ACCESS_DENIED.
   */
  private release(handle: bigint, p: ProtocolInterface): void {
    this.disconnectDrivers(handle, p);
    const inUse = p.openers.find((o) => (o.attributes & INFORMATIONAL_OPENS) === 0);
    if (inUse) {
      fail(EFI_ACCESS_DENIED, `opened with attributes 0x${inUse.attributes.toString(16)} by agent ${hex(inUse.agent)}`);
    }
    p.openers.length = 0;
  }

  private remove(rec: HandleRecord, gone: readonly ProtocolInterface[]): void {
    for (const p of gone) {
      rec.protocols.splice(rec.protocols.indexOf(p), 1);
      for (const reg of this.registrations.values()) {
        const at = reg.guid === p.guid ? reg.pending.indexOf(rec.handle) : -1;
        if (at >= 0) reg.pending.splice(at, 1);
      }
    }
    if (rec.protocols.length === 0) {
      // The last protocol takes the handle with it (§7.3.3); the signature is cleared as edk2 does.
      this.records.delete(rec.handle);
      this.platform.mem.fill(rec.handle, RECORD_SIZE, 0);
    }
  }
}
