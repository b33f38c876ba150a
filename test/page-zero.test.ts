// Page 0 as OVMF leaves it (zeros, readable and writable) with every access listed, and --strict-null's #PF with
// CR2 and the fault address agreeing.
import test from 'ava';
import { assemble } from './helpers/assemble';
import { flat, runCode } from './helpers/guest-code';

const TEXT = 0x1000;

test('page 0 reads as zeros, writes stick, and each access is listed with image+offset', (t) => {
  const code = assemble(`
    mov rax, [0x28]           # LoadOptions-style read through a NULL structure pointer
    mov ecx, 0x1234
    mov [0x40], ecx
    mov edx, [0x40]
    add rax, rdx
    ret`);
  const r = runCode(code);
  t.is(r.outcome.kind, 'returned');
  t.is(flat(r.outcome).status, '0x1234'); // 0 from 0x28, plus what was stored at 0x40
  t.is(r.report.pageZero.mode, 'zeros');
  t.is(r.report.pageZero.total, 3);
  const first = assemble('mov rax, [0x28]').length;
  const second = first + assemble('mov ecx, 0x1234').length;
  const third = second + assemble('mov [0x40], ecx').length;
  t.deepEqual(r.report.pageZero.accesses, [
    { access: 'read', address: '0x28', by: `code.efi+0x${TEXT.toString(16)}` },
    { access: 'write', address: '0x40', by: `code.efi+0x${(TEXT + second).toString(16)}` },
    { access: 'read', address: '0x40', by: `code.efi+0x${(TEXT + third).toString(16)}` },
  ]);
});

test('a jump to 0 still faults (instruction fetch), page 0 mapped or not', (t) => {
  const r = runCode(assemble('xor eax, eax\njmp rax'));
  t.is(r.outcome.kind, 'fault');
  t.is(r.report.fault?.access, 'fetch');
});

test('--strict-null: a read of 0x28 is a #PF whose CR2 is 0x28', (t) => {
  const r = runCode(assemble('mov rax, [0x28]\nret'), { strictNull: true });
  t.is(r.outcome.kind, 'fault');
  const f = r.report.fault as Record<string, any>;
  t.is(f.vector, 14);
  t.is(f.address, '0x28');
  t.is(BigInt(f.registers.cr2), 0x28n); // was 0 before: Unicorn's unmapped-memory path does not set CR2
  t.is(r.report.pageZero.mode, 'strict');
  t.is(r.report.options.strictNull, true);
});
