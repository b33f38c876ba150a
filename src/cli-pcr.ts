// `stubemu pcr predict`: the PCR 11/12/13 values and PCR 4 digests a systemd-stub UKI will produce, per bank.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HostVolume } from '../efi-services/esp/host-volume';
import { EfiError } from '../core/status';
import { AuthenticodeError } from '../efi-services/tcg/authenticode';
import { PeFormatError } from '../pe/pe-image';
import { BadInput } from './bad-input';
import { DEFAULT_BANKS, PcrPrediction, PcrPredictError, predictPcrs } from './pcr/predict';
import { espImagePath, parseBanks } from './run-args';

export const PCR_USAGE = `usage: stubemu pcr predict UKI [--json] [--pcr-banks sha1,sha256,...] [--load-options STR] [--secure-boot] [--esp DIR]
                          [--smbios-oem STR]...

predict: what systemd-stub (252.6 to 262.x, its version family read from .sdmagic; README "systemd-stub 252 to 262")
and the firmware will measure when UKI boots: PCR 11 the unified sections (name, then data, in the version's order;
with profiles, LoadOptions "@N" picks one), PCR 12 the profile number, the command line from LoadOptions, addons'
command lines, the SMBIOS kernel-cmdline-extra, credential and confext drop-ins, PCR 13 sysext drop-ins, each PCR
starting from zero as systemd-measure calculate does; PCR 1 the SMBIOS structures (261+, as stubemu's firmware
presents them); PCR 4 the Authenticode digests of the UKI, of addons, and of the kernel when the stub LoadImage's it.
  --json                   print the documented JSON object instead
  --pcr-banks LIST         banks to compute (sha1, sha256, sha384, sha512); default all four, as systemd-measure
  --load-options STR       LoadOptions as \`stubemu run --load-options\` passes them
  --secure-boot            SecureBoot=1 (the stub then keeps .cmdline and ignores LoadOptions)
  --esp DIR                the ESP directory UKI runs from (as \`stubemu run --esp\`): companion files in UKI.extra.d
                           (*.cred, *.raw, *.confext.raw, *.addon.efi), \\loader\\credentials, \\loader\\addons,
                           \\loader\\extensions (262)
  --smbios-oem STR         an SMBIOS type 11 string of the machine (as \`stubemu run --smbios-oem\`); repeatable

exit codes: 0 done, 2 bad input (unreadable file, not a systemd-stub UKI, a stub version not researched, bad option)
`;

/*
 * The JSON object (`pcr predict --json`); digests and PCR values are lower-case hex.
 * { stub: "systemd-stub 252.39-1~deb12u2", rules: "systemd-stub 252.6 to 252.x", banks: ["sha256", ...],
 *   events: [{ pcr, type: "EV_IPL" | "EV_EVENT_TAG" | "EV_EFI_BOOT_SERVICES_APPLICATION", description, descriptionLogged, what,
 *              digests: { bank: hex } }],          in log order; descriptionLogged: the description is the event data
 *   pcrs: { bank: { "11": hex, "12": hex, "13": hex } },   "12" with --load-options or PCR 12 events, "13" with events
 *   pcr4: { uki: { bank: hex }, linux: { bank: hex } | null },   linux null: the stub does not LoadImage the kernel
 *   scope: [{ pcr, eventTypes? }],                  the log events the prediction speaks for
 *   variables: [string],                            LoaderInfo variables the stub sets (StubPcr* when all feeding them was measured)
 *   notes: [string] }
 */

function espOf(dir: string, uki: string): { volume: HostVolume; imagePath: string } {
  const { root, imagePath } = espImagePath(dir, uki);
  return { volume: new HostVolume(root, { writable: false, overlay: false }), imagePath };
}

const visible = (s: string): string => JSON.stringify(s);

/** The human form: per bank, each event, the resulting PCRs, the PCR 4 digests. */
export function formatPrediction(file: string, p: PcrPrediction): string {
  const out = [`${file}: ${p.stub} (measurements as researched for ${p.rules})`];
  for (const bank of p.banks) {
    out.push('', `${bank}:`);
    const head = ['PCR', 'type', 'description', 'measured', 'digest'];
    const rows = p.events.map((e) => [String(e.pcr), e.type, e.descriptionLogged ? visible(e.description) : `[${e.description}]`, visible(e.what), e.digests[bank]]);
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    for (const r of [head, ...rows]) out.push(`  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`);
    for (const [pcr, value] of Object.entries(p.pcrs[bank])) out.push(`  PCR ${pcr} = ${value}`);
    out.push(`  PCR 4 UKI Authenticode    ${p.pcr4.uki[bank]}`);
    out.push(`  PCR 4 .linux Authenticode ${p.pcr4.linux ? p.pcr4.linux[bank] : '(not loaded through LoadImage)'}`);
  }
  out.push('', `variables the stub sets (LoaderInfo GUID): ${p.variables.join(' ')}`);
  if (p.notes.length) out.push('', 'notes:', ...p.notes.map((n) => `  ${n}`));
  return `${out.join('\n')}\n`;
}

function predict(args: string[]): number {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, 'pcr-banks': { type: 'string' }, 'load-options': { type: 'string' },
      'secure-boot': { type: 'boolean' }, esp: { type: 'string' }, 'smbios-oem': { type: 'string', multiple: true },
    },
  });
  if (positionals.length !== 1) throw new BadInput('predict takes exactly one UKI');
  const path = positionals[0];
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (e) {
    throw new BadInput(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const prediction = predictPcrs(file, path, {
    banks: values['pcr-banks'] === undefined ? DEFAULT_BANKS : parseBanks(values['pcr-banks']),
    loadOptions: values['load-options'],
    secureBoot: values['secure-boot'] ?? false,
    esp: values.esp === undefined ? undefined : espOf(values.esp, path),
    smbiosOemStrings: values['smbios-oem'],
  });
  process.stdout.write(values.json ? `${JSON.stringify(prediction, null, 2)}\n` : formatPrediction(path, prediction));
  return 0;
}

/** `stubemu pcr ...` with the arguments after "pcr"; returns the exit code. */
export function pcrMain(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(PCR_USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command === 'predict') return predict(rest);
    throw new BadInput(`unknown pcr command ${JSON.stringify(command)} (predict)`);
  } catch (e) {
    const known = e instanceof BadInput || e instanceof PcrPredictError || e instanceof PeFormatError || e instanceof EfiError || e instanceof AuthenticodeError
      || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
    if (!known) throw e;
    process.stderr.write(`stubemu pcr: ${(e as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) {
  process.exitCode = pcrMain(process.argv.slice(2));
}
