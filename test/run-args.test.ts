// The options `stubemu run`, `verify` and `pcr predict` share: one --pcr-banks parser, one ESP path rule.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { BadInput } from '../src/bad-input';
import { espImagePath, parseBanks } from '../src/run-args';

const HELLO = join(__dirname, '..', '..', 'samples', 'build', 'hello.efi');

test('--pcr-banks lists banks in TPM_ALG_ID order whatever order they are named in', (t) => {
  t.deepEqual(parseBanks('sha256,SHA1'), ['sha1', 'sha256']);
  t.deepEqual(parseBanks(' sha512 , sha384,sha1,sha1'), ['sha1', 'sha384', 'sha512']);
  t.throws(() => parseBanks('sha256,md5'), { instanceOf: BadInput, message: /md5 is not one of sha1, sha256, sha384, sha512/ });
  t.throws(() => parseBanks(','), { instanceOf: BadInput, message: /\(empty\)/ });
});

test('the report lists the banks in the order of its PCRs and of the event log header', (t) => {
  const r = runImage({ image: readFileSync(HELLO), imageName: 'hello.efi', pcrBanks: parseBanks('sha512,sha1') });
  const report = r.report as unknown as { options: { pcrBanks: string[] }; pcrs: Record<string, unknown>; eventLog: { data: { algorithms?: { algorithmId: string }[] } }[] };
  t.deepEqual(report.options.pcrBanks, ['sha1', 'sha512']);
  t.deepEqual(Object.keys(report.pcrs), ['sha1', 'sha512']);
  t.deepEqual(report.eventLog[0].data.algorithms?.map((a) => a.algorithmId), ['sha1', 'sha512']);
});

test('the image path on the ESP comes from where the file is inside the --esp directory', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-esp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const esp = join(dir, 'esp');
  mkdirSync(join(esp, 'EFI', 'Linux'), { recursive: true });
  writeFileSync(join(esp, 'EFI', 'Linux', 'uki.efi'), '');
  writeFileSync(join(dir, 'outside.efi'), '');
  t.is(espImagePath(esp, join(esp, 'EFI', 'Linux', 'uki.efi')).imagePath, '\\EFI\\Linux\\uki.efi');
  t.throws(() => espImagePath(esp, join(dir, 'outside.efi')), { instanceOf: BadInput, message: /is not inside the --esp directory/ });
});
