// The machine both sides boot on: one place for memory size, SMBIOS identity, Secure Boot and PCR banks, so the
// QEMU command line and stubemu's options cannot drift apart.
import { HashAlgorithmName } from '../../efi-services/tcg/pcr-banks';

export const MACHINE = {
  /** 1 GiB on both sides (QEMU -m 1024; stubemu memoryBytes). */
  memoryMiB: 1024,
  /** stubemu's SMBIOS type 0/1 strings (efi-services/tables/smbios.ts defaults), given to QEMU with -smbios. */
  smbios: { biosVendor: 'stubemu', biosVersion: '1.0', biosDate: '01/01/2024', manufacturer: 'stubemu', product: 'stubemu virtual machine', version: '1.0' },
  /** Secure Boot off: OVMF_CODE_4M.fd with the empty OVMF_VARS_4M.fd (no PK), stubemu's default. */
  secureBoot: false,
  /** swtpm's default allocation (sha1 + sha256) is what OVMF activates; stubemu's default banks. */
  pcrBanks: ['sha1', 'sha256'] as readonly HashAlgorithmName[],
} as const;

/** QEMU's SMBIOS options for the identity above (-smbios type=0 and type=1). */
export function qemuSmbiosArgs(): string[] {
  const s = MACHINE.smbios;
  const esc = (v: string) => v.replace(/,/g, ',,');
  return [
    '-smbios', `type=0,vendor=${esc(s.biosVendor)},version=${esc(s.biosVersion)},date=${esc(s.biosDate)}`,
    '-smbios', `type=1,manufacturer=${esc(s.manufacturer)},product=${esc(s.product)},version=${esc(s.version)}`,
  ];
}
