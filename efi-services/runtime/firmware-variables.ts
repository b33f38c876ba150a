// Variables the firmware itself owns (UEFI 2.10 §3.3 "Globally Defined Variables"): Secure Boot state,
// supported OS indications and languages, as OVMF without enrolled keys reports them. Read-only to the guest.

import { GUID } from '../../core/guid';
import { EFI_VARIABLE, VariableStore } from './variable-store';

const BS_RT = EFI_VARIABLE.BOOTSERVICE_ACCESS | EFI_VARIABLE.RUNTIME_ACCESS;
const NV_BS_RT = EFI_VARIABLE.NON_VOLATILE | BS_RT;

export interface FirmwareVariableOptions {
  /** SecureBoot = 1 and SetupMode = 0 (a machine with enrolled keys); default: keys absent, setup mode. */
  secureBoot?: boolean;
}

export function defineFirmwareVariables(store: VariableStore, o: FirmwareVariableOptions = {}): void {
  const g = GUID.GLOBAL_VARIABLE;
  const u8 = (v: number) => Uint8Array.of(v);
  store.define(g, 'SecureBoot', BS_RT, u8(o.secureBoot ? 1 : 0));
  store.define(g, 'SetupMode', BS_RT, u8(o.secureBoot ? 0 : 1));
  // No AuditMode or DeployedMode: edk2 dropped them in 2016 (AuthVariableLib, "Remove Customized SecureBoot Mode
  // transition"), so OVMF has neither; a reader treats them as absent (0). PK/KEK/db/dbx: efi-services/security.
  // EFI_OS_INDICATIONS_BOOT_TO_FW_UI is not offered: there is no setup UI to boot into.
  store.define(g, 'OsIndicationsSupported', BS_RT, new Uint8Array(8));
  store.define(g, 'PlatformLangCodes', BS_RT, Buffer.from('en-US\0', 'latin1'));
  store.define(g, 'PlatformLang', NV_BS_RT, Buffer.from('en-US\0', 'latin1'));
  store.define(g, 'Timeout', NV_BS_RT, Uint8Array.of(0, 0));
}
