// The independent tools tests compare against. One rule: scripts/setup.sh installs them, and a test that needs a
// missing one fails naming the package; none is ever skipped silently.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const TOOLS = {
  pesign: { path: '/usr/bin/pesign', pkg: 'pesign' },
  sbsign: { path: '/usr/bin/sbsign', pkg: 'sbsigntool' },
  sbverify: { path: '/usr/bin/sbverify', pkg: 'sbsigntool' },
  openssl: { path: '/usr/bin/openssl', pkg: 'openssl' },
  tpm2_eventlog: { path: '/usr/bin/tpm2_eventlog', pkg: 'tpm2-tools' },
  'systemd-measure': { path: '/usr/lib/systemd/systemd-measure', pkg: 'systemd' },
  objdump: { path: '/usr/bin/objdump', pkg: 'binutils' },
  as: { path: '/usr/bin/as', pkg: 'binutils' },
  objcopy: { path: '/usr/bin/objcopy', pkg: 'binutils' },
  mcopy: { path: '/usr/bin/mcopy', pkg: 'mtools' },
  mmd: { path: '/usr/bin/mmd', pkg: 'mtools' },
  'mkfs.fat': { path: '/usr/sbin/mkfs.fat', pkg: 'dosfstools' },
  'fsck.fat': { path: '/usr/sbin/fsck.fat', pkg: 'dosfstools' },
  sfdisk: { path: '/usr/sbin/sfdisk', pkg: 'fdisk' },
  chromium: { path: '/usr/bin/chromium', pkg: 'chromium' },
  script: { path: '/usr/bin/script', pkg: 'bsdutils' },
} as const;

export type ToolName = keyof typeof TOOLS;

/** The tool's path; throws naming the Debian package when it is missing. */
export function tool(name: ToolName): string {
  const t = TOOLS[name];
  if (!existsSync(t.path)) throw new Error(`${t.path} is missing: install Debian's ${t.pkg} (scripts/setup.sh does)`);
  return t.path;
}

/** `pesign --hash`: the Authenticode digest of the file, as pesign computes it. */
export function pesignHash(file: string, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  const out = execFileSync(tool('pesign'), ['--hash', '--digest_type', algorithm, '--in', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /hash: ([0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`pesign printed no hash: ${out}`);
  return m[1];
}
