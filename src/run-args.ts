// The machine options `stubemu run` and `stubemu verify` share: one declaration for parseArgs and one conversion to RunOptions.
import { realpathSync } from 'node:fs';
import { basename, isAbsolute, relative, sep } from 'node:path';
import { parseKeyScript } from '../efi-services/protocols/simple-text-input';
import { parseTimeOption } from '../efi-services/runtime/time-services';
import { loadVariablesJson } from '../efi-services/runtime/variables-json';
import { ALL_BANKS, HashAlgorithmName } from '../efi-services/tcg/pcr-banks';
import { CPU_KINDS } from '../emulator/cpu/create-cpu';
import { RunOptions } from './api';
import { BadInput, readInputFile } from './bad-input';
import { KeyFileError, signatureListsFromFile } from '../efi-services/security/key-files';
import { EFI_CERT, parseSignatureLists, signatureTypeName } from '../efi-services/security/signature-list';
import { KeyVariable, SecureBootKeys } from '../efi-services/security/secure-boot';
import { msKeysFromVarstore, VarstoreError } from '../efi-services/security/ms-keys';
import { debianMsKeys } from './ms-keys-fixture';

export function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch (e) {
    throw new BadInput(`cannot resolve ${p}: ${(e as Error).message}`);
  }
}

function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new BadInput(`--memory: not a size: ${text}`);
  const mult = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

/**
 * `--pcr-banks sha256,sha1`: the named banks in TPM_ALG_ID order (sha1, sha256, sha384, sha512), the order the TPM,
 * the event log, the report's PCRs and `pcr predict` list them in, whatever order they were named in.
 */
export function parseBanks(text: string): HashAlgorithmName[] {
  const named = text.split(',').map((b) => b.trim().toLowerCase()).filter(Boolean);
  const bad = named.find((b) => !(ALL_BANKS as readonly string[]).includes(b));
  if (bad !== undefined || named.length === 0) throw new BadInput(`--pcr-banks: ${bad ?? '(empty)'} is not one of ${ALL_BANKS.join(', ')}`);
  return ALL_BANKS.filter((b) => named.includes(b));
}

/** The ESP directory and where `image` is on it (`\EFI\BOOT\BOOTX64.EFI`); BadInput when it is not inside. */
export function espImagePath(espDir: string, image: string): { root: string; imagePath: string } {
  const root = realpathOr(espDir);
  const rel = relative(root, realpathOr(image));
  if (rel.startsWith('..') || isAbsolute(rel)) throw new BadInput(`${image} is not inside the --esp directory ${espDir}`);
  return { root, imagePath: '\\' + rel.split(sep).join('\\') };
}

export function parsePositive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new BadInput(`${name}: not a positive number: ${text}`);
  return n;
}

/** parseArgs declarations of the options that shape the machine and the run. */
export const MACHINE_ARGS = {
  'load-options': { type: 'string' },
  vars: { type: 'string' },
  keys: { type: 'string' },
  time: { type: 'string' },
  'max-instructions': { type: 'string' },
  cpu: { type: 'string' },
  timeout: { type: 'string' },
  memory: { type: 'string' },
  esp: { type: 'string' },
  disk: { type: 'string' },
  'esp-writable': { type: 'boolean' },
  'rng-seed': { type: 'string' },
  'no-rng': { type: 'boolean' },
  initrd: { type: 'string', multiple: true },
  gop: { type: 'string' },
  'smbios-oem': { type: 'string', multiple: true },
  'secure-boot': { type: 'boolean' },
  pk: { type: 'string' },
  kek: { type: 'string', multiple: true },
  db: { type: 'string', multiple: true },
  dbx: { type: 'string', multiple: true },
  'ms-keys': { type: 'boolean' },
  'ovmf-vars': { type: 'string' },
  'pcr-banks': { type: 'string' },
  'no-tpm': { type: 'boolean' },
  'strict-null': { type: 'boolean' },
} as const;

export type MachineArgValues = {
  [K in keyof typeof MACHINE_ARGS]?: (typeof MACHINE_ARGS)[K] extends { multiple: true } ? string[]
    : (typeof MACHINE_ARGS)[K] extends { type: 'boolean' } ? boolean : string;
};

/** The keys of --pk/--kek/--db/--dbx or --ms-keys, read and checked; undefined when none was given. */
function secureBootKeys(values: MachineArgValues): SecureBootKeys | undefined {
  const files = { PK: values.pk === undefined ? [] : [values.pk], KEK: values.kek ?? [], db: values.db ?? [], dbx: values.dbx ?? [] };
  const any = Object.values(files).some((f) => f.length > 0);
  if (values['ms-keys'] || values['ovmf-vars'] !== undefined) {
    if (any) throw new BadInput('--ms-keys and --pk/--kek/--db/--dbx exclude each other');
    try {
      return values['ovmf-vars'] !== undefined ? msKeysFromVarstore(readInputFile(values['ovmf-vars'], '--ovmf-vars'), values['ovmf-vars']) : debianMsKeys();
    } catch (e) {
      if (e instanceof VarstoreError) throw new BadInput((e as Error).message);
      throw e;
    }
  }
  if (!any) return undefined;
  const lists: SecureBootKeys['lists'] = {};
  try {
    for (const [name, paths] of Object.entries(files) as [KeyVariable, string[]][]) {
      if (paths.length === 0) continue;
      const option = `--${name.toLowerCase()}`;
      lists[name] = Buffer.concat(paths.map((p) => signatureListsFromFile(readInputFile(p, option), `${option} ${p}`)));
    }
  } catch (e) {
    if (e instanceof KeyFileError) throw new BadInput(e.message);
    throw e;
  }
  // UEFI 2.10 §32.3.1: the platform key is one X.509 certificate (edk2 CheckSignatureListFormat refuses others).
  const pk = lists.PK ? parseSignatureLists(lists.PK, '--pk') : [];
  if (lists.PK && (pk.length !== 1 || pk[0].type !== EFI_CERT.X509)) {
    throw new BadInput(`--pk ${values.pk}: PK must be exactly one X.509 certificate (got ${pk.length} entries: ${pk.map((e) => signatureTypeName(e.type)).join(', ')})`);
  }
  return { lists, source: '--pk/--kek/--db/--dbx files' };
}

/** RunOptions (without console callbacks, tracing and profiling) from the values of MACHINE_ARGS for the image at `path`. */
export function machineRunOptions(values: MachineArgValues, path: string): RunOptions {
  const image = readInputFile(path);
  let variables;
  if (values.vars !== undefined) {
    const text = readInputFile(values.vars, '--vars').toString('utf8');
    try {
      variables = loadVariablesJson(text, values.vars);
    } catch (e) {
      throw new BadInput((e as Error).message);
    }
  }
  let keys;
  let epochSeconds;
  try {
    keys = values.keys !== undefined ? parseKeyScript(values.keys) : undefined;
    epochSeconds = values.time !== undefined ? parseTimeOption(values.time) : undefined;
  } catch (e) {
    throw new BadInput((e as Error).message);
  }
  const maxInstructions = parsePositive('--max-instructions', values['max-instructions']);
  const cpu = values.cpu === undefined ? undefined : CPU_KINDS.find((k) => k === values.cpu);
  if (values.cpu !== undefined && !cpu) throw new BadInput(`--cpu: expected ${CPU_KINDS.join(' or ')}, got ${values.cpu}`);
  const timeoutSeconds = parsePositive('--timeout', values.timeout);
  const memoryBytes = values.memory !== undefined ? parseSize(values.memory) : undefined;
  const initrds = (values.initrd ?? []).map((f) => readInputFile(f, '--initrd'));
  const pcrBanks = values['no-tpm'] ? null : values['pcr-banks'] !== undefined ? parseBanks(values['pcr-banks']) : undefined;
  let gop: { width: number; height: number } | undefined;
  if (values.gop !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(values.gop);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1 || Number(m[1]) * Number(m[2]) > 16384 * 16384) throw new BadInput(`--gop: expected WIDTHxHEIGHT, got ${values.gop}`);
    gop = { width: Number(m[1]), height: Number(m[2]) };
  }
  const imagePath = values.esp !== undefined ? espImagePath(values.esp, path).imagePath : undefined;
  return {
    image,
    imageName: basename(path),
    loadOptions: values['load-options'],
    variables,
    keys,
    epochSeconds,
    maxInstructions: maxInstructions !== undefined ? Math.floor(maxInstructions) : undefined,
    timeoutSeconds,
    memoryBytes,
    cpu,
    espDir: values.esp,
    diskFile: values.disk,
    espWritable: values['esp-writable'],
    imagePath,
    rngSeed: values['rng-seed'],
    noRng: values['no-rng'],
    initrds,
    gop,
    smbiosOemStrings: values['smbios-oem'],
    secureBoot: values['secure-boot'],
    secureBootKeys: secureBootKeys(values),
    pcrBanks,
    strictNull: values['strict-null'],
  };
}
