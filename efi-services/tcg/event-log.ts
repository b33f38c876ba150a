// The crypto-agile TCG event log (PFP 1.05 §10.2, TCG EFI Protocol Spec §5) and the PCR state it replays to,
// kept in one place (STYLE 11); serialized exactly as Linux exposes /sys/kernel/security/tpm0/binary_bios_measurements.
import { decodeEventData, decodeSpecIdEvent, encodeSpecIdEvent, EV, EventDataReport, eventTypeName, SpecIdEvent } from './event-data';
import { bankOfAlgId, DEFAULT_PCR_BANKS, DIGEST_SIZE, Digests, HashAlgorithmName, hashAll, normalizeBanks, PCR_COUNT, PcrBanks, TPM_ALG } from './pcr-banks';

/** PcdTcgLogAreaMinLen: the 64 KiB log area edk2 (and so OVMF) allocates (PFP 1.05 minimum LAML). */
export const DEFAULT_LOG_AREA_SIZE = 0x10000;

/** TCG_PCR_EVENT header size of the first record (PCRIndex, EventType, SHA1 digest, EventSize). */
const TCG_PCR_EVENT_HEADER = 4 + 4 + 20 + 4;

/**
 * The Spec ID Event03 header as edk2 Tcg2Dxe writes it: platform class 0 (client), spec 2.0 errata 0
 * (PcdTcgPfpMeasurementRevision defaults to 0, as seen in OVMF logs), UINTN of 64 bits, no vendor info.
 */
export function specIdFor(banks: readonly HashAlgorithmName[]): SpecIdEvent {
  return {
    platformClass: 0, specVersionMinor: 0, specVersionMajor: 2, specErrata: 0, uintnSize: 2,
    algorithms: banks.map((b) => ({ algorithmId: TPM_ALG[b], digestSize: DIGEST_SIZE[b] })),
    vendorInfo: Buffer.alloc(0),
  };
}

/** The first record: a TCG_PCR_EVENT (SHA-1 layout) of type EV_NO_ACTION in PCR 0 carrying the Spec ID event. */
export function serializeHeaderEvent(specId: SpecIdEvent): Buffer {
  const data = encodeSpecIdEvent(specId);
  const h = Buffer.alloc(TCG_PCR_EVENT_HEADER);
  h.writeUInt32LE(0, 0);
  h.writeUInt32LE(EV.NO_ACTION, 4);
  h.writeUInt32LE(data.length, 28);
  return Buffer.concat([h, data]);
}

export interface DigestValue {
  algorithmId: number;
  digest: Buffer;
}

/** TCG_PCR_EVENT2: PCRIndex, EventType, TPML_DIGEST_VALUES (count, {hashAlg, digest}…), EventSize, Event. */
export function serializeEvent2(pcr: number, type: number, digests: readonly DigestValue[], data: Buffer): Buffer {
  const size = 4 + 4 + 4 + digests.reduce((n, d) => n + 2 + d.digest.length, 0) + 4 + data.length;
  const b = Buffer.alloc(size);
  b.writeUInt32LE(pcr >>> 0, 0);
  b.writeUInt32LE(type >>> 0, 4);
  b.writeUInt32LE(digests.length, 8);
  let o = 12;
  for (const d of digests) {
    b.writeUInt16LE(d.algorithmId, o);
    d.digest.copy(b, o + 2);
    o += 2 + d.digest.length;
  }
  b.writeUInt32LE(data.length, o);
  data.copy(b, o + 4);
  return b;
}

export interface ParsedEvent {
  /** Byte offset of the record in the log. */
  offset: number;
  size: number;
  pcr: number;
  type: number;
  digests: (DigestValue & { bank?: HashAlgorithmName })[];
  data: Buffer;
}

export interface ParsedLog {
  specId: SpecIdEvent;
  /** The TCG_PCR_EVENT header record. */
  header: ParsedEvent;
  /** The TCG_PCR_EVENT2 records after it. */
  events: ParsedEvent[];
}

export class EventLogFormatError extends Error {
  constructor(readonly offset: number, reason: string) {
    super(`event log at byte ${offset}: ${reason}`);
  }
}

/**
 * Parses a crypto-agile log (binary_bios_measurements layout). Digest sizes come from the Spec ID event, as
 * Linux's tpm2 event log code reads them; every length is checked against the buffer.
 */
export function parseEventLog(log: Buffer): ParsedLog {
  const fail = (o: number, why: string): never => { throw new EventLogFormatError(o, why); };
  if (log.length < TCG_PCR_EVENT_HEADER) fail(0, 'shorter than a TCG_PCR_EVENT header');
  const headerSize = log.readUInt32LE(28);
  if (TCG_PCR_EVENT_HEADER + headerSize > log.length) fail(28, `header EventSize ${headerSize} runs past the end`);
  const headerData = Buffer.from(log.subarray(TCG_PCR_EVENT_HEADER, TCG_PCR_EVENT_HEADER + headerSize));
  if (log.readUInt32LE(4) !== EV.NO_ACTION) fail(4, 'first event is not EV_NO_ACTION');
  let specId: SpecIdEvent;
  try {
    specId = decodeSpecIdEvent(headerData);
  } catch (e) {
    return fail(TCG_PCR_EVENT_HEADER, (e as Error).message);
  }
  const sizes = new Map(specId.algorithms.map((a) => [a.algorithmId, a.digestSize]));
  const header: ParsedEvent = {
    offset: 0, size: TCG_PCR_EVENT_HEADER + headerSize, pcr: log.readUInt32LE(0), type: EV.NO_ACTION,
    digests: [{ algorithmId: TPM_ALG.sha1, bank: 'sha1', digest: Buffer.from(log.subarray(8, 28)) }], data: headerData,
  };
  const events: ParsedEvent[] = [];
  let o = header.size;
  while (o < log.length) {
    const start = o;
    if (o + 12 > log.length) fail(o, 'truncated TCG_PCR_EVENT2 header');
    const pcr = log.readUInt32LE(o);
    const type = log.readUInt32LE(o + 4);
    const count = log.readUInt32LE(o + 8);
    if (count > sizes.size) fail(o + 8, `digest count ${count} exceeds the ${sizes.size} algorithms of the Spec ID event`);
    o += 12;
    const digests: ParsedEvent['digests'] = [];
    for (let i = 0; i < count; i++) {
      if (o + 2 > log.length) fail(o, 'truncated digest list');
      const algorithmId = log.readUInt16LE(o);
      const n = sizes.get(algorithmId);
      if (n === undefined) fail(o, `algorithm 0x${algorithmId.toString(16)} is not in the Spec ID event`);
      if (o + 2 + n! > log.length) fail(o, 'truncated digest');
      const bank = bankOfAlgId(algorithmId);
      digests.push({ algorithmId, ...(bank ? { bank } : {}), digest: Buffer.from(log.subarray(o + 2, o + 2 + n!)) });
      o += 2 + n!;
    }
    if (o + 4 > log.length) fail(o, 'truncated EventSize');
    const size = log.readUInt32LE(o);
    if (o + 4 + size > log.length) fail(o, `EventSize ${size} runs past the end of the log`);
    events.push({ offset: start, size: o + 4 + size - start, pcr, type, digests, data: Buffer.from(log.subarray(o + 4, o + 4 + size)) });
    o += 4 + size;
  }
  return { specId, header, events };
}

/** PCR values the log replays to (EV_NO_ACTION records are not extended, PFP 1.05 §10.4.1). */
export function replayEventLog(parsed: ParsedLog): Record<string, Buffer[]> {
  const banks = normalizeBanks(parsed.specId.algorithms.map((a) => bankOfAlgId(a.algorithmId)).filter((b): b is HashAlgorithmName => !!b));
  const pcrs = new PcrBanks(banks);
  for (const e of parsed.events) {
    if (e.type === EV.NO_ACTION || e.pcr >= PCR_COUNT) continue;
    for (const d of e.digests) if (d.bank && pcrs.isActive(d.bank)) pcrs.extend(e.pcr, d.bank, d.digest);
  }
  const out: Record<string, Buffer[]> = {};
  for (const b of banks) out[b] = Array.from({ length: PCR_COUNT }, (_, i) => pcrs.read(i, b));
  return out;
}

export interface MeasuredEvent {
  pcr: number;
  type: number;
  digests: Digests;
  data: Buffer;
  /** False when the event was only extended (EFI_TCG2_EXTEND_ONLY) or the log area was full. */
  logged: boolean;
  /** Offset in the log when logged. */
  offset?: number;
}

export interface MeasuredBootOptions {
  /** Active PCR banks; default sha1 + sha256, as OVMF with swtpm. */
  banks?: readonly HashAlgorithmName[];
  /** Bytes of the log area (header included); an event that does not fit truncates the log (edk2 TcgCommLogEvent). */
  logCapacity?: number;
}

export interface EventReport {
  pcr: number;
  type: string;
  digests: Record<string, string>;
  data: EventDataReport;
  logged: boolean;
}

/** PCR state and event log of one boot. */
export class MeasuredBoot {
  readonly pcrBanks: PcrBanks;
  readonly specId: SpecIdEvent;
  readonly header: Buffer;
  readonly events: MeasuredEvent[] = [];
  readonly capacity: number;
  /** EventLogTruncated of GetEventLog: an event did not fit, so it and every later event are missing. */
  truncated = false;
  private readonly chunks: Buffer[] = [];
  private size: number;
  private lastOffset = 0;
  private readonly listeners: ((record: Buffer, offset: number, event: MeasuredEvent) => void)[] = [];

  constructor(options: MeasuredBootOptions = {}) {
    this.pcrBanks = new PcrBanks(options.banks ?? DEFAULT_PCR_BANKS);
    this.specId = specIdFor(this.pcrBanks.banks);
    this.header = serializeHeaderEvent(this.specId);
    this.capacity = options.logCapacity ?? DEFAULT_LOG_AREA_SIZE;
    if (this.header.length > this.capacity) throw new Error('log capacity is smaller than the Spec ID header');
    this.size = this.header.length;
  }

  get banks(): readonly HashAlgorithmName[] {
    return this.pcrBanks.banks;
  }

  /** Bytes used by the log, header included. */
  get logSize(): number {
    return this.size;
  }

  /** Offset of the last record (the header while no other event is logged): GetEventLog's EventLogLastEntry. */
  get lastEntryOffset(): number {
    return this.lastOffset;
  }

  /** Called with each record appended to the log (the TCG2 protocol mirrors the log into guest memory). */
  onLogged(listener: (record: Buffer, offset: number, event: MeasuredEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Extends `pcr` in every active bank with the digest of `dataToHash` (or the given digests) and logs a
   * TCG_PCR_EVENT2 record; EV_NO_ACTION is logged with zero digests and extends nothing (edk2 InitNoActionEvent).
   */
  measure(pcr: number, eventType: number, eventData: Buffer, dataToHash: Uint8Array | Digests, options: { extendOnly?: boolean } = {}): MeasuredEvent {
    let digests: Digests;
    if (eventType === EV.NO_ACTION) {
      digests = Object.fromEntries(this.banks.map((b) => [b, Buffer.alloc(DIGEST_SIZE[b])]));
    } else {
      digests = dataToHash instanceof Uint8Array ? hashAll(this.banks, dataToHash) : dataToHash;
      this.pcrBanks.extendAll(pcr, digests);
    }
    const event: MeasuredEvent = { pcr, type: eventType, digests, data: Buffer.from(eventData), logged: false };
    this.events.push(event);
    if (!options.extendOnly) this.append(event);
    return event;
  }

  /** The log as binary_bios_measurements shows it. */
  serialize(): Buffer {
    return Buffer.concat([this.header, ...this.chunks]);
  }

  /** {bank: {index: hex}} for all 24 PCRs of each active bank. */
  pcrs(): Record<string, Record<number, string>> {
    return this.pcrBanks.hex();
  }

  /** The header and every measurement, decoded for the report (unlogged extends included, marked). */
  eventsReport(): EventReport[] {
    const header: EventReport = {
      pcr: 0, type: eventTypeName(EV.NO_ACTION), digests: { sha1: '00'.repeat(20) },
      data: decodeEventData(EV.NO_ACTION, this.header.subarray(TCG_PCR_EVENT_HEADER)), logged: true,
    };
    return [header, ...this.events.map((e) => ({
      pcr: e.pcr,
      type: eventTypeName(e.type),
      digests: Object.fromEntries(this.banks.map((b) => [b, e.digests[b]!.toString('hex')])),
      data: decodeEventData(e.type, e.data),
      logged: e.logged,
    }))];
  }

  private append(event: MeasuredEvent): void {
    if (this.truncated) return;
    const record = serializeEvent2(event.pcr, event.type, this.banks.map((b) => ({ algorithmId: TPM_ALG[b], digest: event.digests[b]! })), event.data);
    if (this.size + record.length > this.capacity) {
      this.truncated = true;
      return;
    }
    event.logged = true;
    event.offset = this.size;
    this.lastOffset = this.size;
    this.chunks.push(record);
    this.size += record.length;
    for (const l of this.listeners) l(record, event.offset, event);
  }
}
