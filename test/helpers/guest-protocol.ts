// Calls one member of a protocol from inside the guest: the code image locates the protocol by GUID, passes the
// arguments in RCX, RDX, R8, R9 as the Microsoft x64 convention does, and returns what the member returned (or an
// OUT slot it wrote). The test then reads results the member left in guest memory.
import { guidToBytes } from '../../core/guid';
import { TableDecl } from '../../core/abi';
import { statusName } from '../../core/status';
import { RunResult } from '../../src/api';
import { Asm, Reg } from './guest-asm';
import { le32, runCode } from './guest-code';

/** An argument: a number, a pointer to bytes in the image, the protocol's own address, or an 8-byte stack slot. */
export type GuestArg = bigint | { bytes: Uint8Array } | 'This' | { slot: 0 | 1; pointingTo?: Uint8Array };

const REGS: Reg[] = ['rcx', 'rdx', 'r8', 'r9'];
const IFACE = 0x30;
const SLOTS = [0x38, 0x40];
const RESULT = 0x50;

/** RAX as the run outcome reported it: a status name or hex, back to the number. */
export function returnedValue(r: RunResult): bigint {
  const o = r.outcome;
  if (o.kind !== 'returned') throw new Error(`the guest did not return: ${JSON.stringify(o)}`);
  if (o.status.startsWith('0x')) return BigInt(o.status);
  for (let v = 0n; v < 64n; v++) {
    if (statusName(v) === o.status) return v;
    if (statusName(v | (1n << 63n)) === o.status) return v | (1n << 63n);
  }
  throw new Error(`unknown status ${o.status}`);
}

/** What the guest returns after the call: RAX of the member, a stack slot's final contents, or where argument i's bytes are. */
export type GuestResult = 'rax' | { slot: 0 | 1 } | { argAddress: number };

/** Runs LocateProtocol(guid) then decl.member(args); arguments with bytes are placed in the image after the code. */
export function callProtocolMember(
  guid: string, decl: TableDecl, member: string, args: readonly GuestArg[], result: GuestResult = 'rax',
): { run: RunResult; value: bigint } {
  const index = decl.members.findIndex((m) => m.name === member);
  if (index < 0) throw new Error(`${decl.name} has no ${member}`);
  const a = new Asm().prologue()
    .leaRip('rcx', 'guid').movImm('rdx', 0).leaStack('r8', IFACE).callBs('LocateProtocol');
  for (const s of SLOTS) a.storeStackImm(s, 0);
  for (const arg of args) {
    if (typeof arg === 'object' && 'slot' in arg && arg.pointingTo) {
      a.leaRip('rax', `slotdata${arg.slot}`).storeStack(SLOTS[arg.slot], 'rax').dataLabel(`slotdata${arg.slot}`, arg.pointingTo);
    }
  }
  args.forEach((arg, i) => {
    const r = REGS[i];
    if (typeof arg === 'bigint') a.movImm(r, arg);
    else if (arg === 'This') a.loadStack(r, IFACE);
    else if ('bytes' in arg) a.leaRip(r, `arg${i}`).dataLabel(`arg${i}`, arg.bytes);
    else a.leaStack(r, SLOTS[arg.slot]);
  });
  a.loadStack('rax', IFACE).emit(0xff, 0x90, ...le32(decl.headerSize + 8 * index)) // call [rax+member]
    .storeStack(RESULT, 'rax');
  if (result === 'rax') a.loadStack('rax', RESULT);
  else if ('slot' in result) a.loadStack('rax', SLOTS[result.slot]);
  else a.leaRip('rax', `arg${result.argAddress}`);
  a.epilogue()
    .dataLabel('guid', guidToBytes(guid));
  const run = runCode(a.build());
  return { run, value: returnedValue(run) };
}
