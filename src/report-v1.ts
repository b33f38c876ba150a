// Report v1 as JSON: the types a consumer of `stubemu run --json`, runImage() or boot() sees. The JSON Schema
// shipped in schema/report-v1.schema.json is generated from `Report` here (npm run schema), so the two say one thing.
//
// These describe the JSON form: 64-bit values (handles, addresses, the virtual clock) are strings ("0x…" or
// decimal, as each field says), and optional keys are absent rather than null unless a field says null.
import type { CallEntry } from '../efi-services/call-log';
import type { ProfileReport } from '../emulator/guest-profile';
import type { VariableChangeReportEntry, VariableReportEntry } from '../efi-services/runtime/variables-json';
import type { JsonValue } from '../efi-services/tcg/event-data';
import type { HandoffReport } from './handoff';
import type { SectionUsage } from './section-usage';
import type { SecureBootReport } from '../efi-services/security/secure-boot';

/**
 * A 64-bit value as lowercase hex with a 0x prefix and no padding, e.g. "0x3f000".
 * @pattern ^0x[0-9a-f]+$
 */
export type Hex = string;
/** image+offset, e.g. "hello.efi+0x1a2b" or "debian-uki.efi:.linux+0xd78c19"; a bare hex address outside images. */
export type Location = string;

/** How a run ends: one list, in core/outcomes.ts. */
export type { OutcomeKind } from '../core/outcomes';

/** The image's entry point returned. */
export interface ReturnedOutcome {
  kind: 'returned';
  /** EFI_STATUS by name (EFI_SUCCESS, EFI_LOAD_ERROR, ...; "0x…" when it has none). */
  status: string;
  /** False when `status` has the error bit. */
  success: boolean;
}

/** The image called Exit(). */
export interface ExitOutcome {
  kind: 'exit';
  status: string;
  /** ExitData as text; null when it could not be read. Absent without ExitData. */
  exitData?: string | null;
  success: boolean;
}

/** ExitBootServices() succeeded: the run ends there. */
export interface ExitBootServicesOutcome {
  kind: 'exit-boot-services';
  /** The MapKey the caller passed (hex). */
  mapKey: Hex;
  /** Where the caller of ExitBootServices resumes. */
  returnAddress: Location;
}

/** ResetSystem() was called. */
export interface ResetOutcome {
  kind: 'reset';
  /** EfiResetCold, EfiResetWarm, EfiResetShutdown, EfiResetPlatformSpecific, or hex. */
  resetType: string;
  status: string;
  /** ResetData as text, when given. */
  data?: string;
}

/** A CPU exception in guest code or a service handed unusable pointers; details in the report's `fault`. */
export interface FaultOutcome {
  kind: 'fault';
  reason: string;
}

/** The instruction or time budget ran out. */
export interface LimitBudgetOutcome {
  kind: 'budget';
  which: 'instructions' | 'time';
  /** Instructions, or milliseconds. */
  limit: number;
  rip: Location;
  message: string;
}

/** The guest waited for an event that nothing can signal. */
export interface WaitForeverBudgetOutcome {
  kind: 'budget';
  which: 'wait-forever';
  message: string;
}

/** Secure Boot refused the image before it ran (the boot manager's LoadImage); details in `secureBoot.images`. */
export interface RefusedOutcome {
  kind: 'refused';
  /** What the Security2 handler returned: EFI_ACCESS_DENIED (edk2's policy) or EFI_SECURITY_VIOLATION. */
  status: string;
  reason: string;
}
export type Outcome =
  | RefusedOutcome
  | ReturnedOutcome
  | ExitOutcome
  | ExitBootServicesOutcome
  | ResetOutcome
  | FaultOutcome
  | LimitBudgetOutcome
  | WaitForeverBudgetOutcome;

/** The options that shaped the run. */
export interface ReportOptions {
  loadOptions: string | null;
  /** The CPU engine's name. */
  cpu: string;
  /** The engine's exact version as loaded ("Unicorn 2.1.1"); null when the engine cannot say. */
  engine: string | null;
  memoryBytes: number;
  /** null when the engine cannot count instructions. */
  maxInstructions: number | null;
  timeoutSeconds: number;
  trace: boolean;
  /** Where the image is on the ESP (backslashes). */
  imagePath: string;
  esp: 'memory' | 'host directory, read-only with overlay' | 'host directory, writable' | 'disk image';
  /** The RNG seed; null without EFI_RNG_PROTOCOL. */
  rng: string | null;
  initrds: { size: number; sha256: string }[];
  /** WIDTHxHEIGHT of the framebuffer, or null. */
  gop: string | null;
  smbiosOemStrings: readonly string[];
  secureBoot: boolean;
  /** --strict-null: page 0 unmapped, every access faults. */
  strictNull: boolean;
  /** Active PCR banks in TPM_ALG_ID order (sha1, sha256, sha384, sha512), as `pcrs` and the event log list them; null without a TPM. */
  pcrBanks: readonly string[] | null;
}

export interface ReportImage {
  name: string;
  handle: Hex;
  base: Hex;
  size: number;
  entry: Location;
  parent: Hex;
  /** 'command line', 'buffer', 'SimpleFileSystem', 'LoadFile2', 'LoadFile'. */
  source: string;
  /** UEFI text form. */
  devicePath?: string;
  fileSha256: string;
  /** PE subsystem (10 application, 11 boot service driver, 12 runtime driver). */
  subsystem: number;
  started: boolean;
  exitStatus?: string;
  unloaded: boolean;
}

export interface MemoryDescriptorReport {
  /** EfiConventionalMemory, EfiLoaderData, ... */
  type: string;
  start: Hex;
  pages: number;
  attribute: Hex;
}

export interface ReportCalls {
  total: number;
  /** Calls per service, e.g. "BootServices.AllocatePages"; keys sorted. */
  counts: { [service: string]: number };
  /** Only with --trace. */
  trace?: CallEntry[];
}

export interface GuestErrorReport {
  /** Sequence number of the call during which it was detected. */
  seq: number;
  service: string;
  caller: Location;
  message: string;
}

/** A protocol asked for and not found (LocateProtocol, HandleProtocol, OpenProtocol, LocateHandle(Buffer) ByProtocol). */
export interface MissingProtocolReport {
  guid: string;
  /** The spec's name when stubemu knows the GUID (EFI_HII_DATABASE_PROTOCOL, ...). */
  name?: string;
  /** Misses in all. */
  calls: number;
  /** True when some handle had it at the end: the misses were asks of handles without it. */
  installed: boolean;
  /** Who asked, in the order first asked: the service, image+offset of the return address, and how often. */
  callers: { service: string; caller: Location; calls: number }[];
}

export interface ConfigurationTableReport {
  guid: string;
  name: string | null;
  address: Hex;
}

export interface HandleReportJson {
  handle: Hex;
  protocols: { guid: string; name?: string; interface: Hex }[];
}

export interface EventReportJson {
  event: Hex;
  type: number;
  typeName: string;
  notifyTpl: number;
  notifyFunction: Hex;
  notifyContext: Hex;
  group?: string;
  groupName?: string;
  signaled: boolean;
  /** Times in µs of the virtual clock, as hex. */
  timer?: { dueMicros: Hex; periodMicros: Hex };
}

export interface TcgEventReport {
  pcr: number;
  /** EV_* name. */
  type: string;
  /** Hex digest per bank. */
  digests: { [bank: string]: string };
  /** The event data decoded (text, tagged events, variables, device paths, ...). */
  data: { [key: string]: JsonValue };
  logged: boolean;
}

export interface FaultReportJson {
  reason: string;
  rip: Location;
  /** CPU exceptions: the vector, its name, and for #PF/#GP the address, access and error code. */
  vector?: number;
  exception?: string;
  errorCode?: number;
  address?: Hex;
  access?: string;
  /** A service handed a pointer outside guest RAM: the service and its decoded arguments. */
  service?: string;
  arguments?: { [name: string]: string };
  /** General-purpose, control and segment registers, each as 16-digit hex. */
  registers: { [name: string]: string };
  instructionBytes?: string;
  /** Return addresses found on the stack that follow a call instruction in a loaded image, innermost first. */
  callTrace: Location[];
  /** Firmware services and guest calls active when the fault happened, outermost first. */
  firmwareStack: string[];
}

/** Page 0 (the NULL page) during the run. */
export interface PageZeroReport {
  /** 'zeros' (readable RAM, as OVMF's default build has it; accesses listed) or 'strict' (--strict-null: accesses fault). */
  mode: 'zeros' | 'strict';
  /** Guest reads and writes of page 0 (the first 256). */
  accesses: { access: 'read' | 'write'; address: Hex; by: Location }[];
  /** How many accesses there were in all. */
  total: number;
  /** The engine could not step accesses (KVM): the page stayed mapped after the first one, later ones are not counted. */
  onlyFirstSeen: boolean;
}

/** Accesses to one I/O port. */
export interface PortAccessReport {
  /**
   * @pattern ^0x[0-9a-f]{1,4}$
   */
  port: string;
  /** The device that answers there, or why nothing does (floating bus: reads all ones). */
  device: string;
  reads: number;
  writes: number;
}

/** The run report, version 1 (`stubemu run --json`). Same inputs and options give the same JSON bytes. */
export interface Report {
  stubemu: { reportVersion: 1 };
  image: { name: string; size: number; sha256: string };
  options: ReportOptions;
  outcome: Outcome;
  /** Everything written with OutputString to ConOut. */
  console: string;
  /** Everything written with OutputString to StdErr. */
  stdErr: string;
  /** Everything the guest sent out of the COM1 UART (port 0x3f8), bytes as Latin-1 text. */
  serial: string;
  /** Page 0: how it was mapped and every guest access to it. */
  pageZero: PageZeroReport;
  /** Every I/O port the guest read or wrote, in port order (emulator/q35: what answers each port). */
  ports: PortAccessReport[];
  calls: ReportCalls;
  /** Members called that the firmware does not implement (they returned EFI_UNSUPPORTED). */
  unimplemented: { service: string; calls: number }[];
  guestErrors: GuestErrorReport[];
  /** Protocols asked for and not present, in the order first asked. */
  missingProtocols: MissingProtocolReport[];
  images: ReportImage[];
  memoryMap: MemoryDescriptorReport[];
  mapKey: number;
  variables: VariableReportEntry[];
  variableChanges: VariableChangeReportEntry[];
  configurationTables: ConfigurationTableReport[];
  handles: HandleReportJson[];
  events: EventReportJson[];
  /** The virtual clock at the end, in µs (decimal string). */
  time: { virtualMicros: string };
  /** With a TPM: the event log, the Spec ID header first. */
  eventLog?: TcgEventReport[];
  /** With a TPM: {bank: {index: hex}} for the 24 PCRs of each active bank. */
  pcrs?: { [bank: string]: { [index: string]: string } };
  imageSections?: SectionUsage[];
  /** Only with --profile: wall-clock samples, so not deterministic. */
  profile?: ProfileReport;
  /** When ExitBootServices() succeeded. */
  handoff?: HandoffReport;
  /** For a fault. */
  fault?: FaultReportJson;
  /** With --secure-boot or keys: the modes, the key variables, and the decision for every image verified. */
  secureBoot?: SecureBootReport;
}
