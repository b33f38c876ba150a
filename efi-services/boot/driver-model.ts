// The UEFI driver model (UEFI 2.10 §7.3.12, §7.3.13): ConnectController and DisconnectController over the guest's
// EFI_DRIVER_BINDING_PROTOCOL instances, in the order and with the results edk2 DxeCore gives
// (MdeModulePkg/Core/Dxe/Hand/DriverSupport.c CoreConnectController, CoreConnectSingleController,
// CoreDisconnectController). The platform and bus-specific driver override protocols are not consulted: stubemu
// installs neither, and a guest that does is not asked.
import { hex } from '../../core/hex';
import { EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_NOT_READY, EFI_SUCCESS, EfiStatus, isError, statusName } from '../../core/status';
import { callMember, memberAddress } from '../interface';
import { BootServicesImpl } from '../tables/boot-services-decl';
import { Platform } from '../platform';
import { EFI_DRIVER_BINDING_PROTOCOL, EFI_DRIVER_BINDING_PROTOCOL_GUID } from '../protocols/driver-binding';
import { EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER, EFI_OPEN_PROTOCOL_BY_DRIVER, ProtocolDatabase } from './protocol-db';

/** END_DEVICE_PATH_TYPE (UEFI 2.10 §10.3.1). */
const END_DEVICE_PATH_TYPE = 0x7f;
/** Entries read from a DriverImageHandle list before it is taken as missing its NULL terminator. */
const MAX_DRIVER_IMAGE_HANDLES = 1024;

export class DriverModel {
  constructor(
    private readonly platform: Platform,
    private readonly db: ProtocolDatabase,
    /** Firmware pool for the ChildHandleBuffer passed to Stop. */
    private readonly scratch: { allocate(n: number): bigint; free(a: bigint): void },
    /** `name` of a loaded image, for the notes. */
    private readonly imageName: (handle: bigint) => string | undefined = () => undefined,
    /** Records a Supported/Start/Stop call on the trace entry of the service being run (CallLog.note). */
    private readonly note: (text: string) => void = () => {},
  ) {}

  /** The two EFI_BOOT_SERVICES members. */
  services(): Pick<BootServicesImpl, 'ConnectController' | 'DisconnectController'> {
    return {
      ConnectController: ([controller, driverImageHandles, remainingDevicePath, recursive]) =>
        this.connect(controller, driverImageHandles, remainingDevicePath, recursive !== 0n),
      DisconnectController: ([controller, driver, child]) => this.disconnect(controller, driver, child),
    };
  }

  /**
   * ConnectController (§7.3.12). RemainingDevicePath is passed to the drivers as given (edk2 passes an aligned
   * copy of the same bytes). Children are the handles that opened a protocol of the controller BY_CHILD_CONTROLLER.
   */
  connect(controller: bigint, driverImageHandles: bigint, remainingDevicePath: bigint, recursive: boolean): EfiStatus {
    if (!this.db.isHandle(controller)) return EFI_INVALID_PARAMETER;
    const context = this.handleList(driverImageHandles);
    let status: EfiStatus;
    // A driver binding installed while the drivers ran (EFI_NOT_READY in edk2) restarts the connect.
    do status = this.connectSingle(controller, context, remainingDevicePath);
    while (status === EFI_NOT_READY);
    if (recursive && this.db.isHandle(controller)) {
      for (const child of this.openers(controller, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER).map((o) => o.controller)) {
        this.connect(child, 0n, 0n, true);
      }
    }
    return status;
  }

  /**
   * DisconnectController (§7.3.13): each driver holding a BY_DRIVER open on the controller (or only
   * `driverImageHandle`) is asked to Stop its children, then, when none is left, the controller itself.
   */
  disconnect(controller: bigint, driverImageHandle: bigint, childHandle: bigint): EfiStatus {
    if (!this.db.isHandle(controller)) return EFI_INVALID_PARAMETER;
    if (driverImageHandle !== 0n && !this.db.isHandle(driverImageHandle)) return EFI_INVALID_PARAMETER;
    if (childHandle !== 0n && !this.db.isHandle(childHandle)) return EFI_INVALID_PARAMETER;
    const drivers = driverImageHandle !== 0n ? [driverImageHandle]
      : unique(this.openers(controller, EFI_OPEN_PROTOCOL_BY_DRIVER).map((o) => o.agent));
    // No driver manages the controller: nothing to do (§7.3.13 EFI_SUCCESS).
    if (drivers.length === 0) return EFI_SUCCESS;
    let stopped = 0;
    for (const driver of drivers) {
      const binding = this.db.interfaceOf(driver, EFI_DRIVER_BINDING_PROTOCOL_GUID);
      if (binding === undefined) {
        this.note(`agent ${hex(driver)} holds a BY_DRIVER open but has no EFI_DRIVER_BINDING_PROTOCOL`);
        return EFI_INVALID_PARAMETER;
      }
      if (!this.db.isHandle(controller)) break;
      const mine = this.allOpeners(controller).filter((o) => o.agent === driver);
      if (!mine.some((o) => o.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER)) continue;
      const children = unique(mine.filter((o) => o.attributes & EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER).map((o) => o.controller));
      if (childHandle !== 0n && !children.includes(childHandle)) continue;
      const toStop = childHandle !== 0n ? [childHandle] : children;
      let status: EfiStatus = EFI_SUCCESS;
      if (toStop.length > 0) status = this.stop(binding, controller, toStop);
      // The controller itself stops once all its children of this driver are gone.
      if (!isError(status) && (childHandle === 0n || children.length === toStop.length)) status = this.stop(binding, controller, []);
      if (!isError(status)) stopped++;
    }
    return stopped > 0 ? EFI_SUCCESS : EFI_NOT_FOUND;
  }

  /** CoreConnectSingleController: the drivers in priority order, each Supported then Start until none accepts. */
  private connectSingle(controller: bigint, context: bigint[], remainingDevicePath: bigint): EfiStatus {
    const bindingHandles = this.db.handlesWith(EFI_DRIVER_BINDING_PROTOCOL_GUID);
    if (bindingHandles.length === 0) return EFI_NOT_FOUND;
    const sorted: bigint[] = [];
    const add = (h: bigint) => {
      const b = this.db.interfaceOf(h, EFI_DRIVER_BINDING_PROTOCOL_GUID);
      if (b !== undefined && b !== 0n && !sorted.includes(b)) sorted.push(b);
    };
    // 1. The caller's DriverImageHandle list, in its order (handles carrying a driver binding).
    context.forEach(add);
    // 2. (Platform and bus-specific overrides: not consulted.) 3. The rest by Version, highest first, with edk2's
    // selection sort: each pick swaps places, so equal versions need not stay in handle-database order.
    const firstRest = sorted.length;
    bindingHandles.forEach(add);
    if (this.db.handlesWith(EFI_DRIVER_BINDING_PROTOCOL_GUID).length > bindingHandles.length) return EFI_NOT_READY;
    const rest = sorted.splice(firstRest);
    for (let i = 0; i < rest.length; i++) {
      let hi = i;
      for (let j = i + 1; j < rest.length; j++) if (this.version(rest[j]) > this.version(rest[hi])) hi = j;
      [rest[i], rest[hi]] = [rest[hi], rest[i]];
    }
    sorted.push(...rest);

    // Each pass calls Supported in order until one accepts; that one is started and leaves the list; passes repeat
    // until none accepts.
    const pending: (bigint | undefined)[] = [...sorted];
    let oneStarted = false;
    for (let found = true; found;) {
      found = false;
      for (let i = 0; i < pending.length && !found; i++) {
        const b = pending[i];
        if (b === undefined) continue;
        const supported = this.call(b, 'Supported', [controller, remainingDevicePath]);
        if (isError(supported)) continue;
        pending[i] = undefined;
        found = true;
        if (!isError(this.call(b, 'Start', [controller, remainingDevicePath]))) oneStarted = true;
      }
    }
    if (oneStarted) return EFI_SUCCESS;
    // No driver started, but the caller asked for no child (an End node): §7.3.12 EFI_SUCCESS.
    if (remainingDevicePath !== 0n && this.platform.mem.u8(remainingDevicePath) === END_DEVICE_PATH_TYPE) return EFI_SUCCESS;
    return EFI_NOT_FOUND;
  }

  private stop(binding: bigint, controller: bigint, children: bigint[]): EfiStatus {
    if (children.length === 0) return this.call(binding, 'Stop', [controller, 0n, 0n]);
    const buffer = this.scratch.allocate(8 * children.length);
    try {
      children.forEach((c, i) => this.platform.mem.setU64(buffer + BigInt(8 * i), c));
      return this.call(binding, 'Stop', [controller, BigInt(children.length), buffer]);
    } finally {
      this.scratch.free(buffer);
    }
  }

  /** Calls a member through the pointer in the guest's table and notes it with its result. */
  private call(binding: bigint, member: 'Supported' | 'Start' | 'Stop', args: bigint[]): EfiStatus {
    const image = this.platform.mem.u64(memberAddress(binding, EFI_DRIVER_BINDING_PROTOCOL, 'ImageHandle'));
    const who = `DriverBinding ${hex(binding)} (${this.imageName(image) ?? `image ${hex(image)}`}, Version 0x${this.version(binding).toString(16)})`;
    const status = BigInt.asUintN(64, callMember(this.platform, binding, EFI_DRIVER_BINDING_PROTOCOL, member, [binding, ...args], `${who}.${member}`));
    const detail = member === 'Stop' ? `NumberOfChildren ${args[1]}` : `RemainingDevicePath ${hex(args[1])}`;
    this.note(`${who}.${member}(ControllerHandle ${hex(args[0])}, ${detail}) = ${statusName(status)}`);
    return status;
  }

  private version(binding: bigint): number {
    return this.platform.mem.u32(memberAddress(binding, EFI_DRIVER_BINDING_PROTOCOL, 'Version'));
  }

  /** The NULL-terminated EFI_HANDLE array ConnectController takes; 0n: none. */
  private handleList(address: bigint): bigint[] {
    const out: bigint[] = [];
    for (let a = address; a !== 0n; a += 8n) {
      const h = this.platform.mem.u64(a);
      if (h === 0n) break;
      if (out.length >= MAX_DRIVER_IMAGE_HANDLES) break;
      out.push(h);
    }
    return out;
  }

  /** Open records on every protocol of `handle` with `attribute` set, in protocol then open order (edk2 lists). */
  private openers(handle: bigint, attribute: number) {
    return this.allOpeners(handle).filter((o) => o.attributes & attribute);
  }

  private allOpeners(handle: bigint) {
    return this.db.protocolsPerHandle(handle).flatMap((g) => this.db.find(handle, g)?.openers.map((o) => ({ ...o })) ?? []);
  }
}

function unique(hs: bigint[]): bigint[] {
  return [...new Set(hs)];
}
