// Tiny EFI applications made of hand-assembled x86-64 code, for machine-level tests.
import { runImage, RunResult, RunOptions } from '../../src/api';
import { Outcome, OutcomeKind } from '../../src/report';
import { buildPe } from './pe-builder';

/** Every outcome field, optional: for tests that read a field without narrowing on `kind` first. */
export interface FlatOutcome {
  kind: OutcomeKind;
  status?: string;
  success?: boolean;
  reason?: string;
  which?: string;
  limit?: number;
  message?: string;
  rip?: string;
  returnAddress?: string;
}
export const flat = (o: Outcome): FlatOutcome => o;

/** An EFI application whose .text (at RVA 0x1000, the entry point) is `code`. */
export function codeImage(code: number[], imageBase = 0x400000n): Buffer {
  return buildPe({ sections: [{ name: '.text', data: Buffer.from(code), characteristics: 0x60000020 }], imageBase }).file;
}

export function runCode(code: number[], o: Partial<RunOptions> = {}): RunResult {
  return runImage({ image: codeImage(code), imageName: 'code.efi', memoryBytes: 64 << 20, ...o });
}

export const le64 = (v: bigint) => [...Array(8)].map((_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
export const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
