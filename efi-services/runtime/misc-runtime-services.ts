// Runtime services other than variables and time (UEFI 2.10 §8.4-§8.5): ResetSystem ends the run,
// monotonic high count; virtual addressing and capsules are not provided and say so.
import { RuntimeServicesImpl } from '../tables/runtime-services-decl';
import { RunEnd } from '../../core/outcomes';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS, statusName } from '../../core/status';
import { MiscState } from '../boot/misc-services';

const RESET_TYPES = ['EfiResetCold', 'EfiResetWarm', 'EfiResetShutdown', 'EfiResetPlatformSpecific'];

export function miscRuntimeServices(platform: Platform, state: MiscState): RuntimeServicesImpl {
  const mem = platform.mem;
  return {
    GetNextHighMonotonicCount: ([out]) => {
      if (out === 0n) return EFI_INVALID_PARAMETER;
      state.monotonic = ((state.monotonic >> 32n) + 1n) << 32n;
      mem.setU32(out, Number(state.monotonic >> 32n));
      return EFI_SUCCESS;
    },
    ResetSystem: ([type, status, dataSize, data]) => {
      let text: string | undefined;
      if (data !== 0n && dataSize >= 2n) {
        try {
          text = mem.utf16z(data, Number(dataSize / 2n));
        } catch {
          text = undefined;
        }
      }
      throw new RunEnd('reset', {
        resetType: RESET_TYPES[Number(type)] ?? `0x${type.toString(16)}`,
        status: statusName(status),
        ...(text !== undefined ? { data: text } : {}),
      });
    },
    // SetVirtualAddressMap, ConvertPointer, UpdateCapsule, QueryCapsuleCapabilities: not provided;
    // runs end at ExitBootServices, before an OS could call them. They report as unimplemented.
  };
}
