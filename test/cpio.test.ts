// cpio newc writer and reader: the byte layout against a hand-written archive, round trips, concatenation and malformed input.
import test from 'ava';
import {
  CpioFormatError, makeTestInitrd, modeString, normalizeCpioPath, readCpio, readCpioArchives, S_IFDIR, S_IFLNK, S_IFREG,
  TEST_INIT_SCRIPT, writeCpio,
} from '../src/initrd/cpio';

/** A newc header typed out field by field from buffer-format.rst: magic, then 13 eight-digit hex numbers. */
function hand(fields: { ino: number; mode: number; nlink: number; filesize: number; namesize: number }): string {
  const h8 = (n: number): string => n.toString(16).padStart(8, '0');
  return `070701${h8(fields.ino)}${h8(fields.mode)}${h8(0)}${h8(0)}${h8(fields.nlink)}${h8(0)}${h8(fields.filesize)}`
    + `${h8(0)}${h8(0)}${h8(0)}${h8(0)}${h8(fields.namesize)}${h8(0)}`;
}

test('a one-file archive is byte for byte the newc layout written by hand', (t) => {
  const got = writeCpio([{ path: '/a', mode: 0o644, data: 'hi' }]);
  const expected = Buffer.concat([
    // 110-byte header + "a\0" = 112, already a multiple of 4; "hi" + 2 bytes of padding.
    Buffer.from(hand({ ino: 1, mode: 0o100644, nlink: 1, filesize: 2, namesize: 2 }), 'latin1'),
    Buffer.from('a\0hi\0\0', 'latin1'),
    // Trailer: 110 + 11 = 121 bytes, padded to 124.
    Buffer.from(hand({ ino: 0, mode: 0, nlink: 1, filesize: 0, namesize: 11 }), 'latin1'),
    Buffer.from('TRAILER!!!\0\0\0\0', 'latin1'),
  ]);
  t.is(expected.length, 116 + 124);
  t.deepEqual(got, expected);
});

test('parent directories are made first, with their own inodes, and names are padded to 4', (t) => {
  const got = writeCpio([{ path: 'dir/abc', mode: 0o755, data: Buffer.from([1, 2, 3, 4, 5]) }]);
  // "dir\0" (4): 110 + 4 = 114, padded to 116; no data.
  const dir = Buffer.concat([Buffer.from(hand({ ino: 1, mode: 0o40755, nlink: 2, filesize: 0, namesize: 4 }), 'latin1'), Buffer.from('dir\0\0\0', 'latin1')]);
  t.deepEqual(got.subarray(0, dir.length), dir);
  // "dir/abc\0" (8): 110 + 8 = 118 → 120; 5 data bytes → 8.
  const file = Buffer.concat([
    Buffer.from(hand({ ino: 2, mode: 0o100755, nlink: 1, filesize: 5, namesize: 8 }), 'latin1'),
    Buffer.from('dir/abc\0\0\0', 'latin1'), Buffer.from([1, 2, 3, 4, 5, 0, 0, 0]),
  ]);
  t.deepEqual(got.subarray(dir.length, dir.length + file.length), file);
  t.is(got.toString('latin1', dir.length + file.length, dir.length + file.length + 6), '070701');
  t.is(got.length % 4, 0);
});

test('makeTestInitrd round-trips through the reader and is deterministic', (t) => {
  const a = makeTestInitrd();
  t.deepEqual(a, makeTestInitrd());
  const { entries, end } = readCpio(a);
  t.is(end, a.length);
  t.deepEqual(entries.map((e) => e.path), ['init', 'etc', 'etc/hostname', 'etc/initrd-release', 'dev', 'bin', 'bin/sh']);
  t.deepEqual(entries.map((e) => e.ino), [1, 2, 3, 4, 5, 6, 7]);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  t.is(byPath.get('init')!.mode, S_IFREG | 0o755);
  t.is(byPath.get('init')!.data.toString(), TEST_INIT_SCRIPT);
  t.is(byPath.get('etc/hostname')!.data.toString(), 'stubemu\n');
  t.is(byPath.get('etc')!.mode, S_IFDIR | 0o755);
  t.is(byPath.get('bin/sh')!.mode, S_IFLNK | 0o777);
  t.is(byPath.get('bin/sh')!.data.toString(), 'busybox');
  for (const e of entries) {
    t.is(e.uid, 0);
    t.is(e.gid, 0);
    t.is(e.mtime, 0);
    t.is(e.offset % 4, 0);
  }
  t.is(modeString(byPath.get('init')!.mode), '-rwxr-xr-x');
  t.is(modeString(byPath.get('dev')!.mode), 'drwxr-xr-x');
});

test('concatenated archives with zero padding between them read as the kernel unpacks them', (t) => {
  const one = writeCpio([{ path: 'x', mode: 0o644, data: 'first' }]);
  const two = writeCpio([{ path: 'y', mode: 0o600, data: 'second' }]);
  const archives = readCpioArchives(Buffer.concat([one, Buffer.alloc(8), two, Buffer.alloc(3)]));
  t.deepEqual(archives.map((a) => a.entries.map((e) => [e.path, e.data.toString()])), [[['x', 'first']], [['y', 'second']]]);
  t.is(archives[1].entries[0].offset, one.length + 8);
});

test('malformed archives fail with the offset and the problem', (t) => {
  const good = writeCpio([{ path: 'f', mode: 0o644, data: 'data' }]);
  const badMagic = Buffer.from(good);
  badMagic.write('070707', 0, 'latin1');
  t.regex(t.throws(() => readCpio(badMagic), { instanceOf: CpioFormatError })!.message, /offset 0x0: magic "070707"/);
  const badHex = Buffer.from(good);
  badHex.write('zz', 6, 'latin1');
  t.regex(t.throws(() => readCpio(badHex), { instanceOf: CpioFormatError })!.message, /ino "zz/);
  t.regex(t.throws(() => readCpio(good.subarray(0, 114)), { instanceOf: CpioFormatError })!.message, /filesize 4 runs past the end/);
  t.regex(t.throws(() => readCpio(good.subarray(0, good.length - 20)), { instanceOf: CpioFormatError })!.message, /truncated header|runs past/);
});

test('paths are normalised and unsafe ones refused', (t) => {
  t.is(normalizeCpioPath('/./etc//x/'), 'etc/x');
  t.throws(() => normalizeCpioPath('a/../b'), { message: /"\.\."/ });
  t.throws(() => normalizeCpioPath('/'), { message: /empty path/ });
  t.throws(() => writeCpio([{ path: 'a', mode: 0o644 }, { path: '/a', mode: 0o644 }]), { message: /listed twice/ });
  t.throws(() => writeCpio([{ path: 'd', mode: S_IFDIR | 0o755, data: 'x' }]), { message: /cannot have data/ });
});
