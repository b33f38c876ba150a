// `stubemu uki build|inspect`: build a UKI the way ukify does, or show what one holds.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PeFormatError } from '../pe/pe-image';
import { BadInput } from './bad-input';
import { CpioFormatError } from './initrd/cpio';
import { buildAddon, buildUki, describePlaced, Part, UkiInputError, UkiInputs, UkifyLayout } from './uki/build';
import { formatInspection, inspectImage } from './uki/inspect';
import { PeEditError } from './uki/pe-sections';
import { SetupHeaderError } from './uki/setup-header';

export const UKI_USAGE = `usage: stubemu uki build --stub STUB --linux VMLINUZ -o OUT.efi [options]
       stubemu uki build --stub ADDON-STUB [--cmdline ...] [--profile ...] -o OUT.efi   (an addon, or a profile PE)
       stubemu uki inspect FILE [--json]

build: appends the parts to systemd-stub as the ukify of the stub's version does; same inputs give the same bytes.
  stubs 252-253 (ukify 253): .osrel .cmdline .dtb .splash .pcrpkey .initrd .uname, --section extras, .pcrsig, .linux
      last; PE checksum recomputed; the stub's .sbat kept unless --sbat
  stub 254 (ukify 254): the same, with .sbat merged (stub's, kernel's, --sbat or the default "uki,1,UKI,..." line)
  stubs 255+ (ukify 257): .osrel .cmdline .dtb .dtbauto... .hwids .uname .splash .pcrpkey .linux .initrd .ucode
      .efifw, --section extras, merged .sbat, base .profile, joined profiles, .pcrsig; PE checksum 0
  --stub FILE              systemd-stub (linuxx64.efi.stub)
  --linux FILE             the kernel (an x86_64 EFI-stub bzImage)
  --initrd FILE            an initrd; repeat to concatenate several (each padded to 4 bytes)
  --cmdline TEXT|@FILE     kernel command line (.cmdline): a FILE as it is; TEXT as given, or whitespace-collapsed
                           for stubs 255+ (as ukify 257 does)
  --os-release TEXT|@FILE  os-release (.osrel); a value without "=" is read as a FILE name
  --uname STR              .uname (default: the release from the kernel's kernel_version string)
  --splash BMP             .splash        --dtb FILE   .dtb
  --pcrpkey FILE           .pcrpkey       --pcrsig FILE  .pcrsig (ready-made JSON)
  --section NAME:TEXT|NAME:@FILE   an extra section (name of at most 8 characters)
  --sbat TEXT|@FILE|FILE   merge SBAT lines into the stub's .sbat (ukify >= 254); repeatable
  --ucode FILE  .ucode    --hwids FILE  .hwids (binary)    --dtbauto FILE, --efifw FILE  (repeatable)
  --profile TEXT|@FILE     the base profile's .profile (with --join-profile)
  --join-profile PE        a profile PE (ukify build --profile ...) whose sections are appended; repeatable
  --layout L               ukify-253, ukify-254 or ukify-257 instead of the stub version's
without --linux (ukify 257): an addon (addonx64.efi.stub; .sbat "uki-addon,1,...") with the given sections, or with
--profile a profile PE (.profile first, no .sbat) for --join-profile
  -o, --output FILE        where to write the UKI

inspect: sections (sha256 of each section's loaded bytes), .sdmagic, .sbat, os-release, .uname, .cmdline,
the initrd's cpio listing and the kernel's setup header; also works on a bare vmlinuz.
  --json                   print the documented JSON object instead

exit codes: 0 done, 2 bad input (unreadable or malformed file, bad option, output not writable)
`;


function readInput(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new BadInput(`cannot read ${path} (${option}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** ukify's TEXT|@PATH convention. */
function textOrFile(value: string, option: string): Buffer {
  return value.startsWith('@') ? readInput(value.slice(1), option) : Buffer.from(value, 'utf8');
}

function parseSection(spec: string): Part {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new BadInput(`--section ${JSON.stringify(spec)}: expected NAME:TEXT or NAME:@FILE`);
  return { name: spec.slice(0, colon), data: textOrFile(spec.slice(colon + 1), '--section') };
}

function parseLayout(text: string): UkifyLayout {
  const layouts: readonly UkifyLayout[] = ['ukify-253', 'ukify-254', 'ukify-257'];
  const found = layouts.find((l) => l === text);
  if (!found) throw new BadInput(`--layout: expected ${layouts.join(', ')}, got ${JSON.stringify(text)}`);
  return found;
}

/** `uki build` without --linux: an addon (ukify 257 ADDON_SBAT) or, with --profile, a profile PE for --join-profile. */
function buildWithoutKernel(values: Record<string, string | string[] | undefined>): number {
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const list = (k: string): string[] => (values[k] as string[] | undefined) ?? [];
  const optional = (path: string | undefined, option: string): Buffer | undefined => (path === undefined ? undefined : readInput(path, option));
  const cmdline = str('cmdline');
  const result = buildAddon({
    stub: readInput(str('stub')!, '--stub'), stubName: str('stub')!,
    cmdline: cmdline === undefined ? undefined : textOrFile(cmdline, '--cmdline'), cmdlineFromText: cmdline !== undefined && !cmdline.startsWith('@'),
    osRelease: str('os-release') === undefined ? undefined : textOrFile(str('os-release')!, '--os-release'), uname: str('uname'),
    dtb: optional(str('dtb'), '--dtb'), dtbauto: list('dtbauto').map((p) => readInput(p, '--dtbauto')), hwids: optional(str('hwids'), '--hwids'),
    splash: optional(str('splash'), '--splash'), pcrpkey: optional(str('pcrpkey'), '--pcrpkey'),
    initrds: list('initrd').map((p) => ({ name: p, data: readInput(p, '--initrd') })), ucode: optional(str('ucode'), '--ucode'),
    profile: str('profile') === undefined ? undefined : textOrFile(str('profile')!, '--profile'),
    extraSections: list('section').map(parseSection),
    sbat: values.sbat === undefined ? undefined : list('sbat').map((s) => (s.startsWith('sbat,') ? s : textOrFile(s.startsWith('@') ? s : `@${s}`, '--sbat').toString('utf8'))),
  });
  for (const w of result.warnings) process.stderr.write(`stubemu uki: warning: ${w}\n`);
  try {
    writeFileSync(str('output')!, result.image);
  } catch (e) {
    throw new BadInput(`cannot write ${str('output')}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stdout.write(`wrote ${str('output')}: ${result.image.length} bytes, ${result.stubIdentity ?? 'unknown stub'}, ${result.sbat === undefined ? 'profile PE' : 'addon'}\n`);
  for (const p of result.sections) process.stdout.write(`  ${describePlaced(p)}\n`);
  return 0;
}

function build(args: string[]): number {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      stub: { type: 'string' }, linux: { type: 'string' }, initrd: { type: 'string', multiple: true },
      cmdline: { type: 'string' }, 'os-release': { type: 'string' }, uname: { type: 'string' },
      splash: { type: 'string' }, dtb: { type: 'string' }, pcrpkey: { type: 'string' }, pcrsig: { type: 'string' },
      section: { type: 'string', multiple: true }, sbat: { type: 'string', multiple: true },
      ucode: { type: 'string' }, dtbauto: { type: 'string', multiple: true }, hwids: { type: 'string' }, efifw: { type: 'string', multiple: true },
      profile: { type: 'string' }, 'join-profile': { type: 'string', multiple: true }, layout: { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
  });
  if (positionals.length) throw new BadInput(`build takes no positional arguments (got ${positionals.join(' ')})`);
  if (!values.stub) throw new BadInput('build needs --stub');
  if (!values.output) throw new BadInput('build needs -o OUT.efi');
  if (!values.linux) return buildWithoutKernel(values as Record<string, string | string[] | undefined>);
  const osRelease = values['os-release'];
  const optional = (path: string | undefined, option: string): Buffer | undefined => (path === undefined ? undefined : readInput(path, option));
  const inputs: UkiInputs = {
    stub: readInput(values.stub, '--stub'), stubName: values.stub,
    linux: readInput(values.linux, '--linux'), linuxName: values.linux,
    initrds: (values.initrd ?? []).map((p) => ({ name: p, data: readInput(p, '--initrd') })),
    cmdline: values.cmdline === undefined ? undefined : textOrFile(values.cmdline, '--cmdline'),
    cmdlineFromText: values.cmdline !== undefined && !values.cmdline.startsWith('@'),
    osRelease: osRelease === undefined ? undefined
      : !osRelease.startsWith('@') && !osRelease.includes('=') ? readInput(osRelease, '--os-release') : textOrFile(osRelease, '--os-release'),
    uname: values.uname,
    splash: optional(values.splash, '--splash'), dtb: optional(values.dtb, '--dtb'),
    pcrpkey: optional(values.pcrpkey, '--pcrpkey'), pcrsig: optional(values.pcrsig, '--pcrsig'),
    extraSections: (values.section ?? []).map(parseSection),
    sbat: values.sbat?.map((s) => (s.startsWith('sbat,') ? s : textOrFile(s.startsWith('@') ? s : `@${s}`, '--sbat').toString('utf8'))),
    ucode: optional(values.ucode, '--ucode'), hwids: optional(values.hwids, '--hwids'),
    dtbauto: (values.dtbauto ?? []).map((p) => readInput(p, '--dtbauto')),
    efifw: (values.efifw ?? []).map((p) => readInput(p, '--efifw')),
    profile: values.profile === undefined ? undefined : textOrFile(values.profile, '--profile'),
    joinProfiles: (values['join-profile'] ?? []).map((p) => ({ name: p, data: readInput(p, '--join-profile') })),
    layout: values.layout === undefined ? undefined : parseLayout(values.layout),
  };
  if (inputs.splash && inputs.splash.toString('latin1', 0, 2) !== 'BM') process.stderr.write(`stubemu uki: warning: ${values.splash}: not a BMP ("BM" header); systemd-stub will not show it\n`);
  if (inputs.dtb && (inputs.dtb.length < 4 || inputs.dtb.readUInt32BE(0) !== 0xd00dfeed)) process.stderr.write(`stubemu uki: warning: ${values.dtb}: no flattened device tree magic 0xd00dfeed\n`);

  const result = buildUki(inputs);
  for (const w of result.warnings) process.stderr.write(`stubemu uki: warning: ${w}\n`);
  try {
    writeFileSync(values.output, result.image);
  } catch (e) {
    throw new BadInput(`cannot write ${values.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stdout.write(`wrote ${values.output}: ${result.image.length} bytes, ${result.stubIdentity ?? 'unknown stub'}, checksum 0x${result.checksum.toString(16)}\n`);
  for (const p of result.sections) process.stdout.write(`  ${describePlaced(p)}\n`);
  return 0;
}

function inspect(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new BadInput('inspect takes exactly one FILE');
  const info = inspectImage(readInput(positionals[0], 'inspect'), positionals[0]);
  process.stdout.write(values.json ? `${JSON.stringify(info, null, 2)}\n` : formatInspection(info));
  return 0;
}

/** `stubemu uki ...` with the arguments after "uki"; returns the exit code. */
export function ukiMain(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(UKI_USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command === 'build') return build(rest);
    if (command === 'inspect') return inspect(rest);
    throw new BadInput(`unknown uki command ${JSON.stringify(command)} (build, inspect)`);
  } catch (e) {
    const known = e instanceof BadInput || e instanceof UkiInputError || e instanceof PeFormatError || e instanceof PeEditError
      || e instanceof SetupHeaderError || e instanceof CpioFormatError
      || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
    if (!known) throw e;
    process.stderr.write(`stubemu uki: ${(e as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) {
  process.exitCode = ukiMain(process.argv.slice(2));
}
