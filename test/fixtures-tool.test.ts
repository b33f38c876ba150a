// The fixture tool: the system's apt sources are read in both formats, and a pinned version the archive no longer
// serves stops the fetch with one line naming the entry and the manifest.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { matchFiles } from '../scripts/fixtures/deb';
import { readManifest } from '../scripts/fixtures/manifest';
import { debianMirrors, systemSources } from '../scripts/fixtures/sources';

const ROOT = resolve(__dirname, '..', '..');
const TMP = mkdtempSync(join(tmpdir(), 'stubemu-fixtures-'));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

test('apt sources: one-line and deb822 files give the archive and the security mirror', (t) => {
  const etc = join(TMP, 'etc-apt');
  mkdirSync(join(etc, 'sources.list.d'), { recursive: true });
  writeFileSync(join(etc, 'sources.list'), '# comment\ndeb-src http://src.invalid/debian bookworm main\ndeb http://other.invalid/ubuntu jammy main\n');
  writeFileSync(join(etc, 'sources.list.d', 'debian.sources'), [
    'Types: deb', 'URIs: http://archive.invalid/debian', 'Suites: bookworm bookworm-updates', 'Components: main contrib',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
    'Types: deb', 'URIs: http://security.invalid/debian-security', 'Suites: bookworm-security', 'Components: main', '',
    'Types: deb', 'Enabled: no', 'URIs: http://disabled.invalid/debian', 'Suites: sid', 'Components: main', '',
  ].join('\n'));
  writeFileSync(join(etc, 'sources.list.d', 'vendor.list'), 'deb [signed-by=/k.gpg] https://vendor.invalid/apt stable-x main\n');
  const all = systemSources(etc);
  t.deepEqual(all.map((s) => s.uri), ['http://other.invalid/ubuntu', 'http://archive.invalid/debian', 'http://security.invalid/debian-security', 'https://vendor.invalid/apt']);
  t.deepEqual(debianMirrors(etc), { archive: 'http://archive.invalid/debian', security: 'http://security.invalid/debian-security', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' });
  const none = join(TMP, 'etc-none');
  mkdirSync(none);
  t.throws(() => debianMirrors(none), { message: /no Debian archive with component main/ });
});

test('file patterns: * matches within one path component only', (t) => {
  const d = join(TMP, 'tree');
  mkdirSync(join(d, 'boot'), { recursive: true });
  mkdirSync(join(d, 'usr/lib/modules/7.2.13+deb14-cloud-amd64'), { recursive: true });
  writeFileSync(join(d, 'boot/vmlinuz-6.1.0-57-cloud-amd64'), 'k');
  writeFileSync(join(d, 'boot/config-6.1.0-57-cloud-amd64'), 'c');
  writeFileSync(join(d, 'usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz.unsigned'), 'k');
  t.deepEqual(matchFiles(d, 'boot/vmlinuz-*'), ['boot/vmlinuz-6.1.0-57-cloud-amd64']);
  t.deepEqual(matchFiles(d, 'usr/lib/modules/*/vmlinuz.unsigned'), ['usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz.unsigned']);
  t.deepEqual(matchFiles(d, '*/vmlinuz.unsigned'), []);
});

test('a pinned version the archive does not serve: one line naming the entry, the version and the manifest', (t) => {
  const stub = readManifest().fixtures.find((e) => e.id === 'stub-252')!;
  const gone = { ...stub, id: 'test-gone', version: '252.0-0~not.served', files: { 'x.efi': { path: 'usr/lib/x.efi', sha256: '0'.repeat(64) } } };
  const manifest = join(TMP, 'manifest.json');
  writeFileSync(manifest, JSON.stringify({ comment: 'test', fixtures: [gone] }));
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/scripts/fixtures/main.js'), '--manifest', manifest], { encoding: 'utf8' });
  t.is(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  const last = lines[lines.length - 1];
  t.regex(last, /^fixtures: test-gone: systemd-boot-efi 252\.0-0~not\.served \(bookworm\) is not served by the Debian archive any more/);
  t.true(last.includes(manifest) && last.includes("npm run fixtures -- --update"), last);
});

test('every manifest entry is pinned with hashes, and its files follow its select rule', (t) => {
  for (const e of readManifest().fixtures) {
    t.regex(e.deb.sha256, /^[0-9a-f]{64}$/, e.id);
    t.true(e.select.suites.includes(e.suite), `${e.id}: pinned from ${e.suite}, rule allows ${e.select.suites.join(' ')}`);
    if (e.select.version) t.regex(e.version, new RegExp(e.select.version), e.id);
    t.deepEqual(Object.keys(e.files).sort(), Object.keys(e.select.files).sort(), e.id);
    for (const f of Object.values(e.files)) t.regex(f.sha256, /^[0-9a-f]{64}$/, `${e.id} ${f.path}`);
    // A signed build is pinned to exactly its unsigned entry's package and version (linux-signed-amd64).
    if (e.select.signedOf !== undefined) {
      const of = readManifest().fixtures.find((x) => x.id === e.select.signedOf);
      t.truthy(of, `${e.id}: signedOf ${e.select.signedOf} is not an entry`);
      t.is(e.package, of!.package.replace(/-unsigned$/, ''), e.id);
      t.is(e.version, of!.version, e.id);
    }
  }
});
