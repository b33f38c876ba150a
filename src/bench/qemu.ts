// The reference: the same UKI (or kernel) booted by QEMU TCG with OVMF and swtpm, timed to the kernel's first line.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { BenchCase } from './cases';

/** Debian packages of the reference (qemu-system-x86, ovmf, swtpm, swtpm-tools). */
export const QEMU_PACKAGES = ['qemu-system-x86', 'ovmf', 'swtpm', 'swtpm-tools'] as const;

/** OVMF code/vars pairs in Debian's ovmf package, preferred first (the 4 MiB build is Debian 12's default). */
const OVMF_PAIRS = [
  ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd'],
  ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'],
] as const;

/** What the kernel prints first (init/version.c linux_banner, the first printk of start_kernel). */
export const KERNEL_FIRST_LINE = 'Linux version';

export interface QemuTools {
  readonly qemu: string;
  readonly swtpm: string;
  readonly ovmfCode: string;
  readonly ovmfVars: string;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function findQemuTools(): { tools?: QemuTools; missing: string[] } {
  const qemu = onPath('qemu-system-x86_64');
  const swtpm = onPath('swtpm');
  const ovmf = OVMF_PAIRS.find(([c, v]) => existsSync(c) && existsSync(v));
  const missing = [
    ...(qemu ? [] : ['qemu-system-x86_64 (qemu-system-x86)']),
    ...(swtpm ? [] : ['swtpm (swtpm)']),
    ...(ovmf ? [] : ['/usr/share/OVMF/OVMF_CODE*.fd (ovmf)']),
  ];
  return qemu && swtpm && ovmf ? { tools: { qemu, swtpm, ovmfCode: ovmf[0], ovmfVars: ovmf[1] }, missing } : { missing };
}

/** The tools, installed with apt-get when missing and running as root; otherwise why the reference is skipped. */
export function ensureQemuTools(log: (line: string) => void): QemuTools | string {
  let found = findQemuTools();
  if (found.tools) return found.tools;
  if (process.getuid?.() !== 0) return `missing ${found.missing.join(', ')} and not root to apt-get install ${QEMU_PACKAGES.join(' ')}`;
  if (!onPath('apt-get')) return `missing ${found.missing.join(', ')} and no apt-get`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...QEMU_PACKAGES], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  log(`bench: installing ${QEMU_PACKAGES.join(' ')} with apt-get`);
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    r = install();
  }
  found = findQemuTools();
  return found.tools ?? `apt-get install failed (${r.stderr?.trim().split('\n').pop() ?? `status ${r.status}`}); missing ${found.missing.join(', ')}`;
}

function firstLine(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n')[0].trim() || 'unknown';
}

export function debianPackageVersion(pkg: string): string {
  return firstLine('dpkg-query', ['-W', '-f', '${Version}', pkg]);
}

export function qemuVersions(t: QemuTools): Record<string, string> {
  return {
    qemu: firstLine(t.qemu, ['--version']),
    ovmf: `${debianPackageVersion('ovmf')} (${t.ovmfCode})`,
    swtpm: firstLine(t.swtpm, ['--version']),
  };
}

export interface QemuSample {
  /** QEMU start → the kernel's first line on the serial port; undefined when it never came. */
  readonly toKernelMs?: number;
  /** QEMU start → OVMF's "BdsDxe: starting Boot...": firmware init done (not printed for a -kernel boot). */
  readonly toBootOptionMs?: number;
  /** QEMU start → the Linux EFI stub's first line (6.1.y prints it after decompressing the kernel). */
  readonly toEfiStubMs?: number;
  /** swtpm start → its control socket exists. */
  readonly swtpmReadyMs: number;
  readonly timedOut: boolean;
  /** Why no kernel line came (QEMU exited, timed out), with the serial output's tail. */
  readonly failure?: string;
}

/** Resolves true once `path` exists (a socket a child creates), false after `limitMs`. */
export function waitFor(path: string, limitMs: number): Promise<boolean> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const poll = (): void => {
      if (existsSync(path)) resolve(true);
      else if (Date.now() - t0 > limitMs) resolve(false);
      else setTimeout(poll, 5);
    };
    poll();
  });
}

/** QEMU's arguments: TCG q35, 1 GiB, OVMF pflash, swtpm TPM 2.0 on tpm-tis, serial on stdio, no network. */
export function qemuArgs(c: BenchCase, t: QemuTools, vars: string, socket: string, esp: string): string[] {
  return [
    '-machine', 'q35,accel=tcg', '-m', '1G', '-smp', '1',
    '-nodefaults', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nic', 'none', '-no-reboot',
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${t.ovmfCode}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
    '-chardev', `socket,id=chrtpm,path=${socket}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0',
    // A UKI is found as the removable-media boot file \EFI\BOOT\BOOTX64.EFI (UEFI 2.10 §3.5.1.1); a bare kernel
    // goes through fw_cfg (-kernel/-initrd/-append), which OVMF starts with the initrd on LoadFile2.
    ...(c.initrdPath
      ? ['-kernel', c.imagePath, '-initrd', c.initrdPath, '-append', c.loadOptions ?? '']
      : ['-drive', `file=fat:rw:${esp},format=raw`]),
  ];
}

function running(p: ChildProcess | undefined): p is ChildProcess {
  return p !== undefined && p.exitCode === null && p.signalCode === null;
}

function stop(p: ChildProcess | undefined): void {
  if (running(p)) p.kill('SIGKILL');
}

/** Kills `p` (one process we started, by its handle) and waits for it to be gone. */
export function stopAndWait(p: ChildProcess | undefined): Promise<void> {
  if (!running(p)) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

/** One boot of `c` in QEMU; QEMU is killed as soon as the kernel's first line arrives, or at `timeoutMs`. */
export async function bootInQemu(c: BenchCase, t: QemuTools, timeoutMs: number): Promise<QemuSample> {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-bench-qemu-'));
  let swtpm: ChildProcess | undefined;
  let qemu: ChildProcess | undefined;
  try {
    const vars = join(dir, 'OVMF_VARS.fd');
    copyFileSync(t.ovmfVars, vars);
    const esp = join(dir, 'esp');
    mkdirSync(join(esp, 'EFI', 'BOOT'), { recursive: true });
    if (!c.initrdPath) writeFileSync(join(esp, 'EFI', 'BOOT', 'BOOTX64.EFI'), c.image);
    const tpmState = join(dir, 'tpm');
    mkdirSync(tpmState);
    const socket = join(dir, 'swtpm.sock');
    const s0 = performance.now();
    swtpm = spawn(t.swtpm, ['socket', '--tpm2', '--tpmstate', `dir=${tpmState}`, '--ctrl', `type=unixio,path=${socket}`], { stdio: 'ignore' });
    if (!(await waitFor(socket, 10_000))) return { swtpmReadyMs: performance.now() - s0, timedOut: false, failure: 'swtpm did not create its socket within 10 s' };
    const swtpmReadyMs = performance.now() - s0;

    return await new Promise<QemuSample>((resolve) => {
      const t0 = performance.now();
      const args = qemuArgs(c, t, vars, socket, esp);
      qemu = spawn(t.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let serial = '';
      let stderr = '';
      let toBootOptionMs: number | undefined;
      let toEfiStubMs: number | undefined;
      let done = false;
      const finish = (r: Omit<QemuSample, 'swtpmReadyMs' | 'toBootOptionMs' | 'toEfiStubMs'>): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        stop(qemu);
        resolve({ ...r, toBootOptionMs, toEfiStubMs, swtpmReadyMs });
      };
      const timer = setTimeout(() => finish({
        timedOut: true, failure: `no "${KERNEL_FIRST_LINE}" within ${timeoutMs / 1000} s; serial tail: ${JSON.stringify(serial.slice(-300))}`,
      }), timeoutMs);
      qemu.stdout!.setEncoding('latin1');
      qemu.stdout!.on('data', (chunk: string) => {
        const now = performance.now() - t0;
        serial += chunk;
        if (toBootOptionMs === undefined && serial.includes('BdsDxe: starting')) toBootOptionMs = now;
        if (toEfiStubMs === undefined && serial.includes('EFI stub:')) toEfiStubMs = now;
        if (serial.includes(KERNEL_FIRST_LINE)) finish({ toKernelMs: now, timedOut: false });
      });
      qemu.stderr!.setEncoding('utf8');
      qemu.stderr!.on('data', (chunk: string) => { stderr += chunk; });
      qemu.on('close', (code, signal) => finish({
        timedOut: false,
        failure: `QEMU exited (${signal ?? code}) before "${KERNEL_FIRST_LINE}": ${stderr.trim().slice(-300)} serial tail: ${JSON.stringify(serial.slice(-300))}`,
      }));
    });
  } finally {
    await stopAndWait(qemu);
    await stopAndWait(swtpm);
    rmSync(dir, { recursive: true, force: true });
  }
}
