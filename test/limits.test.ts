// Limits: guest RAM size, allocations beyond RAM, stubemu's caps on live pool and page allocations, and the wall-clock budget.
import test from 'ava';
import { cliCaptured } from './helpers/cli-capture';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallInfo, ServiceFn, slotOffset } from '../core/abi';
import { AllocationLimitError, MAX_PAGE_ALLOCATIONS, MemoryMap } from '../efi-services/boot/memory-map';
import { memoryServices } from '../efi-services/boot/memory-services';
import { MAX_POOL_ALLOCATIONS, Pool } from '../efi-services/boot/pool';
import { EFI_OUT_OF_RESOURCES, EFI_SUCCESS } from '../core/status';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { ST } from '../efi-services/tables/system-table';
import { runImage } from '../src/api';
import { BadInput } from '../src/bad-input';
import { FakePlatform } from './helpers/fake-platform';
import { codeImage, le32, le64, runCode, flat } from './helpers/guest-code';

// UEFI 2.10 §7.2 numbers, written out.
const LoaderData = 2;
const AnyPages = 0;
const MaxAddress = 1;
const Address = 2;
const MiB = 1 << 20;

const TMP = mkdtempSync(join(tmpdir(), 'stubemu-limits-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

const cli = cliCaptured;

// Machine code pieces. Frame: push rbx; push r14; sub rsp, 0x48 (RSP 16-aligned at calls, locals at rsp+0x30..0x48);
// rbx = BootServices, r14 counts loop iterations.
const bs = (member: string): number => slotOffset(EFI_BOOT_SERVICES, member);
const PROLOGUE = [0x53, 0x41, 0x56, 0x48, 0x83, 0xec, 0x48, 0x48, 0x8b, 0x5a, ST.BootServices, 0x4d, 0x31, 0xf6];
const EPILOGUE = [0x48, 0x83, 0xc4, 0x48, 0x41, 0x5e, 0x5b, 0xc3];
const movRcx = (v: bigint | number) => [0x48, 0xb9, ...le64(BigInt(v))];
const movRdx = (v: bigint | number) => [0x48, 0xba, ...le64(BigInt(v))];
const movR8 = (v: bigint | number) => [0x49, 0xb8, ...le64(BigInt(v))];
const leaR8 = (d: number) => [0x4c, 0x8d, 0x44, 0x24, d];
const leaR9 = (d: number) => [0x4c, 0x8d, 0x4c, 0x24, d];
const storeImm = (d: number, v: number) => [0x48, 0xc7, 0x44, 0x24, d, ...le32(v)];
const loadRax = (d: number) => [0x48, 0x8b, 0x44, 0x24, d];
const storeRax = (d: number) => [0x48, 0x89, 0x44, 0x24, d];
const call = (member: string) => [0xff, 0x93, ...le32(bs(member))];

test('memoryBytes outside 64 MiB..4094 MiB or not a multiple of 2 MiB is refused before anything runs', (t) => {
  const image = codeImage([0x31, 0xc0, 0xc3]);
  for (const memoryBytes of [32 * MiB, 62 * MiB, 65 * MiB, 4096 * MiB, 8192 * MiB, 0, -64 * MiB, Number.NaN]) {
    const e = t.throws(() => runImage({ image, imageName: 'x.efi', memoryBytes }));
    t.is(e?.message, `--memory must be a multiple of 2 MiB between 64 MiB and 4094 MiB (got ${memoryBytes} bytes)`);
  }
});

test('--memory too small, too large or not a size: exit 2 with the reason', (t) => {
  const path = join(TMP, 'ret.efi');
  writeFileSync(path, codeImage([0x31, 0xc0, 0xc3]));
  const small = cli(['run', path, '--memory', '32M']);
  t.is(small.code, 2);
  t.is(small.stderr, `stubemu: --memory must be a multiple of 2 MiB between 64 MiB and 4094 MiB (got ${32 * MiB} bytes)\n`);
  const large = cli(['run', path, '--memory', '5G']);
  t.is(large.code, 2);
  t.is(large.stderr, `stubemu: --memory must be a multiple of 2 MiB between 64 MiB and 4094 MiB (got ${5 * 1024 * MiB} bytes)\n`);
  const word = cli(['run', path, '--memory', 'lots']);
  t.is(word.code, 2);
  t.is(word.stderr, 'stubemu: --memory: not a size: lots\n');
  t.is(small.stdout + large.stdout + word.stdout, '');
});

// Found while writing the test above: the API throws a plain Error for a bad memoryBytes, and the CLI turns it into
// exit 2 only because the message happens to contain "--memory" (src/cli.ts). runImage should throw BadInput, as it
// does for a bad image, so API users can tell bad input from an internal failure.
test('runImage refuses a bad memoryBytes with BadInput', (t) => {
  t.throws(() => runImage({ image: codeImage([0xc3]), imageName: 'x.efi', memoryBytes: 32 * MiB }), { instanceOf: BadInput });
});

test('AllocatePages and AllocatePool beyond RAM: EFI_OUT_OF_RESOURCES / EFI_NOT_FOUND, and *Buffer is NULL after a failed AllocatePool', (t) => {
  const code = [
    ...PROLOGUE,
    // AllocatePages(AllocateAnyPages, EfiLoaderData, 64 MiB of pages, &m): all of RAM cannot be free.
    ...movRcx(AnyPages), ...movRdx(LoaderData), ...movR8(64 * MiB / 4096), ...leaR9(0x30), ...call('AllocatePages'),
    // AllocatePages(AllocateAnyPages, EfiLoaderData, 2^52 pages, &m): more than the address space.
    ...movRcx(AnyPages), ...movRdx(LoaderData), ...movR8(1n << 52n), ...leaR9(0x30), ...call('AllocatePages'),
    // AllocatePages(AllocateMaxAddress, EfiLoaderData, 1, &m = 0xfff): page 0 is never handed out.
    ...storeImm(0x30, 0xfff), ...movRcx(MaxAddress), ...movRdx(LoaderData), ...movR8(1), ...leaR9(0x30), ...call('AllocatePages'),
    // AllocatePages(AllocateAddress, EfiLoaderData, 1, &m = 64 MiB): the first page past RAM.
    ...storeImm(0x30, 64 * MiB), ...movRcx(Address), ...movRdx(LoaderData), ...movR8(1), ...leaR9(0x30), ...call('AllocatePages'),
    // AllocatePool(EfiLoaderData, 1 TiB, &p = 0x5a5a): fails and clears p.
    ...storeImm(0x38, 0x5a5a), ...movRcx(LoaderData), ...movRdx(1n << 40n), ...leaR8(0x38), ...call('AllocatePool'),
    ...loadRax(0x38), ...EPILOGUE,
  ];
  const r = runCode(code, { trace: true });
  const trace = (r.report.calls as { trace: { service: string; status?: string }[] }).trace;
  t.deepEqual(trace.filter((e) => e.service.startsWith('BootServices.Allocate')).map((e) => [e.service, e.status]), [
    ['BootServices.AllocatePages', 'EFI_OUT_OF_RESOURCES'],
    ['BootServices.AllocatePages', 'EFI_OUT_OF_RESOURCES'],
    ['BootServices.AllocatePages', 'EFI_OUT_OF_RESOURCES'],
    ['BootServices.AllocatePages', 'EFI_NOT_FOUND'],
    ['BootServices.AllocatePool', 'EFI_OUT_OF_RESOURCES'],
  ]);
  t.is(flat(r.outcome).status, 'EFI_SUCCESS'); // p read back as NULL
  t.deepEqual(r.firmware.map.allocations().filter((a) => a.owner === 'guest'), []);
  // Running out of RAM is not misuse: no guest errors.
  t.deepEqual(r.report.guestErrors, []);
});

test(`a guest allocating pool in a loop stops at ${MAX_POOL_ALLOCATIONS} live allocations with EFI_OUT_OF_RESOURCES and one guest error`, (t) => {
  const code = [
    ...PROLOGUE,
    // loop: AllocatePool(EfiLoaderData, 8, &p); if (status) break; r14++
    ...movRcx(LoaderData), ...movRdx(8), ...leaR8(0x30), ...call('AllocatePool'),
    0x48, 0x85, 0xc0, 0x75, 0x05,                   // test rax, rax; jnz done
    0x49, 0xff, 0xc6,                               // inc r14
    0xeb, 0x00,                                     // jmp loop (patched below)
    ...storeRax(0x38), ...EPILOGUE,                 // done: return the status
  ];
  const loop = PROLOGUE.length;
  const jmp = loop + 31 + 5 + 3; // the four argument/call instructions, test+jnz, inc
  t.is(code[jmp], 0xeb);
  code[jmp + 1] = (loop - (jmp + 2)) & 0xff;
  const r = runCode(code);
  t.is(flat(r.outcome).status, 'EFI_OUT_OF_RESOURCES');
  const live = r.firmware.pool.allocations();
  t.is(live.length, MAX_POOL_ALLOCATIONS);
  const guest = live.filter((a) => a.owner === 'guest');
  t.true(guest.length > MAX_POOL_ALLOCATIONS - 1000);
  t.true(guest.every((a) => a.size === 8));
  t.deepEqual((r.report.guestErrors as { service: string; message: string }[]).map((e) => [e.service, e.message]), [
    ['BootServices.AllocatePool', `AllocatePool: ${MAX_POOL_ALLOCATIONS} pool allocations are live, stubemu's limit; free some first`],
  ]);
});

function services(o: { poolCap?: number; pageCap?: number } = {}) {
  const platform = new FakePlatform();
  const map = new MemoryMap([{ start: 0x100000n, end: 0x800000n }], { maxAllocations: o.pageCap });
  const pool = new Pool(map, platform.mem, { maxAllocations: o.poolCap });
  const errors: string[] = [];
  const notes: string[] = [];
  const impl = memoryServices(platform, map, pool, (m) => errors.push(m));
  const info: CallInfo = { name: 'test', caller: 0n, stackPointer: 0n, vararg: () => 0n, note: (n) => notes.push(n) };
  const callService = (name: keyof typeof impl, ...args: bigint[]): bigint => (impl[name] as ServiceFn<'EFI_STATUS'>)(args, info);
  return { mem: platform.mem, map, pool, errors, notes, call: callService };
}

test('the page allocation cap: AllocatePages answers EFI_OUT_OF_RESOURCES and reports it; a FreePages makes room again', (t) => {
  const w = services({ pageCap: 3 });
  const OUT = 0x2000n;
  const got: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    t.is(w.call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 1n, OUT), EFI_SUCCESS);
    got.push(w.mem.u64(OUT));
  }
  w.mem.setU64(OUT, 0x1234n);
  t.is(w.call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 1n, OUT), EFI_OUT_OF_RESOURCES);
  t.is(w.mem.u64(OUT), 0x1234n);
  t.deepEqual(w.errors, ["AllocatePages: 3 page allocations are live, stubemu's limit; free some first"]);
  t.is(w.notes.at(-1), w.errors[0]);
  t.is(w.call('FreePages', got[1], 1n), EFI_SUCCESS);
  t.is(w.call('AllocatePages', BigInt(AnyPages), BigInt(LoaderData), 1n, OUT), EFI_SUCCESS);
  t.is(w.map.allocations().length, 3);
});

test('the pool cap counts live blocks: FreePool makes room again, and the cap is a guest error only when hit', (t) => {
  const w = services({ poolCap: 2 });
  const OUT = 0x2000n;
  t.is(w.call('AllocatePool', BigInt(LoaderData), 16n, OUT), EFI_SUCCESS);
  const first = w.mem.u64(OUT);
  t.is(w.call('AllocatePool', BigInt(LoaderData), 16n, OUT), EFI_SUCCESS);
  t.deepEqual(w.errors, []);
  t.is(w.call('AllocatePool', BigInt(LoaderData), 16n, OUT), EFI_OUT_OF_RESOURCES);
  t.is(w.mem.u64(OUT), 0n);
  t.deepEqual(w.errors, ["AllocatePool: 2 pool allocations are live, stubemu's limit; free some first"]);
  t.is(w.call('FreePool', first), EFI_SUCCESS);
  t.is(w.call('AllocatePool', BigInt(LoaderData), 16n, OUT), EFI_SUCCESS);
  t.is(w.pool.allocations().length, 2);
});

test(`the default page cap is ${MAX_PAGE_ALLOCATIONS} live allocations (model level, 1 GiB described)`, (t) => {
  const map = new MemoryMap([{ start: 0x100000n, end: 1n << 30n }]);
  for (let i = 0; i < MAX_PAGE_ALLOCATIONS; i++) map.allocatePages(AnyPages, LoaderData, 1n);
  const e = t.throws(() => map.allocatePages(AnyPages, LoaderData, 1n), { instanceOf: AllocationLimitError });
  t.is(e?.status, EFI_OUT_OF_RESOURCES);
  t.is(map.allocations().length, MAX_PAGE_ALLOCATIONS);
  // Memory remains: the cap, not RAM, refused the request.
  t.true(map.descriptors().some((d) => d.type === 7 && d.numberOfPages > 1000n));
  // Freeing every one of them (each found by its start) gives back the single free range.
  for (const a of map.allocations()) map.freePages(a.start, a.pages);
  t.deepEqual(map.descriptors().map((d) => [d.type, d.physicalStart, d.numberOfPages]), [[7, 0x100000n, ((1n << 30n) - 0x100000n) / 4096n]]);
  t.deepEqual(map.allocations(), []);
});

/** An image that calls Stall(0) forever: cheap calls, each of which resets the per-stretch instruction budget. */
const STALL_LOOP = [...PROLOGUE, ...movRcx(0), ...call('Stall'), 0xeb, 0x00];
STALL_LOOP[STALL_LOOP.length - 1] = (PROLOGUE.length - STALL_LOOP.length) & 0xff;

test('a guest calling Stall(0) forever is ended by the time budget, not the instruction budget', (t) => {
  const r = runCode(STALL_LOOP, { timeoutSeconds: 0.5, maxInstructions: 1000 });
  t.is(r.outcome.kind, 'budget');
  t.is(flat(r.outcome).which, 'time');
  t.is(flat(r.outcome).limit, 500);
  t.is(flat(r.outcome).message, 'the run took longer than 0.5 s');
  t.is(r.exitCode, 4);
  const stalls = (r.report.calls as { counts: Record<string, number> }).counts['BootServices.Stall'];
  t.true(stalls > 10);
  t.is((r.report.calls as { total: number }).total, stalls);
});

test('--timeout ends the Stall(0) loop through the CLI: exit 4 and a "budget exhausted" summary', (t) => {
  const path = join(TMP, 'stall.efi');
  writeFileSync(path, codeImage(STALL_LOOP));
  const r = cli(['run', path, '--timeout', '1', '--memory', '64M', '--quiet']);
  t.is(r.code, 4);
  t.regex(r.stderr, /^stubemu: stall\.efi: budget exhausted: the run took longer than 1 s; \d+ service calls in [\d.]+ s\n$/);
});

// Found by the test above: when the time runs out right after a service call, the outcome's `rip` is the firmware
// trap slot the guest called (emulator/machine.ts checkTime(stop.rip) after dispatch), e.g. "0x3fc11d0", not where
// the guest is: after the dispatch RIP is the return address, which reads as code.efi+0x….
test('the time budget outcome names the guest location, not the trap slot', (t) => {
  const r = runCode(STALL_LOOP, { timeoutSeconds: 0.2 });
  t.is(flat(r.outcome).which, 'time');
  t.regex(String(flat(r.outcome).rip), /^code\.efi\+0x[0-9a-f]+$/);
});
