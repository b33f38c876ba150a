// TPM 2.0 PCR banks (TPM 2.0 Library Part 1 §17; TCG PC Client PTP §4.2): per-algorithm PCR values and Extend.
import { createHash } from 'node:crypto';
import { digest as digestOf } from '../../core/digest-memo';

export type HashAlgorithmName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Banks in TPM_ALG_ID order, the order edk2 lists them in the Spec ID event and in each digest list. */
export const ALL_BANKS: readonly HashAlgorithmName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/** The banks active by default: sha1 and sha256, as OVMF with swtpm. */
export const DEFAULT_PCR_BANKS: readonly HashAlgorithmName[] = ['sha1', 'sha256'];

/** TPM_ALG_ID values (TCG Algorithm Registry). */
export const TPM_ALG: Readonly<Record<HashAlgorithmName, number>> = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d };

export const DIGEST_SIZE: Readonly<Record<HashAlgorithmName, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** EFI_TCG2_BOOT_HASH_ALG_* bits of EFI_TCG2_EVENT_ALGORITHM_BITMAP (TCG EFI Protocol Spec §6.4). */
export const EFI_TCG2_BOOT_HASH_ALG: Readonly<Record<HashAlgorithmName, number>> = { sha1: 0x1, sha256: 0x2, sha384: 0x4, sha512: 0x8 };

/** IMPLEMENTATION_PCR of a PC Client TPM (PC Client PTP §4.2: 24 PCRs per bank). */
export const PCR_COUNT = 24;

/** A digest per bank; a measurement supplies one for every active bank. */
export type Digests = Partial<Record<HashAlgorithmName, Buffer>>;

export function bankOfAlgId(id: number): HashAlgorithmName | undefined {
  return ALL_BANKS.find((b) => TPM_ALG[b] === id);
}

export function bankBitmap(banks: readonly HashAlgorithmName[]): number {
  return banks.reduce((m, b) => m | EFI_TCG2_BOOT_HASH_ALG[b], 0);
}

export function banksOfBitmap(bitmap: number): HashAlgorithmName[] {
  return ALL_BANKS.filter((b) => (bitmap & EFI_TCG2_BOOT_HASH_ALG[b]) !== 0);
}

/** `data` hashed with each bank's algorithm. */
export function hashAll(banks: readonly HashAlgorithmName[], data: Uint8Array): Digests {
  const out: Digests = {};
  for (const b of banks) out[b] = digestOf(b, data);
  return out;
}

/**
 * Reset value of a PCR after TPM2_Startup(CLEAR) at locality 0: PCRs 17–22 (the D-RTM PCRs) start at all ones,
 * the others at zero (PC Client PTP §4.2, Table "PCR Attributes").
 */
export function pcrResetValue(bank: HashAlgorithmName, index: number): Buffer {
  return Buffer.alloc(DIGEST_SIZE[bank], index >= 17 && index <= 22 ? 0xff : 0);
}

/** Orders and checks a bank list: non-empty, no repeats, known names. */
export function normalizeBanks(banks: readonly string[]): HashAlgorithmName[] {
  for (const b of banks) if (!(ALL_BANKS as readonly string[]).includes(b)) throw new Error(`unknown PCR bank ${b}`);
  const set = ALL_BANKS.filter((b) => banks.includes(b));
  if (set.length === 0) throw new Error('at least one PCR bank must be active');
  return set;
}

export class PcrBanks {
  readonly banks: readonly HashAlgorithmName[];
  private readonly values = new Map<HashAlgorithmName, Buffer[]>();
  /** TPM2_PCR_Read's pcrUpdateCounter: bumped by each bank's extend, as the reference TPM's PCRChanged does. */
  updateCounter = 0;

  constructor(banks: readonly HashAlgorithmName[]) {
    this.banks = normalizeBanks(banks);
    for (const b of this.banks) this.values.set(b, Array.from({ length: PCR_COUNT }, (_, i) => pcrResetValue(b, i)));
  }

  isActive(bank: HashAlgorithmName): boolean {
    return this.values.has(bank);
  }

  read(index: number, bank: HashAlgorithmName): Buffer {
    return Buffer.from(this.bankValues(bank)[this.checkIndex(index)]);
  }

  /** PCR[index] := H(PCR[index] || digest) in one bank (TPM 2.0 Library Part 1 §17.2). */
  extend(index: number, bank: HashAlgorithmName, digest: Uint8Array): void {
    const values = this.bankValues(bank);
    this.checkIndex(index);
    if (digest.length !== DIGEST_SIZE[bank]) throw new Error(`${bank} digest must be ${DIGEST_SIZE[bank]} bytes, got ${digest.length}`);
    values[index] = createHash(bank).update(values[index]).update(digest).digest();
    this.updateCounter++;
  }

  /** Extends every active bank with its digest from `digests` (TPM2_PCR_Extend with a full TPML_DIGEST_VALUES). */
  extendAll(index: number, digests: Digests): void {
    for (const b of this.banks) {
      const d = digests[b];
      if (!d) throw new Error(`no ${b} digest for PCR ${index}`);
      this.extend(index, b, d);
    }
  }

  /** {bank: {index: hex}} for all PCRs of every active bank. */
  hex(): Record<string, Record<number, string>> {
    const out: Record<string, Record<number, string>> = {};
    for (const b of this.banks) {
      out[b] = {};
      this.bankValues(b).forEach((v, i) => (out[b][i] = v.toString('hex')));
    }
    return out;
  }

  private bankValues(bank: HashAlgorithmName): Buffer[] {
    const v = this.values.get(bank);
    if (!v) throw new Error(`PCR bank ${bank} is not active`);
    return v;
  }

  private checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= PCR_COUNT) throw new Error(`PCR index ${index} out of range 0..${PCR_COUNT - 1}`);
    return index;
  }
}
