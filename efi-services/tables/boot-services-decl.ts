// EFI_BOOT_SERVICES (UEFI 2.10 §4.4): every member in spec order with its argument types.
import { fn, fnReturning, fnVariadic, tableDecl, TableImpl } from '../../core/abi';

export const EFI_BOOT_SERVICES_SIGNATURE = 0x56524553544f4f42n; // "BOOTSERV"
export const EFI_2_100_SYSTEM_TABLE_REVISION = (2 << 16) | 100;

export const EFI_BOOT_SERVICES = tableDecl({
  name: 'EFI_BOOT_SERVICES',
  traceName: 'BootServices',
  signature: EFI_BOOT_SERVICES_SIGNATURE,
  revision: EFI_2_100_SYSTEM_TABLE_REVISION,
  headerSize: 24,
  members: [
    // Task Priority Services
    fnReturning('TPL', 'RaiseTPL', 'NewTpl:TPL'),
    fnReturning('VOID', 'RestoreTPL', 'OldTpl:TPL'),
    // Memory Services
    fn('AllocatePages', 'Type:ENUM', 'MemoryType:ENUM', 'Pages:UINTN', 'Memory:PTR'),
    fn('FreePages', 'Memory:UINT64', 'Pages:UINTN'),
    fn('GetMemoryMap', 'MemoryMapSize:PTR', 'MemoryMap:PTR', 'MapKey:PTR', 'DescriptorSize:PTR', 'DescriptorVersion:PTR'),
    fn('AllocatePool', 'PoolType:ENUM', 'Size:UINTN', 'Buffer:PTR'),
    fn('FreePool', 'Buffer:PTR'),
    // Event & Timer Services
    fn('CreateEvent', 'Type:UINT32', 'NotifyTpl:TPL', 'NotifyFunction:PTR', 'NotifyContext:PTR', 'Event:PTR'),
    fn('SetTimer', 'Event:EVENT', 'Type:ENUM', 'TriggerTime:UINT64'),
    fn('WaitForEvent', 'NumberOfEvents:UINTN', 'Event:PTR', 'Index:PTR'),
    fn('SignalEvent', 'Event:EVENT'),
    fn('CloseEvent', 'Event:EVENT'),
    fn('CheckEvent', 'Event:EVENT'),
    // Protocol Handler Services
    fn('InstallProtocolInterface', 'Handle:PTR', 'Protocol:GUID_PTR', 'InterfaceType:ENUM', 'Interface:PTR'),
    fn('ReinstallProtocolInterface', 'Handle:HANDLE', 'Protocol:GUID_PTR', 'OldInterface:PTR', 'NewInterface:PTR'),
    fn('UninstallProtocolInterface', 'Handle:HANDLE', 'Protocol:GUID_PTR', 'Interface:PTR'),
    fn('HandleProtocol', 'Handle:HANDLE', 'Protocol:GUID_PTR', 'Interface:PTR'),
    fn('Reserved'),
    fn('RegisterProtocolNotify', 'Protocol:GUID_PTR', 'Event:EVENT', 'Registration:PTR'),
    fn('LocateHandle', 'SearchType:ENUM', 'Protocol:GUID_PTR', 'SearchKey:PTR', 'BufferSize:PTR', 'Buffer:PTR'),
    fn('LocateDevicePath', 'Protocol:GUID_PTR', 'DevicePath:PTR', 'Device:PTR'),
    fn('InstallConfigurationTable', 'Guid:GUID_PTR', 'Table:PTR'),
    // Image Services
    fn('LoadImage', 'BootPolicy:BOOLEAN', 'ParentImageHandle:HANDLE', 'DevicePath:PTR', 'SourceBuffer:PTR', 'SourceSize:UINTN', 'ImageHandle:PTR'),
    fn('StartImage', 'ImageHandle:HANDLE', 'ExitDataSize:PTR', 'ExitData:PTR'),
    fn('Exit', 'ImageHandle:HANDLE', 'ExitStatus:STATUS', 'ExitDataSize:UINTN', 'ExitData:PTR'),
    fn('UnloadImage', 'ImageHandle:HANDLE'),
    fn('ExitBootServices', 'ImageHandle:HANDLE', 'MapKey:UINTN'),
    // Miscellaneous Services
    fn('GetNextMonotonicCount', 'Count:PTR'),
    fn('Stall', 'Microseconds:UINTN'),
    fn('SetWatchdogTimer', 'Timeout:UINTN', 'WatchdogCode:UINT64', 'DataSize:UINTN', 'WatchdogData:PTR'),
    // DriverSupport Services
    fn('ConnectController', 'ControllerHandle:HANDLE', 'DriverImageHandle:PTR', 'RemainingDevicePath:PTR', 'Recursive:BOOLEAN'),
    fn('DisconnectController', 'ControllerHandle:HANDLE', 'DriverImageHandle:HANDLE', 'ChildHandle:HANDLE'),
    // Open and Close Protocol Services
    fn('OpenProtocol', 'Handle:HANDLE', 'Protocol:GUID_PTR', 'Interface:PTR', 'AgentHandle:HANDLE', 'ControllerHandle:HANDLE', 'Attributes:UINT32'),
    fn('CloseProtocol', 'Handle:HANDLE', 'Protocol:GUID_PTR', 'AgentHandle:HANDLE', 'ControllerHandle:HANDLE'),
    fn('OpenProtocolInformation', 'Handle:HANDLE', 'Protocol:GUID_PTR', 'EntryBuffer:PTR', 'EntryCount:PTR'),
    // Library Services
    fn('ProtocolsPerHandle', 'Handle:HANDLE', 'ProtocolBuffer:PTR', 'ProtocolBufferCount:PTR'),
    fn('LocateHandleBuffer', 'SearchType:ENUM', 'Protocol:GUID_PTR', 'SearchKey:PTR', 'NoHandles:PTR', 'Buffer:PTR'),
    fn('LocateProtocol', 'Protocol:GUID_PTR', 'Registration:PTR', 'Interface:PTR'),
    fnVariadic('InstallMultipleProtocolInterfaces', 'Handle:PTR'),
    fnVariadic('UninstallMultipleProtocolInterfaces', 'Handle:HANDLE'),
    // 32-bit CRC Services
    fn('CalculateCrc32', 'Data:PTR', 'DataSize:UINTN', 'Crc32:PTR'),
    // Miscellaneous Services
    fnReturning('VOID', 'CopyMem', 'Destination:PTR', 'Source:PTR', 'Length:UINTN'),
    fnReturning('VOID', 'SetMem', 'Buffer:PTR', 'Size:UINTN', 'Value:UINT8'),
    fn('CreateEventEx', 'Type:UINT32', 'NotifyTpl:TPL', 'NotifyFunction:PTR', 'NotifyContext:PTR', 'EventGroup:GUID_PTR', 'Event:PTR'),
  ],
});

/** Implementations of EFI_BOOT_SERVICES members, each typed by its declaration. */
export type BootServicesImpl = TableImpl<typeof EFI_BOOT_SERVICES>;
