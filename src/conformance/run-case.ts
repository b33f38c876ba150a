// One case end to end: build its UKI and ESP, boot it in stubemu and in QEMU + OVMF + swtpm, compare.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFixtureFile } from '../../scripts/fixtures/manifest';
import { parseEventLog, ParsedEvent } from '../../efi-services/tcg/event-log';
import { QemuTools } from '../bench/qemu';
import { buildUki } from '../uki/build';
import { ConformanceCase } from './cases';
import { CheckResult, compareEvents, compareImageLoads, compareValue, EVENT_CHECKS } from './compare';
import { writeEsp } from './esp';
import { conformanceInitrd } from './guest-init';
import { bootInQemu } from './qemu-boot';
import { parseGuestReport } from './serial';
import { bootInStubemu, StubemuBoot } from './stubemu-boot';
import { prepareSecureBoot, SecureBootSetup } from './secure-boot-case';

export interface CaseResult {
  readonly id: string;
  readonly stub: string;
  readonly kernel: string;
  readonly cmdline: string | null;
  readonly loaderOptions: string | null;
  readonly checks: CheckResult[];
  readonly timings: { qemuMs: number; qemuToInitMs: number | null; stubemuMs: number };
  readonly stubemuOutcome: string;
  /** Why a side produced nothing to compare (boot failure, missing log), and parse problems. */
  readonly problems: string[];
}

export interface RunCaseOptions {
  readonly qemuTimeoutSeconds: number;
  readonly stubemuTimeoutSeconds: number;
  /** Where to keep the serial output and both event logs (one folder per case); none: nothing kept. */
  readonly outDir?: string;
  readonly log?: (line: string) => void;
}

/** The case's UKI: the stub's linuxx64.efi.stub, the kernel, the conformance initrd, .cmdline when the case has one. */
export function buildCaseUki(c: ConformanceCase): Buffer {
  return buildUki({
    stub: readFixtureFile(c.stub, 'linuxx64.efi.stub'), stubName: `${c.stub}/linuxx64.efi.stub`,
    linux: readFixtureFile(c.kernel, 'vmlinuz'), linuxName: `${c.kernel}/vmlinuz`,
    initrds: [{ name: 'conformance-initrd', data: conformanceInitrd(readFixtureFile('busybox', 'busybox')) }],
    ...(c.cmdline !== undefined ? { cmdline: Buffer.from(c.cmdline) } : {}),
  }).image;
}

function events(log: Buffer | undefined, side: string, problems: string[]): ParsedEvent[] | undefined {
  if (!log) return undefined;
  try {
    return parseEventLog(log).events;
  } catch (e) {
    problems.push(`${side} event log: ${(e as Error).message}`);
    return undefined;
  }
}

const filesText = (f: Record<string, string> | undefined): string | undefined =>
  f && Object.keys(f).sort().map((p) => `${p}=${f[p].slice(0, 16)}`).join(' ');

export async function runCase(c: ConformanceCase, tools: QemuTools, o: RunCaseOptions): Promise<CaseResult> {
  const log = o.log ?? (() => undefined);
  const esp = mkdtempSync(join(tmpdir(), 'stubemu-conformance-esp-'));
  const problems: string[] = [];
  const cleanups: (() => void)[] = [];
  try {
    const uki = buildCaseUki(c);
    const loader = c.loaderOptions !== undefined ? { systemdBoot: readFixtureFile(c.stub, 'systemd-bootx64.efi'), options: c.loaderOptions } : undefined;
    const layout = writeEsp(esp, uki, loader);
    let sb: SecureBootSetup | undefined;
    let qemuTools = tools;
    if (c.secureBootShim) {
      sb = prepareSecureBoot(esp, uki);
      cleanups.push(sb.cleanup);
      qemuTools = { ...tools, ovmfCode: sb.ovmfCode, ovmfVars: sb.ovmfVars };
    }

    let emu: StubemuBoot;
    try {
      emu = bootInStubemu(esp, layout.bootPath, o.stubemuTimeoutSeconds, sb ? { secureBoot: true, secureBootKeys: sb.keys, variables: sb.variables } : {});
    } catch (e) {
      emu = { ms: 0, outcome: 'error', failure: (e as Error).message };
    }
    log(`  ${c.id} stubemu: ${(emu.ms / 1000).toFixed(1)} s, ${emu.outcome}${emu.failure ? ` (${emu.failure})` : ''}`);
    if (emu.failure) problems.push(`stubemu: ${emu.failure}`);

    const q = await bootInQemu(esp, qemuTools, o.qemuTimeoutSeconds * 1000, sb !== undefined);
    log(`  ${c.id} QEMU: ${(q.ms / 1000).toFixed(1)} s${q.failure ? ` (${q.failure.slice(0, 300)})` : ''}`);
    if (q.failure) problems.push(`QEMU: ${q.failure}`);
    const guest = parseGuestReport(q.serial);
    if (!q.failure) problems.push(...guest.problems.map((p) => `guest: ${p}`));

    if (o.outDir) {
      const dir = join(o.outDir, c.id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'serial.txt'), q.serial, 'latin1');
      if (guest.eventLog) writeFileSync(join(dir, 'ovmf-eventlog.bin'), guest.eventLog);
      if (emu.eventLog) writeFileSync(join(dir, 'stubemu-eventlog.bin'), emu.eventLog);
    }

    const expected = events(guest.eventLog, 'OVMF', problems);
    const got = events(emu.eventLog, 'stubemu', problems);
    const checks: CheckResult[] = EVENT_CHECKS.map((k) => {
      if (!expected) return { check: k.name, status: 'missing', detail: 'no event log from the QEMU guest' };
      if (!got) return { check: k.name, status: 'missing', detail: 'no event log from stubemu' };
      const r = compareEvents(k, expected, got);
      // A run that stopped early has a short log: its comparison is not a verdict, only where it got to.
      const stopped = emu.failure ? 'stubemu stopped before ExitBootServices' : q.failure ? 'the QEMU boot failed' : undefined;
      return stopped && r.status === 'different' ? { ...r, status: 'missing', detail: `${stopped}; up to there: ${r.detail}` } : r;
    });
    checks.splice(2, 0, !expected || !got
      ? { check: 'PCR 4 image data', status: 'missing', detail: `no event log from ${expected ? 'stubemu' : 'the QEMU guest'}` }
      : compareImageLoads('PCR 4 image data', expected, got));
    checks.push(compareValue('cmdline', guest.cmdline, emu.cmdline));
    // The raw initrd when the kernel kept it (retain_initrd, Linux ≥ 6.3), otherwise the files it unpacked.
    if (guest.initrd) {
      const r = compareValue('initrd', `${guest.initrd.size} bytes sha256 ${guest.initrd.sha256}`, emu.initrd && `${emu.initrd.size} bytes sha256 ${emu.initrd.sha256}`);
      checks.push(r.status === 'identical' ? { ...r, detail: `raw bytes: ${r.detail}` } : r);
    } else {
      const r = compareValue('initrd', filesText(guest.files), filesText(emu.files));
      checks.push(r.status === 'identical' ? { ...r, detail: `unpacked files (no /sys/firmware/initrd): ${r.detail}` } : r);
    }
    return {
      id: c.id, stub: c.stub, kernel: c.kernel, cmdline: c.cmdline ?? null, loaderOptions: c.loaderOptions ?? null, checks,
      timings: { qemuMs: Math.round(q.ms), qemuToInitMs: q.toInitMs === undefined ? null : Math.round(q.toInitMs), stubemuMs: Math.round(emu.ms) },
      stubemuOutcome: emu.outcome, problems,
    };
  } finally {
    for (const f of cleanups) f();
    rmSync(esp, { recursive: true, force: true });
  }
}
