// End to end: the gnu-efi samples (samples/*.c, built by scripts/setup.sh) run through the CLI and the API.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatInitrds, runImage } from '../src/api';
import { crc32 } from '../efi-services/crc32';
import { guidToBytes } from '../core/guid';
import { runCode, flat } from './helpers/guest-code';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const sample = (name: string) => join(ROOT, 'samples', 'build', `${name}.efi`);

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The guest's own summary line: "<sample>: N passed, M failed". */
function guestTally(console: string, name: string): { passed: number; failed: number } {
  const m = new RegExp(`^${name}: (\\d+) passed, (\\d+) failed`, 'm').exec(console);
  if (!m) throw new Error(`no tally line for ${name} in:\n${console}`);
  return { passed: Number(m[1]), failed: Number(m[2]) };
}

test.before(() => {
  for (const s of ['hello', 'memory', 'images', 'child', 'driver', 'connect']) {
    if (!existsSync(sample(s))) throw new Error(`${sample(s)} is missing: run scripts/setup.sh (npm test does)`);
  }
});

test('hello: prints, returns EFI_SUCCESS, and the table CRCs it prints match the tables in memory', (t) => {
  const file = readFileSync(sample('hello'));
  const r = runImage({ image: file, imageName: 'hello.efi' });
  const out = r.report.console as string;
  t.true(out.startsWith('Hello from stubemu sample\r\n'));
  t.regex(out, /^FirmwareVendor stubemu\r?$/m);
  t.deepEqual(guestTally(out, 'hello').failed, 0);
  t.deepEqual(r.outcome, { kind: 'returned', status: 'EFI_SUCCESS', success: true });
  t.is((r.report.image as { sha256: string }).sha256, createHash('sha256').update(file).digest('hex'));
  // The CRC the guest printed for the system table equals one computed here over the bytes in guest memory.
  const m = /^ST revision 0x[0-9A-F]+ header-size 0x([0-9A-F]+) crc32 0x([0-9A-F]+)/m.exec(out)!;
  const st = r.firmware.mem.read(r.firmware.systemTable, parseInt(m[1], 16));
  const printed = parseInt(m[2], 16);
  st.writeUInt32LE(0, 16);
  t.is(crc32(st), printed);
  t.true(((r.report.calls as { counts: Record<string, number> }).counts['ConOut.OutputString'] ?? 0) > 0);
});

test('hello through the CLI: live console on stdout, one summary line on stderr, exit 0, the JSON report', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-'));
  const json = join(dir, 'r.json');
  const r = cli(['run', sample('hello'), '--json', json]);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.startsWith('Hello from stubemu sample\n'));
  t.regex(r.stderr, /^stubemu: hello\.efi: returned EFI_SUCCESS; \d+ service calls in [\d.]+ s\n$/);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  t.is(report.stubemu.reportVersion, 1);
  t.is(report.outcome.kind, 'returned');
  t.is(report.console.replace(/\r\n/g, '\n'), r.stdout);
});

test('memory: pages, pool, memory map, a stale then a fresh MapKey ends the run at ExitBootServices', (t) => {
  const r = runImage({ image: readFileSync(sample('memory')), imageName: 'memory.efi' });
  const out = r.report.console as string;
  t.is(guestTally(out, 'memory').failed, 0);
  t.true(guestTally(out, 'memory').passed > 10);
  t.regex(out, /^mapkey-stale status 0x8000000000000002\r?$/m);
  t.is(r.outcome.kind, 'exit-boot-services');
  t.regex(String(flat(r.outcome).returnAddress), /^memory\.efi\+0x[0-9a-f]+$/);
  t.is(r.firmware.ebs.failedAttempts, 1);
  t.true(r.firmware.ebs.exited);
  t.is(r.exitCode, 0);
  // The descriptor size the guest saw is the one GetMemoryMap documents.
  t.regex(out, /descriptor-size 0x30|DescriptorSize 0x30|desc-size 0x30/i);
});

test('images: LoadImage from a buffer, StartImage, the child Exit()s with exit data the parent prints', (t) => {
  const r = runImage({ image: readFileSync(sample('images')), imageName: 'images.efi' });
  const out = r.report.console as string;
  t.is(guestTally(out, 'images').failed, 0);
  t.regex(out, /exit-data "child exit data"/);
  t.is(flat(r.outcome).status, 'EFI_SUCCESS');
  const images = r.report.images as { name: string; source: string; started: boolean; unloaded: boolean; exitStatus?: string; fileSha256: string }[];
  const children = images.filter((i) => i.source === 'buffer');
  t.true(children.length >= 1);
  const child = children[0];
  t.true(child.started);
  t.true(child.unloaded);
  t.is(child.fileSha256, createHash('sha256').update(readFileSync(sample('child'))).digest('hex'));
  t.not(child.exitStatus, undefined);
});

test('memattr: code written, made executable through EFI_MEMORY_ATTRIBUTE_PROTOCOL, rewritten in place, runs anew', (t) => {
  // systemd-stub 258+ places the kernel itself this way; the second call must run the rewritten bytes.
  const r = runImage({ image: readFileSync(sample('memattr')), imageName: 'memattr.efi', trace: true });
  const out = r.report.console;
  t.is(guestTally(out, 'memattr').failed, 0);
  t.regex(out, /^first call 0x1111\r?$/m);
  t.regex(out, /^second call 0x2222\r?$/m);
  t.regex(out, /^attributes 0x20000\r?$/m); // EFI_MEMORY_RO, XP cleared
  const calls = (r.report.calls.trace ?? []).map((c) => c.service).filter((n) => n.startsWith('MemoryAttribute.'));
  t.deepEqual(calls, [
    'MemoryAttribute.ClearMemoryAttributes', 'MemoryAttribute.SetMemoryAttributes', 'MemoryAttribute.GetMemoryAttributes',
    'MemoryAttribute.ClearMemoryAttributes', 'MemoryAttribute.SetMemoryAttributes',
    'MemoryAttribute.ClearMemoryAttributes', 'MemoryAttribute.SetMemoryAttributes',
  ]);
  t.is(flat(r.outcome).status, 'EFI_SUCCESS');
});

test('connect: a loaded driver is started by ConnectController and stopped by DisconnectController in edk2 order', (t) => {
  const r = runImage({ image: readFileSync(sample('connect')), imageName: 'connect.efi', trace: true });
  const out = r.report.console as string;
  t.is(guestTally(out, 'connect').failed, 0, out);
  t.is(flat(r.outcome).status, 'EFI_SUCCESS');
  // The controller the guest chose is the ESP's whole-disk handle (efi-services/disk/esp-disk.ts).
  const disk = BigInt(`0x${/^connect disk 0x([0-9A-F]+)\r?$/m.exec(out)![1]}`);
  t.is(disk, r.firmware.espDisk!.diskHandle);
  const driver = r.report.images.find((i) => i.subsystem === 11)!;
  t.true(driver.started);
  t.false(driver.unloaded); // a boot service driver stays resident after its entry point returns

  // Each ConnectController/DisconnectController with its status and the driver-binding calls it made, in order.
  // Bindings are told apart by Version (driver.h: the accepting one 0x10, the declining one 0x20); handles as
  // "disk", "child" (the only other controller offered) and "other".
  const calls = (r.report.calls.trace ?? []).filter((c) => /^BootServices\.((Dis)?[cC]onnectController|ReinstallProtocolInterface)$/.test(c.service));
  const handleName = (h: string) => (BigInt(h) === disk ? 'disk' : 'child');
  const summary = calls.map((c) => [c.service.replace('BootServices.', ''), c.status, ...(c.notes ?? []).map((n) => {
    const m = /Version 0x(\w+)\)\.(\w+)\(ControllerHandle (0x\w+), (?:NumberOfChildren (\d+)|RemainingDevicePath 0x0)\) = (\w+)$/.exec(n);
    if (!m) return `unparsed: ${n}`;
    return `${m[1]}.${m[2]}(${handleName(m[3])}${m[4] !== undefined ? `, ${m[4]}` : ''}) ${m[5]}`;
  })]);
  t.deepEqual(summary, [
    // No EFI_DRIVER_BINDING_PROTOCOL anywhere yet.
    ['ConnectController', 'EFI_NOT_FOUND'],
    // Highest Version first; the one started leaves the list and the remaining ones are asked again.
    ['ConnectController', 'EFI_SUCCESS', '20.Supported(disk) EFI_UNSUPPORTED', '10.Supported(disk) EFI_SUCCESS',
      '10.Start(disk) EFI_SUCCESS', '20.Supported(disk) EFI_UNSUPPORTED'],
    // The driver's own BY_DRIVER open is EFI_ALREADY_STARTED: no driver started.
    ['ConnectController', 'EFI_NOT_FOUND', '20.Supported(disk) EFI_UNSUPPORTED', '10.Supported(disk) EFI_ALREADY_STARTED'],
    // Children first, then the controller.
    ['DisconnectController', 'EFI_SUCCESS', '10.Stop(disk, 1) EFI_SUCCESS', '10.Stop(disk, 0) EFI_SUCCESS'],
    ['DisconnectController', 'EFI_SUCCESS'],
    // The DriverImageHandle list goes first; Recursive offers the child (opened BY_CHILD_CONTROLLER) to every driver.
    ['ConnectController', 'EFI_SUCCESS', '10.Supported(disk) EFI_SUCCESS', '10.Start(disk) EFI_SUCCESS',
      '20.Supported(disk) EFI_UNSUPPORTED', '20.Supported(child) EFI_UNSUPPORTED', '10.Supported(child) EFI_UNSUPPORTED'],
    // ReinstallProtocolInterface stops the driver using the interface, then connects the handle recursively.
    ['ReinstallProtocolInterface', 'EFI_SUCCESS', '10.Stop(disk, 1) EFI_SUCCESS', '10.Stop(disk, 0) EFI_SUCCESS',
      '20.Supported(disk) EFI_UNSUPPORTED', '10.Supported(disk) EFI_SUCCESS', '10.Start(disk) EFI_SUCCESS',
      '20.Supported(disk) EFI_UNSUPPORTED', '20.Supported(child) EFI_UNSUPPORTED', '10.Supported(child) EFI_UNSUPPORTED'],
    ['DisconnectController', 'EFI_INVALID_PARAMETER'],
    ['DisconnectController', 'EFI_SUCCESS', '10.Stop(disk, 1) EFI_SUCCESS', '10.Stop(disk, 0) EFI_SUCCESS'],
  ]);
  // What the driver installed is gone from the handle database.
  t.false(r.firmware.db.handles().some((h) => h.protocols.some((p) => p.guid.startsWith('7d2c61a4-30b5-4e8f'))));
});

for (const name of ['events', 'protocols', 'variables', 'textio']) {
  test(`${name}: every check inside the guest passes`, (t) => {
    if (!existsSync(sample(name))) return t.fail(`${sample(name)} was not built`);
    const r = runImage({ image: readFileSync(sample(name)), imageName: `${name}.efi`, keys: name === 'textio' ? [{ scanCode: 0, unicodeChar: 0x61 }, { scanCode: 0x17, unicodeChar: 0 }] : undefined });
    const tally = guestTally(r.report.console as string, name);
    t.is(tally.failed, 0, r.report.console as string);
    t.true(tally.passed > 0);
    t.not(r.outcome.kind, 'fault');
  });
}

test('the same inputs give a byte-identical report', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-'));
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  t.is(cli(['run', sample('images'), '--trace', '--json', a, '--quiet']).code, 0);
  t.is(cli(['run', sample('images'), '--trace', '--json', b, '--quiet']).code, 0);
  t.true(readFileSync(a).equals(readFileSync(b)));
});

test('bad inputs: exit code 2 and one line naming the problem and where', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-'));
  const text = join(dir, 'notpe.efi');
  writeFileSync(text, 'this is not a PE file at all, just text'.repeat(4));
  let r = cli(['run', text]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^stubemu: notpe\.efi: .*IMAGE_DOS_HEADER.*file offset 0x0/m);

  const arm = Buffer.from(readFileSync(sample('hello')));
  const peOffset = arm.readUInt32LE(0x3c);
  arm.writeUInt16LE(0xaa64, peOffset + 4);
  const armPath = join(dir, 'arm.efi');
  writeFileSync(armPath, arm);
  r = cli(['run', armPath]);
  t.is(r.code, 2);
  t.regex(r.stderr, new RegExp(`Machine at file offset 0x${(peOffset + 4).toString(16)}`));

  r = cli(['run', join(dir, 'missing.efi')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /cannot read/);
  r = cli(['run', sample('hello'), '--memory', 'lots']);
  t.is(r.code, 2);
  r = cli(['frobnicate']);
  t.is(r.code, 2);
});

test('--load-options reach LoadedImage.LoadOptions as UCS-2 (the child prints its options)', (t) => {
  const r = runImage({ image: readFileSync(sample('images')), imageName: 'images.efi', loadOptions: 'parent-options' });
  t.regex(r.report.console as string, /child-options/);
  const li = r.firmware.images.images[0].loadedImage;
  const size = r.firmware.mem.u32(li + 48n);
  t.is(size, ('parent-options'.length + 1) * 2);
  t.is(r.firmware.mem.utf16z(r.firmware.mem.u64(li + 56n)), 'parent-options');
});

test('LoadImage from a device path through EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (--esp with the child on it)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-esp-'));
  mkdirSync(join(dir, 'EFI', 'stubemu'), { recursive: true });
  mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
  copyFileSync(sample('child'), join(dir, 'EFI', 'stubemu', 'child.efi'));
  copyFileSync(sample('images'), join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'));
  const r = runImage({ image: readFileSync(sample('images')), imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI' });
  const out = r.report.console as string;
  t.regex(out, /exit-data-from-path "child exit data"/);
  t.is(guestTally(out, 'images').failed, 0);
  const fromPath = (r.report.images as { name: string; source: string; devicePath?: string; fileSha256: string }[]).find((i) => i.source === 'SimpleFileSystem')!;
  t.is(fromPath.name, 'child.efi');
  t.regex(fromPath.devicePath!, /^PciRoot\(0x0\)\/Pci\(0x1,0x1\)\/HD\(1,GPT,[0-9A-F-]+,0x800,0x100000\)\/\\EFI\\stubemu\\child\.efi$/);
  t.is(fromPath.fileSha256, createHash('sha256').update(readFileSync(sample('child'))).digest('hex'));
});

test('LoadImage from a device path through EFI_LOAD_FILE2_PROTOCOL (the initrd media path serving a PE)', (t) => {
  const guid = guidToBytes('5568e427-68fc-4f3d-ac74-ca555231cc68');
  const dp = [0x04, 0x03, 0x14, 0x00, ...guid, 0x7f, 0xff, 0x04, 0x00];
  const code = [
    0x48, 0x83, 0xec, 0x48,                   // sub rsp, 0x48
    0x48, 0x8b, 0x42, 0x60,                   // mov rax, [rdx+BootServices]
    0x4c, 0x8d, 0x05, 0, 0, 0, 0,             // lea r8, [rip+dp]   (patched below)
    0x48, 0x89, 0xca,                         // mov rdx, rcx       ParentImageHandle
    0x31, 0xc9,                               // xor ecx, ecx       BootPolicy FALSE
    0x45, 0x31, 0xc9,                         // xor r9d, r9d       SourceBuffer NULL
    0x48, 0xc7, 0x44, 0x24, 0x20, 0, 0, 0, 0, // mov qword [rsp+0x20], 0   SourceSize
    0x4c, 0x8d, 0x54, 0x24, 0x40,             // lea r10, [rsp+0x40]
    0x4c, 0x89, 0x54, 0x24, 0x28,             // mov [rsp+0x28], r10       &ImageHandle
    0xff, 0x90, 0xc8, 0x00, 0x00, 0x00,       // call [rax+LoadImage]
    0x48, 0x83, 0xc4, 0x48,                   // add rsp, 0x48
    0xc3,                                     // ret
  ];
  const leaEnd = 15;
  const disp = code.length - leaEnd;
  code.splice(11, 4, disp & 0xff, (disp >> 8) & 0xff, 0, 0);
  const child = readFileSync(sample('child'));
  const r = runCode([...code, ...dp], { initrds: [child] });
  t.is(flat(r.outcome).status, 'EFI_SUCCESS');
  const loaded = (r.report.images as { source: string; fileSha256: string }[]).find((i) => i.source === 'LoadFile2')!;
  // What LoadFile2 served is the initrd as the firmware assembled it: the file padded to 4 bytes.
  t.is(loaded.fileSha256, createHash('sha256').update(concatInitrds([child])).digest('hex'));
});
