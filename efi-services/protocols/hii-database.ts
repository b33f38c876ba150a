// EFI_HII_DATABASE_PROTOCOL (UEFI 2.10 §34.8): package lists registered by drivers and applications, found by HII
// handle. edk2's HiiLib (HiiAddPackages) registers every string package this way; the UEFI Shell and its command
// libraries do it at start and stop when it fails. Implemented: NewPackageList, RemovePackageList, ListPackageLists,
// ExportPackageLists, GetPackageListHandle. Package notifications, UpdatePackageList and keyboard layouts are not:
// they return EFI_UNSUPPORTED and show in the report's `unimplemented`.
import { fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_SUCCESS, EfiError } from '../../core/status';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { HII_PACKAGE, HiiPackageError, HiiPackageList, PACKAGE_HEADER_SIZE, PACKAGE_LIST_HEADER_SIZE, parsePackageList, parseStringPackage, StringPackage } from './hii-packages';

export const EFI_HII_DATABASE_PROTOCOL_GUID = GUID.HII_DATABASE;

export const EFI_HII_DATABASE_PROTOCOL = tableDecl({
  name: 'EFI_HII_DATABASE_PROTOCOL',
  traceName: 'HiiDatabase',
  headerSize: 0,
  members: [
    fn('NewPackageList', 'This:PTR', 'PackageList:PTR', 'DriverHandle:HANDLE', 'Handle:PTR'),
    fn('RemovePackageList', 'This:PTR', 'Handle:PTR'),
    fn('UpdatePackageList', 'This:PTR', 'Handle:PTR', 'PackageList:PTR'),
    fn('ListPackageLists', 'This:PTR', 'PackageType:UINT8', 'PackageGuid:GUID_PTR', 'HandleBufferLength:PTR', 'Handle:PTR'),
    fn('ExportPackageLists', 'This:PTR', 'Handle:PTR', 'BufferSize:PTR', 'Buffer:PTR'),
    fn('RegisterPackageNotify', 'This:PTR', 'PackageType:UINT8', 'PackageGuid:GUID_PTR', 'PackageNotifyFn:PTR', 'NotifyType:UINTN', 'NotifyHandle:PTR'),
    fn('UnregisterPackageNotify', 'This:PTR', 'NotificationHandle:PTR'),
    fn('FindKeyboardLayouts', 'This:PTR', 'KeyGuidBufferLength:PTR', 'KeyGuidBuffer:PTR'),
    fn('GetKeyboardLayout', 'This:PTR', 'KeyGuid:GUID_PTR', 'KeyboardLayoutLength:PTR', 'KeyboardLayout:PTR'),
    fn('SetKeyboardLayout', 'This:PTR', 'KeyGuid:GUID_PTR'),
    fn('GetPackageListHandle', 'This:PTR', 'PackageListHandle:PTR', 'DriverHandle:PTR'),
  ],
});

interface Registered {
  list: HiiPackageList;
  driverHandle: bigint;
  strings?: StringPackage[];
}

/** The database: package lists by EFI_HII_HANDLE (an address of firmware memory, unique per list). */
export class HiiDatabase {
  private readonly lists = new Map<bigint, Registered>();

  constructor(private readonly newHandle: () => bigint) {}

  /** §34.8.1: a list with the same PackageListGuid for the same DriverHandle is refused, as edk2 does. */
  add(bytes: Buffer, driverHandle: bigint): bigint {
    const list = parsePackageList(bytes);
    for (const r of this.lists.values()) {
      if (r.driverHandle === driverHandle && r.list.guid.equals(list.guid)) {
        throw new EfiError(EFI_INVALID_PARAMETER, 'a package list with this GUID is already registered for DriverHandle');
      }
    }
    const handle = this.newHandle();
    this.lists.set(handle, { list, driverHandle });
    return handle;
  }

  remove(handle: bigint): void {
    if (!this.lists.delete(handle)) throw new EfiError(EFI_NOT_FOUND, 'Handle is not a registered package list');
  }

  has(handle: bigint): boolean {
    return this.lists.has(handle);
  }

  get(handle: bigint): Registered | undefined {
    return this.lists.get(handle);
  }

  /** Handles of the lists holding a package of `type` (a GUID package with `guid` for type GUID), in registration order. */
  find(type: number, guid?: Buffer): bigint[] {
    return [...this.lists.entries()].filter(([, r]) => type === HII_PACKAGE.ALL || r.list.packages.some((p) =>
      p.type === type && (type !== HII_PACKAGE.GUID || (guid !== undefined && p.bytes.subarray(PACKAGE_HEADER_SIZE, PACKAGE_HEADER_SIZE + 16).equals(guid)))))
      .map(([h]) => h);
  }

  /** The string packages of a list, parsed once. */
  stringPackages(handle: bigint): StringPackage[] | undefined {
    const r = this.lists.get(handle);
    if (!r) return undefined;
    r.strings ??= r.list.packages.filter((p) => p.type === HII_PACKAGE.STRINGS).map((p) => parseStringPackage(p.bytes));
    return r.strings;
  }

  get size(): number {
    return this.lists.size;
  }
}

export function hiiDatabaseProtocol(platform: Platform, db: HiiDatabase): bigint {
  const mem = platform.mem;
  const invalid = (why: string): never => {
    throw new EfiError(EFI_INVALID_PARAMETER, why);
  };
  /** Writes `bytes` if *sizePtr holds enough, else the size needed and EFI_BUFFER_TOO_SMALL (§34.8.4/5). */
  const out = (sizePtr: bigint, buffer: bigint, bytes: Buffer) => {
    const have = mem.u64(sizePtr);
    mem.setU64(sizePtr, BigInt(bytes.length));
    if (have < BigInt(bytes.length)) return EFI_BUFFER_TOO_SMALL;
    mem.write(buffer, bytes);
    return EFI_SUCCESS;
  };
  return buildInterface(platform, EFI_HII_DATABASE_PROTOCOL, {
    NewPackageList: ([, list, driverHandle, handlePtr], call) => {
      if (list === 0n || handlePtr === 0n) invalid('PackageList or Handle is NULL');
      const length = mem.u32(list + 16n);
      if (length < PACKAGE_LIST_HEADER_SIZE) invalid(`PackageLength ${length} is smaller than the header`);
      let handle: bigint;
      try {
        handle = db.add(mem.read(list, length), driverHandle);
      } catch (e) {
        if (e instanceof HiiPackageError) invalid(e.message);
        throw e;
      }
      mem.setU64(handlePtr, handle);
      const r = db.get(handle)!;
      call.note(`*Handle = 0x${handle.toString(16)}: ${r.list.packages.length} package(s), `
        + `strings in ${db.stringPackages(handle)!.map((s) => `${s.language} (${s.strings.size})`).join(', ') || 'no language'}`);
      return EFI_SUCCESS;
    },
    RemovePackageList: ([, handle]) => {
      db.remove(handle);
      return EFI_SUCCESS;
    },
    ListPackageLists: ([, type, guidPtr, lengthPtr, buffer]) => {
      if (lengthPtr === 0n) invalid('HandleBufferLength is NULL');
      if (mem.u64(lengthPtr) > 0n && buffer === 0n) invalid('Handle is NULL with a non-zero HandleBufferLength');
      if ((Number(type) === HII_PACKAGE.GUID) !== (guidPtr !== 0n)) invalid('PackageGuid goes with PackageType EFI_HII_PACKAGE_TYPE_GUID only');
      const found = db.find(Number(type), guidPtr === 0n ? undefined : mem.read(guidPtr, 16));
      if (found.length === 0) return EFI_NOT_FOUND;
      const bytes = Buffer.alloc(8 * found.length);
      found.forEach((h, i) => bytes.writeBigUInt64LE(h, 8 * i));
      return out(lengthPtr, buffer, bytes);
    },
    // §34.8.5: one list, or all of them (Handle NULL), each as its EFI_HII_PACKAGE_LIST_HEADER and packages.
    ExportPackageLists: ([, handle, sizePtr, buffer]) => {
      if (sizePtr === 0n) invalid('BufferSize is NULL');
      if (mem.u64(sizePtr) > 0n && buffer === 0n) invalid('Buffer is NULL with a non-zero BufferSize');
      if (handle !== 0n && !db.has(handle)) return EFI_NOT_FOUND;
      const handles = handle !== 0n ? [handle] : db.find(HII_PACKAGE.ALL);
      return out(sizePtr, buffer, Buffer.concat(handles.map((h) => db.get(h)!.list.bytes)));
    },
    GetPackageListHandle: ([, handle, driverPtr]) => {
      if (driverPtr === 0n) invalid('DriverHandle is NULL');
      const r = db.get(handle);
      if (!r) invalid('PackageListHandle is not a registered package list');
      mem.setU64(driverPtr, r!.driverHandle);
      return EFI_SUCCESS;
    },
  });
}

/** Module entry (platform-protocols.ts): the database on a new handle; its state serves EFI_HII_STRING_PROTOCOL. */
export function install(ctx: InstallContext): HiiDatabase {
  const db = new HiiDatabase(() => ctx.platform.allocate(16));
  ctx.db.install(0n, EFI_HII_DATABASE_PROTOCOL_GUID, hiiDatabaseProtocol(ctx.platform, db));
  return db;
}
