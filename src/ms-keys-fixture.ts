// Where --ms-keys finds Debian's OVMF_VARS_4M.ms.fd: the pinned `ovmf` fixture of a source checkout
// (.cache/fixtures/ovmf, fetched by `npm run fixtures`); an installed package has none and needs --ovmf-vars.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { msKeysFromVarstore, VarstoreError } from '../efi-services/security/ms-keys';
import { SecureBootKeys } from '../efi-services/security/secure-boot';

/** The checkout root: dist/src (or lib/src) is two levels below it, as scripts/fixtures/manifest.ts assumes too. */
const ROOT = resolve(__dirname, '..', '..');
const FD = join(ROOT, '.cache', 'fixtures', 'ovmf', 'OVMF_VARS_4M.ms.fd');

function pinnedVersion(): string {
  try {
    const m = JSON.parse(readFileSync(join(ROOT, 'fixtures', 'manifest.json'), 'utf8')) as { fixtures: { id: string; version?: string }[] };
    return m.fixtures.find((f) => f.id === 'ovmf')?.version ?? 'unpinned';
  } catch {
    return 'unknown version';
  }
}

/** The PK/KEK/db/dbx of the pinned ovmf fixture's OVMF_VARS_4M.ms.fd. */
export function debianMsKeys(): SecureBootKeys {
  if (!existsSync(FD)) throw new VarstoreError(`--ms-keys: ${FD} is missing: run 'npm run fixtures', or give --ovmf-vars FILE (e.g. /usr/share/OVMF/OVMF_VARS_4M.ms.fd)`);
  return msKeysFromVarstore(readFileSync(FD), FD, `OVMF_VARS_4M.ms.fd of Debian ovmf ${pinnedVersion()}`);
}
