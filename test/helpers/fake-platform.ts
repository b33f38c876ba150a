// A Platform without a CPU, for unit tests of the model: a FakeBoard under the firmware's real dispatcher, so
// tests call services by their guest address and get what a guest gets (an EfiError becomes its status).
import { FunctionDecl, ReturnType, ServiceFn } from '../../core/abi';
import { GuestMemory } from '../../core/guest-memory';
import { EfiStatus } from '../../core/status';
import { CallLog } from '../../efi-services/call-log';
import { Dispatcher } from '../../efi-services/dispatcher';
import { Platform } from '../../efi-services/platform';
import { FakeBoard } from './fake-board';

/** Trap slots live outside the fake RAM: the FakeBoard never executes them. */
const TRAPS = { base: 0xf000_0000n, size: 0x10_0000 };
const RUNTIME_TRAPS = { base: 0xf010_0000n, size: 0x1000 };
/** The top of RAM holds the stack the test's calls use. */
const STACK_BYTES = 64 << 10;

export class FakePlatform implements Platform {
  readonly board: FakeBoard;
  readonly dispatcher: Dispatcher;
  readonly log = new CallLog(false);
  /** Guest functions "called" by the firmware: tests install JS stand-ins at fake addresses. */
  readonly guestFunctions: Map<bigint, (args: readonly bigint[]) => bigint>;
  readonly guestCalls: { fn: bigint; args: readonly bigint[]; why: string }[] = [];
  private heap: bigint;
  private readonly heapEnd: bigint;

  /** RAM of `size` bytes at 0; [heapStart, size - 64 KiB) is handed out by allocate(), below is free for the test. */
  constructor(size = 16 << 20, heapStart = 8 << 20) {
    this.board = new FakeBoard([{ start: 0x1000n, end: BigInt(size) }]);
    this.dispatcher = new Dispatcher(this.board, TRAPS, RUNTIME_TRAPS, this.log);
    this.guestFunctions = this.board.guestFunctions;
    this.heap = BigInt(heapStart);
    this.heapEnd = BigInt(size - STACK_BYTES);
  }

  get mem(): GuestMemory {
    return this.board.mem;
  }

  trap<R extends ReturnType>(owner: string, decl: FunctionDecl<string, R>, impl: ServiceFn<R> | undefined, runtime?: boolean): bigint {
    return this.dispatcher.trap(owner, decl, impl, runtime);
  }

  callGuest(fn: bigint, args: readonly bigint[], why: string): bigint {
    this.guestCalls.push({ fn, args, why });
    return this.dispatcher.callGuest(fn, args, why);
  }

  allocate(size: number): bigint {
    const a = this.heap;
    this.heap += BigInt((size + 7) & ~7);
    if (this.heap > this.heapEnd) throw new Error('FakePlatform heap exhausted');
    this.mem.fill(a, size, 0);
    return a;
  }

  /** Calls the service whose trap address is `address` (e.g. read from a table slot) as a guest does. */
  call(address: bigint, args: readonly bigint[], varargs: readonly bigint[] = []): EfiStatus {
    return this.board.call(address, args, varargs);
  }

  /** Calls member `index` of the function table at `table` laid out with `headerSize` bytes before the functions. */
  callMember(table: bigint, headerSize: number, index: number, args: readonly bigint[], varargs: readonly bigint[] = []): EfiStatus {
    return this.call(this.mem.u64(table + BigInt(headerSize + 8 * index)), args, varargs);
  }
}
