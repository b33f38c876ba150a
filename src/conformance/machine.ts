// The machine both sides boot on: one place for memory size, SMBIOS identity, Secure Boot and PCR banks, so the
// QEMU command line and stubemu's options cannot drift apart.
import { DEFAULT_PCR_BANKS } from '../../efi-services/tcg/pcr-banks';
import { defaultSystemUuid } from '../../efi-services/tables/smbios';

export const MACHINE = {
  /** 1 GiB on both sides (QEMU -m 1024; stubemu memoryBytes). */
  memoryMiB: 1024,
  /**
   * stubemu's SMBIOS identity (efi-services/tables/smbios.ts defaults: no serial number, type 1 family "Virtual
   * Machine", the name-based default UUID), given to QEMU with -smbios and -uuid.
   */
  smbios: {
    biosVendor: 'stubemu', biosVersion: '1.0', biosDate: '01/01/2024', manufacturer: 'stubemu', product: 'stubemu virtual machine', version: '1.0',
    serial: '', family: 'Virtual Machine',
  },
  /** Secure Boot off: OVMF_CODE_4M.fd with the empty OVMF_VARS_4M.fd (no PK), stubemu's default. */
  secureBoot: false,
  /** swtpm's default allocation (sha1 + sha256) is what OVMF activates; stubemu's default banks. */
  pcrBanks: DEFAULT_PCR_BANKS,
} as const;

/**
 * QEMU's SMBIOS options for the identity above. systemd-stub 261+ measures types 1 and 2 into PCR 1, so QEMU gets
 * every field stubemu fills in them: without -uuid QEMU 7.2 leaves the type 1 UUID zero, without family= it has no
 * family string, and it builds the optional type 2 only when some type=2 field is given (its chassis handle is then
 * 0x300, board type 0Ah, feature flags 01h, as stubemu's).
 */
export function qemuSmbiosArgs(): string[] {
  const s = MACHINE.smbios;
  const esc = (v: string) => v.replace(/,/g, ',,');
  return [
    '-uuid', defaultSystemUuid(s.manufacturer, s.product, s.serial),
    '-smbios', `type=0,vendor=${esc(s.biosVendor)},version=${esc(s.biosVersion)},date=${esc(s.biosDate)}`,
    '-smbios', `type=1,manufacturer=${esc(s.manufacturer)},product=${esc(s.product)},version=${esc(s.version)},family=${esc(s.family)}`,
    '-smbios', `type=2,manufacturer=${esc(s.manufacturer)},product=${esc(s.product)},version=${esc(s.version)}`,
  ];
}
