// The whole firmware without a CPU: createFirmware on a FakeBoard, services called through the tables' slots
// as a guest calls them, the real dispatcher in between.
import { EFI_BLOCK_IO_PROTOCOL_GUID as BLOCK_IO } from '../efi-services/protocols/block-io';
import { EFI_BLOCK_IO2_PROTOCOL_GUID as BLOCK_IO2 } from '../efi-services/protocols/block-io2';
import { EFI_DISK_IO_PROTOCOL_GUID as DISK_IO } from '../efi-services/protocols/disk-io';
import { EFI_DISK_IO2_PROTOCOL_GUID as DISK_IO2 } from '../efi-services/protocols/disk-io2';
import test from 'ava';
import { createHash } from 'node:crypto';
import { slotOffset } from '../core/abi';
import { GUID, guidToBytes } from '../core/guid';
import { RunEnd } from '../core/outcomes';
import {
  EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS, EFI_UNSUPPORTED, statusName,
} from '../core/status';
import { EfiBootServicesCode, EfiBootServicesData, EfiRuntimeServicesCode } from '../efi-services/boot/memory-types';
import { MemfsVolume } from '../efi-services/esp/memfs-volume';
import { createFirmware, Firmware } from '../efi-services/firmware';
import { FirmwareOptions } from '../efi-services/firmware-options';
import { endInstanceNode, filePathNode, serializeDevicePath } from '../efi-services/protocols/device-path';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { EFI_RUNTIME_SERVICES } from '../efi-services/tables/runtime-services-decl';
import { installPlatformProtocols, PlatformProtocolEntry } from '../efi-services/platform-protocols';
import { InstallContext } from '../efi-services/install-context';
import { FakeBoard } from './helpers/fake-board';
import { buildPe } from './helpers/pe-builder';

const MiB = 1 << 20;
const CHILD_PATH = '\\EFI\\test\\child.efi';
const CHILD_DATA = Buffer.from(Array.from({ length: 0x300 }, (_, i) => (i * 7 + 3) & 0xff));
const CHILD = buildPe({
  sections: [
    { name: '.text', data: Buffer.from([0x31, 0xc0, 0xc3]), characteristics: 0x60000020 }, // xor eax,eax; ret
    { name: '.data', data: CHILD_DATA, characteristics: 0xc0000040 },
  ],
  relocations: [],
  imageBase: 0x40_0000n,
}).file;

function boot(options: Partial<FirmwareOptions> = {}) {
  const board = FakeBoard.pc(128 * MiB);
  const fw = createFirmware(board, { trace: true, esp: new MemfsVolume({ [CHILD_PATH]: CHILD }), ...options });
  const slot = (table: bigint, offset: number) => board.mem.u64(table + BigInt(offset));
  const bs = (name: string, ...args: bigint[]) => board.call(slot(fw.bootServices, slotOffset(EFI_BOOT_SERVICES, name)), args);
  const rt = (name: string, ...args: bigint[]) => board.call(slot(fw.runtimeServices, slotOffset(EFI_RUNTIME_SERVICES, name)), args);
  /** Guest scratch memory from AllocatePool, as a guest gets it. */
  const pool = (bytes: number): bigint => {
    const out = fw.pool.allocate(EfiBootServicesData, 8, 'firmware');
    if (bs('AllocatePool', 2n /* EfiLoaderData */, BigInt(bytes), out) !== EFI_SUCCESS) throw new Error('AllocatePool failed');
    return board.mem.u64(out);
  };
  return { board, fw, bs, rt, pool };
}

/** The started image, loaded from the ESP as runImage does. */
function startedImage(fw: Firmware) {
  return fw.images.load(CHILD, { name: 'boot.efi', parent: 0n, devicePath: fw.espFileDevicePath(CHILD_PATH), deviceHandle: fw.espHandle, source: 'test' });
}

test('set-up order: handles and their protocols, configuration tables, as firmware.ts promises', (t) => {
  const { fw } = boot();
  t.deepEqual(fw.db.handles().map((h) => h.protocols.map((p) => p.guid)), [
    [GUID.SIMPLE_TEXT_INPUT, GUID.SIMPLE_TEXT_INPUT_EX],
    [GUID.SIMPLE_TEXT_OUTPUT],
    [GUID.SIMPLE_TEXT_OUTPUT],
    // The ESP partition: SimpleFileSystem, then Block I/O (2) and Disk I/O (2) of the partition; then the disk.
    [GUID.DEVICE_PATH, GUID.SIMPLE_FILE_SYSTEM, BLOCK_IO, BLOCK_IO2, DISK_IO, DISK_IO2],
    [GUID.DEVICE_PATH, BLOCK_IO, BLOCK_IO2, DISK_IO, DISK_IO2],
    [GUID.RNG_PROTOCOL],
    [GUID.MEMORY_ATTRIBUTE],
    [GUID.SECURITY2_ARCH, GUID.SECURITY_ARCH],
    [GUID.TCG2_PROTOCOL],
    [GUID.DEVICE_PATH_UTILITIES],
    [GUID.DEVICE_PATH_TO_TEXT],
    [GUID.DEVICE_PATH_FROM_TEXT],
    [GUID.UNICODE_COLLATION2],
    [GUID.HII_DATABASE],
    [GUID.HII_STRING],
    // ConOut's serial terminal, after the platform protocols (firmware.ts).
    [GUID.DEVICE_PATH, GUID.SIMPLE_TEXT_OUTPUT],
  ]);
  t.deepEqual(fw.configTables.list().map((e) => e.guid), [GUID.ACPI_20_TABLE, GUID.SMBIOS3_TABLE, '1e2ed096-30e2-4254-bd89-863bbef82325']);
});

test('option gates: no RNG, no TPM; a GOP and an initrd add their handles', (t) => {
  const { fw } = boot({ noRng: true, pcrBanks: null, gop: { width: 640, height: 480 }, initrd: Buffer.from('initrd') });
  const guids = fw.db.handles().flatMap((h) => h.protocols.map((p) => p.guid));
  t.false(guids.includes(GUID.RNG_PROTOCOL));
  t.false(guids.includes(GUID.TCG2_PROTOCOL));
  t.true(guids.includes(GUID.GRAPHICS_OUTPUT));
  t.true(guids.includes(GUID.LOAD_FILE2));
  t.is(fw.tcg2, undefined);
});

test('the board gets trap regions the memory map describes as firmware code, the IDT vectors and a guarded stack', (t) => {
  const { board, fw } = boot();
  const types = board.regions.map((r) => fw.map.descriptors().find((d) => d.physicalStart <= r.base && r.base < d.physicalStart + 4096n * d.numberOfPages)?.type);
  t.deepEqual(types, [EfiBootServicesCode, EfiRuntimeServicesCode]);
  t.is(board.processor.length, 1);
  t.is(board.processor[0].vectors.length, 256);
  t.true(board.processor[0].vectors.every((v) => board.isTrapAddress(v)));
  t.deepEqual(board.protectedRanges, [{ address: fw.stackGuard, size: 4096 }]);
  t.is(board.regs.rsp, fw.stackTop);
  t.true(board.isTrapAddress(board.mem.u64(fw.bootServices + BigInt(slotOffset(EFI_BOOT_SERVICES, 'LoadImage')))));
});

test('the handle database through the boot services: LocateProtocol, HandleProtocol, LocateHandleBuffer', (t) => {
  const { board, fw, bs, pool } = boot();
  const guid = pool(16);
  const out = pool(8);
  board.mem.write(guid, guidToBytes(GUID.SIMPLE_FILE_SYSTEM));
  t.is(bs('HandleProtocol', fw.espHandle, guid, out), EFI_SUCCESS);
  t.is(board.mem.u64(out), fw.db.find(fw.espHandle, GUID.SIMPLE_FILE_SYSTEM)?.interface ?? -1n);
  const count = pool(8);
  t.is(bs('LocateHandleBuffer', 2n /* ByProtocol */, guid, 0n, count, out), EFI_SUCCESS);
  t.is(board.mem.u64(count), 1n);
  t.is(board.mem.u64(board.mem.u64(out)), fw.espHandle);
  board.mem.write(guid, guidToBytes('00000000-1111-2222-3333-444444444444'));
  t.is(bs('LocateProtocol', guid, 0n, out), EFI_NOT_FOUND);
  // An EfiError inside a service reaches the guest as its status: a handle that is not one.
  t.is(bs('HandleProtocol', 0x1234n, guid, out), EFI_INVALID_PARAMETER);
});

test('LoadImage from the ESP by device path: the file is read through SimpleFileSystem, placed and registered', (t) => {
  const { board, fw, bs, pool } = boot();
  const parent = startedImage(fw);
  const dpBytes = serializeDevicePath([...fw.espDevicePath, filePathNode(CHILD_PATH)]);
  const dp = pool(dpBytes.length);
  board.mem.write(dp, dpBytes);
  const handleOut = pool(8);
  t.is(statusName(bs('LoadImage', 0n, parent.handle, dp, 0n, 0n, handleOut)), 'EFI_SUCCESS');
  const child = fw.images.get(board.mem.u64(handleOut)) ?? undefined;
  if (!child) return t.fail('no image behind the returned handle');
  t.is(child.fileSha256, createHash('sha256').update(CHILD).digest('hex'));
  // The .data section's bytes at its RVA in the placed image (second section: RVA 0x2000 at the default alignment).
  t.deepEqual(board.mem.read(child.base + 0x2000n, CHILD_DATA.length), CHILD_DATA);
  // EFI_LOADED_IMAGE_PROTOCOL (UEFI 2.10 §9.1): ParentHandle at 8, DeviceHandle at 24, ImageBase at 64.
  const li = fw.db.find(child.handle, GUID.LOADED_IMAGE)?.interface ?? 0n;
  t.is(board.mem.u64(li + 8n), parent.handle);
  t.is(board.mem.u64(li + 24n), fw.espHandle);
  t.is(board.mem.u64(li + 64n), child.base);
  // A path to no file: EFI_NOT_FOUND, no image.
  const missing = serializeDevicePath([...fw.espDevicePath, filePathNode('\\EFI\\none.efi')]);
  board.mem.write(dp, missing);
  const before = fw.images.images.length;
  t.is(statusName(bs('LoadImage', 0n, parent.handle, dp, 0n, 0n, handleOut)), 'EFI_NOT_FOUND');
  t.is(fw.images.images.length, before);
});

test('LoadImage and LocateDevicePath follow one rule: the first instance of a multi-instance path (edk2)', (t) => {
  const { board, fw, bs, pool } = boot();
  const parent = startedImage(fw);
  // The child, then (second instance) a file that does not exist: edk2 CoreLocateDevicePath looks at the first only.
  const first = [...fw.espDevicePath, filePathNode(CHILD_PATH)];
  const dpBytes = serializeDevicePath([...first, endInstanceNode(), ...fw.espDevicePath, filePathNode('\\EFI\\none.efi')]);
  const dp = pool(dpBytes.length);
  board.mem.write(dp, dpBytes);
  const out = pool(8);
  t.is(statusName(bs('LoadImage', 0n, parent.handle, dp, 0n, 0n, out)), 'EFI_SUCCESS');
  t.is(fw.images.get(board.mem.u64(out))?.fileSha256, createHash('sha256').update(CHILD).digest('hex'));
  // The boot service: the ESP handle, and the remaining path starts right after the ESP's own nodes: ACPI 12,
  // PCI 6 and hard drive 42 bytes (UEFI 2.10 §10.3).
  const guid = pool(16);
  board.mem.write(guid, guidToBytes(GUID.SIMPLE_FILE_SYSTEM));
  const where = pool(8);
  board.mem.setU64(where, dp);
  t.is(bs('LocateDevicePath', guid, where, out), EFI_SUCCESS);
  t.is(board.mem.u64(out), fw.espHandle);
  t.is(board.mem.u64(where), dp + 60n);
});

test('UnloadImage removes the image handle and the opens it made as agent (edk2 CoreUnloadImage)', (t) => {
  const { board, fw, bs, pool } = boot();
  const parent = startedImage(fw);
  const dpBytes = serializeDevicePath([...fw.espDevicePath, filePathNode(CHILD_PATH)]);
  const dp = pool(dpBytes.length);
  board.mem.write(dp, dpBytes);
  const out = pool(8);
  t.is(bs('LoadImage', 0n, parent.handle, dp, 0n, 0n, out), EFI_SUCCESS);
  const child = board.mem.u64(out);
  const guid = pool(16);
  board.mem.write(guid, guidToBytes(GUID.SIMPLE_FILE_SYSTEM));
  const iface = pool(8);
  // EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL (1) with the child as agent.
  t.is(bs('OpenProtocol', fw.espHandle, guid, iface, child, 0n, 1n), EFI_SUCCESS);
  const info = pool(8);
  const count = pool(8);
  t.is(bs('OpenProtocolInformation', fw.espHandle, guid, info, count), EFI_SUCCESS);
  t.is(board.mem.u64(count), 1n);
  t.is(bs('UnloadImage', child), EFI_SUCCESS);
  t.false(fw.db.isHandle(child));
  t.is(bs('OpenProtocolInformation', fw.espHandle, guid, info, count), EFI_SUCCESS);
  t.is(board.mem.u64(count), 0n, 'no open names the unloaded image');
});

test('ExitBootServices: a stale key is refused, the current one ends the run; boot services are refused after it', (t) => {
  const { board, fw, bs, rt, pool } = boot();
  const image = startedImage(fw);
  const size = pool(8);
  const key = pool(8);
  const descSize = pool(8);
  const version = pool(4);
  board.mem.setU64(size, 0n);
  t.is(bs('GetMemoryMap', size, 0n, key, descSize, version), EFI_BUFFER_TOO_SMALL);
  const need = board.mem.u64(size) + 4096n;
  const map = pool(Number(need));
  board.mem.setU64(size, need);
  t.is(bs('GetMemoryMap', size, map, key, descSize, version), EFI_SUCCESS);
  const mapKey = board.mem.u64(key);
  const name = pool(32);
  board.mem.setUtf16z(name, 'SecureBoot');
  const guid = pool(16);
  board.mem.write(guid, guidToBytes(GUID.GLOBAL_VARIABLE));
  const data = pool(8);
  t.is(bs('ExitBootServices', image.handle, mapKey + 1n), EFI_INVALID_PARAMETER);
  t.is(fw.ebs.failedAttempts, 1);
  const end = t.throws(() => bs('ExitBootServices', image.handle, mapKey), { instanceOf: RunEnd }) as RunEnd;
  t.is(end.kind, 'exit-boot-services');
  t.is(fw.handOff?.mapKey, mapKey);
  t.is(fw.handOff?.imageHandle, image.handle);
  // After ExitBootServices (UEFI 2.10 §7.4.6) only runtime services remain.
  t.is(bs('AllocatePool', 2n, 16n, size), EFI_UNSUPPORTED);
  t.true(fw.log.guestErrors.some((e) => e.service === 'BootServices.AllocatePool' && /after ExitBootServices/.test(e.message)));
  board.mem.setU64(size, 1n);
  t.is(rt('GetVariable', name, guid, 0n, size, data), EFI_SUCCESS);
  t.is(board.mem.u8(data), 0, 'SecureBoot is 0 without --secure-boot');
});

test('a trap without an implementation is reported as unimplemented', (t) => {
  const { board, fw } = boot();
  // IDT vector 6 (#UD) enters a firmware slot that has no service behind it.
  board.call(board.processor[0].vectors[6], []);
  t.is(fw.log.unimplemented.get('Cpu.Vector6'), 1);
  t.is(board.call(board.processor[0].vectors[6], []), 0n, 'a VOID member returns nothing');
});

test('installPlatformProtocols: entries in list order, closed gates skipped, keyed states kept and seen by later entries', (t) => {
  const calls: string[] = [];
  const gop = { handle: 1n } as unknown as NonNullable<ReturnType<typeof installPlatformProtocols>['gop']>;
  const list: PlatformProtocolEntry[] = [
    { name: 'a', install: () => void calls.push('a') },
    { name: 'gated', when: (o) => o.noRng !== true, install: () => void calls.push('gated') },
    { name: 'gop', key: 'gop', install: () => (calls.push('gop'), gop) },
    { name: 'after', install: (_ctx, _o, installed) => void calls.push(`after sees gop ${installed.gop === gop}`) },
  ];
  const got = installPlatformProtocols({} as InstallContext, { trace: false, noRng: true }, list);
  t.deepEqual(calls, ['a', 'gop', 'after sees gop true']);
  t.is(got.gop, gop);
  t.deepEqual(Object.keys(got), ['gop']);
});
