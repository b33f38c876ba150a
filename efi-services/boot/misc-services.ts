// Miscellaneous boot services (UEFI 2.10 §7.5): monotonic count, Stall, watchdog, CRC32, CopyMem/SetMem,
// and InstallConfigurationTable (§7.3.16).
import { BootServicesImpl } from '../tables/boot-services-decl';
import { VirtualClock } from '../clock';
import { crc32 } from '../crc32';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS } from '../../core/status';
import { ConfigurationTables, readGuid } from '../tables/system-table';

export interface MiscState {
  /** GetNextMonotonicCount: high 32 bits are the boot count (0 here), low 32 bits count calls. */
  monotonic: bigint;
  watchdog?: { timeoutSeconds: bigint; code: bigint; data?: string };
}

export function miscServices(platform: Platform, clock: VirtualClock, configTables: ConfigurationTables, state: MiscState): BootServicesImpl {
  const mem = platform.mem;
  return {
    GetNextMonotonicCount: ([count]) => {
      if (count === 0n) return EFI_INVALID_PARAMETER;
      mem.setU64(count, state.monotonic);
      state.monotonic++;
      return EFI_SUCCESS;
    },
    Stall: ([micros]) => {
      clock.advance(micros);
      return EFI_SUCCESS;
    },
    SetWatchdogTimer: ([timeout, code, dataSize, data]) => {
      // Codes 0x0000-0xFFFF are reserved for the firmware (UEFI 2.10 §7.5.2).
      if (code <= 0xffffn && timeout !== 0n) return EFI_INVALID_PARAMETER;
      state.watchdog = timeout === 0n ? undefined : {
        timeoutSeconds: timeout,
        code,
        data: data !== 0n && dataSize >= 2n ? mem.utf16z(data, Number(dataSize / 2n)) : undefined,
      };
      return EFI_SUCCESS;
    },
    CalculateCrc32: ([data, size, out]) => {
      if (data === 0n || out === 0n || size === 0n) return EFI_INVALID_PARAMETER;
      mem.setU32(out, crc32(mem.view(data, Number(size))));
      return EFI_SUCCESS;
    },
    CopyMem: ([dest, src, length]) => {
      if (length !== 0n) mem.copy(dest, src, Number(length), true);
    },
    SetMem: ([buffer, size, value]) => {
      if (size !== 0n) mem.fill(buffer, Number(size), Number(value), true);
    },
    InstallConfigurationTable: ([guid, table]) => {
      if (guid === 0n) return EFI_INVALID_PARAMETER;
      return configTables.install(readGuid(mem, guid), table) ? EFI_SUCCESS : EFI_NOT_FOUND;
    },
  };
}
