// EFI_BOOT_SERVICES memory services through a CPU-less platform: arguments in guest memory, outputs read back.
import test from 'ava';
import { CallInfo, ServiceFn } from '../core/abi';
import { buildInterface } from '../efi-services/interface';
import { MemoryMap } from '../efi-services/boot/memory-map';
import { memoryServices } from '../efi-services/boot/memory-services';
import { Pool } from '../efi-services/boot/pool';
import {
  EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EFI_SUCCESS,
} from '../core/status';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { FakePlatform } from './helpers/fake-platform';

// Numbers written out from UEFI 2.10 §7.2 rather than imported, so a wrong constant cannot agree with itself.
const LoaderCode = 1;
const LoaderData = 2;
const BootServicesData = 4;
const RuntimeServicesData = 6;
const Conventional = 7;
const AnyPages = 0;
const MaxAddress = 1;
const Address = 2;
const RAM_START = 0x100000n;
const RAM_END = 0x800000n; // FakePlatform's own heap starts here
const OUT = 0x2000n; // scratch for OUT parameters
const MAP_BUF = 0x10000n;

function world() {
  const platform = new FakePlatform();
  const map = new MemoryMap([{ start: RAM_START, end: RAM_END }]);
  const pool = new Pool(map, platform.mem);
  const errors: string[] = [];
  const notes: string[] = [];
  const impl = memoryServices(platform, map, pool, (m) => errors.push(m));
  const info: CallInfo = { name: 'test', caller: 0n, stackPointer: 0n, vararg: () => 0n, note: (n) => notes.push(n) };
  const call = (name: keyof typeof impl, ...args: bigint[]): bigint => (impl[name] as ServiceFn<'EFI_STATUS'>)(args, info);
  return { platform, mem: platform.mem, map, pool, errors, notes, impl, call };
}

interface Desc { type: number; start: bigint; virt: bigint; pages: bigint; attr: bigint; pad: bigint }

function decode(buf: Buffer, stride: number): Desc[] {
  const out: Desc[] = [];
  for (let o = 0; o < buf.length; o += stride) {
    out.push({
      type: buf.readUInt32LE(o),
      start: buf.readBigUInt64LE(o + 8),
      virt: buf.readBigUInt64LE(o + 16),
      pages: buf.readBigUInt64LE(o + 24),
      attr: buf.readBigUInt64LE(o + 32),
      pad: buf.readBigUInt64LE(o + 40) | BigInt(buf.readUInt32LE(o + 4)),
    });
  }
  return out;
}

test('every implemented member is an EFI_BOOT_SERVICES member', (t) => {
  const { impl } = world();
  const names = EFI_BOOT_SERVICES.members.map((m) => m.name);
  t.deepEqual(Object.keys(impl).sort(), ['AllocatePages', 'AllocatePool', 'FreePages', 'FreePool', 'GetMemoryMap']);
  for (const k of Object.keys(impl)) t.true((names as string[]).includes(k), k);
});

test('the services answer through a laid-out EFI_BOOT_SERVICES table', (t) => {
  const { platform, mem, impl } = world();
  const bs = buildInterface(platform, EFI_BOOT_SERVICES, impl);
  const slot = (name: string) => EFI_BOOT_SERVICES.members.findIndex((m) => m.name === name);
  const h = EFI_BOOT_SERVICES.headerSize;
  t.is(platform.callMember(bs, h, slot('AllocatePool'), [BigInt(LoaderData), 16n, OUT]), EFI_SUCCESS);
  const a = mem.u64(OUT);
  t.true(a >= RAM_START && a < RAM_END);
  t.is(platform.callMember(bs, h, slot('FreePool'), [a]), EFI_SUCCESS);
  t.is(platform.callMember(bs, h, slot('FreePool'), [a]), EFI_INVALID_PARAMETER);
});

test('AllocatePages writes the top-down address to *Memory', (t) => {
  const { mem, call, map } = world();
  mem.setU64(OUT, 0xdeadbeefn);
  t.is(call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 3n, OUT), EFI_SUCCESS);
  t.is(mem.u64(OUT), RAM_END - 0x3000n);
  t.is(map.typeAt(RAM_END - 0x3000n), LoaderData);
  t.is(map.typeAt(RAM_END - 0x3001n), Conventional);
});

test('AllocatePages reads *Memory as the limit for AllocateMaxAddress and the start for AllocateAddress', (t) => {
  const { mem, call } = world();
  mem.setU64(OUT, 0x200fffn);
  t.is(call('AllocatePages', BigInt(MaxAddress), BigInt(LoaderData), 2n, OUT), EFI_SUCCESS);
  t.is(mem.u64(OUT), 0x1ff000n);
  mem.setU64(OUT, 0x300000n);
  t.is(call('AllocatePages', BigInt(Address), BigInt(LoaderCode), 4n, OUT), EFI_SUCCESS);
  t.is(mem.u64(OUT), 0x300000n);
  mem.setU64(OUT, 0x302000n);
  t.is(call('AllocatePages', BigInt(Address), BigInt(LoaderCode), 1n, OUT), EFI_NOT_FOUND);
  t.is(mem.u64(OUT), 0x302000n, '*Memory is left alone on failure');
  mem.setU64(OUT, 0x1000n);
  t.is(call('AllocatePages', BigInt(MaxAddress), BigInt(LoaderData), 1n, OUT), EFI_OUT_OF_RESOURCES);
  t.is(call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 0x800n, OUT), EFI_OUT_OF_RESOURCES);
});

test('AllocatePages checks Type, MemoryType and Memory in spec order before touching the map', (t) => {
  const { call, map } = world();
  const key = map.mapKey;
  t.is(call('AllocatePages', 3n, BigInt(LoaderData), 1n, OUT), EFI_INVALID_PARAMETER);
  t.is(call('AllocatePages', BigInt(AnyPages), BigInt(Conventional), 1n, OUT), EFI_INVALID_PARAMETER);
  t.is(call('AllocatePages', BigInt(AnyPages), 0x10n, 1n, OUT), EFI_INVALID_PARAMETER);
  t.is(call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 1n, 0n), EFI_INVALID_PARAMETER);
  t.is(map.mapKey, key);
  t.is(call('AllocatePages', BigInt(AnyPages), 0x80000001n, 1n, OUT), EFI_SUCCESS);
});

test('FreePages frees guest pages and reports bad frees as guest errors', (t) => {
  const { mem, call, map, errors } = world();
  call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 2n, OUT);
  const a = mem.u64(OUT);
  t.is(call('FreePages', a + 0x800n, 1n), EFI_INVALID_PARAMETER);
  t.is(call('FreePages', a, 0n), EFI_INVALID_PARAMETER);
  t.is(call('FreePages', RAM_START, 1n), EFI_NOT_FOUND);
  t.is(errors.length, 3);
  t.is(call('FreePages', a, 2n), EFI_SUCCESS);
  t.is(map.typeAt(a), Conventional);
  t.is(call('FreePages', a, 2n), EFI_NOT_FOUND);
  t.is(errors.length, 4);
  t.regex(errors[3], /^FreePages: 0x7fe000/);
});

test('GetMemoryMap: NULL size, probing, NULL map, then a full map decoded independently', (t) => {
  const { mem, call, map } = world();
  mem.setU64(OUT, 0n);
  call('AllocatePages', BigInt(AnyPages), BigInt(RuntimeServicesData), 2n, OUT);
  const rt = mem.u64(OUT);
  const SIZE = 0x3000n, KEY = 0x3008n, DSIZE = 0x3010n, DVER = 0x3018n;

  t.is(call('GetMemoryMap', 0n, MAP_BUF, KEY, DSIZE, DVER), EFI_INVALID_PARAMETER);

  // The probe Linux libstub makes: size 0, NULL buffer; it then reads DescriptorSize.
  mem.setU64(SIZE, 0n);
  mem.setU64(DSIZE, 0n);
  mem.setU64(KEY, 0x1111n);
  t.is(call('GetMemoryMap', SIZE, 0n, KEY, DSIZE, DVER), EFI_BUFFER_TOO_SMALL);
  t.is(mem.u64(SIZE), 2n * 48n);
  t.is(mem.u64(DSIZE), 48n);
  t.is(mem.u64(KEY), 0x1111n, 'MapKey only comes with a map');

  mem.setU64(SIZE, 96n);
  t.is(call('GetMemoryMap', SIZE, 0n, KEY, DSIZE, DVER), EFI_INVALID_PARAMETER);
  mem.setU64(SIZE, 95n);
  t.is(call('GetMemoryMap', SIZE, MAP_BUF, KEY, DSIZE, DVER), EFI_BUFFER_TOO_SMALL);

  mem.fill(MAP_BUF, 0x400, 0xaa);
  mem.setU64(SIZE, 0x400n);
  mem.setU32(DVER, 0xffffffff);
  t.is(call('GetMemoryMap', SIZE, MAP_BUF, KEY, DSIZE, DVER), EFI_SUCCESS);
  t.is(mem.u64(SIZE), 96n);
  t.is(mem.u64(KEY), BigInt(map.mapKey));
  t.is(mem.u32(DVER), 1);
  const stride = Number(mem.u64(DSIZE));
  const got = decode(mem.read(MAP_BUF, Number(mem.u64(SIZE))), stride);
  t.deepEqual(got, [
    { type: Conventional, start: RAM_START, virt: 0n, pages: (rt - RAM_START) / 0x1000n, attr: 0xfn, pad: 0n },
    { type: RuntimeServicesData, start: rt, virt: 0n, pages: 2n, attr: 0x800000000000000fn, pad: 0n },
  ]);
  t.is(rt + 0x2000n, RAM_END);
  t.true(mem.read(MAP_BUF + 96n, 0x400 - 96).every((b) => b === 0xaa), 'nothing written past *MemoryMapSize');

  // NULL optional outputs are tolerated, as in edk2.
  mem.setU64(SIZE, 0x400n);
  t.is(call('GetMemoryMap', SIZE, MAP_BUF, 0n, 0n, 0n), EFI_SUCCESS);
});

test('the map key seen by GetMemoryMap changes when the guest allocates', (t) => {
  const { mem, call } = world();
  const SIZE = 0x3000n, KEY = 0x3008n, DSIZE = 0x3010n, DVER = 0x3018n;
  const key = () => {
    mem.setU64(SIZE, 0x1000n);
    t.is(call('GetMemoryMap', SIZE, MAP_BUF, KEY, DSIZE, DVER), EFI_SUCCESS);
    return mem.u64(KEY);
  };
  const k1 = key();
  t.is(key(), k1);
  call('AllocatePool', BigInt(LoaderData), 16n, OUT);
  t.not(key(), k1);
});

test('AllocatePool returns an aligned zeroed block whose pages show as the pool type', (t) => {
  const { mem, call, map } = world();
  mem.fill(RAM_START, Number(RAM_END - RAM_START), 0xee);
  t.is(call('AllocatePool', BigInt(BootServicesData), 100n, OUT), EFI_SUCCESS);
  const a = mem.u64(OUT);
  t.is(a % 8n, 0n);
  t.true(a >= RAM_START && a + 100n <= RAM_END);
  t.true(mem.read(a, 100).every((b) => b === 0));
  t.is(map.typeAt(a), BootServicesData);
  t.is(call('AllocatePool', BigInt(BootServicesData), 100n, OUT + 8n), EFI_SUCCESS);
  const b = mem.u64(OUT + 8n);
  t.true(b >= a + 100n || b + 100n <= a);
});

test('AllocatePool parameter checks and exhaustion clear *Buffer', (t) => {
  const { mem, call, map } = world();
  const key = map.mapKey;
  t.is(call('AllocatePool', BigInt(Conventional), 8n, OUT), EFI_INVALID_PARAMETER);
  t.is(call('AllocatePool', 0x7fffn, 8n, OUT), EFI_INVALID_PARAMETER);
  t.is(call('AllocatePool', BigInt(LoaderData), 8n, 0n), EFI_INVALID_PARAMETER);
  t.is(map.mapKey, key);
  mem.setU64(OUT, 0x1234n);
  t.is(call('AllocatePool', BigInt(LoaderData), 0xffff_ffff_ffff_ff00n, OUT), EFI_OUT_OF_RESOURCES);
  t.is(mem.u64(OUT), 0n);
});

test('FreePool: success, double free, never allocated and NULL are reported', (t) => {
  const { mem, call, errors } = world();
  call('AllocatePool', BigInt(LoaderData), 24n, OUT);
  const a = mem.u64(OUT);
  t.is(call('FreePool', a), EFI_SUCCESS);
  t.deepEqual(errors, []);
  t.is(call('FreePool', a), EFI_INVALID_PARAMETER);
  t.is(call('FreePool', 0x4321n), EFI_INVALID_PARAMETER);
  t.is(call('FreePool', 0n), EFI_INVALID_PARAMETER);
  t.deepEqual(errors, [
    `FreePool: 0x${a.toString(16)} already freed`,
    'FreePool: 0x4321 was never allocated',
    'FreePool: NULL pointer',
  ]);
});

test('FreePool refuses firmware pool blocks', (t) => {
  const { call, pool, errors } = world();
  const fw = pool.allocate(BootServicesData, 64, 'firmware');
  t.is(call('FreePool', fw), EFI_INVALID_PARAMETER);
  t.deepEqual(errors, [`FreePool: 0x${fw.toString(16)} is firmware memory`]);
  t.is(pool.sizeOf(fw), 64);
});
