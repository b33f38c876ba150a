// Lays a function table (a protocol interface or a services table) out in guest memory from its declaration.
import { FunctionDecl, MemberName, AnyServiceFn, TableDecl, TableImpl, tableSize } from '../core/abi';
import { Platform } from './platform';

/**
 * Allocates `tableSize(decl) + extraBytes` bytes of firmware memory, fills each function slot with a trap
 * that runs `impl[member]` (or reports the member as unimplemented), and returns the table's address.
 * Data fields (a header, a Revision, `field` members such as Mode or WaitForKey) are the caller's to write.
 */
export function buildInterface<T extends TableDecl>(platform: Platform, decl: T, impl: TableImpl<T>, extraBytes = 0, runtime = false): bigint {
  const base = platform.allocate(tableSize(decl) + extraBytes, runtime);
  const impls = impl as Partial<Record<string, AnyServiceFn>>;
  decl.members.forEach((m, i) => {
    if (m.field) return;
    platform.mem.setU64(base + BigInt(decl.headerSize + 8 * i), platform.trap(decl.traceName, m, impls[m.name], runtime));
  });
  return base;
}

/** An interface table with no header: `Revision`-less protocols whose first field is a function. */
export function protocolDecl<M extends FunctionDecl>(name: string, traceName: string, members: readonly M[], headerSize = 0): TableDecl<M> {
  return { name, traceName, headerSize, members };
}

/** Address of member `name` (function or field) in a table laid out by buildInterface. */
export function memberAddress(base: bigint, decl: TableDecl, name: string): bigint {
  const i = decl.members.findIndex((m) => m.name === name);
  if (i < 0) throw new Error(`${decl.name} has no member ${name}`);
  return base + BigInt(decl.headerSize + 8 * i);
}

/**
 * Calls member `name` of the table at `table` through the function pointer in its slot, so a guest that replaced
 * the member (or installed the whole table) is called like the firmware's own; returns RAX.
 */
export function callMember<T extends TableDecl>(platform: Platform, table: bigint, decl: T, name: MemberName<T>, args: readonly bigint[], why: string): bigint {
  return platform.callGuest(platform.mem.u64(memberAddress(table, decl, name)), args, why);
}
