// The reference side: a case's ESP booted by QEMU (TCG, q35) with OVMF and swtpm, run until /init powers off.
// Both processes are ours, started and stopped here; their state lives in a temporary folder removed afterwards.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { QemuTools, stopAndWait, waitFor } from '../bench/qemu';
import { MARK } from './guest-init';
import { MACHINE, qemuSmbiosArgs } from './machine';

export interface QemuBoot {
  /** Everything the serial port printed (OVMF, the stubs, the kernel, /init). */
  readonly serial: string;
  readonly ms: number;
  /** QEMU start → /init's first line (the kernel is quiet, so its banner is not printed). */
  readonly toInitMs?: number;
  /** Why the boot did not reach /init's end marker: timeout, QEMU exit status, swtpm trouble; with the serial tail. */
  readonly failure?: string;
}

/** QEMU's arguments; the ESP directory is a read-only vvfat disk (no GPT: OVMF measures no EV_EFI_GPT_EVENT). */
export function conformanceQemuArgs(t: QemuTools, vars: string, socket: string, esp: string, secureBoot = false): string[] {
  return [
    // OVMF's Secure Boot build keeps its variables in SMM (SMM_REQUIRE): SMM on, the varstore flash SMM-only.
    '-machine', secureBoot ? 'q35,smm=on' : 'q35', ...(secureBoot ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []), '-accel', 'tcg', '-m', String(MACHINE.memoryMiB), '-smp', '1',
    '-nodefaults', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nic', 'none', '-no-reboot',
    ...qemuSmbiosArgs(),
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${t.ovmfCode}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
    '-chardev', `socket,id=chrtpm,path=${socket}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0',
    '-drive', `file=fat:${esp},format=raw,if=virtio,readonly=on`,
  ];
}

const tail = (s: string, n = 600): string => JSON.stringify(s.slice(-n));

/** Boots `espDir` and returns the serial output; never waits longer than `timeoutMs`. */
export async function bootInQemu(espDir: string, t: QemuTools, timeoutMs: number, secureBoot = false): Promise<QemuBoot> {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-conformance-'));
  let swtpm: ChildProcess | undefined;
  let qemu: ChildProcess | undefined;
  const t0 = performance.now();
  try {
    const vars = join(dir, 'OVMF_VARS.fd');
    copyFileSync(t.ovmfVars, vars);
    const tpmState = join(dir, 'tpm');
    mkdirSync(tpmState);
    const socket = join(dir, 'swtpm.sock');
    // swtpm's state allocates sha1, sha256, sha384 and sha512 unless manufactured with the machine's banks.
    const setup = spawnSync(join(dirname(t.swtpm), 'swtpm_setup'), ['--tpm2', '--tpmstate', tpmState, '--pcr-banks', MACHINE.pcrBanks.join(','), '--overwrite'], { encoding: 'utf8', timeout: 30_000 });
    if (setup.status !== 0) return { serial: '', ms: performance.now() - t0, failure: `swtpm_setup --pcr-banks ${MACHINE.pcrBanks.join(',')} failed: ${(setup.stderr || setup.stdout || String(setup.error)).trim().slice(-300)}` };
    swtpm = spawn(t.swtpm, ['socket', '--tpm2', '--tpmstate', `dir=${tpmState}`, '--ctrl', `type=unixio,path=${socket}`], { stdio: 'ignore' });
    let swtpmError = '';
    swtpm.on('error', (e) => { swtpmError = `: ${e.message}`; });
    if (!(await waitFor(socket, 10_000))) return { serial: '', ms: performance.now() - t0, failure: `swtpm did not create its socket within 10 s${swtpmError}` };
    return await new Promise<QemuBoot>((resolve) => {
      let serial = '';
      let stderr = '';
      let toInitMs: number | undefined;
      let done = false;
      const finish = (failure?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ serial, ms: performance.now() - t0, toInitMs, ...(failure ? { failure } : {}) });
      };
      const timer = setTimeout(() => finish(`timed out after ${timeoutMs / 1000} s; serial tail: ${tail(serial)}`), timeoutMs);
      qemu = spawn(t.qemu, conformanceQemuArgs(t, vars, socket, espDir, secureBoot), { stdio: ['ignore', 'pipe', 'pipe'] });
      qemu.on('error', (e) => finish(`cannot start QEMU: ${e.message}`));
      qemu.stdout!.setEncoding('latin1');
      qemu.stdout!.on('data', (chunk: string) => {
        serial += chunk;
        if (toInitMs === undefined && serial.includes(`${MARK} begin`)) toInitMs = performance.now() - t0;
      });
      qemu.stderr!.setEncoding('utf8');
      qemu.stderr!.on('data', (chunk: string) => { stderr += chunk; });
      qemu.on('close', (code, signal) => {
        if (serial.includes(`${MARK} end`)) finish();
        else finish(`QEMU exited (${signal ?? `status ${code}`}) before /init's end marker${stderr.trim() ? `: ${stderr.trim().slice(-300)}` : ''}; serial tail: ${tail(serial)}`);
      });
    });
  } finally {
    await stopAndWait(qemu);
    await stopAndWait(swtpm);
    rmSync(dir, { recursive: true, force: true });
  }
}
