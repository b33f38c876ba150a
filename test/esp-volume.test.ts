// The ESP backends: MemfsVolume and HostVolume (confinement to the directory, case-insensitive names, the overlay).
import test, { ExecutionContext } from 'ava';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HostVolume } from '../efi-services/esp/host-volume';
import { MemfsVolume } from '../efi-services/esp/memfs-volume';
import { normalizePath, Volume } from '../efi-services/esp/volume';
import { EfiError, EfiStatus, EFI_ACCESS_DENIED, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_WRITE_PROTECTED,
  statusName } from '../core/status';

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

function throwsStatus(t: ExecutionContext, op: () => unknown, status: EfiStatus): void {
  const e = t.throws(op);
  t.true(e instanceof EfiError, `expected EfiError, got ${e}`);
  t.is(statusName((e as EfiError).status), statusName(status));
}

/** A temp ESP with an "outside" sibling directory that escapes point at. */
function hostTree(t: ExecutionContext): { esp: string; outside: string; files: Record<string, Buffer> } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stubemu-esp-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const esp = path.join(base, 'esp');
  const outside = path.join(base, 'outside');
  const files: Record<string, Buffer> = {
    'EFI/BOOT/BOOTX64.EFI': bytes(5000, 1),
    'EFI/Linux/uki.efi': bytes(12345, 2),
    'loader/entries/a.conf': Buffer.from('title A\n'),
    'Dup': Buffer.from('upper'),
    'dup': Buffer.from('lower'),
  };
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(esp, rel)), { recursive: true });
    fs.writeFileSync(path.join(esp, rel), data);
  }
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'outside the ESP');
  fs.symlinkSync('/etc', path.join(esp, 'etc'));
  fs.symlinkSync(outside, path.join(esp, 'out'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(esp, 'secret-link'));
  fs.symlinkSync('../..', path.join(esp, 'EFI', 'up'));
  fs.symlinkSync('EFI/BOOT', path.join(esp, 'boot-link'));
  fs.symlinkSync('nowhere', path.join(esp, 'dangling'));
  try {
    execFileSync('mkfifo', [path.join(esp, 'fifo')]);
  } catch {
    // no mkfifo on this host: the FIFO case is then not exercised
  }
  return { esp, outside, files };
}

test('normalizePath resolves dots inside the volume and refuses escapes and names FAT forbids', (t) => {
  t.deepEqual(normalizePath(['EFI', '.', 'BOOT', '..', 'Linux', '']), ['EFI', 'Linux']);
  t.deepEqual(normalizePath(['a.', 'b ']), ['a', 'b']);
  throwsStatus(t, () => normalizePath(['..']), EFI_INVALID_PARAMETER);
  throwsStatus(t, () => normalizePath(['EFI', '..', '..', 'etc', 'passwd']), EFI_INVALID_PARAMETER);
  for (const bad of ['a:b', 'a*', 'q?', 'x<y', 'p|q', 'a"b', 'tab\t', 'a/b', 'a\\b', '/etc/passwd', '...']) {
    throwsStatus(t, () => normalizePath([bad]), EFI_INVALID_PARAMETER);
  }
});

test('MemfsVolume: built from a map, case-insensitive lookup, case-preserving sorted listing', (t) => {
  const boot = bytes(3000, 7);
  const v = new MemfsVolume({ '/EFI/BOOT/BOOTX64.EFI': boot, '\\EFI\\Linux\\b.efi': bytes(10, 1),
    '/EFI/linux/A.efi': bytes(20, 2), '/EFI/Linux/c.EFI': bytes(30, 3), '/EFI/Linux/Zeta': bytes(1, 4) });
  t.deepEqual(v.stat(['efi', 'boot', 'bootx64.efi']), { kind: 'file', size: 3000, mtimeMs: v.stat(['EFI', 'BOOT', 'BOOTX64.EFI'])!.mtimeMs });
  t.is(v.stat(['EFI'])!.kind, 'dir');
  t.is(v.stat(['nope']), undefined);
  t.is(v.stat(['EFI', 'BOOT', 'BOOTX64.EFI', 'below-a-file']), undefined);
  t.deepEqual(v.readDir([]), ['EFI']);
  t.deepEqual(v.readDir(['EFI']), ['BOOT', 'Linux']);
  t.deepEqual(v.readDir(['efi', 'LINUX']), ['A.efi', 'Zeta', 'b.efi', 'c.EFI']);
  t.true(v.read(['EFI', 'BOOT', 'BOOTX64.EFI'], 0, 3000).equals(boot));
  t.true(v.read(['EFI', 'BOOT', 'BOOTX64.EFI'], 2990, 100).equals(boot.subarray(2990)));
  t.is(v.read(['EFI', 'BOOT', 'BOOTX64.EFI'], 5000, 10).length, 0);
  throwsStatus(t, () => v.read(['EFI', 'missing'], 0, 1), EFI_NOT_FOUND);
  throwsStatus(t, () => v.readDir(['EFI', 'BOOT', 'BOOTX64.EFI']), EFI_NOT_FOUND);
  t.throws(() => new MemfsVolume({ '/bad:name': Buffer.alloc(1) }));
});

test('MemfsVolume: write, create, setSize and remove', (t) => {
  const v = new MemfsVolume({ '/EFI/a.bin': Buffer.from('abcdef') });
  v.write(['efi', 'A.BIN'], 2, Buffer.from('XY'));
  t.is(v.read(['EFI', 'a.bin'], 0, 100).toString(), 'abXYef');
  v.write(['EFI', 'a.bin'], 8, Buffer.from('Z'));
  t.deepEqual([...v.read(['EFI', 'a.bin'], 0, 100)], [...Buffer.from('abXYef'), 0, 0, 0x5a]);
  v.setSize(['EFI', 'a.bin'], 3);
  t.is(v.read(['EFI', 'a.bin'], 0, 100).toString(), 'abX');
  v.create(['EFI', 'New'], 'dir');
  v.create(['efi', 'new', 'File.TXT'], 'file');
  t.deepEqual(v.readDir(['EFI']), ['New', 'a.bin']);
  t.deepEqual(v.readDir(['EFI', 'NEW']), ['File.TXT']);
  throwsStatus(t, () => v.create(['EFI', 'A.BIN'], 'file'), EFI_ACCESS_DENIED);
  throwsStatus(t, () => v.create(['EFI', 'missing', 'x'], 'file'), EFI_NOT_FOUND);
  throwsStatus(t, () => v.remove(['EFI', 'New']), EFI_ACCESS_DENIED);
  throwsStatus(t, () => v.remove([]), EFI_ACCESS_DENIED);
  v.remove(['EFI', 'New', 'file.txt']);
  v.remove(['EFI', 'new']);
  t.deepEqual(v.readDir(['EFI']), ['a.bin']);

  const ro = new MemfsVolume({ '/x': Buffer.from('x') }, { readOnly: true });
  throwsStatus(t, () => ro.write(['x'], 0, Buffer.from('y')), EFI_WRITE_PROTECTED);
  throwsStatus(t, () => ro.create(['y'], 'file'), EFI_WRITE_PROTECTED);
  throwsStatus(t, () => ro.remove(['x']), EFI_WRITE_PROTECTED);
  throwsStatus(t, () => ro.setSize(['x'], 0), EFI_WRITE_PROTECTED);
  t.is(ro.read(['x'], 0, 1).toString(), 'x');
});

test('HostVolume shows only what stays inside the directory', (t) => {
  const { esp, files } = hostTree(t);
  const refused: string[] = [];
  const v = new HostVolume(esp, { onRefused: (p) => refused.push(path.basename(p)) });
  // escaping symlinks, the dangling one and the FIFO are invisible; "Dup" wins over "dup" (sorted first)
  t.deepEqual(v.readDir([]), ['Dup', 'EFI', 'boot-link', 'loader']);
  t.deepEqual(v.readDir(['EFI']), ['BOOT', 'Linux']);
  for (const name of ['etc', 'out', 'secret-link', 'dangling']) t.true(refused.includes(name), name);
  if (fs.existsSync(path.join(esp, 'fifo'))) t.true(refused.includes('fifo'));
  t.is(v.stat(['etc']), undefined);
  t.is(v.stat(['etc', 'passwd']), undefined);
  t.is(v.stat(['out', 'secret']), undefined);
  t.is(v.stat(['secret-link']), undefined);
  t.is(v.stat(['EFI', 'up']), undefined);
  t.is(v.stat(['fifo']), undefined);
  throwsStatus(t, () => v.stat(['..', '..', 'etc', 'passwd']), EFI_INVALID_PARAMETER);
  throwsStatus(t, () => v.read(['EFI', '..', '..', 'outside', 'secret'], 0, 100), EFI_INVALID_PARAMETER);
  throwsStatus(t, () => v.stat([path.join(esp, 'EFI')]), EFI_INVALID_PARAMETER);
  throwsStatus(t, () => v.read(['etc', 'passwd'], 0, 100), EFI_NOT_FOUND);
  // inside the directory, by any case and through an inner symlink
  t.true(v.read(['efi', 'boot', 'bootx64.efi'], 0, 1 << 20).equals(files['EFI/BOOT/BOOTX64.EFI']));
  t.true(v.read(['BOOT-LINK', 'BOOTX64.EFI'], 100, 50).equals(files['EFI/BOOT/BOOTX64.EFI'].subarray(100, 150)));
  t.is(v.read(['DUP'], 0, 100).toString(), 'upper');
  t.deepEqual(v.stat(['EFI', 'LINUX', 'UKI.EFI'])?.size, files['EFI/Linux/uki.efi'].length);
});

test('HostVolume without an overlay is read-only', (t) => {
  const { esp } = hostTree(t);
  const v = new HostVolume(esp, { overlay: false });
  t.true(v.readOnly);
  throwsStatus(t, () => v.write(['EFI', 'BOOT', 'BOOTX64.EFI'], 0, Buffer.from('x')), EFI_WRITE_PROTECTED);
  throwsStatus(t, () => v.create(['new'], 'file'), EFI_WRITE_PROTECTED);
  throwsStatus(t, () => v.remove(['Dup']), EFI_WRITE_PROTECTED);
  throwsStatus(t, () => v.setSize(['Dup'], 0), EFI_WRITE_PROTECTED);
  t.deepEqual(fs.readdirSync(esp).sort(), ['Dup', 'EFI', 'boot-link', 'dangling', 'dup', 'etc', 'loader', 'out',
    'secret-link', ...(fs.existsSync(path.join(esp, 'fifo')) ? ['fifo'] : [])].sort());
});

test('HostVolume overlay: guest writes are visible to later reads but never reach the host', (t) => {
  const { esp, files } = hostTree(t);
  const v = new HostVolume(esp);
  t.false(v.readOnly);
  const boot = files['EFI/BOOT/BOOTX64.EFI'];
  v.write(['efi', 'boot', 'bootx64.efi'], 10, Buffer.from('PATCH'));
  const expected = Buffer.from(boot);
  Buffer.from('PATCH').copy(expected, 10);
  t.true(v.read(['EFI', 'BOOT', 'BOOTX64.EFI'], 0, 1 << 20).equals(expected));
  t.true(fs.readFileSync(path.join(esp, 'EFI/BOOT/BOOTX64.EFI')).equals(boot));
  // new files and directories in the merged listing only
  v.create(['loader', 'random-seed'], 'file');
  v.write(['loader', 'random-seed'], 0, bytes(32, 9));
  v.create(['EFI', 'systemd'], 'dir');
  t.deepEqual(v.readDir(['loader']), ['entries', 'random-seed']);
  t.deepEqual(v.readDir(['EFI']), ['BOOT', 'Linux', 'systemd']);
  t.true(v.read(['LOADER', 'RANDOM-SEED'], 0, 100).equals(bytes(32, 9)));
  t.false(fs.existsSync(path.join(esp, 'loader/random-seed')));
  t.false(fs.existsSync(path.join(esp, 'EFI/systemd')));
  // deleting a host file hides it; the host keeps it; the name can be made again
  throwsStatus(t, () => v.remove(['EFI', 'Linux']), EFI_ACCESS_DENIED);
  v.remove(['EFI', 'Linux', 'uki.efi']);
  t.is(v.stat(['EFI', 'Linux', 'uki.efi']), undefined);
  t.deepEqual(v.readDir(['EFI', 'Linux']), []);
  v.remove(['EFI', 'Linux']);
  t.deepEqual(v.readDir(['EFI']), ['BOOT', 'systemd']);
  t.true(fs.readFileSync(path.join(esp, 'EFI/Linux/uki.efi')).equals(files['EFI/Linux/uki.efi']));
  v.create(['EFI', 'LINUX'], 'dir');
  t.deepEqual(v.readDir(['EFI', 'linux']), [], 'the deleted host contents stay hidden');
  v.setSize(['Dup'], 2);
  t.is(v.read(['dup'], 0, 100).toString(), 'up');
  t.is(fs.readFileSync(path.join(esp, 'Dup'), 'utf8'), 'upper');
});

test('HostVolume writable: changes reach the host directory and nothing outside it', (t) => {
  const { esp, outside } = hostTree(t);
  const v = new HostVolume(esp, { writable: true });
  v.write(['Dup'], 0, Buffer.from('UP'));
  t.is(fs.readFileSync(path.join(esp, 'Dup'), 'utf8'), 'UPper');
  t.is(fs.readFileSync(path.join(esp, 'dup'), 'utf8'), 'lower');
  v.create(['boot-link', 'new.txt'], 'file');
  v.write(['boot-link', 'new.txt'], 0, Buffer.from('hello'));
  t.is(fs.readFileSync(path.join(esp, 'EFI/BOOT/new.txt'), 'utf8'), 'hello');
  v.setSize(['EFI', 'BOOT', 'new.txt'], 2);
  t.is(fs.readFileSync(path.join(esp, 'EFI/BOOT/new.txt'), 'utf8'), 'he');
  throwsStatus(t, () => v.remove(['boot-link']), EFI_ACCESS_DENIED); // a link to a non-empty directory
  fs.symlinkSync('EFI/BOOT/new.txt', path.join(esp, 'file-link'));
  t.is(v.read(['FILE-LINK'], 0, 10).toString(), 'he');
  v.remove(['file-link']);
  t.false(fs.existsSync(path.join(esp, 'file-link')));
  t.is(fs.readFileSync(path.join(esp, 'EFI/BOOT/new.txt'), 'utf8'), 'he', 'removing a symlink leaves its target');
  throwsStatus(t, () => v.create(['out', 'planted'], 'file'), EFI_NOT_FOUND);
  throwsStatus(t, () => v.create(['..', 'outside', 'planted'], 'file'), EFI_INVALID_PARAMETER);
  throwsStatus(t, () => v.write(['secret-link'], 0, Buffer.from('pwned')), EFI_NOT_FOUND);
  throwsStatus(t, () => v.remove(['out']), EFI_NOT_FOUND);
  t.deepEqual(fs.readdirSync(outside), ['secret']);
  t.is(fs.readFileSync(path.join(outside, 'secret'), 'utf8'), 'outside the ESP');
});

test('HostVolume turns host failures into statuses', (t) => {
  const { esp } = hostTree(t);
  const v: Volume = new HostVolume(esp, { writable: true });
  t.is(v.stat(['loader', 'entries', 'a.conf'])?.kind, 'file');
  fs.rmSync(path.join(esp, 'loader'), { recursive: true });
  throwsStatus(t, () => v.read(['loader', 'entries', 'a.conf'], 0, 10), EFI_NOT_FOUND);
  throwsStatus(t, () => v.readDir(['loader']), EFI_NOT_FOUND);
  fs.rmSync(esp, { recursive: true });
  throwsStatus(t, () => v.readDir([]), EFI_NOT_FOUND);
});
