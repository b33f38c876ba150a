// The Secure Boot row: both sides boot with the keys of Debian's OVMF_VARS_4M.ms.fd (OVMF from its varstore,
// stubemu with --ms-keys read from the same bytes). BOOTX64.EFI is Debian's shim, signed by Microsoft (db allows it
// through the Microsoft UEFI CA 2011); shim's default second stage, \EFI\BOOT\grubx64.efi, is the case's UKI signed
// at run time with a fresh key that is enrolled as shim's MokList (an NV+BS variable, written into the varstore copy
// for OVMF and seeded for stubemu). The key changes per run; both sides get the same one.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureFilePath, readFixtureFile } from '../../scripts/fixtures/manifest';
import { EFI_VARIABLE } from '../../efi-services/runtime/variable-store';
import { VariableSeed } from '../../efi-services/runtime/variables-json';
import { appendVariables, msKeysFromVarstore } from '../../efi-services/security/ms-keys';
import { SecureBootKeys } from '../../efi-services/security/secure-boot';
import { EFI_CERT, encodeSignatureList } from '../../efi-services/security/signature-list';

/** SHIM_LOCK_GUID: the namespace of MokList and shim's other variables. */
export const SHIM_LOCK_GUID = '605dab50-e046-4300-abb6-3dd810dd8b23';
/** Owner of the MokList entry (any GUID; mokutil writes the shim GUID). */
const MOK_OWNER = SHIM_LOCK_GUID;
/** Where shim looks for its second stage when it has no LoadOptions (shim's DEFAULT_LOADER). */
export const SHIM_SECOND_STAGE = ['EFI', 'BOOT', 'grubx64.efi'];

export interface SecureBootSetup {
  /** OVMF_CODE_4M.secboot.fd of the pinned ovmf fixture. */
  readonly ovmfCode: string;
  /** The varstore OVMF boots with: OVMF_VARS_4M.ms.fd plus MokList. */
  readonly ovmfVars: string;
  /** What stubemu gets: the same PK/KEK/db/dbx and the same MokList. */
  readonly keys: SecureBootKeys;
  readonly variables: VariableSeed[];
  cleanup(): void;
}

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`${cmd} ${args[0]} failed: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().slice(-300)}`);
  }
}

/**
 * Writes shim and the signed UKI into the ESP and prepares both machines' keys. Needs openssl and sbsign
 * (sbsigntool), as the tests do.
 */
export function prepareSecureBoot(espDir: string, uki: Buffer): SecureBootSetup {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-conformance-sb-'));
  try {
    const key = join(dir, 'mok.key');
    const crt = join(dir, 'mok.crt');
    const der = join(dir, 'mok.der');
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650', '-subj', '/CN=stubemu conformance MOK/', '-keyout', key, '-out', crt]);
    run('openssl', ['x509', '-in', crt, '-outform', 'DER', '-out', der]);
    const unsigned = join(dir, 'uki.efi');
    writeFileSync(unsigned, uki);
    const second = join(espDir, ...SHIM_SECOND_STAGE);
    mkdirSync(join(espDir, 'EFI', 'BOOT'), { recursive: true });
    run('sbsign', ['--key', key, '--cert', crt, '--output', second, unsigned]);
    copyFileSync(fixtureFilePath('shim', 'shimx64.efi'), join(espDir, 'EFI', 'BOOT', 'BOOTX64.EFI'));

    const mokList = encodeSignatureList(EFI_CERT.X509, [{ owner: MOK_OWNER, data: readFileSync(der) }]);
    // shim ignores (and erases) a MokList with RUNTIME_ACCESS: only the boot-time NV variable is trusted.
    const attributes = EFI_VARIABLE.NON_VOLATILE | EFI_VARIABLE.BOOTSERVICE_ACCESS;
    const fd = appendVariables(readFixtureFile('ovmf', 'OVMF_VARS_4M.ms.fd'), [{ guid: SHIM_LOCK_GUID, name: 'MokList', attributes, data: mokList }], 'OVMF_VARS_4M.ms.fd');
    const ovmfVars = join(dir, 'OVMF_VARS_4M.ms+mok.fd');
    writeFileSync(ovmfVars, fd);
    return {
      ovmfCode: fixtureFilePath('ovmf', 'OVMF_CODE_4M.secboot.fd'),
      ovmfVars,
      keys: msKeysFromVarstore(fd, 'OVMF_VARS_4M.ms.fd', 'OVMF_VARS_4M.ms.fd (ovmf fixture)'),
      variables: [{ guid: SHIM_LOCK_GUID, name: 'MokList', attributes, data: mokList }],
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
