// Event-by-event comparison of two TCG logs for the PCRs the conformance run checks, and of what the kernel
// received; each check is identical, or says where the first difference is, with expected (OVMF) and got (stubemu).
import { asciiText, EV, eventTypeName, utf16Text } from '../../efi-services/tcg/event-data';
import { ParsedEvent } from '../../efi-services/tcg/event-log';

export type CheckStatus = 'identical' | 'different' | 'missing';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  /** "3 events" when identical; the first difference, or why a side has nothing to compare. */
  readonly detail: string;
}

/**
 * Event types whose data holds firmware memory addresses (UEFI_IMAGE_LOAD_EVENT's ImageLocationInMemory,
 * UEFI_HANDOFF_TABLE_POINTERS' table addresses, blob bases): different on any two machines, so only their type and
 * digests are compared. Every other event's data is compared byte for byte.
 */
const ADDRESS_DATA: ReadonlySet<number> = new Set([
  EV.EFI_BOOT_SERVICES_APPLICATION, EV.EFI_BOOT_SERVICES_DRIVER, EV.EFI_RUNTIME_SERVICES_DRIVER,
  EV.EFI_HANDOFF_TABLES, EV.EFI_HANDOFF_TABLES2, EV.EFI_PLATFORM_FIRMWARE_BLOB, EV.EFI_PLATFORM_FIRMWARE_BLOB2,
]);

/** The events a check looks at. PCR 4: only the EV_EFI_BOOT_SERVICES_APPLICATION digests, as the issue names. */
export interface EventCheck {
  readonly name: string;
  readonly pcr: number;
  readonly types?: readonly number[];
  /** Event types left to another check. */
  readonly otherTypes?: readonly number[];
}

export const EVENT_CHECKS: readonly EventCheck[] = [
  // OVMF's boot options (BootOrder, Boot####) apart from the rest of PCR 1 (its separator, and the SMBIOS tables
  // systemd-stub 261+ measures), so the known difference in the former does not hide the latter.
  { name: 'PCR 1 boot options', pcr: 1, types: [EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2] },
  { name: 'PCR 1', pcr: 1, otherTypes: [EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2] },
  { name: 'PCR 4 apps', pcr: 4, types: [EV.EFI_BOOT_SERVICES_APPLICATION] },
  { name: 'PCR 5', pcr: 5 },
  { name: 'PCR 7', pcr: 7 },
  { name: 'PCR 9', pcr: 9 },
  { name: 'PCR 11', pcr: 11 },
  { name: 'PCR 12', pcr: 12 },
  { name: 'PCR 13', pcr: 13 },
];

function short(d: Buffer): string {
  return d.toString('hex').slice(0, 16);
}

const VARIABLE_EVENTS: ReadonlySet<number> = new Set([EV.EFI_VARIABLE_DRIVER_CONFIG, EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2, EV.EFI_VARIABLE_AUTHORITY]);

/** The variable a UEFI_VARIABLE_DATA event is about (PFP 1.05 §10.4.6: GUID, name length, data length, name). */
function variableName(d: Buffer): string | undefined {
  if (d.length < 32) return undefined;
  const n = Number(d.readBigUInt64LE(16));
  const size = Number(d.readBigUInt64LE(24));
  if (32 + 2 * n + size !== d.length) return undefined;
  return `${d.subarray(32, 32 + 2 * n).toString('utf16le')} (${size} bytes)`;
}

/** One event in a line: type, sha256 (or first) digest prefix, and its data as text when it is text. */
export function describeEvent(e: ParsedEvent): string {
  const d = e.digests.find((x) => x.bank === 'sha256') ?? e.digests[0];
  const text = e.data.length <= 200 ? (asciiText(e.data) ?? utf16Text(e.data)) : undefined;
  const variable = VARIABLE_EVENTS.has(e.type) ? variableName(e.data) : undefined;
  const data = ADDRESS_DATA.has(e.type) ? '' : variable !== undefined ? ` ${variable}` : text !== undefined ? ` "${text}"` : ` data ${e.data.length} bytes ${short(e.data)}…`;
  return `${eventTypeName(e.type)} ${d ? `${d.bank ?? d.algorithmId}:${short(d.digest)}…` : 'no digest'}${data}`;
}

function sameDigests(a: ParsedEvent, b: ParsedEvent): string | undefined {
  const banks = (e: ParsedEvent) => e.digests.map((d) => d.algorithmId).sort().join(',');
  if (banks(a) !== banks(b)) return `banks ${banks(a)} vs ${banks(b)}`;
  for (const d of a.digests) {
    const o = b.digests.find((x) => x.algorithmId === d.algorithmId)!;
    if (!o.digest.equals(d.digest)) return `${d.bank ?? d.algorithmId} digest`;
  }
  return undefined;
}

/** Compares the selected events of both logs in order; expected is OVMF's, got is stubemu's. */
export function compareEvents(check: EventCheck, expected: readonly ParsedEvent[], got: readonly ParsedEvent[]): CheckResult {
  const pick = (l: readonly ParsedEvent[]) => l.filter((e) => e.pcr === check.pcr && e.type !== EV.NO_ACTION && (!check.types || check.types.includes(e.type)) && !check.otherTypes?.includes(e.type));
  const a = pick(expected);
  const b = pick(got);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    const at = `event ${i + 1}`;
    if (!x) return { check: check.name, status: 'different', detail: `${at}: expected no more events (OVMF has ${a.length}), got ${describeEvent(y)}` };
    if (!y) return { check: check.name, status: 'different', detail: `${at}: expected ${describeEvent(x)}, got nothing (stubemu has ${b.length})` };
    let why: string | undefined;
    if (x.type !== y.type) why = 'event type';
    else why = sameDigests(x, y) ?? (ADDRESS_DATA.has(x.type) || x.data.equals(y.data) ? undefined : 'event data');
    if (why) return { check: check.name, status: 'different', detail: `${at} (${why}): expected ${describeEvent(x)}, got ${describeEvent(y)}` };
  }
  return { check: check.name, status: 'identical', detail: `${a.length} event${a.length === 1 ? '' : 's'}` };
}

/**
 * The parts of a UEFI_IMAGE_LOAD_EVENT (PFP 1.05 §10.4.3) that do not depend on where the firmware put things:
 * ImageLengthInMemory, ImageLinkTimeAddress, and the device path's file-path and vendor media nodes (the disk and
 * partition nodes name QEMU's virtio disk and vvfat's MBR, which stubemu does not have). ImageLocationInMemory is
 * an address and is left out.
 */
export function imageLoadSummary(d: Buffer): string {
  if (d.length < 32) return `malformed (${d.length} bytes)`;
  const length = d.readBigUInt64LE(8);
  const link = d.readBigUInt64LE(16);
  const end = Math.min(d.length, 32 + Number(d.readBigUInt64LE(24)));
  const nodes: string[] = [];
  for (let o = 32; o + 4 <= end;) {
    const [type, sub, len] = [d[o], d[o + 1], d.readUInt16LE(o + 2)];
    if (len < 4) break;
    if (type === 4 && sub === 4) nodes.push(d.subarray(o + 4, o + len).toString('utf16le').replace(/\0+$/, ''));
    else if (type === 4 && sub === 3) nodes.push(`VenMedia(${d.subarray(o + 4, o + len).toString('hex')})`);
    o += len;
  }
  return `ImageLengthInMemory ${length}, ImageLinkTimeAddress 0x${link.toString(16)}, path ${nodes.join('') || '(none)'}`;
}

/** PCR 4's application load events by their address-free data (imageLoadSummary), in order. */
export function compareImageLoads(name: string, expected: readonly ParsedEvent[], got: readonly ParsedEvent[]): CheckResult {
  const pick = (l: readonly ParsedEvent[]) => l.filter((e) => e.pcr === 4 && e.type === EV.EFI_BOOT_SERVICES_APPLICATION).map((e) => imageLoadSummary(e.data));
  const r = compareValue(name, pick(expected).join('; '), pick(got).join('; '));
  const a = pick(expected);
  const b = pick(got);
  if (r.status !== 'different') return { ...r, detail: `${a.length} image${a.length === 1 ? '' : 's'}` };
  const i = a.findIndex((x, k) => x !== b[k]);
  const at = i < 0 ? b.length > a.length ? a.length : 0 : i;
  return { check: name, status: 'different', detail: `image ${at + 1}: expected ${a[at] ?? 'no more images'}, got ${b[at] ?? 'nothing'}` };
}

/** A value both sides report (the command line, the initrd digest); undefined means that side could not say. */
export function compareValue(check: string, expected: string | undefined, got: string | undefined): CheckResult {
  if (expected === undefined) return { check, status: 'missing', detail: 'the QEMU guest did not report it' };
  if (got === undefined) return { check, status: 'missing', detail: 'stubemu did not report it' };
  if (expected === got) return { check, status: 'identical', detail: expected };
  return { check, status: 'different', detail: `expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}` };
}
