// memtest86+ (Debian's 7.x EFI binary) started without LoadOptions: it reads LoadOptions through the NULL pointer
// the firmware gives (LoadOptionsSize 0). On OVMF page 0 is mapped and memtest runs its tests (checked here in
// QEMU + OVMF: its test screen appears); stubemu, with page 0 as OVMF has it, gets past the read to
// ExitBootServices and lists the reads; with --strict-null the read is the #PF it was before.
import test from 'ava';
import { ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { findQemuTools } from '../src/bench/qemu';
import { fixture, fixturePath } from './helpers/fixtures';

const NAME = 'memtest86+x64.efi';

test('memtest86+ without LoadOptions: page 0 reads as on OVMF, it reaches ExitBootServices; --strict-null faults', (t) => {
  const image = fixture('memtest86plus', NAME);
  // OVMF always has a GOP (QEMU's VGA); memtest86+ stops in efi_setup() without one.
  const r = runImage({ image, imageName: NAME, gop: { width: 800, height: 600 } });
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  const z = r.report.pageZero;
  t.is(z.mode, 'zeros');
  t.true(z.total >= 1);
  // Every access is a read at the NULL LoadOptions pointer (the firmware gave LoadOptions = 0, size 0).
  for (const a of z.accesses) {
    t.is(a.access, 'read');
    t.is(a.address, '0x0');
    t.true(a.by.startsWith(`${NAME}+0x`), a.by);
  }
  const strict = runImage({ image, imageName: NAME, gop: { width: 800, height: 600 }, strictNull: true });
  t.is(strict.outcome.kind, 'fault');
  t.is(strict.report.fault?.address, '0x0');
  t.is(strict.report.fault?.access, 'read');
  t.is(strict.report.fault?.rip, z.accesses[0].by);
});

/** HMP `screendump` through QEMU's monitor socket; resolves when the PPM file is complete. */
function screendump(socket: string, file: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    rmSync(file, { force: true });
    const s = connect(socket);
    const done = (b: Buffer | undefined) => { s.destroy(); resolve(b); };
    s.on('error', () => done(undefined));
    s.on('connect', () => s.write(`screendump ${file}\n`));
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (existsSync(file) && statSync(file).size > 640 * 480 * 3) {
        clearInterval(poll);
        setTimeout(() => done(readFileSync(file)), 200);
      } else if (Date.now() - t0 > 10_000) {
        clearInterval(poll);
        done(undefined);
      }
    }, 200);
  });
}

/**
 * Memtest86+'s test screen in a PPM: its blue (0x0000aa) background over most of the screen, the grey title bar
 * ("Memtest86+ v7.x") at the top left and the grey key bar at the bottom (80x25 text over OVMF's 640x480 mode).
 */
function looksLikeMemtest(ppm: Buffer): boolean {
  const header = ppm.subarray(0, 20).toString('latin1').split(/\s+/);
  const [w, h] = [Number(header[1]), Number(header[2])];
  const px = ppm.subarray(ppm.length - w * h * 3);
  let blue = 0;
  for (let i = 0; i < px.length; i += 3) if (px[i] === 0 && px[i + 1] === 0 && px[i + 2] === 0xaa) blue++;
  const at = (x: number, y: number) => px.subarray((y * w + x) * 3, (y * w + x) * 3 + 3).toString('hex');
  return blue > (w * h) / 2 && at(2, Math.round(h * 45 / 480)) === 'aaaaaa' && at(2, Math.round(h * 430 / 480)) === 'aaaaaa';
}

test('memtest86+ without LoadOptions on QEMU + OVMF: it runs (its test screen appears)', async (t) => {
  const { tools, missing } = findQemuTools();
  if (!tools) return t.fail(`QEMU + OVMF are missing: install ${missing.join(', ')} (scripts/setup.sh does)`);
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-memtest-'));
  let qemu: ChildProcess | undefined;
  try {
    mkdirSync(join(dir, 'esp', 'EFI', 'BOOT'), { recursive: true });
    copyFileSync(fixturePath('memtest86plus', NAME), join(dir, 'esp', 'EFI', 'BOOT', 'BOOTX64.EFI'));
    copyFileSync(tools.ovmfVars, join(dir, 'vars.fd'));
    const socket = join(dir, 'monitor.sock');
    qemu = spawn(tools.qemu, [
      '-machine', 'q35', '-accel', 'tcg', '-m', '1024', '-nodefaults', '-vga', 'std', '-display', 'none',
      '-monitor', `unix:${socket},server,nowait`, '-serial', 'none', '-no-reboot',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${tools.ovmfCode}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`,
      '-drive', `file=fat:${join(dir, 'esp')},format=raw,if=virtio,readonly=on`,
    ], { stdio: 'ignore' });
    // The Boot#### OVMF makes for the disk has no optional data: memtest's LoadOptions are NULL, size 0.
    const deadline = Date.now() + 240_000;
    let seen = false;
    while (!seen && Date.now() < deadline && qemu.exitCode === null) {
      await new Promise((res) => setTimeout(res, 5000));
      const ppm = existsSync(socket) ? await screendump(socket, join(dir, 'screen.ppm')) : undefined;
      seen = ppm !== undefined && looksLikeMemtest(ppm);
    }
    t.true(seen, 'memtest86+ test screen not seen within 240 s');
  } finally {
    qemu?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
