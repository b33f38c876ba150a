// What the firmware model needs from the machine under it (STYLE 1): guest memory, trap slots, nested guest calls.
import { GuestMemory } from '../core/guest-memory';
import { FunctionDecl, ReturnType, ServiceFn } from '../core/abi';

export interface Platform {
  readonly mem: GuestMemory;
  /** A guest-callable address that runs `impl` when called; `owner` is the trace prefix (BootServices, ...). */
  trap<R extends ReturnType>(owner: string, decl: FunctionDecl<string, R>, impl: ServiceFn<R> | undefined, runtime?: boolean): bigint;
  /** Call a guest function with the Microsoft x64 convention from inside a service; returns RAX. */
  callGuest(fn: bigint, args: readonly bigint[], why: string): bigint;
  /** Firmware-owned guest memory (zeroed, 8-byte aligned): EfiBootServicesData, or EfiRuntimeServicesData. */
  allocate(size: number, runtime?: boolean): bigint;
}
