// ExitBootServices (UEFI 2.10 §7.4.6): the MapKey check, the exit-boot-services event groups, and the end of the run.
import { BootServicesImpl } from '../tables/boot-services-decl';
import { RunEnd } from '../../core/outcomes';
import { CallInfo } from '../../core/abi';
import { EFI_INVALID_PARAMETER } from '../../core/status';
import { EventSystem } from './events';
import { MemoryMap } from './memory-map';

export interface ExitBootServicesState {
  exited: boolean;
  /** Failed attempts (stale MapKey), for the report. */
  failedAttempts: number;
}

export interface HandOff {
  imageHandle: bigint;
  mapKey: bigint;
  /** Where the caller resumes (the return address) and its RSP after the return. */
  returnAddress: bigint;
  stackPointer: bigint;
}

export function exitBootServicesService(
  map: MemoryMap,
  events: EventSystem,
  state: ExitBootServicesState,
  /** TCG PFP §10.4.5: "Exit Boot Services Invocation", then "... Returned with Success" or "... with Failure" (PCR 5). */
  measure: (success: boolean) => void,
  onExit: (h: HandOff, call: CallInfo) => Record<string, unknown>,
): BootServicesImpl {
  return {
    ExitBootServices: ([imageHandle, mapKey], call) => {
      // UEFI 2.8+: EFI_EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES is signalled before the map key is checked (edk2 order).
      events.signalBeforeExitBootServices();
      if (mapKey !== BigInt(map.mapKey)) {
        state.failedAttempts++;
        measure(false);
        call.note(`MapKey 0x${mapKey.toString(16)} is stale; current key is 0x${map.mapKey.toString(16)}`);
        return EFI_INVALID_PARAMETER;
      }
      measure(true);
      state.exited = true;
      // Notify functions of EVT_SIGNAL_EXIT_BOOT_SERVICES events run now, in the guest; boot services they call
      // are reported as guest errors (UEFI 2.10: they must not use memory allocation services, ...).
      events.exitBootServices();
      const details = onExit({ imageHandle, mapKey, returnAddress: call.caller, stackPointer: call.stackPointer + 8n }, call);
      throw new RunEnd('exit-boot-services', details);
    },
  };
}
