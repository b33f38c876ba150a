// The UEFI Shell chain (issue 14): Debian's efi-shell-x64 (edk2 ShellPkg) as \EFI\BOOT\BOOTX64.EFI on a host ESP
// starts, maps the ESP and runs \startup.nsh, as it does on OVMF. The HII string packages give its banner and
// messages; the script's echo/type output and its end (reset, exit N) are checked, and against QEMU + OVMF.
import test from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUID } from '../core/guid';
import { statusName } from '../core/status';
import { ESP_PARTITION_GUID } from '../efi-services/firmware';
import { runImage, RunResult } from '../src/api';
import { findQemuTools } from '../src/bench/qemu';
import { fixture } from './helpers/fixtures';

const MARKER = 'stubemu-shell-marker-4711';
const FILE_TEXT = 'hello from the ESP\r\n';

/** An ESP holding the Shell as the removable-media boot path, a text file, and `script` as \startup.nsh. */
function esp(script: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-shell-'));
  mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
  writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), fixture('efi-shell', 'shellx64.efi'));
  writeFileSync(join(dir, 'hello.txt'), FILE_TEXT);
  writeFileSync(join(dir, 'startup.nsh'), script.map((l) => `${l}\r\n`).join(''));
  return dir;
}

function runShell(dir: string): RunResult {
  return runImage({ image: fixture('efi-shell', 'shellx64.efi'), imageName: 'BOOTX64.EFI', espDir: dir, memoryBytes: 256 << 20 });
}

/** Console lines from the script's first command to `last`, as the Shell echoes and prints them. */
function scriptLines(console: string, last: string): string[] {
  const lines = console.replace(/\x1b\[[0-9;=]*[A-Za-z]/g, '').split(/\r?\n/).map((l) => l.replace(/\r/g, ''));
  const from = lines.findIndex((l) => l === `Shell> echo ${MARKER}`);
  const to = lines.findIndex((l, i) => i > from && l === last);
  return from < 0 || to < 0 ? [] : lines.slice(from, to + 1);
}

test('the Shell starts, maps the ESP as FS0 and runs startup.nsh: echo, type, then reset', (t) => {
  const dir = esp([`echo ${MARKER}`, 'type fs0:\\hello.txt', 'reset']);
  try {
    const r = runShell(dir);
    t.deepEqual(r.outcome, { kind: 'reset', resetType: 'EfiResetCold', status: 'EFI_SUCCESS' });
    t.true(r.report.console.startsWith('UEFI Interactive Shell v2.2\r\n'), r.report.console.slice(0, 200));
    // The mapping, as OVMF shows one disk with one partition: FS0 (also BLK1) on the ESP partition, BLK0 the
    // disk; device paths in the UEFI 2.10 §10.6.1.6 text forms.
    t.true(r.report.console.includes('Mapping table\r\n'
      + `      FS0: Alias(s):HD0b:;BLK1:\r\n          PciRoot(0x0)/Pci(0x1,0x1)/HD(1,GPT,${ESP_PARTITION_GUID.toUpperCase()},0x800,0x100000)\r\n`
      + '     BLK0: Alias(s):\r\n          PciRoot(0x0)/Pci(0x1,0x1)\r\n'), r.report.console.slice(0, 600));
    t.deepEqual(scriptLines(r.report.console, 'Shell> reset'), [
      `Shell> echo ${MARKER}`, MARKER, 'Shell> type fs0:\\hello.txt', 'hello from the ESP', '', 'Shell> reset',
    ]);
    // HII database and string are found now; nothing the Shell asked for is missing that it cannot do without.
    const missing = r.report.missingProtocols.map((m) => m.guid);
    t.false(missing.includes(GUID.HII_DATABASE));
    t.false(missing.includes(GUID.HII_STRING));
    t.false(missing.includes(GUID.UNICODE_COLLATION2));
    t.false(missing.includes(GUID.DEVICE_PATH_UTILITIES));
    t.deepEqual(r.report.unimplemented, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ls lists the ESP root; "exit 3" ends the Shell with status 3 returned to the firmware', (t) => {
  const dir = esp([`echo ${MARKER}`, 'ls fs0:\\', 'exit 3']);
  try {
    const r = runShell(dir);
    t.deepEqual(r.outcome, { kind: 'returned', status: statusName(3n), success: true });
    const lines = scriptLines(r.report.console, 'Shell> exit 3');
    t.true(lines.includes('Directory of: fs0:\\'), lines.join('\n'));
    t.true(lines.some((l) => /^\S+\s+\S+\s+<DIR>\s+\S+\s+EFI$/.test(l)), lines.join('\n'));
    t.true(lines.some((l) => new RegExp(`\\s${FILE_TEXT.length}\\s+hello\\.txt$`).test(l)), lines.join('\n'));
    const script = `echo ${MARKER}\r\nls fs0:\\\r\nexit 3\r\n`;
    const total = lines.map((l) => /^\s+2 File\(s\)\s+([\d,]+) bytes$/.exec(l)?.[1]).find((x) => x !== undefined);
    t.is(total, String(FILE_TEXT.length + script.length));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without startup.nsh the prompt reads ConIn: a key skips the countdown, then typed commands run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-shell-'));
  try {
    mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
    writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), fixture('efi-shell', 'shellx64.efi'));
    const r = runImage({
      image: fixture('efi-shell', 'shellx64.efi'), imageName: 'BOOTX64.EFI', espDir: dir, memoryBytes: 256 << 20,
      keys: [...` echo ${MARKER}\nreset\n`].map((c) => ({ scanCode: 0, unicodeChar: c === '\n' ? 0x0d : c.charCodeAt(0) })),
    });
    t.deepEqual(r.outcome, { kind: 'reset', resetType: 'EfiResetCold', status: 'EFI_SUCCESS' });
    t.deepEqual(scriptLines(r.report.console, 'Shell> reset'), [`Shell> echo ${MARKER}`, MARKER, 'Shell> reset']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** QEMU (TCG, q35) + OVMF booting the same ESP directory as a read-only vvfat disk; the serial output. */
function ovmfSerial(dir: string, timeoutMs: number): Promise<string> {
  const found = findQemuTools();
  if (!found.tools) throw new Error(`QEMU + OVMF missing: ${found.missing.join(', ')} (scripts/setup.sh installs them)`);
  const t = found.tools;
  const vars = join(dir, '..', `${join(dir).split('/').pop()}-vars.fd`);
  copyFileSync(t.ovmfVars, vars);
  return new Promise((resolve, reject) => {
    let serial = '';
    const qemu = spawn(t.qemu, [
      '-machine', 'q35', '-accel', 'tcg', '-m', '1024', '-smp', '1', '-nodefaults', '-display', 'none', '-monitor', 'none',
      '-serial', 'stdio', '-nic', 'none', '-no-reboot',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${t.ovmfCode}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
      '-drive', `file=fat:${dir},format=raw,if=virtio,readonly=on`,
    ], { stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => qemu.kill('SIGKILL'), timeoutMs);
    qemu.stdout.setEncoding('latin1');
    qemu.stdout.on('data', (c: string) => { serial += c; });
    qemu.on('error', reject);
    qemu.on('close', () => {
      clearTimeout(timer);
      rmSync(vars, { force: true });
      resolve(serial);
    });
  });
}

test('OVMF runs the same startup.nsh on the same ESP: the lines of the script run are identical', async (t) => {
  const dir = esp([`echo ${MARKER}`, 'type fs0:\\hello.txt', 'reset']);
  try {
    const serial = await ovmfSerial(dir, 240_000);
    const ovmf = scriptLines(serial, 'Shell> reset');
    t.true(ovmf.length > 0, `OVMF's serial output has no script run: ${JSON.stringify(serial.slice(-400))}`);
    t.deepEqual(scriptLines(runShell(dir).report.console, 'Shell> reset'), ovmf);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
