// Event-by-event comparison of a PCR prediction with an emulated TCG2 event log, as a readable diff for `stubemu verify`.
import { EV, EVENT_TAG_NAMES, eventTypeName, utf16Text } from '../../efi-services/tcg/event-data';
import type { Digests } from '../../efi-services/tcg/pcr-banks';
import type { EventScope, PredictedEvent } from './predict';
import { GUID } from '../../core/guid';

/** One decoded log entry as `stubemu verify` reads it from the emulated event log. */
export interface LoggedEvent {
  readonly pcr: number;
  /** The TCG_PCR_EVENT2 EventType, as a number or a name ("EV_IPL"). */
  readonly eventType: number | string;
  /** bank → hex digest. */
  readonly digests: Readonly<Record<string, string>>;
  /** The event data as text, when it is text (EV_IPL descriptions). */
  readonly description?: string;
}

export interface Comparison {
  readonly agree: boolean;
  /**
   * "  " an event as predicted, "- " predicted but not logged, "+ " logged but not predicted, "! " the same event
   * with another digest; then a line on the banks compared, one on events outside the prediction, and a verdict.
   */
  readonly lines: readonly string[];
}

/** A name for any event type: the PFP table's (efi-services/tcg/event-data.ts), or "0x…" for values it does not list. */
function typeName(t: number | string): string {
  return typeof t === 'string' ? t : eventTypeName(t);
}

/**
 * The firmware's own record of measurements (MeasuredBoot.events) as compareEvents reads them: digests in hex, and
 * for EV_IPL the UTF-16 text systemd-stub logs as the description.
 */
export function loggedEventsOf(events: readonly { pcr: number; type: number; digests: Digests; data: Buffer }[]): LoggedEvent[] {
  return events.map((e) => ({
    pcr: e.pcr, eventType: e.type,
    digests: Object.fromEntries(Object.entries(e.digests).map(([bank, d]) => [bank, (d as Buffer).toString('hex')])),
    ...(e.type === EV.IPL ? { description: utf16Text(e.data) } : {}),
    ...(e.type === EV.EVENT_TAG ? { description: taggedText(e.data) } : {}),
  }));
}

/**
 * TCG_PCClientTaggedEvent (PFP §10.4.2.1) as "<tag name> <text>": systemd writes UTF-16 descriptions, the Linux EFI stub
 * ASCII ones; undefined when the data is malformed.
 */
function taggedText(d: Buffer): string | undefined {
  if (d.length < 8) return undefined;
  const id = d.readUInt32LE(0);
  const size = d.readUInt32LE(4);
  if (8 + size > d.length) return undefined;
  const data = d.subarray(8, 8 + size);
  const utf16 = data.length >= 2 && data.length % 2 === 0 && data[1] === 0;
  const text = (utf16 ? data.toString('utf16le') : data.toString('latin1')).replace(/\0+$/, '');
  return `${EVENT_TAG_NAMES[id] ?? `0x${id.toString(16).padStart(8, '0')}`} ${text}`;
}

interface Side {
  readonly pcr: number;
  readonly type: string;
  /** undefined: not comparable (binary event data, or the log did not decode it). */
  readonly description: string | undefined;
  readonly label: string;
  readonly digests: Readonly<Record<string, string>>;
}

/** Descriptions come with or without their terminating NUL, depending on the decoder. */
const text = (s: string | undefined): string | undefined => s?.replace(/\0+$/, '');

function label(pcr: number, type: string, description: string | undefined): string {
  return `PCR ${pcr} ${type}${description === undefined ? '' : ` ${JSON.stringify(description)}`}`;
}

function inScope(scope: readonly EventScope[], pcr: number, type: string): boolean {
  return scope.some((s) => s.pcr === pcr && (s.eventTypes === undefined || s.eventTypes.includes(type)));
}

const sameEvent = (p: Side, l: Side): boolean =>
  p.type === l.type && (p.description === undefined || l.description === undefined || p.description === l.description);

function digestsAgree(p: Side, l: Side, banks: readonly string[]): boolean {
  return banks.every((b) => p.digests[b] === undefined || l.digests[b] === undefined || p.digests[b] === l.digests[b].toLowerCase());
}

type Step = { kind: 'pair'; p: Side; l: Side } | { kind: 'missing'; p: Side } | { kind: 'unexpected'; l: Side };

/**
 * Aligns one PCR's predicted and logged sequences (order within a PCR is what the TPM extends). A pair of the same
 * event scores 2 when the digests agree, 1 otherwise, so a missing ".linux" name event is not paired with the
 * ".linux" data event that carries the same description.
 */
function align(pred: readonly Side[], log: readonly Side[], banks: readonly string[]): Step[] {
  const n = pred.length;
  const m = log.length;
  const score = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const pairScore = (i: number, j: number): number => (!sameEvent(pred[i], log[j]) ? -1 : digestsAgree(pred[i], log[j], banks) ? 2 : 1);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const s = pairScore(i, j);
      score[i][j] = Math.max(score[i + 1][j], score[i][j + 1], s < 0 ? -1 : s + score[i + 1][j + 1]);
    }
  }
  const steps: Step[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const s = pairScore(i, j);
    if (s >= 0 && score[i][j] === s + score[i + 1][j + 1]) steps.push({ kind: 'pair', p: pred[i++], l: log[j++] });
    else if (score[i][j] === score[i + 1][j]) steps.push({ kind: 'missing', p: pred[i++] });
    else steps.push({ kind: 'unexpected', l: log[j++] });
  }
  while (i < n) steps.push({ kind: 'missing', p: pred[i++] });
  while (j < m) steps.push({ kind: 'unexpected', l: log[j++] });
  return steps;
}

/**
 * Compares `predicted` with the emulated log's `logged` events, PCR by PCR. Only events inside `scope` are compared
 * (default: every event of each PCR the prediction names); digests are compared in the banks both sides have.
 */
export function compareEvents(predicted: readonly PredictedEvent[], logged: readonly LoggedEvent[], scope?: readonly EventScope[]): Comparison {
  const effectiveScope = scope ?? [...new Set(predicted.map((e) => e.pcr))].map((pcr) => ({ pcr }));
  const pred: Side[] = predicted.map((e) => {
    const description = e.descriptionLogged ? text(e.description) : undefined;
    const name = e.descriptionLogged ? label(e.pcr, e.type, description) : `${label(e.pcr, e.type, undefined)} [${e.description}]`;
    return { pcr: e.pcr, type: e.type, description, label: name, digests: e.digests };
  });
  const inLog: Side[] = [];
  const ignored = new Map<string, number>();
  for (const e of logged) {
    const type = typeName(e.eventType);
    if (!inScope(effectiveScope, e.pcr, type)) {
      const key = `PCR ${e.pcr} ${type}`;
      ignored.set(key, (ignored.get(key) ?? 0) + 1);
      continue;
    }
    const description = text(e.description);
    inLog.push({ pcr: e.pcr, type, description, label: label(e.pcr, type, description), digests: e.digests });
  }

  const predBanks = [...new Set(pred.flatMap((e) => Object.keys(e.digests)))].sort();
  const logBanks = new Set(inLog.flatMap((e) => Object.keys(e.digests)));
  const banks = predBanks.filter((b) => logBanks.has(b));

  const lines: string[] = [];
  let matched = 0;
  let missing = 0;
  let unexpected = 0;
  let mismatched = 0;
  const pcrs = [...new Set([...pred.map((e) => e.pcr), ...inLog.map((e) => e.pcr)])].sort((a, b) => a - b);
  for (const pcr of pcrs) {
    for (const step of align(pred.filter((e) => e.pcr === pcr), inLog.filter((e) => e.pcr === pcr), banks)) {
      if (step.kind === 'missing') {
        missing++;
        lines.push(`- ${step.p.label}: predicted, not in the log`);
      } else if (step.kind === 'unexpected') {
        unexpected++;
        lines.push(`+ ${step.l.label}: in the log, not predicted`);
      } else {
        const wrong = banks.filter((b) => step.p.digests[b] !== undefined && step.l.digests[b] !== undefined && step.p.digests[b] !== step.l.digests[b].toLowerCase());
        if (banks.length === 0 || wrong.length === 0) {
          matched++;
          lines.push(`  ${step.p.label}`);
        } else {
          mismatched++;
          for (const b of wrong) lines.push(`! ${step.p.label}: ${b} predicted ${step.p.digests[b]}, logged ${step.l.digests[b].toLowerCase()}`);
        }
      }
    }
  }
  const unloggedBanks = predBanks.filter((b) => !logBanks.has(b));
  lines.push(`banks compared: ${banks.join(', ') || 'none'}${unloggedBanks.length ? ` (not in the log: ${unloggedBanks.join(', ')})` : ''}`);
  if (ignored.size) {
    const total = [...ignored.values()].reduce((a, b) => a + b, 0);
    lines.push(`not compared: ${total} logged event(s) outside the prediction (${[...ignored].map(([k, n]) => `${k} ×${n}`).join(', ')})`);
  }
  const noBanks = banks.length === 0 && (pred.length > 0 || inLog.length > 0);
  if (noBanks) lines.push('disagree: the prediction and the log share no PCR bank, so no digest was compared');
  const agree = missing === 0 && unexpected === 0 && mismatched === 0 && !noBanks;
  if (!noBanks) {
    lines.push(agree ? `agree: ${matched} event(s) as predicted`
      : `disagree: ${matched} as predicted, ${missing} missing, ${unexpected} unexpected, ${mismatched} with another digest`);
  }
  return { agree, lines };
}

/** systemd's vendor GUID for the Loader and Stub variables (LOADER_GUID, src/boot/efivars-fundamental.h). */
export const LOADER_INFO_GUID = GUID.LOADER_VENDOR;

/** The LoaderInfo variables a run set, from the report's variableChanges, in the order they were first written. */
export function loaderInfoVariablesSet(variableChanges: readonly { guid: string; name: string }[]): string[] {
  return [...new Set(variableChanges.filter((v) => v.guid.toLowerCase() === LOADER_INFO_GUID).map((v) => v.name))];
}

/** The variables the prediction says the stub sets against those the run set: "- " predicted, not set; "+ " set, not predicted. */
export function compareVariables(predicted: readonly string[], set: readonly string[]): Comparison {
  const lines = [
    ...predicted.filter((v) => !set.includes(v)).map((v) => `- variable ${v}: predicted, not set`),
    ...set.filter((v) => !predicted.includes(v)).map((v) => `+ variable ${v}: set, not predicted`),
  ];
  const agree = lines.length === 0;
  lines.push(agree ? `variables: the ${predicted.length} predicted (LoaderInfo GUID) set, no other`
    : `variables disagree: ${lines.length} difference(s)`);
  return { agree, lines };
}
