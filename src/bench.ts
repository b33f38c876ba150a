// `npm run bench`: stubemu's time and memory to ExitBootServices, beside QEMU+OVMF(+swtpm) and the host floor.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BenchCase, prepareCases } from './bench/cases';
import { floorBytes, floorInputs, floorOnce } from './bench/floor';
import { formatFacts, machineFacts } from './bench/machine-facts';
import { BENCH_PROFILE_MS, kvmFigures, profileCase, profileLines } from './bench/engines';
import { BENCH_USAGE, BenchOptions, BenchUsageError, parseBenchArgs } from './bench/options';
import { bootInQemu, ensureQemuTools, QemuSample, QemuTools } from './bench/qemu';
import { CaseSamples, summarizeCase } from './bench/results';
import { ChildSample, InProcessSample, measureChild, measureInProcess } from './bench/stubemu';
import { NamedSummary, referenceTable, stubemuTable, TABLE_NOTES } from './bench/table';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function benchCase(c: BenchCase, o: BenchOptions, tools: QemuTools | undefined, scratch: string): Promise<CaseSamples> {
  const child: ChildSample[] = [];
  for (let i = 0; i < o.runs; i++) {
    const s = await measureChild(c, scratch);
    child.push(s);
    log(`  ${c.id} child ${i + 1}/${o.runs}: ${(s.toSummaryMs / 1000).toFixed(2)} s, ${(s.maxRssKiB / 1024).toFixed(0)} MiB, ${s.summary}`);
  }
  if (o.cpuProf) {
    const dir = resolve(o.cpuProf, c.id.replace(/[^\w.-]/g, '_'));
    mkdirSync(dir, { recursive: true });
    await measureChild(c, scratch, dir);
    log(`  ${c.id} CPU profile in ${dir}`);
  }
  const inProcess: InProcessSample[] = [];
  for (let i = 0; i < o.runs; i++) {
    const s = measureInProcess(c, i === 0);
    inProcess.push(s);
    log(`  ${c.id} runImage ${i + 1}/${o.runs}: ${(s.runImageMs / 1000).toFixed(2)} s (emulation ${(s.emulationMs / 1000).toFixed(2)} s, services ${(s.serviceMs / 1000).toFixed(2)} s), ${s.calls} calls, ${s.outcome}`);
  }
  let qemu: QemuSample[] | undefined;
  if (tools && c.bootsLinux) {
    qemu = [];
    for (let i = 0; i < o.runs; i++) {
      const s = await bootInQemu(c, tools, o.qemuTimeoutSeconds * 1000);
      qemu.push(s);
      log(`  ${c.id} QEMU ${i + 1}/${o.runs}: ${s.toKernelMs !== undefined ? `${(s.toKernelMs / 1000).toFixed(2)} s to "Linux version"` : s.failure}`);
    }
  }
  const f = floorInputs(c);
  const floorMs: number[] = [];
  for (let i = 0; i < o.runs; i++) floorMs.push(floorOnce(f).ms);
  return { child, inProcess, qemu, floorMs, floorBytes: floorBytes(f) };
}

async function main(argv: string[]): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${BENCH_USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const loadAtStart = loadavg()[0];
  let tools: QemuTools | undefined;
  let qemuNote = 'QEMU reference not run (--no-qemu)';
  if (o.qemu) {
    const t = ensureQemuTools(log);
    if (typeof t === 'string') qemuNote = `QEMU reference skipped: ${t}`;
    else {
      tools = t;
      qemuNote = '';
    }
  }
  const scratch = mkdtempSync(join(tmpdir(), 'stubemu-bench-'));
  try {
    const cases = prepareCases(o.cases, scratch);
    const results: (NamedSummary & { description: string; samples: CaseSamples })[] = [];
    for (const c of cases) {
      log(`bench: ${c.id} (${c.description})`);
      const samples = await benchCase(c, o, tools, scratch);
      results.push({ id: c.id, description: c.description, summary: summarizeCase(samples, c.id), samples });
    }
    // Where guest time goes (one profiled run per Linux case), and the second CPU engine where the host allows it.
    const profile: string[] = [];
    const kvm: string[] = [];
    const profiles: Record<string, unknown> = {};
    if (o.profile) {
      for (const c of cases.filter((x) => x.bootsLinux)) {
        log(`bench: ${c.id}: profiled run`);
        const p = profileCase(c);
        profiles[c.id] = p;
        profile.push(...profileLines(c.id, p));
        const k = kvmFigures(c, o.runs);
        kvm.push(typeof k === 'string' ? `${c.id}: KVM engine not used: ${k}` : `${c.id}: KVM engine runImage ${k.medianMs.toFixed(0)} ms median of ${o.runs} (${k.outcome})`);
      }
    }
    const facts = machineFacts(tools, loadAtStart);
    const out = [
      `stubemu bench, ${o.runs} runs per figure`,
      '',
      stubemuTable(results),
      '',
      referenceTable(results),
      '',
      TABLE_NOTES,
      ...(qemuNote ? [qemuNote] : []),
      '',
      ...(profile.length > 0 ? [`where guest time goes (Unicorn, RIP sampled every ${BENCH_PROFILE_MS} ms of emulation):`, ...profile, '', ...kvm, ''] : []),
      formatFacts(facts),
      '',
    ].join('\n');
    process.stdout.write(out);
    if (o.json) {
      writeFileSync(o.json, `${JSON.stringify({ machine: facts, options: o, qemu: qemuNote || 'run', cases: results, profiles, kvm }, null, 2)}\n`);
      log(`bench: JSON in ${o.json}`);
    }
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
