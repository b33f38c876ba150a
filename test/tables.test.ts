// Table layouts against the offsets the UEFI 2.10 spec's C declarations give on x64, and header CRC32s.
import test from 'ava';
import { slotOffset, tableSize } from '../core/abi';
import { crc32 } from '../efi-services/crc32';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { EFI_RUNTIME_SERVICES } from '../efi-services/tables/runtime-services-decl';
import { ST } from '../efi-services/tables/system-table';
import { LOADED_IMAGE } from '../efi-services/protocols/loaded-image';
import { runCode } from './helpers/guest-code';

// Offsets written out by hand from the spec's struct declarations: 24-byte EFI_TABLE_HEADER, then 8 bytes a member.
const BS_OFFSETS: [string, number][] = [
  ['RaiseTPL', 0x18], ['RestoreTPL', 0x20], ['AllocatePages', 0x28], ['FreePages', 0x30], ['GetMemoryMap', 0x38],
  ['AllocatePool', 0x40], ['FreePool', 0x48], ['CreateEvent', 0x50], ['SetTimer', 0x58], ['WaitForEvent', 0x60],
  ['SignalEvent', 0x68], ['CloseEvent', 0x70], ['CheckEvent', 0x78], ['InstallProtocolInterface', 0x80],
  ['ReinstallProtocolInterface', 0x88], ['UninstallProtocolInterface', 0x90], ['HandleProtocol', 0x98],
  ['Reserved', 0xa0], ['RegisterProtocolNotify', 0xa8], ['LocateHandle', 0xb0], ['LocateDevicePath', 0xb8],
  ['InstallConfigurationTable', 0xc0], ['LoadImage', 0xc8], ['StartImage', 0xd0], ['Exit', 0xd8],
  ['UnloadImage', 0xe0], ['ExitBootServices', 0xe8], ['GetNextMonotonicCount', 0xf0], ['Stall', 0xf8],
  ['SetWatchdogTimer', 0x100], ['ConnectController', 0x108], ['DisconnectController', 0x110],
  ['OpenProtocol', 0x118], ['CloseProtocol', 0x120], ['OpenProtocolInformation', 0x128],
  ['ProtocolsPerHandle', 0x130], ['LocateHandleBuffer', 0x138], ['LocateProtocol', 0x140],
  ['InstallMultipleProtocolInterfaces', 0x148], ['UninstallMultipleProtocolInterfaces', 0x150],
  ['CalculateCrc32', 0x158], ['CopyMem', 0x160], ['SetMem', 0x168], ['CreateEventEx', 0x170],
];
const RT_OFFSETS: [string, number][] = [
  ['GetTime', 0x18], ['SetTime', 0x20], ['GetWakeupTime', 0x28], ['SetWakeupTime', 0x30],
  ['SetVirtualAddressMap', 0x38], ['ConvertPointer', 0x40], ['GetVariable', 0x48], ['GetNextVariableName', 0x50],
  ['SetVariable', 0x58], ['GetNextHighMonotonicCount', 0x60], ['ResetSystem', 0x68], ['UpdateCapsule', 0x70],
  ['QueryCapsuleCapabilities', 0x78], ['QueryVariableInfo', 0x80],
];

test('EFI_BOOT_SERVICES slots sit at the spec offsets; the table is 0x178 bytes', (t) => {
  t.is(EFI_BOOT_SERVICES.members.length, BS_OFFSETS.length);
  for (const [name, off] of BS_OFFSETS) t.is(slotOffset(EFI_BOOT_SERVICES, name), off, name);
  t.is(tableSize(EFI_BOOT_SERVICES), 0x178);
});

test('EFI_RUNTIME_SERVICES slots sit at the spec offsets; the table is 0x88 bytes', (t) => {
  t.is(EFI_RUNTIME_SERVICES.members.length, RT_OFFSETS.length);
  for (const [name, off] of RT_OFFSETS) t.is(slotOffset(EFI_RUNTIME_SERVICES, name), off, name);
  t.is(tableSize(EFI_RUNTIME_SERVICES), 0x88);
});

test('EFI_SYSTEM_TABLE and EFI_LOADED_IMAGE_PROTOCOL field offsets', (t) => {
  t.deepEqual(
    [ST.FirmwareVendor, ST.FirmwareRevision, ST.ConIn, ST.ConOut, ST.StdErr, ST.RuntimeServices, ST.BootServices, ST.NumberOfTableEntries, ST.ConfigurationTable, ST.size],
    [0x18, 0x20, 0x30, 0x40, 0x50, 0x58, 0x60, 0x68, 0x70, 0x78],
  );
  t.deepEqual(
    [LOADED_IMAGE.ParentHandle, LOADED_IMAGE.DeviceHandle, LOADED_IMAGE.FilePath, LOADED_IMAGE.LoadOptionsSize, LOADED_IMAGE.LoadOptions, LOADED_IMAGE.ImageBase, LOADED_IMAGE.ImageSize, LOADED_IMAGE.ImageCodeType, LOADED_IMAGE.Unload, LOADED_IMAGE.size],
    [0x08, 0x18, 0x20, 0x30, 0x38, 0x40, 0x48, 0x50, 0x58, 0x60],
  );
});

test('CRC32 is the IEEE 802.3 check value', (t) => {
  t.is(crc32(Buffer.from('123456789')), 0xcbf43926);
  t.is(crc32(Buffer.alloc(0)), 0);
});

/** Reads a table from guest memory and checks its header: signature, size, and CRC32 recomputed here. */
function checkHeader(t: import('ava').ExecutionContext, mem: import('../core/guest-memory').GuestMemory, at: bigint, signature: string, size: number) {
  const hdr = mem.read(at, 24);
  t.is(hdr.subarray(0, 8).toString('latin1'), signature);
  t.is(hdr.readUInt32LE(8), (2 << 16) | 100);
  t.is(hdr.readUInt32LE(12), size);
  const bytes = mem.read(at, size);
  const stored = bytes.readUInt32LE(16);
  bytes.writeUInt32LE(0, 16);
  t.is(stored, crc32(bytes));
}

test('the tables in guest memory carry correct headers and every slot is a firmware trap', (t) => {
  const r = runCode([0x31, 0xc0, 0xc3]); // xor eax, eax; ret
  const fw = r.firmware;
  const mem = fw.mem;
  checkHeader(t, mem, fw.systemTable, 'IBI SYST', 0x78);
  checkHeader(t, mem, fw.bootServices, 'BOOTSERV', 0x178);
  checkHeader(t, mem, fw.runtimeServices, 'RUNTSERV', 0x88);
  t.is(mem.u64(fw.systemTable + BigInt(ST.BootServices)), fw.bootServices);
  t.is(mem.u64(fw.systemTable + BigInt(ST.RuntimeServices)), fw.runtimeServices);
  t.is(mem.utf16z(mem.u64(fw.systemTable + BigInt(ST.FirmwareVendor))), 'stubemu');
  for (const [name, off] of BS_OFFSETS) t.true(fw.dispatcher.isTrapAddress(mem.u64(fw.bootServices + BigInt(off))), name);
  for (const [name, off] of RT_OFFSETS) t.true(fw.dispatcher.isTrapAddress(mem.u64(fw.runtimeServices + BigInt(off))), name);
  // Runtime traps live in EfiRuntimeServicesCode, as an OS that keeps calling them needs.
  const rtTrap = mem.u64(fw.runtimeServices + 0x48n);
  const d = fw.map.descriptors().find((x) => rtTrap >= x.physicalStart && rtTrap < x.physicalStart + x.numberOfPages * 4096n)!;
  t.is(d.type, 5);
});
