// Protocols a guest asked for and the firmware did not have (issue 14): every LocateProtocol, HandleProtocol,
// OpenProtocol and LocateHandle(Buffer) ByProtocol that found nothing, by GUID, with who asked and how often. The
// first thing to read when a loader stops on a protocol OVMF has and stubemu does not.
import { protocolName } from '../../core/protocol-names';
import { guidName } from './protocol-db';

/** The services whose misses are counted (UEFI 2.10 §7.3). */
export const PROTOCOL_LOOKUP_SERVICES = ['LocateProtocol', 'HandleProtocol', 'OpenProtocol', 'LocateHandle', 'LocateHandleBuffer'] as const;
export type ProtocolLookupService = (typeof PROTOCOL_LOOKUP_SERVICES)[number];

export interface MissingProtocolCaller {
  /** BootServices.LocateProtocol, ... */
  service: string;
  /** image+offset of the return address. */
  caller: string;
  calls: number;
}

export interface MissingProtocolReport {
  guid: string;
  /** The spec's name, when stubemu knows the GUID. */
  name?: string;
  calls: number;
  /** Whether some handle had it at the end of the run (HandleProtocol/OpenProtocol misses on one handle). */
  installed: boolean;
  callers: MissingProtocolCaller[];
}

export class MissingProtocols {
  /** GUID → caller key → entry; Maps keep first-asked order, so reports are deterministic. */
  private readonly byGuid = new Map<string, Map<string, MissingProtocolCaller>>();

  record(service: ProtocolLookupService, guid: string, caller: string): void {
    const g = guid.toLowerCase();
    let callers = this.byGuid.get(g);
    if (!callers) this.byGuid.set(g, (callers = new Map()));
    const key = `${service}@${caller}`;
    const c = callers.get(key);
    if (c) c.calls++;
    else callers.set(key, { service: `BootServices.${service}`, caller, calls: 1 });
  }

  /** In the order first asked; `installed` tells whether a handle carries the GUID now. */
  report(isInstalled: (guid: string) => boolean): MissingProtocolReport[] {
    return [...this.byGuid.entries()].map(([guid, callers]) => {
      const list = [...callers.values()].map((c) => ({ ...c }));
      const name = protocolName(guid) ?? guidName(guid);
      return {
        guid,
        ...(name !== undefined ? { name } : {}),
        calls: list.reduce((n, c) => n + c.calls, 0),
        installed: isInstalled(guid),
        callers: list,
      };
    });
  }
}
