// EFI_BOOT_SERVICES protocol handler members (UEFI 2.10 §7.3): pointer checks and guest I/O over ProtocolDatabase.
import { BootServicesImpl } from '../tables/boot-services-decl';
import { CallInfo, ServiceFn } from '../../core/abi';
import { GUID, guidFromBytes } from '../../core/guid';
import { Platform } from '../platform';
import {
  devicePathAt, DevicePathError, DevicePathNode, encodedLength,
} from '../protocols/device-path';
import {
  EFI_ALREADY_STARTED, EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES,
  EFI_SUCCESS, EFI_UNSUPPORTED, EfiError, statusName,
} from '../../core/status';
import { locateDevicePath } from './locate-device-path';
import { ProtocolLookupService } from './missing-protocols';
import { ByProtocol, ByRegisterNotify, EFI_OPEN_PROTOCOL_TEST_PROTOCOL, ProtocolDatabase } from './protocol-db';

/** EFI_INTERFACE_TYPE (UEFI 2.10 §7.3.2): the only value defined. */
export const EFI_NATIVE_INTERFACE = 0n;

/** EFI_OPEN_PROTOCOL_INFORMATION_ENTRY (UEFI 2.10 §7.3.11). */
export const OPEN_PROTOCOL_INFORMATION_ENTRY = {
  AgentHandle: 0, ControllerHandle: 8, Attributes: 16, OpenCount: 20, size: 24,
} as const;
if (OPEN_PROTOCOL_INFORMATION_ENTRY.OpenCount + 4 !== OPEN_PROTOCOL_INFORMATION_ENTRY.size) {
  throw new Error('EFI_OPEN_PROTOCOL_INFORMATION_ENTRY layout');
}

/** GUID/interface pairs read before giving up on a missing NULL terminator in the variadic services. */
const MAX_VARIADIC_PAIRS = 256;

export interface ProtocolServicesOptions {
  /** AllocatePool(EfiBootServicesData) of the pool module: the buffer, or 0n / an EfiError when out of memory. */
  allocatePool: (size: number) => bigint;
  /** A handle's device path in binary form, overriding the DEVICE_PATH interface read from guest memory. */
  devicePathOf?: (handle: bigint) => Buffer | undefined;
  /** A lookup found no such protocol (missing-protocols.ts); `caller` is the return address. */
  onMiss?: (service: ProtocolLookupService, guid: string, caller: bigint) => void;
}

export function protocolServices(
  platform: Platform,
  db: ProtocolDatabase,
  options: ProtocolServicesOptions,
): BootServicesImpl {
  const mem = platform.mem;
  const guidAt = (p: bigint) => guidFromBytes(mem.read(p, 16));
  const invalid = (why: string): never => {
    throw new EfiError(EFI_INVALID_PARAMETER, why);
  };
  const pool = (size: number): bigint => {
    const a = options.allocatePool(size);
    if (a === 0n) throw new EfiError(EFI_OUT_OF_RESOURCES, `AllocatePool(${size}) failed`);
    return a;
  };

  const bestMatch = (guid: string, path: readonly DevicePathNode[]) => locateDevicePath(db, mem, guid, path, options.devicePathOf);

  /** A handle that already has exactly this device path (§7.3.17 EFI_ALREADY_STARTED; edk2 checks the same way). */
  const sameDevicePath = (iface: bigint): bigint | undefined => {
    if (iface === 0n) return undefined;
    let nodes: DevicePathNode[];
    try {
      nodes = devicePathAt(mem, iface).nodes;
    } catch (e) {
      if (e instanceof DevicePathError) return undefined;
      throw e;
    }
    const m = bestMatch(GUID.DEVICE_PATH, nodes);
    return m && m.length === encodedLength(nodes) ? m.handle : undefined;
  };

  /** The NULL-terminated GUID/interface pairs after the fixed arguments. */
  const varargPairs = (call: CallInfo): [string, bigint][] => {
    const pairs: [string, bigint][] = [];
    for (let i = 0; ; i += 2) {
      const protocol = call.vararg(i);
      if (protocol === 0n) return pairs;
      if (pairs.length >= MAX_VARIADIC_PAIRS) invalid(`no NULL terminator within ${MAX_VARIADIC_PAIRS} pairs`);
      pairs.push([guidAt(protocol), call.vararg(i + 1)]);
    }
  };

  /** LocateHandle's search; Protocol is read only for ByProtocol, the one search type that uses it. */
  const locate = (searchType: bigint, protocol: bigint, searchKey: bigint): bigint[] => {
    const type = Number(searchType);
    return db.locateHandles(type, type === ByProtocol && protocol !== 0n ? guidAt(protocol) : undefined, searchKey);
  };

  const writeHandles = (at: bigint, handles: readonly bigint[]) =>
    handles.forEach((h, i) => mem.setU64(at + BigInt(8 * i), h));

  const services: BootServicesImpl = {
    // §7.3.2
    InstallProtocolInterface: ([handlePtr, protocol, interfaceType, iface]) => {
      if (handlePtr === 0n) invalid('Handle is NULL');
      if (protocol === 0n) invalid('Protocol is NULL');
      if (interfaceType !== EFI_NATIVE_INTERFACE) invalid(`InterfaceType ${interfaceType} is not EFI_NATIVE_INTERFACE`);
      mem.setU64(handlePtr, db.install(mem.u64(handlePtr), guidAt(protocol), iface));
      return EFI_SUCCESS;
    },

    // §7.3.4
    ReinstallProtocolInterface: ([handle, protocol, oldIface, newIface]) => {
      if (!db.isHandle(handle)) invalid('Handle is not a handle');
      if (protocol === 0n) invalid('Protocol is NULL');
      db.reinstall(handle, guidAt(protocol), oldIface, newIface);
      return EFI_SUCCESS;
    },

    // §7.3.3
    UninstallProtocolInterface: ([handle, protocol, iface]) => {
      if (!db.isHandle(handle)) invalid('Handle is not a handle');
      if (protocol === 0n) invalid('Protocol is NULL');
      db.uninstall(handle, guidAt(protocol), iface);
      return EFI_SUCCESS;
    },

    // §7.3.7
    HandleProtocol: ([handle, protocol, ifacePtr]) => {
      if (!db.isHandle(handle)) invalid('Handle is not a handle');
      if (protocol === 0n) invalid('Protocol is NULL');
      if (ifacePtr === 0n) invalid('Interface is NULL');
      try {
        mem.setU64(ifacePtr, db.handleProtocol(handle, guidAt(protocol)));
      } catch (e) {
        if (e instanceof EfiError && e.status === EFI_UNSUPPORTED) mem.setU64(ifacePtr, 0n);
        throw e;
      }
      return EFI_SUCCESS;
    },

    // §7.3.5
    RegisterProtocolNotify: ([protocol, event, registrationPtr]) => {
      if (protocol === 0n) invalid('Protocol is NULL');
      if (event === 0n) invalid('Event is NULL');
      if (registrationPtr === 0n) invalid('Registration is NULL');
      mem.setU64(registrationPtr, db.registerNotify(guidAt(protocol), event));
      return EFI_SUCCESS;
    },

    // §7.3.6; checks and sizes as edk2 CoreLocateHandle
    LocateHandle: ([searchType, protocol, searchKey, sizePtr, buffer]) => {
      if (sizePtr === 0n) invalid('BufferSize is NULL');
      const size = mem.u64(sizePtr);
      if (size > 0n && buffer === 0n) invalid('Buffer is NULL');
      const handles = locate(searchType, protocol, searchKey);
      const needed = BigInt(8 * handles.length);
      mem.setU64(sizePtr, needed);
      if (needed > size) return EFI_BUFFER_TOO_SMALL;
      writeHandles(buffer, handles);
      if (Number(searchType) === ByRegisterNotify) db.nextNotify(searchKey);
      return EFI_SUCCESS;
    },

    // §7.3.8
    LocateDevicePath: ([protocol, devicePathPtr, devicePtr]) => {
      if (protocol === 0n) invalid('Protocol is NULL');
      if (devicePathPtr === 0n) invalid('DevicePath is NULL');
      const start = mem.u64(devicePathPtr);
      if (start === 0n) invalid('*DevicePath is NULL');
      let nodes: DevicePathNode[] = [];
      try {
        nodes = devicePathAt(mem, start).nodes;
      } catch (e) {
        if (e instanceof DevicePathError) invalid(`*DevicePath: ${e.message}`);
        throw e;
      }
      const match = bestMatch(guidAt(protocol), nodes);
      if (!match) throw new EfiError(EFI_NOT_FOUND, 'no handle has a device path that starts *DevicePath');
      if (devicePtr === 0n) invalid('a handle matched and Device is NULL');
      mem.setU64(devicePtr, match.handle);
      mem.setU64(devicePathPtr, start + BigInt(match.length));
      return EFI_SUCCESS;
    },

    // §7.3.9
    OpenProtocol: ([handle, protocol, ifacePtr, agent, controller, attributes]) => {
      if (protocol === 0n) invalid('Protocol is NULL');
      const test = Number(attributes) === EFI_OPEN_PROTOCOL_TEST_PROTOCOL;
      if (ifacePtr === 0n && !test) invalid('Interface is NULL');
      const guid = guidAt(protocol);
      try {
        const iface = db.open(handle, guid, agent, controller, Number(attributes));
        if (!test) mem.setU64(ifacePtr, iface);
      } catch (e) {
        // edk2: the interface is still returned with EFI_ALREADY_STARTED, NULL with EFI_UNSUPPORTED.
        if (e instanceof EfiError && !test) {
          if (e.status === EFI_ALREADY_STARTED) mem.setU64(ifacePtr, db.find(handle, guid)!.interface);
          if (e.status === EFI_UNSUPPORTED) mem.setU64(ifacePtr, 0n);
        }
        throw e;
      }
      return EFI_SUCCESS;
    },

    // §7.3.10
    CloseProtocol: ([handle, protocol, agent, controller]) => {
      if (!db.isHandle(handle)) invalid('Handle is not a handle');
      if (!db.isHandle(agent)) invalid('AgentHandle is not a handle');
      if (controller !== 0n && !db.isHandle(controller)) invalid('ControllerHandle is not a handle');
      if (protocol === 0n) invalid('Protocol is NULL');
      db.close(handle, guidAt(protocol), agent, controller);
      return EFI_SUCCESS;
    },

    // §7.3.11; NULL pointers are EFI_INVALID_PARAMETER as in U-Boot, an empty list still gets a buffer as in edk2
    OpenProtocolInformation: ([handle, protocol, entryBufferPtr, entryCountPtr]) => {
      if (!db.isHandle(handle)) invalid('Handle is not a handle');
      if (protocol === 0n) invalid('Protocol is NULL');
      if (entryBufferPtr === 0n) invalid('EntryBuffer is NULL');
      if (entryCountPtr === 0n) invalid('EntryCount is NULL');
      const entries = db.openInformation(handle, guidAt(protocol));
      const E = OPEN_PROTOCOL_INFORMATION_ENTRY;
      const buffer = pool(E.size * Math.max(1, entries.length));
      entries.forEach((o, i) => {
        const at = buffer + BigInt(E.size * i);
        mem.setU64(at + BigInt(E.AgentHandle), o.agent);
        mem.setU64(at + BigInt(E.ControllerHandle), o.controller);
        mem.setU32(at + BigInt(E.Attributes), o.attributes);
        mem.setU32(at + BigInt(E.OpenCount), o.openCount);
      });
      mem.setU64(entryBufferPtr, buffer);
      mem.setU64(entryCountPtr, BigInt(entries.length));
      return EFI_SUCCESS;
    },

    // §7.3.14
    ProtocolsPerHandle: ([handle, bufferPtr, countPtr]) => {
      if (!db.isHandle(handle)) invalid('Handle is not a handle');
      if (bufferPtr === 0n) invalid('ProtocolBuffer is NULL');
      if (countPtr === 0n) invalid('ProtocolBufferCount is NULL');
      const guids = db.protocolsPerHandle(handle);
      const buffer = pool(8 * guids.length);
      guids.forEach((g, i) => mem.setU64(buffer + BigInt(8 * i), db.guidAddress(g)));
      mem.setU64(bufferPtr, buffer);
      mem.setU64(countPtr, BigInt(guids.length));
      return EFI_SUCCESS;
    },

    // §7.3.15; outputs cleared first as edk2 CoreLocateHandleBuffer does
    LocateHandleBuffer: ([searchType, protocol, searchKey, countPtr, bufferPtr]) => {
      if (countPtr === 0n) invalid('NoHandles is NULL');
      if (bufferPtr === 0n) invalid('Buffer is NULL');
      mem.setU64(countPtr, 0n);
      mem.setU64(bufferPtr, 0n);
      const handles = locate(searchType, protocol, searchKey);
      const buffer = pool(8 * handles.length);
      writeHandles(buffer, handles);
      mem.setU64(bufferPtr, buffer);
      mem.setU64(countPtr, BigInt(handles.length));
      if (Number(searchType) === ByRegisterNotify) db.nextNotify(searchKey);
      return EFI_SUCCESS;
    },

    // §7.3.16
    LocateProtocol: ([protocol, registration, ifacePtr]) => {
      if (ifacePtr === 0n) invalid('Interface is NULL');
      if (protocol === 0n) invalid('Protocol is NULL');
      mem.setU64(ifacePtr, 0n);
      mem.setU64(ifacePtr, db.locateProtocol(guidAt(protocol), registration));
      return EFI_SUCCESS;
    },

    // §7.3.17: all or nothing, a device path already on another handle is EFI_ALREADY_STARTED
    InstallMultipleProtocolInterfaces: ([handlePtr], call) => {
      if (handlePtr === 0n) invalid('Handle is NULL');
      const handle = mem.u64(handlePtr);
      const pairs = varargPairs(call);
      // Pairs are judged in order as edk2 does: one the database refuses ends the checks and it reports it.
      const seen = new Set<string>();
      for (const [guid, iface] of pairs) {
        if ((handle !== 0n && !db.isHandle(handle)) || seen.has(guid) || db.find(handle, guid)) break;
        seen.add(guid);
        if (guid !== GUID.DEVICE_PATH) continue;
        const other = sameDevicePath(iface);
        if (other !== undefined) {
          throw new EfiError(EFI_ALREADY_STARTED, `handle 0x${other.toString(16)} already has this device path`);
        }
      }
      mem.setU64(handlePtr, db.installMultiple(handle, pairs));
      return EFI_SUCCESS;
    },

    // §7.3.18
    UninstallMultipleProtocolInterfaces: ([handle], call) => {
      db.uninstallMultiple(handle, varargPairs(call));
      return EFI_SUCCESS;
    },
  };

  /** The GUID a lookup asked for and did not find: NOT_FOUND (nothing has it) or UNSUPPORTED (not on that handle). */
  const missed = (name: string, args: readonly bigint[], status: bigint): string | undefined => {
    if (status !== EFI_NOT_FOUND && status !== EFI_UNSUPPORTED) return undefined;
    let protocol = 0n;
    if (name === 'LocateProtocol' && args[1] === 0n) protocol = args[0];
    else if (name === 'HandleProtocol' || name === 'OpenProtocol') protocol = args[1];
    else if ((name === 'LocateHandle' || name === 'LocateHandleBuffer') && Number(args[0]) === ByProtocol) protocol = args[1];
    return protocol === 0n ? undefined : guidAt(protocol);
  };

  // The reason behind a refusal goes into the call's trace entry; the dispatcher turns the EfiError into RAX.
  const traced: Record<string, ServiceFn<'EFI_STATUS'>> = {};
  for (const [name, impl] of Object.entries(services) as [string, ServiceFn<'EFI_STATUS'>][]) {
    traced[name] = (args, call) => {
      try {
        return impl(args, call);
      } catch (e) {
        if (e instanceof EfiError && e.message !== statusName(e.status)) {
          call.note(`${statusName(e.status)}: ${e.message}`);
        }
        if (e instanceof EfiError && options.onMiss) {
          const guid = missed(name, args, e.status);
          if (guid !== undefined) options.onMiss(name as ProtocolLookupService, guid, call.caller);
        }
        throw e;
      }
    };
  }
  // Every member in `services` is an EFI_STATUS one, checked there against its declaration.
  return traced as BootServicesImpl;
}
