// EFI_SIMPLE_FILE_SYSTEM_PROTOCOL and EFI_FILE_PROTOCOL driven through their guest tables on a CPU-less platform.
import test from 'ava';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { slotOffset } from '../core/abi';
import { HostVolume } from '../efi-services/esp/host-volume';
import { MemfsVolume } from '../efi-services/esp/memfs-volume';
import { Volume } from '../efi-services/esp/volume';
import { GUID, guidToBytes } from '../core/guid';
import { CLUSTER_BYTES, EFI_FILE_DIRECTORY, EFI_FILE_MODE_CREATE, EFI_FILE_MODE_READ, EFI_FILE_MODE_WRITE,
  EFI_FILE_PROTOCOL, EFI_FILE_READ_ONLY, VOLUME_BYTES } from '../efi-services/protocols/file';
import { loadFileFromVolume, simpleFileSystem, SimpleFileSystem } from '../efi-services/protocols/simple-file-system';
import { EfiStatus, EFI_INVALID_PARAMETER, EFI_SUCCESS, EFI_UNSUPPORTED, statusName } from '../core/status';
import { FakePlatform } from './helpers/fake-platform';

const READ = EFI_FILE_MODE_READ;
const RW = EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE;
const RWC = RW | EFI_FILE_MODE_CREATE;
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff));
const s = statusName;

/** A guest's view: scratch memory below the platform heap, and calls through the tables' function pointers. */
class Guest {
  readonly p = new FakePlatform();
  readonly errors: string[] = [];
  readonly sfs: SimpleFileSystem;
  private next = 0x10000n;

  constructor(readonly volume: Volume) {
    this.sfs = simpleFileSystem(this.p, volume, { onGuestError: (m) => this.errors.push(m) });
  }

  get mem() {
    return this.p.mem;
  }

  alloc(n: number): bigint {
    const a = this.next;
    this.next += BigInt((n + 15) & ~15);
    return a;
  }

  wstr(text: string): bigint {
    const a = this.alloc(2 * text.length + 2);
    this.mem.setUtf16z(a, text);
    return a;
  }

  guid(text: string): bigint {
    const a = this.alloc(16);
    this.mem.write(a, guidToBytes(text));
    return a;
  }

  call(handle: bigint, member: string, ...args: bigint[]): EfiStatus {
    return this.p.call(this.mem.u64(handle + BigInt(slotOffset(EFI_FILE_PROTOCOL, member))), [handle, ...args]);
  }

  root(): bigint {
    const out = this.alloc(8);
    const st = this.p.call(this.mem.u64(this.sfs.protocol + 8n), [this.sfs.protocol, out]);
    if (st !== EFI_SUCCESS) throw new Error(`OpenVolume: ${s(st)}`);
    return this.mem.u64(out);
  }

  open(from: bigint, name: string, mode = READ, attributes = 0n): { status: string; handle: bigint } {
    const out = this.alloc(8);
    const status = this.call(from, 'Open', out, this.wstr(name), mode, attributes);
    return { status: s(status), handle: status === EFI_SUCCESS ? this.mem.u64(out) : 0n };
  }

  read(h: bigint, n: number): { status: string; data: Buffer } {
    const size = this.alloc(8);
    const buf = this.alloc(n);
    this.mem.setU64(size, BigInt(n));
    const status = this.call(h, 'Read', size, buf);
    return { status: s(status), data: this.mem.read(buf, Number(this.mem.u64(size))) };
  }

  write(h: bigint, data: Buffer): { status: string; written: number } {
    const size = this.alloc(8);
    const buf = this.alloc(data.length);
    this.mem.setU64(size, BigInt(data.length));
    this.mem.write(buf, data);
    const status = this.call(h, 'Write', size, buf);
    return { status: s(status), written: Number(this.mem.u64(size)) };
  }

  position(h: bigint): bigint {
    const out = this.alloc(8);
    const st = this.call(h, 'GetPosition', out);
    if (st !== EFI_SUCCESS) throw new Error(`GetPosition: ${s(st)}`);
    return this.mem.u64(out);
  }

  /** GetInfo as guests do it: ask with size 0, then with the size returned. */
  info(h: bigint, type: string): { first: string; needed: number; status: string; data: Buffer } {
    const size = this.alloc(8);
    const guid = this.guid(type);
    const first = s(this.call(h, 'GetInfo', guid, size, 0n));
    const needed = Number(this.mem.u64(size));
    const buf = this.alloc(needed);
    const status = s(this.call(h, 'GetInfo', guid, size, buf));
    return { first, needed, status, data: this.mem.read(buf, needed) };
  }
}

interface FileInfo { size: number; fileSize: number; physicalSize: number; attribute: bigint; name: string; year: number; month: number; day: number }

/** EFI_FILE_INFO decoded with the offsets of UEFI 2.10 §13.5.16 written out here, independently of file.ts. */
function decodeFileInfo(b: Buffer): FileInfo {
  return {
    size: Number(b.readBigUInt64LE(0)), fileSize: Number(b.readBigUInt64LE(8)), physicalSize: Number(b.readBigUInt64LE(16)),
    year: b.readUInt16LE(24), month: b[26], day: b[27], attribute: b.readBigUInt64LE(72),
    name: b.subarray(80, b.length - 2).toString('utf16le'),
  };
}

const BOOT = bytes(70_000, 3);
const UKI = bytes(4097, 9);
function espFiles(): Record<string, Buffer> {
  return {
    '/EFI/BOOT/BOOTX64.EFI': BOOT,
    '/EFI/Linux/uki.efi': UKI,
    '/EFI/Linux/b.efi': bytes(1, 1),
    '/EFI/Linux/A.efi': bytes(2, 2),
    '/EFI/Linux/Zeta': bytes(3, 3),
    '/loader/loader.conf': Buffer.from('timeout 3\n'),
  };
}

test('EFI_FILE_PROTOCOL slots sit where UEFI 2.10 §13.5.1 puts them', (t) => {
  const names = ['Open', 'Close', 'Delete', 'Read', 'Write', 'GetPosition', 'SetPosition', 'GetInfo', 'SetInfo', 'Flush',
    'OpenEx', 'ReadEx', 'WriteEx', 'FlushEx'];
  names.forEach((n, i) => t.is(slotOffset(EFI_FILE_PROTOCOL, n), 8 + 8 * i, n));
});

test('OpenVolume, Open and Read give back the source bytes', (t) => {
  const g = new Guest(new MemfsVolume(espFiles()));
  t.is(g.mem.u64(g.sfs.protocol), 0x00010000n);
  const root = g.root();
  t.is(g.mem.u64(root), 0x00010000n);
  const { status, handle } = g.open(root, '\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(status, 'EFI_SUCCESS');
  // read in uneven chunks, as the Linux stub's chunked reader does
  const parts: Buffer[] = [];
  for (;;) {
    const r = g.read(handle, 30_000);
    t.is(r.status, 'EFI_SUCCESS');
    if (r.data.length === 0) break;
    parts.push(r.data);
  }
  t.deepEqual(parts.map((p) => p.length), [30_000, 30_000, 10_000]);
  t.true(Buffer.concat(parts).equals(BOOT));
  t.is(g.position(handle), 70_000n);
  // seek, the end-of-file position, and past it
  t.is(s(g.call(handle, 'SetPosition', 69_990n)), 'EFI_SUCCESS');
  t.true(g.read(handle, 100).data.equals(BOOT.subarray(69_990)));
  t.is(s(g.call(handle, 'SetPosition', 0xffffffffffffffffn)), 'EFI_SUCCESS');
  t.is(g.position(handle), 70_000n);
  t.is(s(g.call(handle, 'SetPosition', 70_001n)), 'EFI_SUCCESS');
  t.is(g.read(handle, 10).status, 'EFI_DEVICE_ERROR');
  t.is(s(g.call(handle, 'Close')), 'EFI_SUCCESS');
  t.deepEqual(g.errors, []);
});

test('file names: relative to the handle, case-insensitive, "." and ".." inside the volume only', (t) => {
  const g = new Guest(new MemfsVolume(espFiles()));
  const root = g.root();
  const efi = g.open(root, 'efi');
  t.is(efi.status, 'EFI_SUCCESS');
  const uki = g.open(efi.handle, 'linux\\UKI.EFI');
  t.is(uki.status, 'EFI_SUCCESS');
  t.true(g.read(uki.handle, 10_000).data.equals(UKI));
  t.is(decodeFileInfo(g.info(uki.handle, GUID.FILE_INFO).data).name, 'uki.efi', 'the name as the volume spells it');
  t.is(g.open(efi.handle, '.\\BOOT\\..\\Linux\\.\\uki.efi').status, 'EFI_SUCCESS');
  t.is(g.open(uki.handle, '..\\..\\..\\loader\\loader.conf').status, 'EFI_SUCCESS', '".." from a file is its directory');
  t.is(g.open(uki.handle, '\\loader\\loader.conf').status, 'EFI_SUCCESS', 'a leading "\\" is the root');
  t.is(g.open(efi.handle, '..\\..\\etc\\passwd').status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '..').status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '').status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '/etc/passwd').status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '\\EFI\\a:b').status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '\\EFI\\missing').status, 'EFI_NOT_FOUND');
  t.is(g.open(root, '\\EFI\\missing\\deeper').status, 'EFI_NOT_FOUND');
  t.is(g.open(root, '\\EFI\\Linux\\uki.efi\\below').status, 'EFI_NOT_FOUND');
  t.is(g.open(root, '\\EFI\\Linux\\uki.efi\\').status, 'EFI_NOT_FOUND');
  t.is(g.open(root, '\\EFI\\BOOT', EFI_FILE_MODE_WRITE).status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '\\EFI\\BOOT', READ | EFI_FILE_MODE_CREATE).status, 'EFI_INVALID_PARAMETER');
  t.is(g.open(root, '\\new', RWC, EFI_FILE_READ_ONLY).status, 'EFI_INVALID_PARAMETER');
  t.is(g.call(root, 'Open', 0n, g.wstr('EFI'), READ, 0n), EFI_INVALID_PARAMETER);
});

test('Read on a directory returns one EFI_FILE_INFO per call, in sorted order, then size 0', (t) => {
  const g = new Guest(new MemfsVolume(espFiles()));
  const dir = g.open(g.root(), '\\EFI\\Linux').handle;
  const size = g.alloc(8);
  const buf = g.alloc(4096);
  const entries: FileInfo[] = [];
  for (;;) {
    g.mem.setU64(size, 10n);
    const small = g.call(dir, 'Read', size, buf);
    const needed = Number(g.mem.u64(size));
    if (needed === 0) {
      t.is(small, EFI_SUCCESS);
      break;
    }
    t.is(s(small), 'EFI_BUFFER_TOO_SMALL');
    g.mem.setU64(size, 4096n);
    t.is(g.call(dir, 'Read', size, buf), EFI_SUCCESS);
    t.is(Number(g.mem.u64(size)), needed);
    entries.push(decodeFileInfo(g.mem.read(buf, needed)));
  }
  // "." and ".." first (edk2 FAT), then names by code unit: uppercase before lowercase
  t.deepEqual(entries.map((e) => e.name), ['.', '..', 'A.efi', 'Zeta', 'b.efi', 'uki.efi']);
  const uki = entries[5];
  t.deepEqual(uki, { size: 80 + 2 * 8, fileSize: 4097, physicalSize: 8192, attribute: 0x20n, name: 'uki.efi',
    year: 2024, month: 1, day: 1 });
  t.is(entries[0].attribute, EFI_FILE_DIRECTORY);
  // a directory rewinds only to 0 and has no byte position
  t.is(s(g.call(dir, 'SetPosition', 3n)), 'EFI_UNSUPPORTED');
  t.is(s(g.call(dir, 'GetPosition', g.alloc(8))), 'EFI_UNSUPPORTED');
  t.is(g.call(dir, 'SetPosition', 0n), EFI_SUCCESS);
  g.mem.setU64(size, 4096n);
  t.is(g.call(dir, 'Read', size, buf), EFI_SUCCESS);
  t.is(decodeFileInfo(g.mem.read(buf, Number(g.mem.u64(size)))).name, '.');
  // the root has no dot entries
  const root = g.root();
  g.mem.setU64(size, 4096n);
  t.is(g.call(root, 'Read', size, buf), EFI_SUCCESS);
  t.is(decodeFileInfo(g.mem.read(buf, Number(g.mem.u64(size)))).name, 'EFI');
  t.is(g.write(dir, Buffer.from('x')).status, 'EFI_UNSUPPORTED');
});

test('GetInfo: EFI_FILE_INFO, EFI_FILE_SYSTEM_INFO and the volume label, with the sizes needed', (t) => {
  const g = new Guest(new MemfsVolume(espFiles(), { label: 'MYESP' }));
  const root = g.root();
  const boot = g.open(root, '\\EFI\\BOOT\\BOOTX64.EFI').handle;
  const fi = g.info(boot, GUID.FILE_INFO);
  t.is(fi.first, 'EFI_BUFFER_TOO_SMALL');
  t.is(fi.needed, 80 + 2 * ('BOOTX64.EFI'.length + 1));
  t.is(fi.status, 'EFI_SUCCESS');
  t.deepEqual(decodeFileInfo(fi.data), { size: fi.needed, fileSize: 70_000, physicalSize: 18 * 4096, attribute: 0x20n,
    name: 'BOOTX64.EFI', year: 2024, month: 1, day: 1 });
  t.is(fi.data.readInt16LE(24 + 12), 0x07ff, 'EFI_UNSPECIFIED_TIMEZONE');
  const rootInfo = decodeFileInfo(g.info(root, GUID.FILE_INFO).data);
  t.is(rootInfo.name, '');
  t.is(rootInfo.attribute, EFI_FILE_DIRECTORY);

  const fsi = g.info(boot, GUID.FILE_SYSTEM_INFO);
  t.is(fsi.first, 'EFI_BUFFER_TOO_SMALL');
  t.is(fsi.needed, 36 + 2 * 6);
  t.is(fsi.status, 'EFI_SUCCESS');
  // clusters in use, counted here: one per directory (root, EFI, BOOT, Linux, loader) and each file rounded up
  const fileClusters = [70_000, 4097, 1, 2, 3, 10].reduce((a, n) => a + Math.ceil(n / 4096), 0);
  const used = (5 + fileClusters) * CLUSTER_BYTES;
  t.is(Number(fsi.data.readBigUInt64LE(0)), fsi.needed);
  t.is(fsi.data[8], 0, 'ReadOnly');
  t.is(Number(fsi.data.readBigUInt64LE(16)), VOLUME_BYTES);
  t.is(Number(fsi.data.readBigUInt64LE(24)), VOLUME_BYTES - used);
  t.is(fsi.data.readUInt32LE(32), 4096);
  t.is(fsi.data.subarray(36, fsi.needed - 2).toString('utf16le'), 'MYESP');

  const label = g.info(root, GUID.FILE_SYSTEM_VOLUME_LABEL);
  t.is(label.first, 'EFI_BUFFER_TOO_SMALL');
  t.is(label.needed, 12);
  t.is(label.data.subarray(0, 10).toString('utf16le'), 'MYESP');
  const size = g.alloc(8);
  g.mem.setU64(size, 1000n);
  t.is(s(g.call(root, 'GetInfo', g.guid(GUID.LOAD_FILE2), size, g.alloc(1000))), 'EFI_UNSUPPORTED');
  t.is(g.call(root, 'GetInfo', 0n, size, g.alloc(8)), EFI_INVALID_PARAMETER);
});

test('Write, resize with SetInfo, Flush and Delete on a writable volume', (t) => {
  const volume = new MemfsVolume(espFiles());
  const g = new Guest(volume);
  const root = g.root();
  const f = g.open(root, '\\loader\\random-seed', RWC);
  t.is(f.status, 'EFI_SUCCESS');
  const seed = bytes(32, 77);
  t.deepEqual(g.write(f.handle, seed), { status: 'EFI_SUCCESS', written: 32 });
  t.is(g.position(f.handle), 32n);
  t.is(g.call(f.handle, 'SetPosition', 40n), EFI_SUCCESS);
  t.is(g.write(f.handle, Buffer.from('END')).status, 'EFI_SUCCESS');
  t.is(g.call(f.handle, 'SetPosition', 0n), EFI_SUCCESS);
  const back = g.read(f.handle, 100).data;
  t.true(back.equals(Buffer.concat([seed, Buffer.alloc(8), Buffer.from('END')])), 'the gap reads as zeros');
  t.true(volume.read(['loader', 'random-seed'], 0, 100).equals(back));
  t.is(g.call(f.handle, 'Flush'), EFI_SUCCESS);
  t.is(g.call(f.handle, 'SetPosition', BigInt(VOLUME_BYTES)), EFI_SUCCESS);
  t.deepEqual(g.write(f.handle, Buffer.from('x')), { status: 'EFI_VOLUME_FULL', written: 0 });
  t.is(g.call(f.handle, 'SetPosition', 0n), EFI_SUCCESS);

  // shrink through the EFI_FILE_INFO GetInfo returned
  const fi = g.info(f.handle, GUID.FILE_INFO);
  const buf = g.alloc(fi.needed);
  const edited = Buffer.from(fi.data);
  edited.writeBigUInt64LE(10n, 8);
  g.mem.write(buf, edited);
  t.is(s(g.call(f.handle, 'SetInfo', g.guid(GUID.FILE_INFO), BigInt(fi.needed), buf)), 'EFI_SUCCESS');
  t.true(volume.read(['loader', 'random-seed'], 0, 100).equals(seed.subarray(0, 10)));
  t.is(s(g.call(f.handle, 'SetInfo', g.guid(GUID.FILE_INFO), 81n, buf)), 'EFI_BAD_BUFFER_SIZE');
  const renamed = Buffer.concat([edited.subarray(0, 80), Buffer.from('other\0', 'utf16le')]);
  renamed.writeBigUInt64LE(BigInt(renamed.length), 0);
  g.mem.write(buf, renamed);
  t.is(s(g.call(f.handle, 'SetInfo', g.guid(GUID.FILE_INFO), BigInt(renamed.length), buf)), 'EFI_UNSUPPORTED');
  const other = Buffer.concat([edited.subarray(0, 80), Buffer.from('loader.conf\0', 'utf16le')]);
  other.writeBigUInt64LE(BigInt(other.length), 0);
  g.mem.write(buf, other);
  t.is(s(g.call(f.handle, 'SetInfo', g.guid(GUID.FILE_INFO), BigInt(other.length), buf)), 'EFI_ACCESS_DENIED');

  // read-only handles and directories
  const ro = g.open(root, '\\loader\\loader.conf').handle;
  t.is(g.write(ro, Buffer.from('x')).status, 'EFI_ACCESS_DENIED');
  t.is(s(g.call(ro, 'Flush')), 'EFI_ACCESS_DENIED');
  t.is(s(g.call(ro, 'Delete')), 'EFI_WARN_DELETE_FAILURE');
  t.false(g.sfs.files.isOpen(ro), 'Delete closes the handle even when it fails');
  t.truthy(volume.stat(['loader', 'loader.conf']));

  // directories are created with the DIRECTORY attribute, and deleted only when empty
  const d = g.open(root, '\\EFI\\systemd\\', RWC, EFI_FILE_DIRECTORY);
  t.is(d.status, 'EFI_SUCCESS');
  t.is(volume.stat(['EFI', 'systemd'])?.kind, 'dir');
  const inner = g.open(d.handle, 'x.txt', RWC);
  t.is(s(g.call(d.handle, 'Delete')), 'EFI_WARN_DELETE_FAILURE');
  t.is(g.call(inner.handle, 'Delete'), EFI_SUCCESS);
  t.is(volume.stat(['EFI', 'systemd', 'x.txt']), undefined);
  const d2 = g.open(root, '\\EFI\\systemd', RW);
  t.is(g.call(d2.handle, 'Delete'), EFI_SUCCESS);
  t.is(volume.stat(['EFI', 'systemd']), undefined);
  t.is(s(g.call(g.root(), 'Delete')), 'EFI_WARN_DELETE_FAILURE');

  // a file deleted through one handle is gone for another
  const a = g.open(root, '\\loader\\random-seed', RW).handle;
  const b = g.open(root, '\\loader\\random-seed', RW).handle;
  t.is(g.call(a, 'Delete'), EFI_SUCCESS);
  t.is(g.read(b, 10).status, 'EFI_DEVICE_ERROR');
  t.deepEqual(g.errors, []);
});

test('a read-only host volume refuses writes; the overlay keeps them off the host disk', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stubemu-sfs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'EFI', 'BOOT'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), BOOT);
  fs.symlinkSync('/etc', path.join(dir, 'etc'));

  const ro = new Guest(new HostVolume(dir, { overlay: false }));
  const roRoot = ro.root();
  t.is(ro.open(roRoot, '\\EFI\\BOOT\\BOOTX64.EFI', RW).status, 'EFI_WRITE_PROTECTED');
  t.is(ro.open(roRoot, '\\new.txt', RWC).status, 'EFI_WRITE_PROTECTED');
  const h = ro.open(roRoot, '\\efi\\boot\\bootx64.efi').handle;
  t.true(ro.read(h, 100_000).data.equals(BOOT));
  t.is(s(ro.call(h, 'Flush')), 'EFI_WRITE_PROTECTED');
  const fsi = ro.info(roRoot, GUID.FILE_SYSTEM_INFO);
  t.is(fsi.data[8], 1, 'EFI_FILE_SYSTEM_INFO.ReadOnly');
  t.is(ro.open(roRoot, '\\etc\\passwd').status, 'EFI_NOT_FOUND');
  t.is(ro.open(roRoot, '\\etc').status, 'EFI_NOT_FOUND');
  t.is(ro.open(roRoot, '..\\..\\etc\\passwd').status, 'EFI_INVALID_PARAMETER');

  const ov = new Guest(new HostVolume(dir));
  const root = ov.root();
  const f = ov.open(root, '\\EFI\\BOOT\\BOOTX64.EFI', RW).handle;
  t.is(ov.write(f, Buffer.from('MZ-patched')).status, 'EFI_SUCCESS');
  const again = ov.open(root, '\\EFI\\BOOT\\BOOTX64.EFI').handle;
  const seen = ov.read(again, 100_000).data;
  t.is(seen.subarray(0, 10).toString(), 'MZ-patched');
  t.true(seen.subarray(10).equals(BOOT.subarray(10)));
  t.true(fs.readFileSync(path.join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI')).equals(BOOT));
  t.is(ov.open(root, '\\loader\\x', RWC).status, 'EFI_NOT_FOUND');
  t.is(ov.open(root, '\\EFI\\new.txt', RWC).status, 'EFI_SUCCESS');
  t.false(fs.existsSync(path.join(dir, 'EFI', 'new.txt')));
});

test('guest errors: closed handles and foreign This pointers are reported and get EFI_INVALID_PARAMETER', (t) => {
  const g = new Guest(new MemfsVolume(espFiles()));
  const root = g.root();
  const h = g.open(root, '\\loader\\loader.conf').handle;
  const read = g.mem.u64(h + BigInt(slotOffset(EFI_FILE_PROTOCOL, 'Read')));
  t.is(g.call(h, 'Close'), EFI_SUCCESS);
  t.is(g.call(h, 'Read', g.alloc(8), g.alloc(8)), EFI_INVALID_PARAMETER);
  t.is(g.p.call(read, [0x12340n, g.alloc(8), g.alloc(8)]), EFI_INVALID_PARAMETER);
  t.is(g.errors.length, 2);
  t.regex(g.errors[0], /already closed/);
  t.regex(g.errors[1], /not an open EFI_FILE_PROTOCOL/);
  // a buffer outside guest RAM
  const size = g.alloc(8);
  g.mem.setU64(size, 10n);
  const h2 = g.open(root, '\\loader\\loader.conf').handle;
  t.is(g.call(h2, 'Read', size, 0xfff0_0000_0000n), EFI_INVALID_PARAMETER);
  t.is(g.errors.length, 3);
  // OpenVolume on another This
  t.is(g.p.call(g.mem.u64(g.sfs.protocol + 8n), [0x5000n, g.alloc(8)]), EFI_INVALID_PARAMETER);
  t.is(g.errors.length, 4);
  // the asynchronous members are not implemented, and say so
  t.is(g.call(h2, 'OpenEx', g.alloc(8), g.wstr('x'), READ, 0n, g.alloc(64)), EFI_UNSUPPORTED);
  t.is(g.call(h2, 'ReadEx', g.alloc(64)), EFI_UNSUPPORTED);
  t.is(g.call(h2, 'SetPosition', 0n), EFI_SUCCESS, 'the handle still works after the refused calls');
});

test('loadFileFromVolume reads a file named by a device path text', (t) => {
  const v = new MemfsVolume(espFiles());
  t.true(loadFileFromVolume(v, '\\EFI\\Linux\\uki.efi')!.equals(UKI));
  t.true(loadFileFromVolume(v, '\\efi\\linux\\.\\UKI.EFI')!.equals(UKI));
  t.is(loadFileFromVolume(v, '\\EFI\\Linux\\missing.efi'), undefined);
  t.is(loadFileFromVolume(v, '\\EFI\\Linux'), undefined);
  t.is(loadFileFromVolume(v, '\\..\\..\\etc\\passwd'), undefined);
  t.is(loadFileFromVolume(v, '\\EFI\\a:b'), undefined);
});

test('SetInfo on a read-only volume is EFI_WRITE_PROTECTED; the label cannot change', (t) => {
  const g = new Guest(new MemfsVolume(espFiles(), { readOnly: true }));
  const h = g.open(g.root(), '\\loader\\loader.conf').handle;
  const fi = g.info(h, GUID.FILE_INFO);
  const buf = g.alloc(fi.needed);
  g.mem.write(buf, fi.data);
  t.is(s(g.call(h, 'SetInfo', g.guid(GUID.FILE_INFO), BigInt(fi.needed), buf)), 'EFI_WRITE_PROTECTED');
  const w = new Guest(new MemfsVolume(espFiles()));
  const root = w.root();
  const label = w.wstr('NEW');
  t.is(s(w.call(root, 'SetInfo', w.guid(GUID.FILE_SYSTEM_VOLUME_LABEL), 8n, label)), 'EFI_UNSUPPORTED');
  t.is(s(w.call(root, 'SetInfo', w.guid(GUID.FILE_SYSTEM_VOLUME_LABEL), 1n, label)), 'EFI_BAD_BUFFER_SIZE');
  t.is(s(w.call(root, 'SetInfo', w.guid(GUID.FILE_SYSTEM_VOLUME_LABEL), 8n, w.wstr('ESP'))), 'EFI_SUCCESS');
  const rootInfo = w.info(root, GUID.FILE_INFO);
  const rb = w.alloc(rootInfo.needed);
  w.mem.write(rb, rootInfo.data);
  t.is(s(w.call(root, 'SetInfo', w.guid(GUID.FILE_INFO), BigInt(rootInfo.needed), rb)), 'EFI_ACCESS_DENIED');
});
