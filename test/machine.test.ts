// The machine with the real Unicorn CPU: service-call decoding, returns, faults with precise locations, budgets.
import test from 'ava';
import { EFI_BOOT_SERVICES } from '../efi-services/tables/boot-services-decl';
import { slotOffset } from '../core/abi';
import { ST } from '../efi-services/tables/system-table';
import { guidToBytes } from '../core/guid';
import { le32, le64, runCode, flat } from './helpers/guest-code';

const TEXT = 0x1000;
const fault = (r: ReturnType<typeof runCode>) => r.report.fault as Record<string, any>;

test('an image that returns a value: outcome returned, RAX as the status', (t) => {
  const r = runCode([0xb8, ...le32(0x1234), 0xc3]); // mov eax, 0x1234; ret
  t.is(r.outcome.kind, 'returned');
  t.is(flat(r.outcome).status, '0x1234');
  t.is(r.exitCode, 0);
});

test('an error status returned by the image gives exit code 1', (t) => {
  const r = runCode([0x48, 0xb8, ...le64((1n << 63n) | 14n), 0xc3]); // mov rax, EFI_NOT_FOUND; ret
  t.is(flat(r.outcome).status, 'EFI_NOT_FOUND');
  t.is(r.exitCode, 1);
});

test('#UD reports the faulting instruction as image+offset and its bytes', (t) => {
  const r = runCode([0x90, 0x0f, 0x0b]); // nop; ud2
  t.is(r.outcome.kind, 'fault');
  t.is(r.exitCode, 3);
  const f = fault(r);
  t.is(f.vector, 6);
  t.is(f.rip, `code.efi+0x${(TEXT + 1).toString(16)}`);
  t.true(f.instructionBytes.startsWith('0f0b'));
});

test('--strict-null: a NULL read is a #PF with the address and a not-present read error code', (t) => {
  const r = runCode([0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0], { strictNull: true }); // mov rax, [0]
  const f = fault(r);
  t.is(f.vector, 14);
  t.is(f.address, '0x0');
  t.is(f.access, 'read');
  t.is(f.errorCode, 0);
  t.is(f.rip, `code.efi+0x${TEXT.toString(16)}`);
});

test('a write beyond RAM is a #PF write at that address', (t) => {
  // mov rax, 0x200000000; mov [rax], rax
  const r = runCode([0x48, 0xb8, ...le64(0x2_0000_0000n), 0x48, 0x89, 0x00]);
  const f = fault(r);
  t.is(f.vector, 14);
  t.is(f.address, '0x200000000');
  t.is(f.access, 'write');
  t.is(f.errorCode, 2);
  t.is(f.rip, `code.efi+0x${(TEXT + 10).toString(16)}`);
});

test('divide by zero is #DE at the div instruction', (t) => {
  const r = runCode([0x31, 0xc9, 0xf7, 0xf1]); // xor ecx, ecx; div ecx
  const f = fault(r);
  t.is(f.vector, 0);
  t.is(f.rip, `code.efi+0x${(TEXT + 2).toString(16)}`);
});

test('a non-canonical address is #GP(0)', (t) => {
  const r = runCode([0x48, 0xb8, ...le64(0x8000_0000_0000_0000n), 0x48, 0x8b, 0x00]);
  const f = fault(r);
  t.is(f.vector, 13);
  t.is(f.errorCode, 0);
  t.is(f.rip, `code.efi+0x${(TEXT + 10).toString(16)}`);
});

for (const strictNull of [true, false]) test(`a jump to 0 is an instruction-fetch #PF at 0 (strictNull ${strictNull})`, (t) => {
  const r = runCode([0x31, 0xc0, 0xff, 0xe0], { strictNull }); // xor eax, eax; jmp rax
  const f = fault(r);
  t.is(f.vector, 14);
  t.is(f.access, 'fetch');
  t.is(f.address, '0x0');
  t.is(f.errorCode, 0x10);
});

test('endless recursion runs into the stack guard page', (t) => {
  const r = runCode([0xe8, 0xfb, 0xff, 0xff, 0xff]); // call self
  const f = fault(r);
  t.is(f.vector, 14);
  t.is(f.access, 'write');
  const fw = r.firmware;
  t.is(BigInt(f.address) >> 12n, fw.stackGuard >> 12n);
  t.true(f.callTrace.length > 0 && f.callTrace.every((s: string) => s === `code.efi+0x${(TEXT + 5).toString(16)}`));
});

test('an endless loop ends with the instruction budget (exit code 4)', (t) => {
  const r = runCode([0xeb, 0xfe], { maxInstructions: 1_000_000 }); // jmp $
  t.is(r.outcome.kind, 'budget');
  t.is(flat(r.outcome).which, 'instructions');
  t.is(flat(r.outcome).rip, `code.efi+0x${TEXT.toString(16)}`);
  t.is(r.exitCode, 4);
});

test('a fifth argument comes from the stack and UINT32 arguments ignore the upper half', (t) => {
  const createEvent = slotOffset(EFI_BOOT_SERVICES, 'CreateEvent');
  const code = [
    0x48, 0x83, 0xec, 0x38,                         // sub rsp, 0x38
    0x48, 0x8b, 0x42, ST.BootServices,              // mov rax, [rdx+BootServices]
    0x4c, 0x8d, 0x54, 0x24, 0x30,                   // lea r10, [rsp+0x30]  (&Event)
    0x4c, 0x89, 0x54, 0x24, 0x20,                   // mov [rsp+0x20], r10  (5th argument)
    0x48, 0xb9, ...le64(0xdead_beef_0000_0000n),    // mov rcx, Type 0 with garbage above bit 31
    0xba, ...le32(8),                               // mov edx, TPL_CALLBACK
    0x45, 0x31, 0xc0,                               // xor r8d, r8d
    0x45, 0x31, 0xc9,                               // xor r9d, r9d
    0xff, 0x50, createEvent,                        // call [rax+CreateEvent]
    0x48, 0x83, 0x7c, 0x24, 0x30, 0x00,             // cmp qword [rsp+0x30], 0
    0x75, 0x05,                                     // jne done
    0xb8, ...le32(0x77),                            // mov eax, 0x77 (no event written)
    0x48, 0x83, 0xc4, 0x38,                         // done: add rsp, 0x38
    0xc3,                                           // ret
  ];
  const r = runCode(code, { trace: true });
  t.is(flat(r.outcome).status, 'EFI_SUCCESS');
  const events = r.report.events as { type: number; notifyTpl: number }[];
  t.is(events.filter((e) => e.type === 0).length, 1);
  const trace = (r.report.calls as { trace: { service: string; args: Record<string, string> }[] }).trace;
  const call = trace.find((c) => c.service === 'BootServices.CreateEvent')!;
  t.is(call.args.Type, '0');
  t.is(call.args.NotifyTpl, '0x8');
});

test('an unimplemented member returns EFI_UNSUPPORTED and is listed', (t) => {
  // SystemTable->RuntimeServices->SetVirtualAddressMap(0, 0, 0, 0)
  const code = [
    0x48, 0x83, 0xec, 0x28,                         // sub rsp, 0x28
    0x48, 0x8b, 0x42, ST.RuntimeServices,           // mov rax, [rdx+RuntimeServices]
    0x31, 0xc9, 0x31, 0xd2, 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9,
    0xff, 0x50, 0x38,                               // call [rax+0x38] SetVirtualAddressMap
    0x48, 0x83, 0xc4, 0x28, 0xc3,
  ];
  const r = runCode(code);
  t.is(flat(r.outcome).status, 'EFI_UNSUPPORTED');
  t.deepEqual(r.report.unimplemented, [{ service: 'RuntimeServices.SetVirtualAddressMap', calls: 1 }]);
});

test('a service handed a pointer outside RAM is a fault naming the service', (t) => {
  // BootServices->GetMemoryMap(0x200000000, ...) : MemoryMapSize points outside RAM
  const code = [
    0x48, 0x83, 0xec, 0x38,
    0x48, 0x8b, 0x42, ST.BootServices,
    0x48, 0xb9, ...le64(0x2_0000_0000n),            // mov rcx, bad pointer
    0x31, 0xd2, 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9,
    0x48, 0xc7, 0x44, 0x24, 0x20, 0, 0, 0, 0,       // mov qword [rsp+0x20], 0
    0xff, 0x50, slotOffset(EFI_BOOT_SERVICES, 'GetMemoryMap'),
    0x48, 0x83, 0xc4, 0x38, 0xc3,
  ];
  const r = runCode(code);
  t.is(r.outcome.kind, 'fault');
  t.regex(String(flat(r.outcome).reason), /BootServices\.GetMemoryMap called from code\.efi\+0x[0-9a-f]+ with a pointer outside guest RAM/);
});

test('entry state: RSP is 8 mod 16 at the entry point (UEFI 2.10 §2.3.4.1), inside the stack region', (t) => {
  const r = runCode([0x48, 0x89, 0xe0, 0xc3]); // mov rax, rsp; ret
  const rsp = BigInt(flat(r.outcome).status as string);
  t.is(rsp % 16n, 8n);
  t.true(rsp < r.firmware.stackTop && rsp > r.firmware.stackGuard + 4096n + 128n * 1024n);
});

test('entry state: CR0 and CR4 as OVMF sets them, EFER long mode (NXE: see machine-state.ts); interrupts off', (t) => {
  t.is(flat(runCode([0x0f, 0x20, 0xc0, 0xc3]).outcome).status, '0x80010033'); // mov rax, cr0
  t.is(flat(runCode([0x0f, 0x20, 0xe0, 0xc3]).outcome).status, '0x668'); // mov rax, cr4
  // mov ecx, IA32_EFER; rdmsr; ret  (EDX:EAX, EDX is 0)
  t.is(flat(runCode([0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0xc3]).outcome).status, '0x500');
  // pushfq; pop rax; and eax, IF; ret  -> 0 (EFI_SUCCESS) when interrupts are off
  t.is(flat(runCode([0x9c, 0x58, 0x25, ...le32(0x200), 0xc3]).outcome).status, 'EFI_SUCCESS');
});

test('entry state: CR3 points at identity page tables the memory map describes as boot services data', (t) => {
  const r = runCode([0x0f, 0x20, 0xd8, 0xc3]); // mov rax, cr3
  const cr3 = BigInt(flat(r.outcome).status as string);
  const fw = r.firmware;
  const pml4e = fw.mem.u64(cr3);
  const pdpte = fw.mem.u64(pml4e & ~0xfffn);
  const pde1 = fw.mem.u64((pdpte & ~0xfffn) + 8n); // 2 MiB .. 4 MiB
  t.is(pde1 & ~0xfffn, 0x200000n); // identity
  t.is(pde1 & 0x81n, 0x81n); // present, 2 MiB page
  const d = fw.map.descriptors().find((x) => cr3 >= x.physicalStart && cr3 < x.physicalStart + x.numberOfPages * 4096n)!;
  t.is(d.type, 4);
});

test('ConInEx.RegisterKeyNotify: the notification function runs when its key is read', (t) => {
  // KeyData {ScanCode 0, UnicodeChar 'a'} at [rsp+0x40]; the notify function stores 0x55 at [rip+flag].
  const code = [
    0x48, 0x83, 0xec, 0x58,                         // sub rsp, 0x58
    0x48, 0x89, 0xd3,                               // mov rbx, rdx (ST)
    0x48, 0x8b, 0x43, ST.BootServices,              // mov rax, [rbx+BootServices]
    0x48, 0x8d, 0x0d, 0, 0, 0, 0,                   // lea rcx, [rip+guid]          (patched)
    0x31, 0xd2,                                     // xor edx, edx
    0x4c, 0x8d, 0x44, 0x24, 0x50,                   // lea r8, [rsp+0x50]           &Interface
    0xff, 0x90, ...le32(0x140),                     // call [rax+LocateProtocol]
    0x48, 0x8b, 0x4c, 0x24, 0x50,                   // mov rcx, [rsp+0x50]          This
    0xc7, 0x44, 0x24, 0x40, 0x00, 0x00, 0x61, 0x00, // mov dword [rsp+0x40], 'a'<<16
    0x48, 0x8d, 0x54, 0x24, 0x40,                   // lea rdx, [rsp+0x40]          KeyData
    0x4c, 0x8d, 0x05, 0, 0, 0, 0,                   // lea r8, [rip+notify]         (patched)
    0x4c, 0x8d, 0x4c, 0x24, 0x48,                   // lea r9, [rsp+0x48]           &NotifyHandle
    0xff, 0x51, 0x20,                               // call [rcx+RegisterKeyNotify] (offset 0x20)
    0x48, 0x8b, 0x4c, 0x24, 0x50,                   // mov rcx, [rsp+0x50]
    0x48, 0x8d, 0x54, 0x24, 0x30,                   // lea rdx, [rsp+0x30]          KeyData out
    0xff, 0x51, 0x08,                               // call [rcx+ReadKeyStrokeEx]
    0x0f, 0xb6, 0x05, 0, 0, 0, 0,                   // movzx eax, byte [rip+flag]   (patched)
    0x48, 0x83, 0xc4, 0x58,                         // add rsp, 0x58
    0xc3,                                           // ret
  ];
  const notify = [0xc6, 0x05, 0, 0, 0, 0, 0x55, 0xc3]; // mov byte [rip+flag], 0x55; ret   (patched)
  const guidBytes = [...guidToBytes('dd9e7534-7762-4698-8c14-f58517a625aa')];
  const all = [...code, ...notify, ...guidBytes, 0 /* flag */];
  const notifyAt = code.length;
  const guidAt = notifyAt + notify.length;
  const flagAt = guidAt + guidBytes.length;
  const patch = (at: number, end: number, target: number) => {
    const d = target - end;
    all.splice(at, 4, d & 0xff, (d >> 8) & 0xff, (d >> 16) & 0xff, (d >>> 24) & 0xff);
  };
  patch(14, 18, guidAt);
  patch(52, 56, notifyAt);
  patch(80, 84, flagAt);
  patch(notifyAt + 2, notifyAt + 7, flagAt); // rip-relative from the end of the 7-byte mov
  const r = runCode(all, { keys: [{ scanCode: 0, unicodeChar: 0x61 }] });
  t.is(flat(r.outcome).status, '0x55');
});
