// The one dispatcher between the ABI and the model (STYLE 5, like U-Boot's EFI_ENTRY/EFI_EXIT): a trap slot
// becomes a typed service call. It decodes the Microsoft x64 arguments as the table declares them, records the
// call, runs the service, turns an EfiError into its status, reports unimplemented members and boot services
// called after ExitBootServices, writes RAX and returns to the caller.
import { AnyServiceFn, CallInfo, FunctionDecl, ReturnType, ServiceFn } from '../core/abi';
import { Board, TrapRegion } from '../core/board';
import { ARG_REGS, decodeArg, stackArgOffset } from '../core/calling-convention';
import { GuestMemoryError } from '../core/guest-memory';
import { guidFromBytes } from '../core/guid';
import { GuestFault } from '../core/outcomes';
import { EFI_UNSUPPORTED, EfiError, statusName } from '../core/status';
import { CallLog } from './call-log';

interface Trap {
  owner: string;
  decl: FunctionDecl;
  impl?: AnyServiceFn;
}

const SLOT = 16n;

export class Dispatcher {
  private readonly traps = new Map<bigint, Trap>();
  private readonly nextSlot: bigint[];
  private depth = 0;
  /** Called before every service call (the firmware advances its clock, rejects calls after ExitBootServices). */
  beforeCall: (service: string, runtime: boolean) => string | undefined = () => undefined;
  /** Sees every service call's decoded arguments before it runs (pointer tracking for the report). */
  onCall: (service: string, decl: FunctionDecl, args: readonly bigint[]) => void = () => {};
  /** Stack of the services and nested guest calls being executed (outermost first), for fault reports. */
  readonly activeCalls: string[] = [];

  /** Slot 0 of the boot region is where nested guest calls return; services get the slots after it. */
  constructor(
    private readonly board: Board,
    private readonly bootRegion: TrapRegion,
    private readonly runtimeRegion: TrapRegion,
    readonly log: CallLog,
  ) {
    board.setTraps([bootRegion, runtimeRegion], bootRegion.base, (rip) => this.dispatch(rip));
    this.nextSlot = [bootRegion.base + SLOT, runtimeRegion.base];
  }

  isTrapAddress(a: bigint): boolean {
    return [this.bootRegion, this.runtimeRegion].some((r) => a >= r.base && a < r.base + BigInt(r.size));
  }

  /** Allocates a trap slot that runs `impl` (Platform.trap). */
  trap<R extends ReturnType>(owner: string, decl: FunctionDecl<string, R>, impl: ServiceFn<R> | undefined, runtime = false): bigint {
    const region = runtime ? this.runtimeRegion : this.bootRegion;
    const i = runtime ? 1 : 0;
    const a = this.nextSlot[i];
    if (a + SLOT > region.base + BigInt(region.size)) throw new Error(`firmware trap region full (${owner}.${decl.name})`);
    this.nextSlot[i] = a + SLOT;
    this.traps.set(a, { owner, decl, impl: impl as AnyServiceFn | undefined });
    return a;
  }

  /** Calls a guest function from inside a service (Platform.callGuest); `why` names it in fault reports. */
  callGuest(fn: bigint, args: readonly bigint[], why: string): bigint {
    this.activeCalls.push(why);
    this.depth++;
    try {
      return this.board.callGuest(fn, args);
    } finally {
      this.depth--;
      this.activeCalls.pop();
    }
  }

  /** The guest executed trap slot `rip`: run its service and return to the caller. */
  dispatch(rip: bigint): void {
    const board = this.board;
    const mem = board.mem;
    const trap = this.traps.get(rip);
    const regs = board.readAll();
    if (!trap) {
      throw new GuestFault(`jump into the firmware trap region at 0x${rip.toString(16)}, where no service lives`, regs);
    }
    const service = `${trap.owner}.${trap.decl.name}`;
    let ret: bigint;
    try {
      ret = mem.u64(regs.rsp);
    } catch {
      throw new GuestFault(`${service} called with an unusable stack (RSP 0x${regs.rsp.toString(16)})`, regs);
    }
    const caller = board.symbolize(ret);
    const raw = (i: number): bigint => (i < 4 ? regs[ARG_REGS[i]] : mem.u64(regs.rsp + stackArgOffset(i)));
    let args: bigint[];
    try {
      args = trap.decl.args.map((a, i) => decodeArg(raw(i), a.type));
    } catch {
      throw new GuestFault(`${service} called from ${caller}: its stack arguments are outside guest RAM`, regs);
    }
    const entry = this.log.begin(service, caller, this.depth, () => this.renderArgs(trap.decl, args));
    const info: CallInfo = {
      name: service,
      caller: ret,
      stackPointer: regs.rsp,
      vararg: (i) => raw(trap.decl.args.length + i),
      note: (text) => {
        if (entry) (entry.notes ??= []).push(text);
      },
    };
    this.onCall(service, trap.decl, args);
    const refused = this.beforeCall(service, trap.owner === 'RuntimeServices');
    let status: bigint;
    this.activeCalls.push(`${service} from ${caller}`);
    this.log.enter(service, caller);
    try {
      if (refused !== undefined) {
        this.log.guestError(service, caller, refused);
        status = EFI_UNSUPPORTED;
      } else if (!trap.impl) {
        this.log.markUnimplemented(service);
        status = EFI_UNSUPPORTED;
      } else {
        const r = trap.impl(args, info);
        // The table types make an EFI_STATUS, UINTN or EFI_TPL member return a value and a VOID one nothing.
        if ((r === undefined) !== (trap.decl.returns === 'VOID')) throw new Error(`${service} (${trap.decl.returns}) returned ${r === undefined ? 'nothing' : 'a value'}`);
        status = BigInt.asUintN(64, r ?? 0n);
      }
    } catch (e) {
      if (e instanceof EfiError) status = e.status;
      else if (e instanceof GuestMemoryError) {
        throw new GuestFault(`${service} called from ${caller} with a pointer outside guest RAM: ${e.message}`, regs, {
          service,
          arguments: this.renderArgs(trap.decl, args),
        });
      } else throw e;
    } finally {
      this.activeCalls.pop();
      this.log.leave();
    }
    if (entry && trap.decl.returns !== 'VOID') entry.status = trap.decl.returns === 'EFI_STATUS' ? statusName(status) : `0x${status.toString(16)}`;
    // Return to the caller as its `call` expects: RAX = result (not for VOID), pop the return address.
    if (trap.decl.returns !== 'VOID') board.writeReg('rax', status);
    board.writeReg('rsp', regs.rsp + 8n);
    board.writeReg('rip', ret);
  }

  private renderArgs(decl: FunctionDecl, args: readonly bigint[]): Record<string, string> {
    const out: Record<string, string> = {};
    decl.args.forEach((a, i) => {
      const v = args[i];
      let text = `0x${v.toString(16)}`;
      try {
        if (a.type === 'GUID_PTR' && v !== 0n) text = guidFromBytes(this.board.mem.view(v, 16));
        else if (a.type === 'STR16' && v !== 0n) text = JSON.stringify(this.board.mem.utf16z(v, 512));
        else if (a.type === 'STATUS') text = statusName(v);
        else if (a.type === 'BOOLEAN') text = v ? 'TRUE' : 'FALSE';
        else if (a.type === 'UINT32' || a.type === 'ENUM' || a.type === 'UINT16' || a.type === 'UINT8') text = v.toString();
      } catch {
        text += ' (unreadable)';
      }
      out[a.name] = text;
    });
    return out;
  }
}
