// Guests that break the rules (bad pointers, double frees, services after ExitBootServices, image misuse, forged console lines) end in exact, reported outcomes.
import test from 'ava';
import { cliCaptured } from './helpers/cli-capture';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guidToBytes, GUID } from '../core/guid';
import { ST } from '../efi-services/tables/system-table';
import { encodeUtf16z } from '../core/guest-memory';
import { codeImage, le32, le64, runCode, flat } from './helpers/guest-code';
import { Asm, bs, OUTPUT_STRING } from './helpers/guest-asm';

// Cases test/machine.test.ts does not cover (it has #UD, #DE, #GP, NULL and beyond-RAM
// accesses, a jump to 0, the stack guard page, the instruction budget and one pointer outside RAM).

// mov rcx, r12 (ImageHandle) / mov rdx, r12 / mov r9, rbx / mov rax, r14 / inc r14 / mov rcx, [r13+ConOut]
const RCX_IMAGE = [0x4c, 0x89, 0xe1];
const R9_BOOT_SERVICES = [0x49, 0x89, 0xd9];

interface TraceEntry { service: string; caller: string; status?: string; notes?: string[]; args: Record<string, string> }
const traceOf = (r: ReturnType<typeof runCode>, service: string): TraceEntry[] =>
  (r.report.calls as { trace: TraceEntry[] }).trace.filter((e) => e.service === `BootServices.${service}`);
const guestErrors = (r: ReturnType<typeof runCode>) => r.report.guestErrors as { service: string; caller: string; message: string }[];
const TEXT = 0x1000;

test('a service handed a pointer into the legacy VGA hole (inside the RAM range, not RAM) faults naming the service', (t) => {
  // AllocatePool(EfiLoaderData, 16, (VOID **)0xb8000)
  const a = new Asm().prologue().movImm('rcx', 2).movImm('rdx', 16).movImm('r8', 0xb8000).callBs('AllocatePool').epilogue();
  const r = runCode(a.build());
  t.is(r.outcome.kind, 'fault');
  t.is(r.exitCode, 3);
  t.regex(String(flat(r.outcome).reason), /^BootServices\.AllocatePool called from code\.efi\+0x[0-9a-f]+ with a pointer outside guest RAM: write of 8 byte\(s\) at 0xb8000 is outside guest RAM$/);
  t.deepEqual(r.firmware.pool.allocations().filter((p) => p.owner === 'guest'), []);
});

test('a string that runs off the end of low RAM into the hole faults in OutputString', (t) => {
  // Four non-NUL CHAR16s written up to 0x9fff8..0x9ffff, no terminator before 0xa0000.
  const a = new Asm().prologue()
    .movImm('rax', 0x0041_0041_0041_0041n).emit(0x48, 0xa3, ...le64(0x9fff8n)) // mov [0x9fff8], rax
    .emit(0x49, 0x8b, 0x4d, ST.ConOut) // mov rcx, [r13+ConOut]
    .movImm('rdx', 0x9fff8)
    .emit(0xff, 0x51, OUTPUT_STRING) // call [rcx+OutputString]
    .epilogue();
  const r = runCode(a.build());
  t.is(r.outcome.kind, 'fault');
  t.regex(String(flat(r.outcome).reason), /^ConOut\.OutputString called from code\.efi\+0x[0-9a-f]+ with a pointer outside guest RAM: read of 2 byte\(s\) at 0xa0000 is outside guest RAM$/);
});

test('stack arguments beyond the end of low RAM: the call faults before the service runs', (t) => {
  // RSP just below 0xa0000, then CreateEvent: its 5th argument would be read from 0xa0018.
  const code = [
    0x48, 0x8b, 0x5a, ST.BootServices,              // mov rbx, [rdx+BootServices]
    0x48, 0xbc, ...le64(0xa0000n - 0x10n),          // mov rsp, 0x9fff0
    0x31, 0xc9, 0x31, 0xd2, 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9,
    0xff, 0x93, ...le32(bs('CreateEvent')),
    0xc3,
  ];
  const r = runCode(code);
  t.is(r.outcome.kind, 'fault');
  t.regex(String(flat(r.outcome).reason), /^BootServices\.CreateEvent called from code\.efi\+0x[0-9a-f]+: its stack arguments are outside guest RAM$/);
  t.is((r.report.calls as { total: number }).total, 0);
});

test('a misaligned OUT pointer is written as given (x64 has no alignment rule for UEFI pointers)', (t) => {
  // AllocatePool(EfiLoaderData, 24, rsp+0x31); return the UINT64 read back from rsp+0x31.
  const a = new Asm().prologue().movImm('rcx', 2).movImm('rdx', 24).leaStack('r8', 0x31).callBs('AllocatePool')
    .loadStack('rax', 0x31).epilogue();
  const r = runCode(a.build(), { trace: true });
  const buffer = BigInt(String(flat(r.outcome).status));
  t.is(traceOf(r, 'AllocatePool')[0].status, 'EFI_SUCCESS');
  t.is(buffer % 8n, 0n);
  t.deepEqual(r.firmware.pool.allocations().filter((p) => p.owner === 'guest').map((p) => [p.address, p.size]), [[buffer, 24]]);
});

test('FreePool of an interior (misaligned) pointer is EFI_INVALID_PARAMETER and a guest error; the block stays live', (t) => {
  const a = new Asm().prologue().movImm('rcx', 2).movImm('rdx', 64).leaStack('r8', 0x30).callBs('AllocatePool')
    .loadStack('rcx', 0x30).emit(0x48, 0xff, 0xc1) // inc rcx
    .callBs('FreePool').loadStack('rax', 0x30).epilogue();
  const r = runCode(a.build(), { trace: true });
  const buffer = BigInt(String(flat(r.outcome).status));
  t.is(traceOf(r, 'FreePool')[0].status, 'EFI_INVALID_PARAMETER');
  const errors = guestErrors(r);
  t.is(errors.length, 1);
  t.is(errors[0].service, 'BootServices.FreePool');
  t.is(errors[0].message, `FreePool: 0x${(buffer + 1n).toString(16)} was never allocated`);
  t.is(r.firmware.pool.sizeOf(buffer), 64);
});

test('LocateHandle with a too-small buffer: EFI_BUFFER_TOO_SMALL and the size needed for the three text output handles', (t) => {
  // LocateHandle(ByProtocol, &SimpleTextOutputGuid, NULL, &Size=8, Buffer): ConOut, StdErr and the serial terminal
  // (as on OVMF: the ConSplitter's two and the terminal's) need 24 bytes.
  const a = new Asm().prologue()
    .storeStackImm(0x30, 8)
    .movImm('rcx', 2).leaRip('rdx', 'guid').movImm('r8', 0).leaStack('r9', 0x30)
    .leaStack('rax', 0x38).storeStack(0x20, 'rax')
    .callBs('LocateHandle').storeStack(0x40, 'rax')
    .loadStack('rax', 0x30).epilogue()
    .dataLabel('guid', guidToBytes(GUID.SIMPLE_TEXT_OUTPUT));
  const r = runCode(a.build(), { trace: true });
  t.is(traceOf(r, 'LocateHandle')[0].status, 'EFI_BUFFER_TOO_SMALL');
  t.is(flat(r.outcome).status, '0x18');
});

test('FreePool twice: the second is EFI_INVALID_PARAMETER with an "already freed" guest error naming the caller', (t) => {
  const a = new Asm().prologue().movImm('rcx', 4).movImm('rdx', 100).leaStack('r8', 0x30).callBs('AllocatePool')
    .loadStack('rcx', 0x30).callBs('FreePool')
    .loadStack('rcx', 0x30).callBs('FreePool').label('second')
    .loadStack('rax', 0x30).epilogue();
  const r = runCode(a.build(), { trace: true });
  const buffer = BigInt(String(flat(r.outcome).status));
  t.deepEqual(traceOf(r, 'FreePool').map((e) => e.status), ['EFI_SUCCESS', 'EFI_INVALID_PARAMETER']);
  const errors = guestErrors(r);
  t.is(errors.length, 1);
  t.is(errors[0].service, 'BootServices.FreePool');
  t.is(errors[0].message, `FreePool: 0x${buffer.toString(16)} already freed`);
  t.is(errors[0].caller, `code.efi+0x${(TEXT + a.offsetOf('second')).toString(16)}`);
  t.is(r.firmware.pool.sizeOf(buffer), undefined);
});

test('FreePages of free memory, of memory outside the map and of the image\'s own pages: EFI_NOT_FOUND, each a guest error', (t) => {
  const a = new Asm().prologue()
    .movImm('rcx', 0x10000).movImm('rdx', 1).callBs('FreePages')
    .movImm('rcx', 0x2_0000_0000n).movImm('rdx', 1).callBs('FreePages')
    .leaRip('rcx', 'start').emit(0x48, 0x81, 0xe1, ...le32(0xfffff000)) // and rcx, ~0xfff: this code's page
    .movImm('rdx', 1).callBs('FreePages')
    .epilogue();
  a.label('start');
  const r = runCode(a.build(), { trace: true });
  t.deepEqual(traceOf(r, 'FreePages').map((e) => e.status), ['EFI_NOT_FOUND', 'EFI_NOT_FOUND', 'EFI_NOT_FOUND']);
  const base = r.firmware.images.images[0].base;
  t.deepEqual(guestErrors(r).map((e) => [e.service, e.message]), [
    ['BootServices.FreePages', 'FreePages: 0x10000 (1 pages) was not allocated (free; already freed?)'],
    ['BootServices.FreePages', 'FreePages: 0x200000000 (1 pages) is outside the memory map'],
    ['BootServices.FreePages', `FreePages: 0x${(base + BigInt(TEXT)).toString(16)} (1 pages) is firmware memory, not allocated with AllocatePages`],
  ]);
  t.is(flat(r.outcome).status, 'EFI_NOT_FOUND');
});

test('a boot service called from an EVT_SIGNAL_EXIT_BOOT_SERVICES notify function is refused and reported; the run still ends at ExitBootServices', (t) => {
  const a = new Asm().prologue()
    // CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, notify, Context = BootServices, &Event)
    .movImm('rcx', 0x201).movImm('rdx', 8).leaRip('r8', 'notify').emit(...R9_BOOT_SERVICES)
    .leaStack('rax', 0x30).storeStack(0x20, 'rax').callBs('CreateEvent')
    // AllocatePool(EfiLoaderData, 0x4000, &map) before reading the map, so the MapKey stays current.
    .movImm('rcx', 2).movImm('rdx', 0x4000).leaStack('r8', 0x38).callBs('AllocatePool')
    // GetMemoryMap(&size = 0x4000, map, &key, &descSize, &descVersion)
    .storeStackImm(0x40, 0x4000).leaStack('rcx', 0x40).loadStack('rdx', 0x38).leaStack('r8', 0x48).leaStack('r9', 0x50)
    .leaStack('rax', 0x58).storeStack(0x20, 'rax').callBs('GetMemoryMap')
    // ExitBootServices(ImageHandle, key)
    .emit(...RCX_IMAGE).loadStack('rdx', 0x48).callBs('ExitBootServices')
    .epilogue()
    // notify(Event, Context): AllocatePool(EfiBootServicesData, 64, &p) through Context = BootServices.
    .label('notify')
    .emit(0x48, 0x83, 0xec, 0x38, 0x48, 0x89, 0xd0) // sub rsp, 0x38; mov rax, rdx
    .movImm('rcx', 4).movImm('rdx', 64).leaStack('r8', 0x28)
    .emit(0xff, 0x90, ...le32(bs('AllocatePool'))) // call [rax+AllocatePool]
    .label('notifyReturn').emit(0x48, 0x83, 0xc4, 0x38, 0xc3);
  const r = runCode(a.build(), { trace: true });
  t.is(r.outcome.kind, 'exit-boot-services');
  t.is(r.exitCode, 0);
  t.deepEqual(guestErrors(r).map((e) => [e.service, e.caller, e.message]), [
    ['BootServices.AllocatePool', `code.efi+0x${(TEXT + a.offsetOf('notifyReturn')).toString(16)}`, 'boot service called after ExitBootServices'],
  ]);
  const pools = traceOf(r, 'AllocatePool');
  t.deepEqual(pools.map((e) => e.status), ['EFI_SUCCESS', 'EFI_UNSUPPORTED']);
  t.is(r.firmware.pool.allocations().filter((p) => p.owner === 'guest').length, 1);
});

test('StartImage of the running image itself is EFI_INVALID_PARAMETER', (t) => {
  const a = new Asm().prologue().emit(...RCX_IMAGE).movImm('rdx', 0).movImm('r8', 0).callBs('StartImage').epilogue();
  const r = runCode(a.build(), { trace: true });
  t.is(r.outcome.kind, 'returned');
  t.is(flat(r.outcome).status, 'EFI_INVALID_PARAMETER');
  t.is(traceOf(r, 'StartImage').length, 1);
});

/** The child: returns 0x1234 (status), or with `exitParent` calls Exit(its ParentHandle) and returns that status. */
function childImage(exitParent: boolean): Buffer {
  const c = new Asm().prologue();
  if (exitParent) {
    // HandleProtocol(ImageHandle, &LoadedImageGuid, &li); Exit(li->ParentHandle, EFI_SUCCESS, 0, NULL)
    c.emit(...RCX_IMAGE).leaRip('rdx', 'li').leaStack('r8', 0x30).callBs('HandleProtocol')
      .loadStack('rax', 0x30).emit(0x48, 0x8b, 0x48, 8) // mov rcx, [rax+ParentHandle]
      .movImm('rdx', 0).movImm('r8', 0).movImm('r9', 0).callBs('Exit');
  } else c.movImm('rax', 0x1234);
  return codeImage(c.epilogue().dataLabel('li', guidToBytes(GUID.LOADED_IMAGE)).build(), 0x80_0000n);
}

/** LoadImage(FALSE, ImageHandle, NULL, child, size, rsp+0x30) */
function loadChild(a: Asm): Asm {
  return a.movImm('rcx', 0).emit(0x4c, 0x89, 0xe2).movImm('r8', 0).leaRip('r9', 'child') // mov rdx, r12
    .leaRip('rax', 'childEnd').emit(0x4c, 0x29, 0xc8).storeStack(0x20, 'rax') // sub rax, r9: the size
    .leaStack('rax', 0x30).storeStack(0x28, 'rax').callBs('LoadImage');
}

test('StartImage twice on a child: the second is EFI_INVALID_PARAMETER (the application was unloaded when it returned)', (t) => {
  const child = childImage(false);
  const a = loadChild(new Asm().prologue())
    .loadStack('rcx', 0x30).movImm('rdx', 0).movImm('r8', 0).callBs('StartImage')
    .loadStack('rcx', 0x30).movImm('rdx', 0).movImm('r8', 0).callBs('StartImage')
    .epilogue().dataLabel('child', child).dataLabel('childEnd', new Uint8Array(0));
  const r = runCode(a.build(), { trace: true });
  t.deepEqual(traceOf(r, 'StartImage').map((e) => e.status), ['0x1234', 'EFI_INVALID_PARAMETER']);
  t.is(flat(r.outcome).status, 'EFI_INVALID_PARAMETER');
  const images = r.report.images as { name: string; started: boolean; exitStatus?: string; unloaded: boolean }[];
  t.is(images.length, 2);
  t.like(images[1], { started: true, exitStatus: '0x1234', unloaded: true });
});

test('Exit with the handle of a child that already returned is EFI_INVALID_PARAMETER and does not end the caller', (t) => {
  const a = loadChild(new Asm().prologue())
    .loadStack('rcx', 0x30).movImm('rdx', 0).movImm('r8', 0).callBs('StartImage')
    .loadStack('rcx', 0x30).movImm('rdx', 0).movImm('r8', 0).movImm('r9', 0).callBs('Exit')
    .storeStack(0x38, 'rax').movImm('rax', 0x77).epilogue()
    .dataLabel('child', childImage(false)).dataLabel('childEnd', new Uint8Array(0));
  const r = runCode(a.build(), { trace: true });
  t.is(traceOf(r, 'Exit')[0].status, 'EFI_INVALID_PARAMETER');
  t.is(r.outcome.kind, 'returned');
  t.is(flat(r.outcome).status, '0x77');
});

test('Exit called by a child on its parent (started, but not the running image): refused and reported', (t) => {
  const a = loadChild(new Asm().prologue())
    .loadStack('rcx', 0x30).movImm('rdx', 0).movImm('r8', 0).callBs('StartImage')
    .epilogue().dataLabel('child', childImage(true)).dataLabel('childEnd', new Uint8Array(0));
  const r = runCode(a.build(), { trace: true });
  t.is(r.outcome.kind, 'returned');
  t.is(flat(r.outcome).status, 'EFI_INVALID_PARAMETER');
  t.is(traceOf(r, 'Exit')[0].status, 'EFI_INVALID_PARAMETER');
  const errors = guestErrors(r);
  t.is(errors.length, 1);
  t.is(errors[0].service, 'BootServices.Exit');
  t.regex(errors[0].message, /^Exit\(code\.efi\) called while code\.efi:\.text\+0x[0-9a-f]+ is the running image$/);
  t.regex(errors[0].caller, /^code\.efi:\.text\+0x[0-9a-f]+\+0x[0-9a-f]+$/);
});

// Untrusted strings: what a guest prints must not drive the terminal or pass for stubemu's own lines.

const cli = cliCaptured;

const TMP = mkdtempSync(join(tmpdir(), 'stubemu-guests-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

/** An image printing `text` through ConOut (or StdErr) and returning EFI_SUCCESS. */
function printer(text: string, stream: 'ConOut' | 'StdErr'): string {
  const a = new Asm().prologue()
    .emit(0x49, 0x8b, 0x4d, stream === 'ConOut' ? ST.ConOut : ST.StdErr) // mov rcx, [r13+ConOut/StdErr]
    .leaRip('rdx', 'text').emit(0xff, 0x51, OUTPUT_STRING) // call [rcx+OutputString]
    .movImm('rax', 0).epilogue().dataLabel('text', encodeUtf16z(text));
  const path = join(TMP, `print-${stream}.efi`);
  writeFileSync(path, codeImage(a.build()));
  return path;
}

const FORGERY = 'hello\x1b[2J\x1b]0;owned\x07\x9b31m\r\x1b[1A\x1b[2Kdone\r\n';
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

for (const stream of ['ConOut', 'StdErr'] as const) {
  test(`${stream}: ESC/CSI/OSC sequences, BEL, C1 CSI and lone CRs reach the terminal escaped`, (t) => {
    const r = cli(['run', printer(FORGERY, stream), '--memory', '64M']);
    t.is(r.code, 0);
    const guest = stream === 'ConOut' ? r.stdout : r.stderr;
    t.false(CONTROLS.test(r.stdout + r.stderr));
    t.true(guest.includes('hello\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\x0d\\x1b[1A\\x1b[2Kdone\n'));
    // The genuine summary is still the last stderr line.
    t.regex(r.stderr.trimEnd().split('\n').at(-1)!, /^stubemu: print-\w+\.efi: returned EFI_SUCCESS; \d+ service calls in [\d.]+ s$/);
  });
}

test('an image file name with a newline cannot split the summary line', (t) => {
  const path = join(TMP, 'a\nstubemu: forged.efi: returned EFI_SUCCESS');
  writeFileSync(path, codeImage(new Asm().prologue().movImm('rax', 0).epilogue().build()));
  const r = cli(['run', path, '--memory', '64M']);
  t.is(r.code, 0);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1);
  t.regex(lines[0], /^stubemu: a\\x0astubemu: forged\.efi: returned EFI_SUCCESS: returned EFI_SUCCESS; /);
});

for (const stream of ['ConOut', 'StdErr'] as const) {
  // Found by this test: terminalSafe keeps newlines (console text is multi-line), so a guest can start a line with
  // "stubemu: " and print a summary of its own choosing, on stderr right before the real one. The CLI should mark
  // guest lines that could pass for its own (e.g. prefix or escape a leading "stubemu:") in src/cli.ts onConsole.
  test(`${stream}: a guest line cannot pass for stubemu's own "stubemu: ..." summary`, (t) => {
    const fake = 'stubemu: print.efi: ExitBootServices succeeded (returning to 0x1000); 1 service calls in 0.01 s';
    const r = cli(['run', printer(`\r\n${fake}\r\n`, stream), '--memory', '64M']);
    t.is(r.code, 0);
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('stubemu:'));
    t.is(lines.length, 1, 'only the CLI\'s own summary starts with "stubemu:"');
  });
}
