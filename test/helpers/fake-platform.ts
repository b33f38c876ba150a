// A Platform without a CPU, for unit tests: traps are recorded so tests call services by their guest address.
import { CallInfo, FunctionDecl, ServiceFn } from '../../core/abi';
import { Platform } from '../../efi-services/platform';
import { EFI_UNSUPPORTED, EfiStatus } from '../../core/status';
import { GuestMemory } from '../../core/guest-memory';

export class FakePlatform implements Platform {
  readonly mem: GuestMemory;
  readonly traps = new Map<bigint, { owner: string; decl: FunctionDecl; impl?: ServiceFn }>();
  /** Guest functions "called" by the firmware: tests install JS stand-ins at fake addresses. */
  readonly guestFunctions = new Map<bigint, (args: readonly bigint[]) => bigint>();
  readonly guestCalls: { fn: bigint; args: readonly bigint[]; why: string }[] = [];
  private nextTrap = 0xf000_0000n;
  private heap: bigint;
  private readonly heapEnd: bigint;

  /** RAM of `size` bytes at 0; [heapStart, size) is handed out by allocate(), below is free for the test. */
  constructor(size = 16 << 20, heapStart = 8 << 20) {
    this.mem = new GuestMemory(Buffer.alloc(size), [{ start: 0x1000n, end: BigInt(size) }]);
    this.heap = BigInt(heapStart);
    this.heapEnd = BigInt(size);
  }

  trap(owner: string, decl: FunctionDecl, impl: ServiceFn | undefined): bigint {
    const a = this.nextTrap;
    this.nextTrap += 16n;
    this.traps.set(a, { owner, decl, impl });
    return a;
  }

  callGuest(fn: bigint, args: readonly bigint[], why: string): bigint {
    this.guestCalls.push({ fn, args, why });
    const f = this.guestFunctions.get(fn);
    if (!f) throw new Error(`no guest function at 0x${fn.toString(16)} (${why})`);
    return f(args);
  }

  allocate(size: number): bigint {
    const a = this.heap;
    this.heap += BigInt((size + 7) & ~7);
    if (this.heap > this.heapEnd) throw new Error('FakePlatform heap exhausted');
    this.mem.fill(a, size, 0);
    return a;
  }

  /** Calls the service whose trap address is `address` (e.g. read from a table slot), as the dispatcher would. */
  call(address: bigint, args: readonly bigint[], varargs: readonly bigint[] = []): EfiStatus {
    const t = this.traps.get(address);
    if (!t) throw new Error(`no trap at 0x${address.toString(16)}`);
    if (!t.impl) return EFI_UNSUPPORTED;
    const info: CallInfo = {
      name: `${t.owner}.${t.decl.name}`,
      caller: 0n,
      stackPointer: 0n,
      vararg: (i) => varargs[i] ?? 0n,
      note: () => {},
    };
    const r = t.impl(args, info);
    return r === undefined ? 0n : r;
  }

  /** Calls member `name` of the function table at `table` laid out with `headerSize` bytes before the functions. */
  callMember(table: bigint, headerSize: number, index: number, args: readonly bigint[], varargs: readonly bigint[] = []): EfiStatus {
    return this.call(this.mem.u64(table + BigInt(headerSize + 8 * index)), args, varargs);
  }
}
