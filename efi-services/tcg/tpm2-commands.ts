// The TPM 2.0 commands EFI_TCG2_PROTOCOL.SubmitCommand answers (TPM 2.0 Library Part 3): PCR_Read, PCR_Extend,
// GetCapability (ALGS, PCRS, TPM_PROPERTIES) and GetRandom; every other command gets a TPM_RC_COMMAND_CODE response.
import { ALL_BANKS, bankOfAlgId, DIGEST_SIZE, HashAlgorithmName, PcrBanks, PCR_COUNT, TPM_ALG } from './pcr-banks';

export const TPM_ST_NO_SESSIONS = 0x8001;
export const TPM_ST_SESSIONS = 0x8002;
export const TPM_RS_PW = 0x40000009;

/** TPM_CC values (Part 2 §6.5.2). */
export const TPM_CC = { GetCapability: 0x17a, GetRandom: 0x17b, PCR_Read: 0x17e, PCR_Extend: 0x182 } as const;

/** TPM_CAP values (Part 2 §6.12). */
export const TPM_CAP = { ALGS: 0x0, PCRS: 0x5, TPM_PROPERTIES: 0x6 } as const;

/** TPM_RC values (Part 2 §6.6) and the format-one modifiers: parameter (P), session (S) and the number N << 8. */
export const TPM_RC = {
  SUCCESS: 0x000, BAD_TAG: 0x01e, COMMAND_SIZE: 0x142, COMMAND_CODE: 0x143, AUTHSIZE: 0x144, AUTH_CONTEXT: 0x145,
  AUTH_MISSING: 0x125, HASH: 0x083, VALUE: 0x084, AUTH_FAIL: 0x08e, NONCE: 0x08f, SIZE: 0x095, INSUFFICIENT: 0x09a,
  LOCALITY: 0x907, REFERENCE_S0: 0x918,
  P: 0x040, S: 0x800, N1: 0x100,
} as const;

const HEADER = 10;
/** PCR_SELECT_MIN = PCR_SELECT_MAX = 3 bytes for 24 PCRs (PC Client PTP §4.2). */
const PCR_SELECT_SIZE = 3;
/** TPML_DIGEST holds at most 8 digests (Part 2 §10.9.2), so PCR_Read returns at most 8 values per call. */
const MAX_PCR_READ_DIGESTS = 8;
/** TPMA_ALGORITHM.hash (Part 2 §8.2). */
const TPMA_ALGORITHM_HASH = 0x4;

export interface Tpm2Device {
  pcrs: PcrBanks;
  /** Hash algorithms the TPM implements (a PCR bank can be allocated for each). */
  implemented: readonly HashAlgorithmName[];
  random(n: number): Buffer;
  manufacturerId: number;
  maxCommandSize: number;
  maxResponseSize: number;
}

class TpmError extends Error {
  constructor(readonly rc: number) {
    super(`TPM_RC 0x${rc.toString(16)}`);
  }
}

/** Big-endian reader over the command; running short raises TPM_RC_INSUFFICIENT for parameter `param`. */
class CommandReader {
  offset = HEADER;
  param = 1;
  constructor(readonly b: Buffer) {}
  private need(n: number): void {
    if (this.offset + n > this.b.length) throw new TpmError(TPM_RC.INSUFFICIENT | TPM_RC.P | (this.param << 8));
  }
  u8(): number { this.need(1); return this.b[this.offset++]; }
  u16(): number { this.need(2); const v = this.b.readUInt16BE(this.offset); this.offset += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32BE(this.offset); this.offset += 4; return v; }
  bytes(n: number): Buffer { this.need(n); const v = this.b.subarray(this.offset, this.offset + n); this.offset += n; return v; }
  get remaining(): number { return this.b.length - this.offset; }
}

class ResponseWriter {
  private readonly parts: Buffer[] = [];
  u8(v: number): this { this.parts.push(Buffer.from([v & 0xff])); return this; }
  u16(v: number): this { const b = Buffer.alloc(2); b.writeUInt16BE(v); this.parts.push(b); return this; }
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); this.parts.push(b); return this; }
  bytes(b: Uint8Array): this { this.parts.push(Buffer.from(b)); return this; }
  /** TPM2B: UINT16 size then the bytes. */
  sized(b: Uint8Array): this { return this.u16(b.length).bytes(b); }
  body(): Buffer { return Buffer.concat(this.parts); }
}

function response(tag: number, rc: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(tag, 0);
  h.writeUInt32BE(HEADER + body.length, 2);
  h.writeUInt32BE(rc >>> 0, 6);
  return Buffer.concat([h, body]);
}

/** An error response: header only, TPM_ST_NO_SESSIONS (Part 1 §18.5). */
export function errorResponse(rc: number): Buffer {
  return response(TPM_ST_NO_SESSIONS, rc);
}

/** Runs one command buffer and returns the response buffer; malformed commands get a TPM error response. */
export function executeTpm2Command(command: Buffer, tpm: Tpm2Device): Buffer {
  if (command.length < HEADER) return errorResponse(TPM_RC.COMMAND_SIZE);
  const tag = command.readUInt16BE(0);
  if (tag !== TPM_ST_NO_SESSIONS && tag !== TPM_ST_SESSIONS) return errorResponse(TPM_RC.BAD_TAG);
  if (command.readUInt32BE(2) !== command.length) return errorResponse(TPM_RC.COMMAND_SIZE);
  const code = command.readUInt32BE(6);
  try {
    const r = new CommandReader(command);
    switch (code) {
      case TPM_CC.PCR_Read: return noSessions(r, tag, () => pcrRead(r, tpm));
      case TPM_CC.GetCapability: return noSessions(r, tag, () => getCapability(r, tpm));
      case TPM_CC.GetRandom: return noSessions(r, tag, () => getRandom(r, tpm));
      case TPM_CC.PCR_Extend: return pcrExtend(r, tag, tpm);
      default: return errorResponse(TPM_RC.COMMAND_CODE);
    }
  } catch (e) {
    if (e instanceof TpmError) return errorResponse(e.rc);
    throw e;
  }
}

/** Commands without authorization handles: only audit/encrypt sessions could be attached, and none exist here. */
function noSessions(r: CommandReader, tag: number, run: () => Buffer): Buffer {
  if (tag === TPM_ST_SESSIONS) {
    const size = r.u32();
    if (size < 9 || size > r.remaining) throw new TpmError(TPM_RC.AUTHSIZE);
    throw new TpmError(r.u32() === TPM_RS_PW ? TPM_RC.AUTH_CONTEXT : TPM_RC.REFERENCE_S0);
  }
  const body = run();
  if (r.remaining !== 0) throw new TpmError(TPM_RC.SIZE);
  return response(TPM_ST_NO_SESSIONS, TPM_RC.SUCCESS, body);
}

function hashAlg(r: CommandReader, implemented: readonly HashAlgorithmName[]): HashAlgorithmName {
  const bank = bankOfAlgId(r.u16());
  if (!bank || !implemented.includes(bank)) throw new TpmError(TPM_RC.HASH | TPM_RC.P | (r.param << 8));
  return bank;
}

/** TPML_PCR_SELECTION (Part 2 §10.9.7) of parameter r.param. */
function pcrSelection(r: CommandReader, tpm: Tpm2Device): { bank: HashAlgorithmName; select: Buffer }[] {
  const count = r.u32();
  if (count > tpm.implemented.length) throw new TpmError(TPM_RC.SIZE | TPM_RC.P | (r.param << 8));
  const out: { bank: HashAlgorithmName; select: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const bank = hashAlg(r, tpm.implemented);
    const size = r.u8();
    if (size < PCR_SELECT_SIZE || size > PCR_SELECT_SIZE) throw new TpmError(TPM_RC.VALUE | TPM_RC.P | (r.param << 8));
    out.push({ bank, select: Buffer.from(r.bytes(size)) });
  }
  return out;
}

/** TPM2_PCR_Read (Part 3 §22.4): selections for unallocated banks and past the 8th digest come back cleared. */
function pcrRead(r: CommandReader, tpm: Tpm2Device): Buffer {
  const selections = pcrSelection(r, tpm);
  const values: Buffer[] = [];
  for (const s of selections) {
    for (let i = 0; i < 8 * s.select.length; i++) {
      const bit = 1 << (i % 8);
      if (!(s.select[i >> 3] & bit)) continue;
      if (!tpm.pcrs.isActive(s.bank) || i >= PCR_COUNT || values.length >= MAX_PCR_READ_DIGESTS) {
        s.select[i >> 3] &= ~bit;
        continue;
      }
      values.push(tpm.pcrs.read(i, s.bank));
    }
  }
  const w = new ResponseWriter().u32(tpm.pcrs.updateCounter).u32(selections.length);
  for (const s of selections) w.u16(TPM_ALG[s.bank]).u8(s.select.length).bytes(s.select);
  w.u32(values.length);
  for (const v of values) w.sized(v);
  return w.body();
}

/** TPM2_GetCapability (Part 3 §30.2) for the capabilities firmware and boot loaders ask about. */
function getCapability(r: CommandReader, tpm: Tpm2Device): Buffer {
  const capability = r.u32();
  r.param = 2;
  const property = r.u32();
  r.param = 3;
  const count = r.u32();
  const w = new ResponseWriter();
  switch (capability) {
    case TPM_CAP.ALGS: {
      const algs = tpm.implemented.map((b) => TPM_ALG[b]).filter((a) => a >= property).sort((a, b) => a - b);
      const shown = algs.slice(0, count);
      w.u8(shown.length < algs.length ? 1 : 0).u32(capability).u32(shown.length);
      for (const a of shown) w.u16(a).u32(TPMA_ALGORITHM_HASH);
      return w.body();
    }
    case TPM_CAP.PCRS: {
      // TPML_PCR_SELECTION of every implemented bank; allocated banks select all 24 PCRs (edk2 reads the active banks from this).
      w.u8(0).u32(capability).u32(tpm.implemented.length);
      for (const b of ALL_BANKS.filter((x) => tpm.implemented.includes(x))) {
        w.u16(TPM_ALG[b]).u8(PCR_SELECT_SIZE).bytes(Buffer.alloc(PCR_SELECT_SIZE, tpm.pcrs.isActive(b) ? 0xff : 0));
      }
      return w.body();
    }
    case TPM_CAP.TPM_PROPERTIES: {
      const props = tpmProperties(tpm).filter(([p]) => p >= property);
      const shown = props.slice(0, count);
      w.u8(shown.length < props.length ? 1 : 0).u32(capability).u32(shown.length);
      for (const [p, v] of shown) w.u32(p).u32(v);
      return w.body();
    }
    default:
      r.param = 1;
      throw new TpmError(TPM_RC.VALUE | TPM_RC.P | TPM_RC.N1);
  }
}

const ascii4 = (s: string) => Buffer.from(s.padEnd(4, '\0'), 'latin1').readUInt32BE(0);

/** The fixed and variable TPM_PT properties (Part 2 §6.13) this TPM reports, in property order. */
function tpmProperties(tpm: Tpm2Device): [number, number][] {
  return [
    [0x100, ascii4('2.0')], // TPM_PT_FAMILY_INDICATOR
    [0x101, 0], // TPM_PT_LEVEL
    [0x102, 159], // TPM_PT_REVISION: 1.59
    [0x105, tpm.manufacturerId], // TPM_PT_MANUFACTURER
    [0x106, ascii4('stub')], // TPM_PT_VENDOR_STRING_1
    [0x107, ascii4('emu')], // TPM_PT_VENDOR_STRING_2
    [0x10b, 0x00010000], // TPM_PT_FIRMWARE_VERSION_1
    [0x112, PCR_COUNT], // TPM_PT_PCR_COUNT
    [0x113, PCR_SELECT_SIZE], // TPM_PT_PCR_SELECT_MIN
    [0x11e, tpm.maxCommandSize], // TPM_PT_MAX_COMMAND_SIZE
    [0x11f, tpm.maxResponseSize], // TPM_PT_MAX_RESPONSE_SIZE
    [0x120, Math.max(...tpm.implemented.map((b) => DIGEST_SIZE[b]))], // TPM_PT_MAX_DIGEST
    [0x200, 0], // TPM_PT_PERMANENT: no owner/endorsement/lockout auth set
    [0x201, 0x80000007], // TPM_PT_STARTUP_CLEAR: phEnable, shEnable, ehEnable, phEnableNV
  ];
}

/** TPM2_GetRandom (Part 3 §16.1): at most one digest's worth of bytes (sizeof(TPMU_HA)). */
function getRandom(r: CommandReader, tpm: Tpm2Device): Buffer {
  const requested = r.u16();
  const n = Math.min(requested, Math.max(...tpm.implemented.map((b) => DIGEST_SIZE[b])));
  return new ResponseWriter().sized(tpm.random(n)).body();
}

/**
 * TPM2_PCR_Extend (Part 3 §22.2): one authorization, a password session with the PCR's empty authValue; digests
 * for unallocated banks are ignored. PCRs 17–22 need locality 2–4 (PC Client PTP §4.2); firmware runs at locality 0.
 */
function pcrExtend(r: CommandReader, tag: number, tpm: Tpm2Device): Buffer {
  if (tag !== TPM_ST_SESSIONS) throw new TpmError(TPM_RC.AUTH_MISSING);
  const handle = r.u32();
  if (handle >= PCR_COUNT) throw new TpmError(TPM_RC.VALUE | TPM_RC.N1);
  const authSize = r.u32();
  if (authSize < 9 || authSize > r.remaining) throw new TpmError(TPM_RC.AUTHSIZE);
  const authEnd = r.offset + authSize;
  const session = r.u32();
  if (session !== TPM_RS_PW) throw new TpmError(TPM_RC.REFERENCE_S0);
  const nonce = r.bytes(r.u16());
  const attributes = r.u8();
  const password = r.bytes(r.u16());
  if (r.offset !== authEnd) throw new TpmError(TPM_RC.AUTHSIZE);
  if (nonce.length !== 0) throw new TpmError(TPM_RC.NONCE | TPM_RC.S | TPM_RC.N1);
  if (password.length !== 0) throw new TpmError(TPM_RC.AUTH_FAIL | TPM_RC.S | TPM_RC.N1);

  const count = r.u32();
  if (count > tpm.implemented.length) throw new TpmError(TPM_RC.SIZE | TPM_RC.P | TPM_RC.N1);
  const digests: { bank: HashAlgorithmName; digest: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const bank = hashAlg(r, tpm.implemented);
    digests.push({ bank, digest: Buffer.from(r.bytes(DIGEST_SIZE[bank])) });
  }
  if (r.remaining !== 0) throw new TpmError(TPM_RC.SIZE);
  if (handle >= 17 && handle <= 22) throw new TpmError(TPM_RC.LOCALITY);
  for (const d of digests) if (tpm.pcrs.isActive(d.bank)) tpm.pcrs.extend(handle, d.bank, d.digest);

  // parameterSize 0, then the password session's response: empty nonce, continueSession echoed, empty HMAC.
  const body = new ResponseWriter().u32(0).u16(0).u8(attributes & 0x01).u16(0).body();
  return response(TPM_ST_SESSIONS, TPM_RC.SUCCESS, body);
}
