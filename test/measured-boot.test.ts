// Measured boot end to end: Debian's systemd-stub 252 UKI run with the emulated TPM; PCRs, digests and the binary
// log checked against values computed here (node:crypto, pesign, tpm2_eventlog), and the prediction.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage, RunResult } from '../src/api';
import { buildUki } from '../src/uki/build';
import { makeTestInitrd } from '../src/initrd/cpio';
import { compareEvents, loggedEventsOf } from '../src/pcr/compare';
import { predictPcrs } from '../src/pcr/predict';
import { HashAlgorithmName } from '../efi-services/tcg/pcr-banks';
import { fixture, fixturePath } from './helpers/fixtures';
import { pesignHash } from './helpers/tools';

const h = (alg: string, ...parts: Uint8Array[]) => { const x = createHash(alg); for (const p of parts) x.update(p); return x.digest(); };
const SIZES: Record<string, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

function uki(cmdline?: string): Buffer {
  return buildUki({
    stub: fixture('stub-252', 'linuxx64.efi.stub'), stubName: 'stub', linux: fixture('kernel-6.1-cloud', 'vmlinuz'), linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }],
    cmdline: cmdline === undefined ? undefined : Buffer.from(cmdline),
    osRelease: Buffer.from('ID=debian\nVERSION_ID=12\n'),
  }).image;
}

/** PCR 11 as systemd-stub 252 extends it: for each present section, H(name + NUL) then H(data). */
function expectedPcr11(alg: string, sections: [string, Buffer][]): string {
  let pcr = Buffer.alloc(SIZES[alg]);
  for (const [name, data] of sections) {
    pcr = h(alg, pcr, h(alg, Buffer.from(name + '\0', 'latin1')));
    pcr = h(alg, pcr, h(alg, data));
  }
  return pcr.toString('hex');
}

function pcrs(r: RunResult): Record<string, Record<string, string>> {
  return r.report.pcrs as Record<string, Record<string, string>>;
}

const CMDLINE = 'console=ttyS0 root=/dev/vda1';

test('PCR 11, PCR 4 and PCR 9 of a real run equal values computed independently; tpm2_eventlog agrees', (t) => {
  const image = uki(CMDLINE);
  const r = runImage({ image, imageName: 'uki.efi' });
  t.is(r.outcome.kind, 'exit-boot-services');
  const osrel = Buffer.from('ID=debian\nVERSION_ID=12\n');
  const sections: [string, Buffer][] = [['.linux', fixture('kernel-6.1-cloud', 'vmlinuz')], ['.osrel', osrel], ['.cmdline', Buffer.from(CMDLINE)], ['.initrd', makeTestInitrd()]];
  for (const bank of ['sha1', 'sha256']) t.is(pcrs(r)[bank]['11'], expectedPcr11(bank, sections), bank);

  // PCR 4: the UKI's and the kernel's Authenticode digests, as pesign computes them.
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-mb-'));
  writeFileSync(join(dir, 'uki.efi'), image);
  const events = r.firmware.tcg2!.measuredBoot.events;
  const apps = events.filter((e) => e.pcr === 4 && e.type === 0x80000003);
  t.deepEqual(apps.map((e) => e.digests.sha256!.toString('hex')), [pesignHash(join(dir, 'uki.efi')), pesignHash(fixturePath('kernel-6.1-cloud', 'vmlinuz'))]);

  // PCR 9: the Linux EFI stub's tagged event for the initrd carries the digest of exactly the initrd bytes.
  const tagged = events.filter((e) => e.pcr === 9 && e.type === 0x6);
  const initrdEvent = tagged.find((e) => e.data.readUInt32LE(0) === 0x8f3b22ec)!;
  t.is(initrdEvent.digests.sha256!.toString('hex'), createHash('sha256').update(makeTestInitrd()).digest('hex'));

  // The binary log as Linux exposes it: Debian's tpm2_eventlog replays it to our PCR values.
  const log = join(dir, 'log.bin');
  writeFileSync(log, r.firmware.tcg2!.measuredBoot.serialize());
  const out = execFileSync('tpm2_eventlog', [log], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const sha256Block = out.slice(out.indexOf('  sha256:'));
  for (const [idx, value] of Object.entries(pcrs(r).sha256)) {
    if (/^0+$/.test(value) || /^f+$/.test(value)) continue;
    t.regex(sha256Block, new RegExp(`\\n\\s+${idx}\\s*: 0x${value}\\n`, 'i'), `PCR ${idx}`);
  }
});

for (const [name, cmdline, banks, loadOptions] of [
  ['with .cmdline, sha1+sha256+sha384', CMDLINE, ['sha1', 'sha256', 'sha384'], undefined],
  ['without .cmdline, sha256 only, LoadOptions into PCR 12', undefined, ['sha256'], 'from-load-options'],
] as [string, string | undefined, HashAlgorithmName[], string | undefined][]) {
  test(`the prediction agrees with the run event by event: ${name}`, (t) => {
    const image = uki(cmdline);
    const prediction = predictPcrs(image, 'uki.efi', { banks, loadOptions });
    const r = runImage({ image, imageName: 'uki.efi', pcrBanks: banks, loadOptions });
    t.is(r.outcome.kind, 'exit-boot-services');
    const cmp = compareEvents(prediction.events, loggedEventsOf(r.firmware.tcg2!.measuredBoot.events), prediction.scope);
    t.true(cmp.agree, cmp.lines.join('\n'));
    for (const bank of banks) {
      for (const [idx, value] of Object.entries(prediction.pcrs[bank])) t.is(pcrs(r)[bank][idx], value, `${bank} PCR ${idx}`);
    }
    t.deepEqual(Object.keys(pcrs(r)), banks);
  });
}

test('--no-tpm: no EFI_TCG2_PROTOCOL, so the stub measures nothing and the report has no event log', (t) => {
  const r = runImage({ image: uki(CMDLINE), imageName: 'uki.efi', pcrBanks: null });
  t.is(r.outcome.kind, 'exit-boot-services');
  t.is(r.report.eventLog, undefined);
  t.is(r.firmware.tcg2, undefined);
});
