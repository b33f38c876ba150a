#!/usr/bin/env node
// The stubemu command line: `stubemu run IMAGE [options]`.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseKeyScript } from '../efi-services/protocols/simple-text-input';
import { parseTimeOption } from '../efi-services/runtime/time-services';
import { loadVariablesJson } from '../efi-services/runtime/variables-json';
import { BadInput, DEFAULTS, EXIT, readInputFile, runImage } from './api';
import { CPU_KINDS, engineInfo } from '../emulator/cpu/create-cpu';
import { GuestConsoleStream, oneLine } from './guest-text';
import { reportJson } from './report';
import { ProfileReport } from '../emulator/guest-profile';
import { writeKexecOut } from './kexec-out';
import { ukiMain } from './cli-uki';
import { pcrMain } from './cli-pcr';
import { verifyMain } from './cli-verify';
import { HashAlgorithmName } from '../efi-services/tcg/pcr-banks';

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch (e) {
    throw new BadInput(`cannot resolve ${p}: ${(e as Error).message}`);
  }
}

const USAGE = `usage: stubemu run IMAGE [options]
       stubemu uki build|inspect ...   (stubemu uki --help)
       stubemu pcr predict UKI ...     (stubemu pcr --help)
       stubemu verify UKI ...          (stubemu verify --help)

Runs an x86_64 EFI application in an emulated UEFI machine until it returns, calls Exit(),
ExitBootServices() succeeds, ResetSystem() is called, it faults, or a budget runs out.

options:
  --load-options STR       LoadOptions of the image (UCS-2, NUL-terminated)
  --vars FILE              initial UEFI variables (JSON, see README)
  --keys STR               scripted key presses for ConIn (\\n = Enter, {esc} {up} {f1} ...)
  --time ISO8601           what GetTime returns at start (default 2024-01-01T00:00:00Z)
  --json FILE              write the full report (JSON) to FILE ('-' for stdout)
  --trace                  record every service call with decoded arguments in the report
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
  --kexec-out DIR          after ExitBootServices: write kernel, initrd, cmdline, boot_params.bin, memmap.json,
                           segments.json and handoff.json to DIR
  --rng-seed STR           seed of EFI_RNG_PROTOCOL's deterministic stream (default "stubemu")
  --no-rng                 do not install EFI_RNG_PROTOCOL
  --initrd FILE            offer FILE as the Linux initrd through LoadFile2 (bare kernels; repeatable)
  --gop WxH                a graphics output framebuffer, e.g. 1024x768
  --smbios-oem STR         an SMBIOS type 11 string (repeatable), e.g. io.systemd.credential:x=y
  --secure-boot            report Secure Boot enabled (SecureBoot=1); no signature is checked
  --pcr-banks LIST         active PCR banks of the TPM: sha1,sha256,sha384,sha512 (default sha1,sha256)
  --no-tpm                 no TPM: EFI_TCG2_PROTOCOL is not installed
  --eventlog FILE          write the TCG event log (binary_bios_measurements format) to FILE
  --quiet                  do not stream the guest's console output

exit codes: 0 ran to its end (returned/exited with success, ExitBootServices, ResetSystem)
            1 the image returned or exited with an error status
            2 bad input (not a PE, wrong machine, bad option)
            3 guest fault          4 budget exhausted
`;

function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new BadInput(`--memory: not a size: ${text}`);
  const mult = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

const BANK_NAMES = ['sha1', 'sha256', 'sha384', 'sha512'] as const;

export function parseBanks(text: string): HashAlgorithmName[] {
  const banks = text.split(',').map((b) => b.trim().toLowerCase()).filter(Boolean);
  const bad = banks.find((b) => !(BANK_NAMES as readonly string[]).includes(b));
  if (bad !== undefined || banks.length === 0) throw new BadInput(`--pcr-banks: ${bad ?? '(empty)'} is not one of ${BANK_NAMES.join(', ')}`);
  return [...new Set(banks)] as HashAlgorithmName[];
}

/** `stubemu --version`: stubemu's and the CPU engine's exact versions. */
function printVersion(): number {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  process.stdout.write(`stubemu ${pkg.version}\n`);
  try {
    const e = engineInfo('unicorn');
    process.stdout.write(`cpu engine: ${e.version} (${e.source})\n`);
    if (e.warning) process.stdout.write(`warning: ${e.warning}\n`);
  } catch (err) {
    process.stdout.write(`cpu engine: none (${(err as Error).message})\n`);
  }
  return EXIT.ok;
}

function parsePositive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new BadInput(`${name}: not a positive number: ${text}`);
  return n;
}

export function main(argv: string[]): number {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(USAGE);
    return argv.length === 0 ? EXIT.badInput : EXIT.ok;
  }
  const [command, ...rest] = argv;
  if (command === '--version') return printVersion();
  if (command === 'uki') return ukiMain(rest);
  if (command === 'pcr') return pcrMain(rest);
  if (command === 'verify') {
    try {
      return verifyMain(rest, parseBanks);
    } catch (e) {
      if (e instanceof BadInput || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
        process.stderr.write(`stubemu verify: ${e.message}\n`);
        return EXIT.badInput;
      }
      throw e;
    }
  }
  if (command !== 'run') {
    process.stderr.write(`stubemu: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return EXIT.badInput;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        'load-options': { type: 'string' },
        vars: { type: 'string' },
        keys: { type: 'string' },
        time: { type: 'string' },
        json: { type: 'string' },
        trace: { type: 'boolean' },
        'max-instructions': { type: 'string' },
        cpu: { type: 'string' },
        profile: { type: 'boolean' },
        'profile-ms': { type: 'string' },
        timeout: { type: 'string' },
        memory: { type: 'string' },
        quiet: { type: 'boolean' },
        esp: { type: 'string' },
        'esp-writable': { type: 'boolean' },
        'kexec-out': { type: 'string' },
        'rng-seed': { type: 'string' },
        'no-rng': { type: 'boolean' },
        initrd: { type: 'string', multiple: true },
        gop: { type: 'string' },
        'smbios-oem': { type: 'string', multiple: true },
        'secure-boot': { type: 'boolean' },
        'pcr-banks': { type: 'string' },
        'no-tpm': { type: 'boolean' },
        eventlog: { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new BadInput('run takes exactly one IMAGE');
    const path = positionals[0];
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
    const profileMs = values['profile-ms'] !== undefined ? parsePositive('--profile-ms', values['profile-ms']) : values.profile ? 2 : undefined;
    const cpu = values.cpu === undefined ? undefined : CPU_KINDS.find((k) => k === values.cpu);
    if (values.cpu !== undefined && !cpu) throw new BadInput(`--cpu: expected ${CPU_KINDS.join(' or ')}, got ${values.cpu}`);
    const timeoutSeconds = parsePositive('--timeout', values.timeout);
    const memoryBytes = values.memory !== undefined ? parseSize(values.memory) : undefined;
    const quiet = values.quiet ?? false;
    const initrds = (values.initrd ?? []).map((f) => readInputFile(f, '--initrd'));
    const pcrBanks = values['no-tpm'] ? null : values['pcr-banks'] !== undefined ? parseBanks(values['pcr-banks']) : undefined;
    if (values['no-tpm'] && values.eventlog !== undefined) throw new BadInput('--eventlog needs a TPM; drop --no-tpm');
    let gop: { width: number; height: number } | undefined;
    if (values.gop !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(values.gop);
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 1 || Number(m[1]) * Number(m[2]) > 16384 * 16384) throw new BadInput(`--gop: expected WIDTHxHEIGHT, got ${values.gop}`);
      gop = { width: Number(m[1]), height: Number(m[2]) };
    }
    let imagePath: string | undefined;
    if (values.esp !== undefined) {
      const root = realpathOr(values.esp);
      const rel = relative(root, realpathOr(path));
      if (rel.startsWith('..') || isAbsolute(rel)) throw new BadInput(`${path} is not inside the --esp directory ${values.esp}`);
      imagePath = '\\' + rel.split(sep).join('\\');
    }
    const guestOut = new GuestConsoleStream((t) => process.stdout.write(t));
    const guestErr = new GuestConsoleStream((t) => process.stderr.write(t));
    const engine = engineInfo(cpu ?? 'unicorn');
    if (engine.warning) process.stderr.write(`stubemu: warning: ${engine.warning}\n`);
    let result;
    try {
      result = runImage({
        image,
        imageName: basename(path),
        loadOptions: values['load-options'],
        variables,
        keys,
        epochSeconds,
        trace: values.trace ?? false,
        maxInstructions: maxInstructions !== undefined ? Math.floor(maxInstructions) : undefined,
        timeoutSeconds,
        memoryBytes,
        cpu,
        profileMs,
        espDir: values.esp,
        espWritable: values['esp-writable'],
        imagePath,
        rngSeed: values['rng-seed'],
        noRng: values['no-rng'],
        initrds,
        gop,
        smbiosOemStrings: values['smbios-oem'],
        secureBoot: values['secure-boot'],
        pcrBanks,
        onConsole: quiet ? undefined : (text, stream) => (stream === 'StdErr' ? guestErr : guestOut).push(text),
      });
    } finally {
      guestOut.flush();
      guestErr.flush();
    }
    if (values.json !== undefined) {
      const json = reportJson(result.report);
      if (values.json === '-') process.stdout.write(json);
      else writeFileSync(values.json, json);
    }
    if (values.eventlog !== undefined && result.firmware.tcg2) writeFileSync(values.eventlog, result.firmware.tcg2.measuredBoot.serialize());
    if (values['kexec-out'] !== undefined) {
      if (!result.handoff) process.stderr.write(`stubemu: --kexec-out: nothing written, the run did not reach ExitBootServices\n`);
      else {
        const files = writeKexecOut(values['kexec-out'], result.firmware, result.handoff);
        process.stderr.write(`stubemu: kexec hand-off in ${values['kexec-out']}: ${files.join(', ')}\n`);
      }
    }
    process.stderr.write(`${result.summary}\n`);
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
    return result.exitCode;
  } catch (e) {
    if (e instanceof BadInput || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`stubemu: ${e.message}\n`);
      return EXIT.badInput;
    }
    throw e;
  }
}

/**
 * `run` and `verify` execute the guest in a child process: Unicorn 2.0.1 can crash natively (SIGSEGV/SIGABRT) on
 * some self-modifying guest code, and that must end in a clear report, not a dead stubemu.
 */
function isolated(argv: string[]): number {
  const r = spawnSync(process.execPath, [__filename, ...argv], { stdio: 'inherit', env: { ...process.env, STUBEMU_WORKER: '1' } });
  if (r.error) throw r.error;
  if (r.signal !== null) {
    const what = argv.find((a, i) => i > 0 && !a.startsWith('-')) ?? 'the image';
    process.stderr.write(`stubemu: ${oneLine(basename(what))}: fault: the CPU emulator (${engineVersionText()}) crashed with ${r.signal}; `
      + `this happens when guest code rewrites instructions it is executing, which the engine mishandles; no report was written\n`);
    return EXIT.fault;
  }
  return r.status ?? EXIT.fault;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const guestRun = argv[0] === 'run' || argv[0] === 'verify';
  process.exitCode = guestRun && process.env.STUBEMU_WORKER !== '1' && !argv.includes('--help') ? isolated(argv) : main(argv);
}

function engineVersionText(): string {
  try {
    return engineInfo('unicorn').version;
  } catch {
    return 'Unicorn';
  }
}
