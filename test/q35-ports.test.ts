// The q35 board's I/O ports read by guest code: the PIT (channel 2 through port 0x61, as GRUB calibrates its TSC),
// the ACPI PM timer at OVMF's PMBASE, the CMOS RTC, COM1 and the floating bus. Expected values come from the clock
// options (--time, the 1 GHz virtual TSC, 1 µs per port access) and the devices' data-sheet frequencies, computed
// here, not read from stubemu.
import test from 'ava';
import { assemble } from './helpers/assemble';
import { runCode } from './helpers/guest-code';
import type { RunResult } from '../src/api';

const RESULTS = 32; // u64 slots at the end of the code
const withResults = (src: string) => assemble(`${src}\n.balign 8\nresults: .fill ${RESULTS},8,0\n`);

function results(r: RunResult, code: number[]): bigint[] {
  const base = BigInt(r.report.images[0].base);
  const at = base + 0x1000n + BigInt(code.length - RESULTS * 8);
  return [...Array(RESULTS)].map((_, i) => r.firmware.mem.u64(at + BigInt(8 * i)));
}

const PIT_HZ = 3579545 / 3;
const TSC_HZ = 1e9; // the virtual TSC's nominal rate (efi-services/firmware.ts)

test('PIT channel 2 in mode 0: port 0x61 bit 5 rises after the count, measured with the TSC (GRUB calibration)', (t) => {
  const count = 11932; // ~10 ms
  const code = withResults(`
    lea rdi, [rip + results]
    in al, 0x61
    and al, 0xfc          # gate off, speaker off
    out 0x61, al
    mov al, 0xb0          # channel 2, lobyte/hibyte, mode 0, binary
    out 0x43, al
    mov al, ${count & 0xff}
    out 0x42, al
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r8, rax           # TSC before the count is complete
    mov al, ${count >> 8}
    out 0x42, al
    in al, 0x61
    or al, 1              # gate on: counting starts
    out 0x61, al
    xor ecx, ecx
1:  inc rcx
    in al, 0x61
    test al, 0x20
    jz 1b
    rdtsc
    shl rdx, 32
    or rax, rdx
    sub rax, r8
    mov [rdi], rax        # TSC cycles for the count
    mov [rdi + 8], rcx    # polls
    mov al, 0xe8          # read-back: status of channel 2
    out 0x43, al
    in al, 0x42
    movzx eax, al
    mov [rdi + 16], rax
    xor eax, eax
    ret`);
  const r = runCode(code);
  t.is(r.outcome.kind, 'returned');
  const [cycles, polls, status] = results(r, code);
  const seconds = count / PIT_HZ;
  // Each port access is 1 µs; the count is complete within one poll of the edge.
  t.true(Math.abs(Number(polls) - seconds * 1e6) <= 2, `polls ${polls} for ${seconds * 1e6} µs`);
  t.true(Math.abs(Number(cycles) - seconds * TSC_HZ) <= 6000, `cycles ${cycles} for ${seconds * TSC_HZ}`);
  // Read-back status (8254 data sheet): OUT high, count loaded, RW = 3, mode 0, binary.
  t.is(Number(status), 0x80 | 0x30);
  const port61 = r.report.ports.find((p) => p.port === '0x61')!;
  t.is(port61.reads, Number(polls) + 2);
  t.is(port61.writes, 2);
  t.regex(port61.device, /PIT channel 2 gate/);
});

test('PIT counter latch: the count decreases at 1.193182 MHz', (t) => {
  const code = withResults(`
    lea rdi, [rip + results]
    mov al, 0x34          # channel 0, lobyte/hibyte, mode 2
    out 0x43, al
    xor eax, eax
    out 0x40, al
    out 0x40, al          # count 65536
    mov ecx, 1000
1:  in al, 0x80           # 1000 port accesses: 1 ms
    loop 1b
    mov al, 0x00          # latch channel 0
    out 0x43, al
    in al, 0x40
    movzx edx, al
    in al, 0x40
    movzx eax, al
    shl eax, 8
    or eax, edx
    mov [rdi], rax
    xor eax, eax
    ret`);
  const r = runCode(code);
  const [latched] = results(r, code);
  // Between the load and the latch: 1000 reads of port 0x80 and the latch command, 1 µs each.
  const ticks = Math.floor((1001e-6) * PIT_HZ);
  t.true(Math.abs(65536 - Number(latched) - ticks) <= 2, `latched ${latched}, ${ticks} ticks expected`);
  t.is(r.report.ports.find((p) => p.port === '0x80')?.reads, 1000);
});

test('ACPI PM timer at PMBASE 0x600 + 8 counts at 3.579545 MHz, 24 bits', (t) => {
  const code = withResults(`
    lea rdi, [rip + results]
    mov dx, 0x608
    in eax, dx
    mov r8d, eax
    mov ecx, 2000
1:  in al, 0x80
    loop 1b
    in eax, dx
    mov [rdi], r8
    mov [rdi + 8], rax
    xor eax, eax
    ret`);
  const r = runCode(code);
  const [a, b] = results(r, code);
  t.true(a < 1n << 24n && b < 1n << 24n);
  const ticks = Number((b - a) & 0xffffffn);
  const expected = 2001e-6 * 3579545;
  t.true(Math.abs(ticks - expected) <= 2, `${ticks} ticks, ${expected} expected`);
  t.regex(r.report.ports.find((p) => p.port === '0x608')!.device, /PM timer/);
});

test('CMOS RTC: the date and time of --time in BCD, 24-hour, valid RAM', (t) => {
  const when = new Date('2031-05-17T13:45:56Z');
  const regs = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0b, 0x0d];
  const code = withResults(`
    lea rdi, [rip + results]
    ${regs.map((reg, i) => `mov al, ${reg}\n out 0x70, al\n in al, 0x71\n movzx eax, al\n mov [rdi + ${8 * i}], rax`).join('\n')}
    xor eax, eax
    ret`);
  const r = runCode(code, { epochSeconds: BigInt(when.getTime() / 1000) });
  const got = results(r, code).slice(0, regs.length).map(Number);
  const bcd = (v: number) => parseInt(String(v), 16);
  t.deepEqual(got, [
    bcd(56), bcd(45), bcd(13), when.getUTCDay() + 1, bcd(17), bcd(5), bcd(31), bcd(20), 0x02, 0x80,
  ]);
});

test('COM1: bytes written to 0x3f8 reach the console stream and report.serial; the floating bus reads all ones', (t) => {
  const code = withResults(`
    lea rdi, [rip + results]
    lea rsi, [rip + msg]
    mov dx, 0x3f8
2:  lodsb
    test al, al
    jz 3f
    mov r9b, al
    mov dx, 0x3fd
1:  in al, dx
    test al, 0x20         # THR empty
    jz 1b
    mov dx, 0x3f8
    mov al, r9b
    out dx, al
    jmp 2b
3:  mov dx, 0x2f8         # COM2: no device on q35
    in al, dx
    movzx eax, al
    mov [rdi], rax
    mov dx, 0xcfc
    in eax, dx
    mov [rdi + 8], rax
    xor eax, eax
    ret
msg: .asciz "serial hi\\n"`);
  let streamed = '';
  const r = runCode(code, { onConsole: (text, stream) => { if (stream === 'Serial') streamed += text; } });
  t.is(r.outcome.kind, 'returned');
  t.is(r.report.serial, 'serial hi\n');
  t.is(streamed, 'serial hi\n');
  const [com2, pci] = results(r, code);
  t.is(com2, 0xffn);
  t.is(pci, 0xffff_ffffn);
  const ports = Object.fromEntries(r.report.ports.map((p) => [p.port, p]));
  t.is(ports['0x3f8'].writes, 10);
  t.is(ports['0x3fd'].reads, 10);
  t.regex(ports['0x2f8'].device, /floating bus/);
  t.regex(ports['0xcfc'].device, /PCI configuration data/);
});
