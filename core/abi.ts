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

export interface FunctionDecl {
  readonly name: string;
  readonly args: readonly ArgDecl[];
  readonly returns: ReturnType;
  /** Takes further arguments after `args` (InstallMultipleProtocolInterfaces). */
  readonly variadic?: boolean;
  /** A pointer-sized data member between or after the functions (WaitForKey, Mode): not a function. */
  readonly field?: boolean;
}

export interface TableDecl {
  /** Spec name, e.g. EFI_BOOT_SERVICES; also the prefix of trace names unless `traceName` is set. */
  readonly name: string;
  readonly traceName: string;
  /** EFI_TABLE_HEADER.Signature when the table starts with a header (UEFI 2.10 §4.2). */
  readonly signature?: bigint;
  readonly revision?: number;
  /** Bytes before the first function pointer (the header, or a Revision field). */
  readonly headerSize: number;
  readonly members: readonly FunctionDecl[];
}

/** `fn('AllocatePages', 'Type:ENUM', 'MemoryType:ENUM', 'Pages:UINTN', 'Memory:PTR')` */
export function fn(name: string, ...args: string[]): FunctionDecl {
  return decl(name, 'EFI_STATUS', args);
}

export function fnReturning(returns: ReturnType, name: string, ...args: string[]): FunctionDecl {
  return decl(name, returns, args);
}

export function fnVariadic(name: string, ...args: string[]): FunctionDecl {
  return { ...decl(name, 'EFI_STATUS', args), variadic: true };
}

/** A pointer-sized data member of an interface (an EFI_EVENT, a Mode pointer), kept in its spec position. */
export function field(name: string): FunctionDecl {
  return { name, returns: 'VOID', args: [], field: true };
}

function decl(name: string, returns: ReturnType, args: string[]): FunctionDecl {
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

/** A service implementation: decoded arguments (bigint, masked to their width) in declaration order. */
export type ServiceFn = (args: readonly bigint[], call: CallInfo) => EfiStatus | bigint | void;

/** Implementations for some or all members of a table; missing members return EFI_UNSUPPORTED and are reported. */
export type TableImpl = Partial<Record<string, ServiceFn>>;
