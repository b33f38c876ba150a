// Public API: run an EFI image in the emulated machine and get the report, the exit code and a summary line.
import { createHash } from 'node:crypto';
import { Cpu, CpuTraits } from '../emulator/cpu/cpu';
import { cpuProblem, createCpu, CpuKind } from '../emulator/cpu/create-cpu';
import { GuestFault, RunEnd } from '../core/outcomes';
import { GuestHang } from '../efi-services/boot/events';
import { EfiBootServicesData } from '../efi-services/boot/memory-types';
import { MemfsVolume } from '../efi-services/esp/memfs-volume';
import { LoadedImage } from '../efi-services/boot/images';
import { createFirmware, Firmware } from '../efi-services/firmware';
import { FirmwareOptions } from '../efi-services/firmware-options';
import { Machine, memorySizeProblem } from '../emulator/machine';
import { encodeUtf16z } from '../core/guest-memory';
import { filePathNode } from '../efi-services/protocols/device-path';
import { LOADED_IMAGE } from '../efi-services/protocols/loaded-image';
import { InputKey } from '../efi-services/protocols/simple-text-input';
import { VariableSeed } from '../efi-services/runtime/variables-json';
import { EfiError, isError, statusName } from '../core/status';
import { BadInput, readInputFile } from './bad-input';
import { faultReport, FaultReport } from './fault-report';
import { captureHandoff } from './handoff';
import { SectionTracker } from './section-usage';
import { HostVolume } from '../efi-services/esp/host-volume';
import { DiskImageError, RawDisk } from '../efi-services/disk/raw-disk';
import { GptLayout, readGpt } from '../efi-services/disk/gpt-read';
import { DEFAULT_PCR_BANKS, HashAlgorithmName } from '../efi-services/tcg/pcr-banks';
import { oneLine } from './guest-text';
import { buildReport, Outcome, Report, ReportOptions } from './report';
import { SecureBootKeys } from '../efi-services/security/secure-boot';
import { verifyBootOption } from './secure-boot-run';
import { GuestProfile } from '../emulator/guest-profile';
import { ProgressState } from './progress';
import { EXIT } from './exit-codes';

export type ConsoleStream = 'ConOut' | 'StdErr' | 'Serial';

export interface RunOptions {
  image: Buffer;
  imageName: string;
  loadOptions?: string;
  variables?: readonly VariableSeed[];
  keys?: readonly InputKey[];
  epochSeconds?: bigint;
  trace?: boolean;
  /** Instructions the guest may run between two firmware calls. */
  maxInstructions?: number;
  timeoutSeconds?: number;
  memoryBytes?: number;
  /** A host directory as the ESP (read-only, guest writes in memory unless espWritable); IMAGE must be inside it. */
  espDir?: string;
  espWritable?: boolean;
  /** Where IMAGE is on the ESP (backslashes); default \EFI\BOOT\BOOTX64.EFI, or its place inside espDir. */
  imagePath?: string;
  rngSeed?: string;
  noRng?: boolean;
  /** Bare kernels: the initrd the firmware offers through LoadFile2 (several are concatenated, 4-byte aligned). */
  initrds?: readonly Buffer[];
  gop?: { width: number; height: number };
  smbiosOemStrings?: readonly string[];
  /**
   * SecureBootEnable. With secureBootKeys (a PK among them): Secure Boot on, every image verified against db/dbx.
   * Without keys: only announced (SecureBoot=1, SetupMode=0), nothing verified; stubs still change their rules.
   */
  secureBoot?: boolean;
  /** PK/KEK/db/dbx as EFI_SIGNATURE_LIST bytes (see efi-services/security/key-files.ts, ms-keys.ts). */
  secureBootKeys?: SecureBootKeys;
  /** Active PCR banks (default sha1 + sha256); null: no TPM (EFI_TCG2_PROTOCOL absent). */
  pcrBanks?: readonly HashAlgorithmName[] | null;
  /** Console output as the guest writes it: ConOut, StdErr, and the bytes it sends out of the COM1 UART ('Serial'). */
  onConsole?: (text: string, stream: ConsoleStream) => void;
  /** Present the ESP also as a GPT disk with Block I/O and Disk I/O (default true). */
  espDisk?: boolean;
  /**
   * A raw disk image with a GPT (`--disk FILE`): served through Block I/O and Disk I/O on the disk and partition handles,
   * its EFI system partition is the boot image's device (no SimpleFileSystem on it); not with espDir.
   */
  diskFile?: string;
  /** Page 0 unmapped: every access faults (default: zeros as on OVMF, every access listed in report.pageZero). */
  strictNull?: boolean;
  /** The CPU engine (default unicorn). kvm runs guest code on the host CPU: fast, but no instruction budget. */
  cpu?: CpuKind;
  /** Sample guest RIP every this many milliseconds of emulation into report.profile (not deterministic). */
  profileMs?: number;
  /** Told where the run is after every service call and every stop of the CPU (the CLI's progress line). */
  onProgress?: (s: ProgressState) => void;
}

export const DEFAULTS = {
  timeoutSeconds: 60,
  memoryBytes: 1024 * 1024 * 1024,
} as const;

/** Documented exit codes of `stubemu run`. */
export { EXIT };

/** Bad input and input files (src/bad-input.ts), as the library and the CLI modules import them. */
export { BadInput, readInputFile };

/** Concatenated initrds, each padded to 4 bytes (the cpio newc alignment the kernel's unpacker expects). */
export function concatInitrds(parts: readonly Buffer[]): Buffer {
  // One aligned initrd is offered as it is: a large one is then held once on the host, not twice.
  if (parts.length === 1 && parts[0].length % 4 === 0) return parts[0];
  return Buffer.concat(parts.flatMap((p) => [p, Buffer.alloc((4 - (p.length % 4)) % 4)]));
}

export interface RunResult {
  /** Report v1, exactly as `reportJson` writes it (64-bit values as hex strings). */
  report: Report;
  outcome: Outcome;
  exitCode: number;
  summary: string;
  firmware: Firmware;
  /** The board the firmware ran on (its run statistics). */
  machine: Machine;
  /** Present when ExitBootServices succeeded. */
  handoff?: ReturnType<typeof captureHandoff>;
}

/** The path of the started image on the ESP, as a boot manager would find it (UEFI 2.10 §3.5.1.1). */
export const DEFAULT_IMAGE_PATH = '\\EFI\\BOOT\\BOOTX64.EFI';

export function runImage(o: RunOptions): RunResult {
  const started = Date.now();
  const memoryBytes = o.memoryBytes ?? DEFAULTS.memoryBytes;
  const memoryProblem = memorySizeProblem(memoryBytes);
  if (memoryProblem) throw new BadInput(memoryProblem);
  const cpu = engineFor(o);
  let disk: { store: RawDisk; layout: GptLayout } | undefined;
  try {
    if (o.diskFile !== undefined) disk = openDisk(o.diskFile, o.espDir);
    const machine = new Machine(cpu, memoryBytes, {
      maxInstructions: o.maxInstructions,
      timeoutMs: (o.timeoutSeconds ?? DEFAULTS.timeoutSeconds) * 1000,
    }, { strictNull: o.strictNull, onSerial: (text) => o.onConsole?.(text, 'Serial') });
    const fw = createFirmware(machine, firmwareOptions(o, disk));
    const imagePath = o.imagePath ?? DEFAULT_IMAGE_PATH;
    // The boot manager's LoadImage of the boot option runs the Security2 handler first (edk2 CoreLoadImageCommon).
    const refused = verifyBootOption(fw, o.image, fw.espFileDevicePath(imagePath));
    if (refused) {
      const report = buildReport(fw, { machine, imageName: o.imageName, image: o.image, options: reportOptions(o, cpu.traits, memoryBytes, imagePath), outcome: refused });
      const summary = `stubemu: ${oneLine(o.imageName)}: refused by Secure Boot (${refused.status}): ${oneLine(refused.reason)}`;
      return { report, outcome: refused, exitCode: EXIT.imageError, summary, firmware: fw, machine };
    }
    const img = loadStartImage(fw, o, imagePath);
    const sections = new SectionTracker(fw, cpu, img);
    if (o.profileMs !== undefined) machine.profile = new GuestProfile(o.profileMs);
    let lastService: string | undefined;
    fw.dispatcher.onCall = (service, decl, args) => {
      lastService = service;
      sections.onCall(service, decl, args);
    };
    const onProgress = o.onProgress;
    if (onProgress) machine.onProgress = (rip) => onProgress({ calls: fw.log.current, region: fw.regionOf(rip), lastService });

    const { outcome, fault } = runToOutcome(fw, img);
    const handoff = outcome.kind === 'exit-boot-services' ? captureHandoff(fw) : undefined;
    const report = buildReport(fw, {
      machine,
      imageName: o.imageName,
      image: o.image,
      options: reportOptions(o, cpu.traits, memoryBytes, imagePath),
      outcome,
      fault,
      handoff: handoff?.report,
      imageSections: sections.finish(),
      profile: machine.profile?.report((a) => fw.symbolize(a), (a) => fw.regionOf(a)),
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(2);
    const summary = `stubemu: ${oneLine(o.imageName)}: ${oneLine(outcomeText(outcome))}; ${report.calls.total} service calls in ${seconds} s`;
    return { report, outcome, exitCode: exitCodeOf(outcome), summary, firmware: fw, machine, handoff };
  } finally {
    cpu.close();
    disk?.store.close();
  }
}

/** The raw disk image of --disk, its GPT read; a file that is no GPT disk is bad input naming the problem. */
function openDisk(file: string, espDir: string | undefined): { store: RawDisk; layout: GptLayout } {
  if (espDir !== undefined) throw new BadInput('--disk and --esp exclude each other: the disk image holds the ESP');
  let store: RawDisk | undefined;
  try {
    store = new RawDisk(file);
    return { store, layout: readGpt(store, `--disk ${file}`) };
  } catch (e) {
    store?.close();
    if (e instanceof DiskImageError) throw new BadInput(e.message);
    throw e;
  }
}

/** The CPU engine the options ask for, or BadInput saying why it cannot serve. */
function engineFor(o: RunOptions): Cpu {
  const cpuKind = o.cpu ?? 'unicorn';
  const cpuTrouble = cpuProblem(cpuKind);
  if (cpuTrouble) throw new BadInput(`cpu ${cpuKind}: ${cpuTrouble}`);
  const cpu = createCpu(cpuKind);
  if (o.maxInstructions !== undefined && !cpu.traits.countsInstructions) {
    cpu.close();
    throw new BadInput(`an instruction budget needs an engine that counts instructions; cpu ${cpuKind} does not (use the time budget)`);
  }
  return cpu;
}

function firmwareOptions(o: RunOptions, disk: FirmwareOptions['disk']): FirmwareOptions {
  return {
    trace: o.trace ?? false,
    variables: o.variables,
    keys: o.keys,
    epochSeconds: o.epochSeconds,
    esp: o.espDir !== undefined ? new HostVolume(o.espDir, { writable: o.espWritable ?? false }) : new MemfsVolume({ [DEFAULT_IMAGE_PATH]: o.image }),
    rngSeed: o.rngSeed,
    noRng: o.noRng,
    initrd: o.initrds && o.initrds.length > 0 ? concatInitrds(o.initrds) : undefined,
    gop: o.gop,
    smbiosOemStrings: o.smbiosOemStrings,
    secureBoot: o.secureBoot,
    secureBootKeys: o.secureBootKeys,
    pcrBanks: o.pcrBanks,
    onConsole: o.onConsole,
    espDisk: o.espDisk,
    disk,
  };
}

/** The image from the ESP at `imagePath`, as a boot manager loads it, with its LoadOptions. */
function loadStartImage(fw: Firmware, o: RunOptions, imagePath: string): LoadedImage {
  let img;
  try {
    img = fw.images.load(o.image, {
      name: o.imageName,
      parent: 0n,
      devicePath: fw.espFileDevicePath(imagePath),
      deviceHandle: fw.espHandle,
      filePath: [filePathNode(imagePath)],
      source: 'command line',
    });
  } catch (e) {
    if (e instanceof EfiError) throw new BadInput(e.message.startsWith(`${o.imageName}: `) ? e.message : `${o.imageName}: ${e.message}`);
    throw e;
  }
  if (o.loadOptions !== undefined) {
    const bytes = encodeUtf16z(o.loadOptions);
    const buf = fw.pool.allocate(EfiBootServicesData, bytes.length, 'firmware');
    fw.mem.write(buf, bytes);
    fw.mem.setU32(img.loadedImage + BigInt(LOADED_IMAGE.LoadOptionsSize), bytes.length);
    fw.mem.setU64(img.loadedImage + BigInt(LOADED_IMAGE.LoadOptions), buf);
  }
  return img;
}

/** StartImage, and how the run ended: the image returned or exited, or the run ended (RunEnd, a fault, a hang). */
function runToOutcome(fw: Firmware, img: LoadedImage): { outcome: Outcome; fault?: FaultReport } {
  try {
    const r = fw.images.start(img);
    const status = statusName(r.status);
    const success = !isError(r.status);
    if (!r.exited) return { outcome: { kind: 'returned', status, success } };
    let exitData: string | null | undefined;
    if (r.exitDataSize > 0n && r.exitData !== 0n) {
      try {
        exitData = fw.mem.utf16z(r.exitData, Number(r.exitDataSize / 2n));
      } catch {
        exitData = null;
      }
    }
    return { outcome: { kind: 'exit', status, ...(exitData !== undefined ? { exitData } : {}), success } };
  } catch (e) {
    // RunEnd's details are built where the run ends (budget, ResetSystem, ExitBootServices) with the fields of
    // the matching Outcome variant; the schema test checks real reports of each kind.
    if (e instanceof RunEnd) return { outcome: { kind: e.kind, ...e.details } as Outcome };
    if (e instanceof GuestFault) {
      const fault = faultReport(e, fw.mem, fw.images.images, (a) => fw.symbolize(a), fw.dispatcher.activeCalls);
      return { outcome: { kind: 'fault', reason: e.reason }, fault };
    }
    if (e instanceof GuestHang) return { outcome: { kind: 'budget', which: 'wait-forever', message: e.message } };
    throw e;
  }
}

function reportOptions(o: RunOptions, engine: CpuTraits, memoryBytes: number, imagePath: string): ReportOptions {
  return {
    loadOptions: o.loadOptions ?? null,
    cpu: engine.name,
    engine: engine.version ?? null,
    memoryBytes,
    maxInstructions: o.maxInstructions ?? null,
    timeoutSeconds: o.timeoutSeconds ?? DEFAULTS.timeoutSeconds,
    trace: o.trace ?? false,
    imagePath,
    esp: o.diskFile !== undefined ? 'disk image' : o.espDir !== undefined ? (o.espWritable ? 'host directory, writable' : 'host directory, read-only with overlay') : 'memory',
    rng: o.noRng ? null : (o.rngSeed ?? 'stubemu'),
    initrds: (o.initrds ?? []).map((b) => ({ size: b.length, sha256: createHash('sha256').update(b).digest('hex') })),
    gop: o.gop ? `${o.gop.width}x${o.gop.height}` : null,
    smbiosOemStrings: o.smbiosOemStrings ?? [],
    secureBoot: o.secureBoot ?? false,
    strictNull: o.strictNull ?? false,
    pcrBanks: o.pcrBanks === null ? null : (o.pcrBanks ?? DEFAULT_PCR_BANKS),
  };
}

function exitCodeOf(outcome: Outcome): number {
  if (outcome.kind === 'fault') return EXIT.fault;
  if (outcome.kind === 'budget') return EXIT.budget;
  if ((outcome.kind === 'returned' || outcome.kind === 'exit') && outcome.success === false) return EXIT.imageError;
  return EXIT.ok;
}

/** The summary line's account of the outcome. */
function outcomeText(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'fault': return `fault: ${outcome.reason}`;
    case 'budget': return `budget exhausted: ${outcome.message}`;
    case 'reset': return `ResetSystem(${outcome.resetType}, ${outcome.status})`;
    case 'exit-boot-services': return `ExitBootServices succeeded (returning to ${outcome.returnAddress})`;
    default: return `${outcome.kind === 'exit' ? 'Exit()' : 'returned'} ${outcome.status}`;
  }
}
