// The Unicorn 2.1.1 engine: which library and version, code that changes (guest and host writes), runs bounded by
// time without an instruction count, profiled runs equal to plain ones, guest RAM mappings never split.
import test from 'ava';
import { UnicornCpu } from '../emulator/cpu/unicorn-cpu';
import { decodeVersion, versionWarning } from '../emulator/cpu/unicorn-library';
import { RamLayout } from '../emulator/cpu/ram-layout';
import { reportJson } from '../src/report';
import { flat, le32, runCode } from './helpers/guest-code';
import { fixtureEntry } from './helpers/fixtures';

test('the engine loaded is the Unicorn of the fixture manifest (Debian 13), named in the report options', (t) => {
  const upstream = fixtureEntry('unicorn-2.1.1').version!.split('-')[0]; // 2.1.1-2+b2 → 2.1.1
  const r = runCode([0x31, 0xc0, 0xc3]);
  const options = r.report.options;
  t.is(options.engine, `Unicorn ${upstream}`);
  t.is(options.maxInstructions, null); // no count unless asked for
});

test('uc_version words decode, and slow or broken versions carry a warning naming the package to use', (t) => {
  t.deepEqual(decodeVersion(0x020101ff), { major: 2, minor: 1, patch: 1 });
  t.is(versionWarning({ major: 2, minor: 1, patch: 1 }), undefined);
  t.regex(versionWarning({ major: 2, minor: 0, patch: 1 }) ?? '', /2\.0\.1 is slow.*libunicorn2t64 2\.1\.1/);
  t.regex(versionWarning({ major: 2, minor: 1, patch: 4 }) ?? '', /2\.1\.4 is slow.*libunicorn2t64/);
  t.regex(versionWarning({ major: 1, minor: 0, patch: 3 }) ?? '', /not supported/);
});

test('guest RAM layout: protections cut mappings and are never merged back, so opening a range keeps them whole', (t) => {
  const l = new RamLayout();
  l.add(0x1000n, Buffer.alloc(0x9f000));
  l.add(0x100000n, Buffer.alloc(0x300000));
  l.protect(0x200000n, 0x1000, 'none');
  l.protect(0x200000n, 0x1000, 'rwx');
  const segs = l.segments().map((s) => [s.start, s.end, s.access, s.host.length]);
  t.deepEqual(segs, [
    [0x1000n, 0xa0000n, 'rwx', 0x9f000],
    [0x100000n, 0x200000n, 'rwx', 0x100000],
    [0x200000n, 0x201000n, 'rwx', 0x1000],
    [0x201000n, 0x400000n, 'rwx', 0x1ff000],
  ]);
  t.throws(() => l.protect(0x200800n, 0x1000, 'none'), { message: /not page-aligned/ });
});

test('self-modifying code: the guest writes code, runs it, rewrites the same bytes and runs the new code', (t) => {
  const code = [
    0x48, 0x8d, 0x3d, ...le32(0), // lea rdi, [rip + buf]    (patched below)
    0xc7, 0x07, 0xb8, 0x01, 0x00, 0x00, // mov dword [rdi], 0x000001b8  → b8 01 00 00
    0x66, 0xc7, 0x47, 0x04, 0x00, 0xc3, // mov word [rdi+4], 0xc300     → 00 c3: mov eax, 1; ret
    0xff, 0xd7, // call rdi
    0x89, 0xc3, // mov ebx, eax
    0xc6, 0x47, 0x01, 0x02, // mov byte [rdi+1], 2: now mov eax, 2; ret
    0xff, 0xd7, // call rdi
    0x8d, 0x04, 0xd8, // lea eax, [rax + rbx*8]   (2 + 1*8 = 10; a stale translation gives 1 + 8 = 9)
    0xc3,
  ];
  const buf = code.length + 16; // same page as the code that writes it
  code.splice(3, 4, ...le32(buf - 7));
  const r = runCode([...code, ...Array(64).fill(0x90)]);
  t.is(r.outcome.kind, 'returned');
  t.is(flat(r.outcome).status, '0xa');
});

test('code the host rewrites over code that already ran (an image loaded over an unloaded one) runs anew', (t) => {
  const cpu = new UnicornCpu();
  try {
    const ram = cpu.allocateRam(0x200000);
    cpu.mapRam(0x100000n, ram.subarray(0x100000));
    const at = 0x180000;
    const stop = 0x190000;
    cpu.addStopRange(BigInt(stop), BigInt(stop + 16));
    ram.fill(0xcc, stop, stop + 16);
    const runAt = (bytes: number[]): bigint => {
      ram.set(bytes, at);
      cpu.invalidateCode(BigInt(at), bytes.length);
      cpu.writeReg('rip', BigInt(at));
      const s = cpu.run(0);
      t.is(s.kind, 'trap');
      return cpu.readReg('rax');
    };
    const jmpStop = (from: number) => [0xe9, ...le32(stop - (from + 5))];
    t.is(runAt([0xb8, ...le32(7), ...jmpStop(at + 5)]), 7n); // mov eax, 7; jmp stop
    t.is(runAt([0xb8, ...le32(9), ...jmpStop(at + 5)]), 9n); // same bytes but the immediate: must not run stale code
    t.is(runAt([0x90, 0xb8, ...le32(11), ...jmpStop(at + 6)]), 11n); // shifted instruction boundaries
  } finally {
    cpu.close();
  }
});

test('without an instruction budget the time budget ends an endless loop (exit code 4, where it spun)', (t) => {
  const r = runCode([0x90, 0xeb, 0xfe], { timeoutSeconds: 1 }); // nop; jmp $
  t.is(r.outcome.kind, 'budget');
  t.is(flat(r.outcome).which, 'time');
  t.is(r.exitCode, 4);
});

test('a profiled run of data-dependent code with stores and calls gives the report of the plain run', (t) => {
  // rax accumulates a rotate-xor of its own stored value 20M times, through memory and a call each iteration.
  const loop = [
    0x48, 0x01, 0xc8, // add rax, rcx
    0x48, 0x89, 0x06, // mov [rsi], rax
    0x48, 0x8b, 0x16, // mov rdx, [rsi]
    0x48, 0xc1, 0xc2, 0x07, // rol rdx, 7
    0x48, 0x31, 0xd0, // xor rax, rdx
    0xe8, ...le32(5), // call f (after dec/jnz/ret)
    0xff, 0xc9, // dec ecx
  ];
  const head = [0x48, 0x31, 0xc0, 0xb9, ...le32(20_000_000), 0x48, 0x8d, 0x35, ...le32(0x1000)]; // xor rax,rax; mov ecx,N; lea rsi,[rip+0x1000]
  const back = -(loop.length + 2);
  const code = [...head, ...loop, 0x75, back & 0xff, 0xc3, 0x48, 0xff, 0xc0, 0xc3]; // jnz loop; ret; f: inc rax; ret
  const image = [...code, ...Array(0x1100).fill(0)];
  const plain = runCode(image, { timeoutSeconds: 100 });
  const profiled = runCode(image, { timeoutSeconds: 100, profileMs: 1 });
  t.is(plain.outcome.kind, 'returned');
  const rest = { ...profiled.report };
  delete rest.profile;
  t.is(reportJson(rest), reportJson(plain.report));
});

test('a fault on a protected page (the stack guard) names the exact instruction without a count', (t) => {
  // sub rsp, 8; nop; call back to the sub: recursion until a push lands on the guard page.
  const r = runCode([0x48, 0x83, 0xec, 0x08, 0x90, 0xe8, 0xf6, 0xff, 0xff, 0xff]);
  const f = r.report.fault!;
  t.is(f.vector, 14);
  t.is(f.access, 'write');
  t.is(f.rip, 'code.efi+0x1005'); // the call, not the start of its block (+0x1000)
  t.is(BigInt(f.registers.rip), 0x401005n);
});
