// Which traced arguments are addresses (pointers, handles, events): they differ between any two builds or runs
// with different allocations, so the diff leaves them out unless asked (--addresses). Read from the same
// declarations the dispatcher decodes with (STYLE 4), never from argument names.
import { ArgType, TableDecl } from '../../core/abi';
import { EFI_BOOT_SERVICES } from '../../efi-services/tables/boot-services-decl';
import { EFI_RUNTIME_SERVICES } from '../../efi-services/tables/runtime-services-decl';
import { EFI_TCG2_PROTOCOL } from '../../efi-services/tcg/tcg2-protocol';
import { EFI_SECURITY_ARCH_PROTOCOL, EFI_SECURITY2_ARCH_PROTOCOL } from '../../efi-services/protocols/security-arch';
import { EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL } from '../../efi-services/protocols/simple-text-output';
import { EFI_FILE_PROTOCOL } from '../../efi-services/protocols/file';
import { EFI_RNG_PROTOCOL } from '../../efi-services/protocols/rng';
import { EFI_GRAPHICS_OUTPUT_PROTOCOL } from '../../efi-services/protocols/graphics-output';
import { EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL, EFI_SIMPLE_TEXT_INPUT_PROTOCOL } from '../../efi-services/protocols/simple-text-input';
import { EFI_LOAD_FILE2_PROTOCOL } from '../../efi-services/protocols/load-file';
import { EFI_MEMORY_ATTRIBUTE_PROTOCOL } from '../../efi-services/protocols/memory-attribute';
import { EFI_SIMPLE_FILE_SYSTEM_PROTOCOL } from '../../efi-services/protocols/simple-file-system';

const TABLES: readonly TableDecl[] = [
  EFI_BOOT_SERVICES, EFI_RUNTIME_SERVICES, EFI_TCG2_PROTOCOL, EFI_SECURITY_ARCH_PROTOCOL, EFI_SECURITY2_ARCH_PROTOCOL,
  EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL, { ...EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL, traceName: 'StdErr' }, EFI_FILE_PROTOCOL,
  EFI_RNG_PROTOCOL, EFI_GRAPHICS_OUTPUT_PROTOCOL, EFI_SIMPLE_TEXT_INPUT_PROTOCOL, EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL,
  { ...EFI_LOAD_FILE2_PROTOCOL, traceName: 'InitrdLoadFile2' }, EFI_MEMORY_ATTRIBUTE_PROTOCOL, EFI_SIMPLE_FILE_SYSTEM_PROTOCOL,
];

const ADDRESS_TYPES: ReadonlySet<ArgType> = new Set<ArgType>(['PTR', 'HANDLE', 'EVENT']);
/** EFI_PHYSICAL_ADDRESS arguments: the declarations give their width (UINT64), so they are named here. */
const PHYSICAL_ADDRESSES: ReadonlySet<string> = new Set([
  'FreePages.Memory', 'HashLogExtendEvent.DataToHash', 'UpdateCapsule.ScatterGatherList',
  'GetMemoryAttributes.BaseAddress', 'SetMemoryAttributes.BaseAddress', 'ClearMemoryAttributes.BaseAddress',
]);

let byService: Map<string, Map<string, ArgType>> | undefined;
let byMember: Map<string, Map<string, ArgType> | null> | undefined;

function index(): void {
  byService = new Map();
  byMember = new Map();
  for (const t of TABLES) {
    for (const m of t.members) {
      if (m.field) continue;
      const args = new Map(m.args.map((a) => [a.name, a.type] as const));
      byService.set(`${t.traceName}.${m.name}`, args);
      // A member name found in one table only identifies it for owners this list does not name.
      byMember.set(m.name, byMember.has(m.name) ? null : args);
    }
  }
}

/** true when the argument is an address; unknown services and arguments count as addresses (not compared). */
export function isAddressArg(service: string, arg: string): boolean {
  if (!byService) index();
  const member = service.slice(service.lastIndexOf('.') + 1);
  if (PHYSICAL_ADDRESSES.has(`${member}.${arg}`)) return true;
  const args = byService!.get(service) ?? byMember!.get(member) ?? undefined;
  const type = args?.get(arg);
  return type === undefined || ADDRESS_TYPES.has(type);
}
