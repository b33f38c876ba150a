// EFI_RUNTIME_SERVICES (UEFI 2.10 §4.5): every member in spec order with its argument types.
import { fn, fnReturning, tableDecl, TableImpl } from '../../core/abi';
import { EFI_2_100_SYSTEM_TABLE_REVISION } from './boot-services-decl';

export const EFI_RUNTIME_SERVICES_SIGNATURE = 0x56524553544e5552n; // "RUNTSERV"

export const EFI_RUNTIME_SERVICES = tableDecl({
  name: 'EFI_RUNTIME_SERVICES',
  traceName: 'RuntimeServices',
  signature: EFI_RUNTIME_SERVICES_SIGNATURE,
  revision: EFI_2_100_SYSTEM_TABLE_REVISION,
  headerSize: 24,
  members: [
    // Time Services
    fn('GetTime', 'Time:PTR', 'Capabilities:PTR'),
    fn('SetTime', 'Time:PTR'),
    fn('GetWakeupTime', 'Enabled:PTR', 'Pending:PTR', 'Time:PTR'),
    fn('SetWakeupTime', 'Enable:BOOLEAN', 'Time:PTR'),
    // Virtual Memory Services
    fn('SetVirtualAddressMap', 'MemoryMapSize:UINTN', 'DescriptorSize:UINTN', 'DescriptorVersion:UINT32', 'VirtualMap:PTR'),
    fn('ConvertPointer', 'DebugDisposition:UINTN', 'Address:PTR'),
    // Variable Services
    fn('GetVariable', 'VariableName:STR16', 'VendorGuid:GUID_PTR', 'Attributes:PTR', 'DataSize:PTR', 'Data:PTR'),
    fn('GetNextVariableName', 'VariableNameSize:PTR', 'VariableName:PTR', 'VendorGuid:PTR'),
    fn('SetVariable', 'VariableName:STR16', 'VendorGuid:GUID_PTR', 'Attributes:UINT32', 'DataSize:UINTN', 'Data:PTR'),
    // Miscellaneous Services
    fn('GetNextHighMonotonicCount', 'HighCount:PTR'),
    fnReturning('VOID', 'ResetSystem', 'ResetType:ENUM', 'ResetStatus:STATUS', 'DataSize:UINTN', 'ResetData:PTR'),
    // UEFI 2.0 Capsule Services
    fn('UpdateCapsule', 'CapsuleHeaderArray:PTR', 'CapsuleCount:UINTN', 'ScatterGatherList:UINT64'),
    fn('QueryCapsuleCapabilities', 'CapsuleHeaderArray:PTR', 'CapsuleCount:UINTN', 'MaximumCapsuleSize:PTR', 'ResetType:PTR'),
    // Miscellaneous UEFI 2.0 Service
    fn('QueryVariableInfo', 'Attributes:UINT32', 'MaximumVariableStorageSize:PTR', 'RemainingVariableStorageSize:PTR', 'MaximumVariableSize:PTR'),
  ],
});

/** Implementations of EFI_RUNTIME_SERVICES members, each typed by its declaration. */
export type RuntimeServicesImpl = TableImpl<typeof EFI_RUNTIME_SERVICES>;
