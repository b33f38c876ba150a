// Guest code for machine-level tests written as assembly (Intel syntax) and assembled by GNU as (binutils), so a
// test reads as the instructions it runs. The bytes are position-independent code for codeImage()'s .text.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from './tools';

export function assemble(source: string): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-as-'));
  try {
    writeFileSync(join(dir, 'code.s'), `.intel_syntax noprefix\n.code64\n.text\n${source}\n`);
    execFileSync(tool('as'), ['--64', '-o', join(dir, 'code.o'), join(dir, 'code.s')], { stdio: ['ignore', 'pipe', 'pipe'] });
    execFileSync(tool('objcopy'), ['-O', 'binary', '-j', '.text', join(dir, 'code.o'), join(dir, 'code.bin')]);
    return [...readFileSync(join(dir, 'code.bin'))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
