// Function-table declarations: one place gives each member's name, slot, argument widths and trace rendering
// (STYLE 4). The dispatcher decodes Microsoft x64 arguments from these; tables are laid out from them.
import { EfiStatus } from './status';

/** Argument types as the UEFI spec writes them; the width decides how a register is decoded. */
export type ArgType =
  | 'UINTN' | 'INTN' | 'UINT64' | 'UINT32' | 'UINT16' | 'UINT8' | 'BOOLEAN'
  | 'ENUM'      // a C enum: 32 bits
  | 'TPL'       // EFI_TPL (UINTN)
  | 'PTR'       // any pointer (VOID *, OUT UINTN *, ...)
  | 'HANDLE'    // EFI_HANDLE
  | 'EVENT'     // EFI_EVENT
  | 'GUID_PTR'  // EFI_GUID *: rendered as the GUID
  | 'STR16'     // CHAR16 *: rendered as the string
  | 'STATUS';   // EFI_STATUS

export const ARG_BITS: Record<ArgType, number> = {
  UINTN: 64, INTN: 64, UINT64: 64, UINT32: 32, UINT16: 16, UINT8: 8, BOOLEAN: 8, ENUM: 32, TPL: 64,
  PTR: 64, HANDLE: 64, EVENT: 64, GUID_PTR: 64, STR16: 64, STATUS: 64,
};

export interface ArgDecl {
  readonly name: string;
  readonly type: ArgType;
}

export type ReturnType = 'EFI_STATUS' | 'VOID' | 'UINTN' | 'TPL';

/** A member of a table; `N` and `R` keep its name and return type in the type, so implementations are checked. */
export interface FunctionDecl<N extends string = string, R extends ReturnType = ReturnType> {
  readonly name: N;
  readonly args: readonly ArgDecl[];
  readonly returns: R;
  /** Takes further arguments after `args` (InstallMultipleProtocolInterfaces). */
  readonly variadic?: boolean;
  /** A pointer-sized data member between or after the functions (WaitForKey, Mode): not a function. */
  readonly field?: boolean;
}

export interface TableDecl<M extends FunctionDecl = FunctionDecl> {
  /** Spec name, e.g. EFI_BOOT_SERVICES; also the prefix of trace names unless `traceName` is set. */
  readonly name: string;
  readonly traceName: string;
  /** EFI_TABLE_HEADER.Signature when the table starts with a header (UEFI 2.10 §4.2). */
  readonly signature?: bigint;
  readonly revision?: number;
  /** Bytes before the first function pointer (the header, or a Revision field). */
  readonly headerSize: number;
  readonly members: readonly M[];
}

/** A table declaration that keeps its members' names and return types (for TableImpl and callMember). */
export function tableDecl<M extends FunctionDecl>(table: TableDecl<M>): TableDecl<M> {
  return table;
}

/** `fn('AllocatePages', 'Type:ENUM', 'MemoryType:ENUM', 'Pages:UINTN', 'Memory:PTR')` */
export function fn<N extends string>(name: N, ...args: string[]): FunctionDecl<N, 'EFI_STATUS'> {
  return decl(name, 'EFI_STATUS', args);
}

export function fnReturning<R extends ReturnType, N extends string>(returns: R, name: N, ...args: string[]): FunctionDecl<N, R> {
  return decl(name, returns, args);
}

export function fnVariadic<N extends string>(name: N, ...args: string[]): FunctionDecl<N, 'EFI_STATUS'> {
  return { ...decl(name, 'EFI_STATUS', args), variadic: true };
}

/** A pointer-sized data member of an interface (an EFI_EVENT, a Mode pointer), kept in its spec position. */
export function field<N extends string>(name: N): FunctionDecl<N, 'VOID'> & { readonly field: true } {
  return { name, returns: 'VOID', args: [], field: true };
}

function decl<N extends string, R extends ReturnType>(name: N, returns: R, args: string[]): FunctionDecl<N, R> {
  return {
    name,
    returns,
    args: args.map((a) => {
      const [n, t] = a.split(':');
      if (!(t in ARG_BITS)) throw new Error(`${name}: unknown argument type ${t}`);
      return { name: n, type: t as ArgType };
    }),
  };
}

export function slotOffset(table: TableDecl, member: string): number {
  const i = table.members.findIndex((m) => m.name === member);
  if (i < 0) throw new Error(`${table.name} has no member ${member}`);
  return table.headerSize + 8 * i;
}

export function tableSize(table: TableDecl): number {
  return table.headerSize + 8 * table.members.length;
}

/** What a service implementation sees besides its decoded arguments. */
export interface CallInfo {
  /** Full trace name, e.g. BootServices.AllocatePages. */
  readonly name: string;
  /** Return address in the guest. */
  readonly caller: bigint;
  /** RSP at the call (pointing at the return address); the caller resumes with RSP + 8. */
  readonly stackPointer: bigint;
  /** Argument `args.length + i` of a variadic function (stack slots). */
  vararg(i: number): bigint;
  /** Adds a line to this call's trace entry. */
  note(text: string): void;
}

/** What a member's implementation returns: an EFI_STATUS member a status, UINTN and EFI_TPL a value, VOID nothing. */
export type ReturnOf<R extends ReturnType> = R extends 'VOID' ? undefined : R extends 'EFI_STATUS' ? EfiStatus : bigint;

/** A service implementation: decoded arguments (bigint, masked to their width) in declaration order. */
export type ServiceFn<R extends ReturnType> = (args: readonly bigint[], call: CallInfo) => ReturnOf<R>;

/**
 * Any member's implementation, as the dispatcher holds it (it checks the result against the declaration). Its own
 * type, not ServiceFn<ReturnType>: tsc compares instances of one alias by their argument, which lets a handler
 * that may return nothing pass for an EFI_STATUS one.
 */
export type AnyServiceFn = (args: readonly bigint[], call: CallInfo) => bigint | undefined;

/** The names of a table's function members (data fields excluded). */
export type MemberName<T extends TableDecl> = T extends TableDecl<infer M> ? (M extends { field: true } ? never : M['name']) : never;

/**
 * Implementations for some or all members of a table, each typed by its declaration: a member missing here
 * returns EFI_UNSUPPORTED and is reported as unimplemented.
 */
export type TableImpl<T extends TableDecl = TableDecl> = T extends TableDecl<infer M>
  ? { [K in M as K extends { field: true } ? never : K['name']]?: ServiceFn<K['returns']> }
  : never;
