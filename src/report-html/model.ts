// The parts of the JSON run report (README "The report", version 1) that the HTML page and the diff read, typed
// loosely: reports come from files, so every part may be missing (no --trace, no TPM, no hand-off).

export interface TraceCall {
  seq: number;
  service: string;
  caller: string;
  depth: number;
  micros?: number;
  returnMicros?: number;
  args: Record<string, string>;
  status?: string;
  notes?: string[];
}

export interface ImageEntry {
  name: string;
  handle: string;
  base: string;
  size: number;
  entry: string;
  parent: string;
  source: string;
  devicePath?: string;
  fileSha256: string;
  started: boolean;
  exitStatus?: string;
  unloaded: boolean;
}

export interface MemoryDescriptor {
  type: string;
  start: string;
  pages: number;
  attribute: string;
}

export interface Variable {
  guid: string;
  name: string;
  attributes: string[];
  size: number;
  data?: string;
  utf16?: string;
}

export interface VariableChange {
  op: string;
  guid: string;
  name: string;
  attributes?: string[];
  size?: number;
  [more: string]: unknown;
}

export interface TcgEvent {
  pcr: number;
  type: string;
  digests: Record<string, string>;
  data?: unknown;
  logged?: boolean;
}

export type FirstAccess = { access: string; at: string; by: string } | null | string;

export interface SectionUse {
  name: string;
  rva: string;
  size: number;
  sha256: string;
  firstAccess: FirstAccess;
  passedTo: { service: string; argument: string; offset: string }[];
  copies: { address: string; memoryType: string; length: number }[];
}

export interface Handoff {
  cpu?: { returnAddress: string; rsp: string; image: string };
  bootParams?: {
    address: string;
    setupHeader?: Record<string, string>;
    cmdline?: { address: string; text: string } | null;
    ramdisk?: { address: string; size: number } | null;
    acpiRsdpAddr?: string;
    efiInfo?: Record<string, string>;
    screenInfo?: Record<string, string>;
    e820?: { addr?: string; address?: string; size: string | number; type: string | number }[];
    setupData?: unknown[];
  } | null;
  cmdline?: string | null;
  initrd?: { address: string; size: number; sha256: string } | null;
  kernel?: { image: string; address: string; size: number; fileSha256: string; source: string } | null;
  memoryMap?: MemoryDescriptor[];
}

export interface RunReport {
  stubemu?: { reportVersion: number };
  image: { name: string; size: number; sha256: string };
  options?: Record<string, unknown>;
  outcome: { kind: string; status?: string; [detail: string]: unknown };
  console?: string;
  stdErr?: string;
  calls: { total: number; counts: Record<string, number>; trace?: TraceCall[] };
  unimplemented?: { service: string; calls: number }[];
  guestErrors?: { seq: number; service: string; caller: string; message: string }[];
  missingProtocols?: { guid: string; name?: string; calls: number; installed: boolean; callers: { service: string; caller: string; calls: number }[] }[];
  images?: ImageEntry[];
  memoryMap?: MemoryDescriptor[];
  variables?: Variable[];
  variableChanges?: VariableChange[];
  configurationTables?: { guid: string; name: string | null; address: string }[];
  time?: { virtualMicros: string };
  eventLog?: TcgEvent[];
  pcrs?: Record<string, Record<string, string>>;
  imageSections?: SectionUse[];
  handoff?: Handoff;
  fault?: { reason: string; rip: string; [more: string]: unknown };
}

/** Parses a report file's text; a message naming what is wrong when it is not a stubemu run report. */
export function parseReport(text: string, what: string): RunReport {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: not JSON: ${(e as Error).message}`);
  }
  const o = r as Partial<RunReport>;
  if (typeof o !== 'object' || o === null || !o.image || !o.outcome || !o.calls) {
    throw new Error(`${what}: not a stubemu run report (no image, outcome or calls)`);
  }
  return o as RunReport;
}

/** The image a caller (`img+0x..`, `img:.linux+0x..`) belongs to: the longest image name it starts with. */
export function callerImage(caller: string, images: readonly string[]): string {
  let best = '';
  for (const n of images) if (caller.startsWith(`${n}+`) && n.length > best.length) best = n;
  if (best) return best;
  const m = /^(.*)\+0x[0-9a-f]+$/.exec(caller);
  return m ? m[1] : 'firmware';
}

export const big = (hex: string): bigint => BigInt(hex);
