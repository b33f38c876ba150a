// The KVM engine on hand-assembled code (no SSE, so it also runs on PVM hosts): traps, exceptions through the
// IDT with the faulting state restored, debug-register stops, guard pages and time slices.
import test from 'ava';
import { openSync, closeSync } from 'node:fs';
import { KvmCpu } from '../emulator/cpu/kvm-cpu';
import { cpuProblem } from '../emulator/cpu/create-cpu';
import { StopReason } from '../emulator/cpu/cpu';

function kvmOpens(): boolean {
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}
const kvmTest = kvmOpens() ? test.serial : test.skip;

const CODE = 0x20_0000;
const TRAPS = 0x30_0000;
const IDT = 0x60_1000;
const STACK = 0x50_0000;

/** 64 MiB of RAM from 1 MiB, identity-mapped with 2 MiB pages, the firmware's GDT and an IDT into HLT slots. */
function machine() {
  const cpu = new KvmCpu();
  const ram = cpu.allocateRam(64 << 20);
  cpu.mapRam(0x10_0000n, ram.subarray(0x10_0000));
  const pml4 = 0x40_0000;
  ram.writeBigUInt64LE(BigInt(pml4 + 0x1000) | 3n, pml4);
  ram.writeBigUInt64LE(BigInt(pml4 + 0x2000) | 3n, pml4 + 0x1000);
  for (let i = 0; i < 32; i++) ram.writeBigUInt64LE(BigInt(i << 21) | 0x83n, pml4 + 0x2000 + 8 * i);
  ram.writeBigUInt64LE(0x00cf92000000ffffn, 0x60_0000 + 0x30);
  ram.writeBigUInt64LE(0x00af9a000000ffffn, 0x60_0000 + 0x38);
  ram.fill(0xf4, TRAPS, TRAPS + 0x2000);
  for (let v = 0; v < 256; v++) {
    const h = TRAPS + 0x1000 + 16 * v;
    ram.writeUInt16LE(h & 0xffff, IDT + 16 * v);
    ram.writeUInt16LE(0x38, IDT + 16 * v + 2);
    ram[IDT + 16 * v + 5] = 0x8e;
    ram.writeUInt16LE(h >>> 16, IDT + 16 * v + 6);
  }
  cpu.addStopRange(BigInt(TRAPS), BigInt(TRAPS + 0x2000));
  cpu.setDescriptorTables({ base: 0x60_0000n, limit: 0x47 }, { base: BigInt(IDT), limit: 0xfff });
  cpu.writeMsr(0xc000_0080, 0x500n);
  cpu.writeReg('cr3', BigInt(pml4));
  cpu.writeReg('cr4', 0x668n);
  cpu.writeReg('cr0', 0x8001_0033n);
  cpu.writeReg('rflags', 2n);
  const run = (code: number[], rsp = STACK): StopReason => {
    ram.set(code, CODE);
    cpu.writeReg('rip', BigInt(CODE));
    cpu.writeReg('rsp', BigInt(rsp));
    return cpu.run(0);
  };
  return { cpu, ram, run };
}

kvmTest('a call into a trap region stops at the slot with the return address on the stack', (t) => {
  const { cpu, ram, run } = machine();
  try {
    // mov eax, 0x1234; call TRAPS+0x40
    const rel = TRAPS + 0x40 - (CODE + 10);
    const stop = run([0xb8, 0x34, 0x12, 0, 0, 0xe8, ...le32(rel)]);
    t.deepEqual(stop, { kind: 'trap', rip: BigInt(TRAPS + 0x40) });
    t.is(cpu.readReg('rax'), 0x1234n);
    t.is(cpu.readReg('rsp'), BigInt(STACK - 8));
    t.is(ram.readBigUInt64LE(STACK - 8), BigInt(CODE + 10));
  } finally {
    cpu.close();
  }
});

kvmTest('#UD, #DE and #PF come back with the faulting RIP, RSP and (for #PF) CR2 and the error code', (t) => {
  const { cpu, run } = machine();
  try {
    let s = run([0x90, 0x0f, 0x0b]); // nop; ud2
    t.like(s, { kind: 'exception', vector: 6, rip: BigInt(CODE + 1) });
    t.is(cpu.readReg('rsp'), BigInt(STACK));
    s = run([0x31, 0xc9, 0xf7, 0xf1]); // xor ecx, ecx; div ecx
    t.like(s, { kind: 'exception', vector: 0, rip: BigInt(CODE + 2) });
    s = run([0x8b, 0x04, 0x25, 0, 0, 0, 0x10]); // mov eax, [0x10000000]: beyond the page tables
    t.like(s, { kind: 'exception', vector: 14, rip: BigInt(CODE), address: 0x1000_0000n, access: 'read', errorCode: 0 });
    s = run([0x89, 0x04, 0x25, 0, 0, 0, 0x10]); // mov [0x10000000], eax
    t.like(s, { kind: 'exception', vector: 14, access: 'write', errorCode: 2 });
    s = run([0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x8b, 0x00]); // mov rax, 0x8000...; mov eax, [rax]
    t.like(s, { kind: 'exception', vector: 13, rip: BigInt(CODE + 10), errorCode: 0 });
  } finally {
    cpu.close();
  }
});

kvmTest('a one-byte stop range over RDTSC stops before it (debug register); removed, the code runs through', (t) => {
  const { cpu, run } = machine();
  try {
    const remove = cpu.addStopRange(BigInt(CODE + 2), BigInt(CODE + 3));
    const s = run([0x90, 0x90, 0x0f, 0x31, 0xf4]); // nop; nop; rdtsc; hlt
    t.deepEqual(s, { kind: 'trap', rip: BigInt(CODE + 2) });
    // The machine emulates RDTSC and resumes after it.
    cpu.writeReg('rip', BigInt(CODE + 4));
    t.like(cpu.run(0), { kind: 'exception', rip: BigInt(CODE + 4), detail: 'hlt with interrupts off: the processor would stop forever' });
    remove();
    t.like(run([0x90, 0x90, 0x0f, 0x31, 0xf4]), { kind: 'exception', rip: BigInt(CODE + 4) });
  } finally {
    cpu.close();
  }
});

kvmTest('a write into a protected page (stack guard) is a #PF write of that address', (t) => {
  const { cpu, run } = machine();
  try {
    cpu.protect(BigInt(STACK - 0x1000), 0x1000, 'none');
    const s = run([0x90, 0x50, 0xf4], STACK - 0x1000 + 8); // nop; push rax: into the guard page
    t.like(s, { kind: 'exception', vector: 14, access: 'write', address: BigInt(STACK - 0x1000) });
    // KVM's emulator may have completed the push: RIP is the push or just past it.
    t.true(s.rip === BigInt(CODE + 1) || s.rip === BigInt(CODE + 2));
  } finally {
    cpu.close();
  }
});

kvmTest('a guest that never exits is interrupted by the time slice', (t) => {
  const { cpu, run } = machine();
  try {
    const s = run([0xeb, 0xfe]); // jmp $
    t.deepEqual(s, { kind: 'interrupted', rip: BigInt(CODE) });
  } finally {
    cpu.close();
  }
});

test('cpuProblem names what stops KVM on this host, or nothing when it can run SSE guests', (t) => {
  const p = cpuProblem('kvm');
  if (p !== undefined) t.regex(p, /kvm|KVM/);
  else t.is(p, undefined);
  t.is(cpuProblem('unicorn'), undefined);
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

kvmTest('IN, OUT and OUTSB reach the board through KVM_EXIT_IO (port, size, value, string elements)', (t) => {
  const { cpu, ram, run } = machine();
  try {
    const seen: string[] = [];
    cpu.setPortIo({
      read: (port, size) => (seen.push(`in ${port.toString(16)}/${size}`), port === 0x61 ? 0x20 : 0xffff_ffff),
      write: (port, size, value) => void seen.push(`out ${port.toString(16)}/${size}=${value.toString(16)}`),
    });
    const msg = CODE + 0x100;
    ram.set([0x41, 0x42], msg);
    // in al, 0x61; mov dx, 0x608; in eax, dx; mov dx, 0x3f8; mov esi, msg; mov ecx, 2; rep outsb; mov ebx, eax; call TRAPS
    const code = [0xe4, 0x61, 0x66, 0xba, 0x08, 0x06, 0xed, 0x66, 0xba, 0xf8, 0x03, 0xbe, ...le32(msg), 0xb9, 2, 0, 0, 0, 0xf3, 0x6e, 0x89, 0xc3];
    const rel = TRAPS - (CODE + code.length + 5);
    const stop = run([...code, 0xe8, ...le32(rel)]);
    t.is(stop.kind, 'trap');
    t.is(cpu.readReg('rbx'), 0xffff_ffffn);
    t.deepEqual(seen, ['in 61/1', 'in 608/4', 'out 3f8/1=41', 'out 3f8/1=42']);
  } finally {
    cpu.close();
  }
});
