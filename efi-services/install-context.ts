// What a protocol module's install(ctx, options) reaches (the module shape of platform-protocols.ts): the
// platform, the handle database, firmware memory, configuration tables and the state modules share.
import { CpuidResult } from '../core/board';
import { ProtocolDatabase } from './boot/protocol-db';
import { Platform } from './platform';
import { DeterministicRandom } from './random';
import { VariableStore } from './runtime/variable-store';
import { ConfigurationTables } from './tables/system-table';
import type { FileVerifier } from './protocols/security-arch';

export interface InstallContext {
  readonly platform: Platform;
  readonly db: ProtocolDatabase;
  /** Whole zeroed pages of firmware memory of `memType` for `bytes` (tables, framebuffers). */
  pages(bytes: number, memType: number): bigint;
  /** Boot services pool the guest may free with FreePool (EfiBootServicesData). */
  guestPool(bytes: number): bigint;
  readonly configTables: ConfigurationTables;
  /** The deterministic random stream (EFI_RNG_PROTOCOL, TPM2_GetRandom). */
  readonly random: DeterministicRandom;
  readonly variables: VariableStore;
  /** Bytes of guest RAM (the top of the last RAM range). */
  readonly memoryBytes: bigint;
  /** The processor the board emulates. */
  cpuid(leaf: number, subleaf: number): CpuidResult;
  /** The platform's image check behind Security2 (Secure Boot, efi-services/security); undefined: none. */
  readonly verifyFile?: FileVerifier;
}
