// The stubemu command line behind the entry (cli.ts): `stubemu run IMAGE [options]` and the other commands.
// A command's modules are loaded when it runs: a guest run does not pay for `uki`, `diff` or the HTML report.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULTS, EXIT, runImage, RunResult } from './api';
import { BadInput } from './bad-input';
import { engineInfo } from '../emulator/cpu/create-cpu';
import { GuestConsoleStream } from './guest-text';
import { reportJson } from './report';
import { ProfileReport } from '../emulator/guest-profile';
import { HandoffReport } from './handoff';
import { MACHINE_ARGS, machineRunOptions, parsePositive } from './run-args';
import { RunReport } from './report-html/model';
import { ProgressLine } from './progress';
import { versionLines } from './version';

const USAGE = `usage: stubemu run IMAGE [options]
       stubemu uki build|inspect ...   (stubemu uki --help)
       stubemu pcr predict UKI ...     (stubemu pcr --help)
       stubemu verify UKI ...          (stubemu verify --help)
       stubemu report RUN.json -o RUN.html   (stubemu report --help)
       stubemu diff A B ...            (stubemu diff --help)
       stubemu --version

Runs an x86_64 EFI application in an emulated UEFI machine until it returns, calls Exit(),
ExitBootServices() succeeds, ResetSystem() is called, it faults, or a budget runs out.

options:
  --load-options STR       LoadOptions of the image (UCS-2, NUL-terminated)
  --vars FILE              initial UEFI variables (JSON, see README)
  --keys STR               scripted key presses for ConIn (\\n = Enter, {esc} {up} {f1} ...)
  --time ISO8601           what GetTime returns at start (default 2024-01-01T00:00:00Z)
  --json FILE              write the full report (JSON) to FILE ('-' for stdout)
  --trace                  record every service call with decoded arguments in the report
  --html FILE              write the report as a self-contained HTML page (implies --trace)
  --cpu ENGINE             unicorn (default: emulated, counts instructions, deterministic) or kvm (the host CPU
                           through /dev/kvm: much faster; time budget only; see README "CPU engines")
  --profile                sample the guest's RIP every 2 ms of emulation into the report's "profile" and
                           print the hottest places (the report is then not deterministic)
  --profile-ms MS          the sampling interval of --profile
  --max-instructions N     instructions the guest may run between firmware calls (default: not counted, the
                           time budget bounds the run; counting slows Unicorn down; unicorn only)
  --timeout SECONDS        wall-clock budget of the run (default ${DEFAULTS.timeoutSeconds})
  --memory SIZE            guest RAM, e.g. 512M, 1G (default 1G)
  --esp DIR                a host directory as the ESP (read-only; guest writes stay in memory); IMAGE must be in it
  --esp-writable           let guest writes reach the --esp directory
  --disk FILE              a raw disk image with a GPT: Block I/O and Disk I/O on the disk and its partitions, the
                           EFI system partition as the boot image's device (no SimpleFileSystem; not with --esp)
  --kexec-out DIR          after ExitBootServices: write kernel, initrd, cmdline, boot_params.bin, memmap.json,
                           segments.json and handoff.json to DIR; exit 1 with the reason when no kernel file can
                           be named (the kernel image is found also when the stub loaded it itself, 258+)
  --rng-seed STR           seed of EFI_RNG_PROTOCOL's deterministic stream (default "stubemu")
  --no-rng                 do not install EFI_RNG_PROTOCOL
  --initrd FILE            offer FILE as the Linux initrd through LoadFile2 (bare kernels; repeatable)
  --gop WxH                a graphics output framebuffer, e.g. 1024x768
  --smbios-oem STR         an SMBIOS type 11 string (repeatable), e.g. io.systemd.credential:x=y
  --secure-boot            Secure Boot on. With keys (--pk and the others, or --ms-keys) LoadImage verifies
                           Authenticode signatures against db/dbx as edk2 does and refuses the rest; without
                           keys it is only announced (SecureBoot=1, SetupMode=0) and nothing is verified
  --pk/--kek/--db/--dbx FILE  keys to enroll: X.509 certificates (DER or PEM), EFI_SIGNATURE_LIST files (.esl),
                           authenticated variable files (.auth), or a file holding sha256:HEX (an image hash);
                           --db/--dbx/--kek repeatable
  --ms-keys                enroll the PK/KEK/db/dbx of Debian's OVMF_VARS_4M.ms.fd (the Microsoft UEFI CA and
                           Windows PCA 2011 in db), read from the pinned ovmf fixture or --ovmf-vars FILE
  --ovmf-vars FILE         an OVMF varstore (.fd) whose PK/KEK/db/dbx --ms-keys enrolls
  --pcr-banks LIST         active PCR banks of the TPM: sha1,sha256,sha384,sha512 (default sha1,sha256)
  --no-tpm                 no TPM: EFI_TCG2_PROTOCOL is not installed
  --strict-null            page 0 unmapped: every access faults (default: zeros as on OVMF, accesses in the report)
  --eventlog FILE          write the TCG event log (binary_bios_measurements format) to FILE
  --quiet                  do not stream the guest's console output, and no progress line (shown on a terminal
                           once a run passes one second)

exit codes: 0 ran to its end (returned/exited with success, ExitBootServices, ResetSystem)
            1 the image returned or exited with an error status, or Secure Boot refused it
            2 bad input (not a PE, wrong machine, bad option)
            3 guest fault          4 budget exhausted
`;

/** Subcommands besides --help and --version; each loads its modules when it runs. */
const COMMANDS = new Map<string, (args: string[]) => number>([
  ['run', (args) => reportingBadInput('stubemu', () => runMain(args))],
  ['verify', (args) => reportingBadInput('stubemu verify', () => (require('./cli-verify') as typeof import('./cli-verify')).verifyMain(args))],
  ['uki', (args) => (require('./cli-uki') as typeof import('./cli-uki')).ukiMain(args)],
  ['pcr', (args) => (require('./cli-pcr') as typeof import('./cli-pcr')).pcrMain(args)],
  ['report', (args) => (require('./cli-report') as typeof import('./cli-report')).reportMain(args)],
  ['diff', (args) => (require('./cli-diff') as typeof import('./cli-diff')).diffMain(args)],
]);

export function main(argv: string[]): number {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(USAGE);
    return argv.length === 0 ? EXIT.badInput : EXIT.ok;
  }
  if (argv[0] === '--version') {
    process.stdout.write(versionLines().map((l) => `${l}\n`).join(''));
    return EXIT.ok;
  }
  const [command, ...rest] = argv;
  const run = COMMANDS.get(command);
  if (!run) {
    process.stderr.write(`stubemu: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return EXIT.badInput;
  }
  return run(rest);
}

/** Bad input and malformed options end with one line and exit code 2. */
function reportingBadInput(prefix: string, command: () => number): number {
  try {
    return command();
  } catch (e) {
    if (e instanceof BadInput || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${prefix}: ${e.message}\n`);
      return EXIT.badInput;
    }
    throw e;
  }
}

const RUN_ARGS = {
  ...MACHINE_ARGS,
  json: { type: 'string' },
  trace: { type: 'boolean' },
  html: { type: 'string' },
  profile: { type: 'boolean' },
  'profile-ms': { type: 'string' },
  quiet: { type: 'boolean' },
  'kexec-out': { type: 'string' },
  eventlog: { type: 'string' },
} as const;

type RunValues = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof RUN_ARGS }>>['values'];

/** `stubemu run IMAGE`: the run with the guest's console streamed, then the files asked for and the summary. */
function runMain(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: RUN_ARGS });
  if (positionals.length !== 1) throw new BadInput('run takes exactly one IMAGE');
  const machine = machineRunOptions(values, positionals[0]);
  if (values['no-tpm'] && values.eventlog !== undefined) throw new BadInput('--eventlog needs a TPM; drop --no-tpm');
  const profileMs = values['profile-ms'] !== undefined ? parsePositive('--profile-ms', values['profile-ms']) : values.profile ? 2 : undefined;
  const quiet = values.quiet ?? false;
  const progress = ProgressLine.forTerminal(process.stderr, quiet);
  const toTerminal = (write: () => void) => (progress ? progress.around(write) : write());
  const guestOut = new GuestConsoleStream((t) => toTerminal(() => process.stdout.write(t)));
  const guestErr = new GuestConsoleStream((t) => toTerminal(() => process.stderr.write(t)));
  const engine = engineInfo(machine.cpu ?? 'unicorn');
  if (engine.warning) process.stderr.write(`stubemu: warning: ${engine.warning}\n`);
  let result;
  try {
    result = runImage({
      ...machine,
      trace: (values.trace ?? false) || values.html !== undefined,
      profileMs,
      onConsole: quiet ? undefined : (text, stream) => (stream === 'StdErr' ? guestErr : guestOut).push(text),
      onProgress: progress ? (p) => progress.update(p) : undefined,
    });
  } finally {
    progress?.stop();
    guestOut.flush();
    guestErr.flush();
  }
  writeRunFiles(values, result);
  if (values['kexec-out'] !== undefined && !writeKexecFiles(values['kexec-out'], result)) return EXIT.imageError;
  process.stderr.write(`${result.summary}\n`);
  printRunNotes(result);
  return result.exitCode;
}

/** --json, --html and --eventlog. */
function writeRunFiles(values: RunValues, result: RunResult): void {
  const json = values.json !== undefined || values.html !== undefined ? reportJson(result.report) : '';
  if (values.json !== undefined) {
    if (values.json === '-') process.stdout.write(json);
    else writeFileSync(values.json, json);
  }
  if (values.html !== undefined) {
    const { renderReportHtml } = require('./report-html/page') as typeof import('./report-html/page');
    writeFileSync(values.html, renderReportHtml(JSON.parse(json) as RunReport));
  }
  if (values.eventlog !== undefined && result.firmware.tcg2) writeFileSync(values.eventlog, result.firmware.tcg2.measuredBoot.serialize());
}

/** --kexec-out: false (after saying why, and the summary) when no kernel file could be written. */
function writeKexecFiles(dir: string, result: RunResult): boolean {
  if (!result.handoff) {
    process.stderr.write(`stubemu: --kexec-out: nothing written, the run did not reach ExitBootServices\n`);
    return true;
  }
  const { writeKexecOut } = require('./kexec-out') as typeof import('./kexec-out');
  const files = writeKexecOut(dir, result.firmware, result.handoff);
  process.stderr.write(`stubemu: kexec hand-off in ${dir}: ${files.join(', ')}\n`);
  if (files.includes('kernel')) return true;
  process.stderr.write(`${result.summary}\n`);
  process.stderr.write(`stubemu: --kexec-out: no kernel file: ${kernelMissingReason(result.handoff.report)}\n`);
  return false;
}

/** The profile's hottest places and a fault's location, after the summary. */
function printRunNotes(result: RunResult): void {
  const profile = result.report.profile as ProfileReport | undefined;
  if (profile) {
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    process.stderr.write(`stubemu: profile: ${profile.samples} samples every ${profile.intervalMs} ms; ${profile.byRegion.slice(0, 4).map((r) => `${r.region} ${pct(r.share)}`).join(', ')}\n`);
    process.stderr.write(`stubemu: hottest: ${profile.topAddresses.slice(0, 5).map((r) => `${r.at} ${pct(r.share)}`).join(', ')}\n`);
  }
  if (result.outcome.kind === 'fault') {
    const f = result.report.fault as { rip: string; instructionBytes?: string; callTrace: string[] } | undefined;
    if (f) process.stderr.write(`stubemu: fault at ${f.rip}, bytes ${f.instructionBytes ?? '(unreadable)'}; call trace: ${f.callTrace.join(' <- ') || '(none found)'}\n`);
  }
}

/** Why the hand-off has no kernel file to write, for --kexec-out's error. */
function kernelMissingReason(h: HandoffReport): string {
  if (!h.kernel) return `ExitBootServices returned to ${h.cpu.returnAddress}, which is in no image stubemu knows or could find in memory`;
  return `${h.kernel.image} was found only as a relocated image in memory (${h.kernel.source}), not as the PE file it was loaded from`;
}
