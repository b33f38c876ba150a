// `npm run fuzz [-- --runs N] [--seed S] [--jobs J] [--case I] [--kernel]`: mutated PE/UKI headers through inspect, PCR prediction, runImage and the CLI; crashes and hangs are findings.
import fc from 'fast-check';
import { ChildProcess, fork, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeFormatError } from '../../pe/pe-image';
import { runImage } from '../../src/api';
import { BadInput } from '../../src/bad-input';
import { Outcome } from '../../src/report';
import { main as cliMain } from '../../src/cli';
import { formatInspection, inspectImage } from '../../src/uki/inspect';
import { applyCase, caseArb, decodeCase, describeCase, encodeCase, FuzzCase, loadSeeds, Seed } from './mutators';

/** The budget every fuzzed run gets: small, so that a guest stuck in a loop ends quickly. */
export const RUN_BUDGET = { maxInstructions: 5_000_000, timeoutSeconds: 5, memoryBytes: 64 << 20 } as const;
/** A run longer than its time budget plus this is a hang (the budget did not stop it). */
const HANG_GRACE_MS = 5_000;
/** A worker silent for this long on one case is killed and the case recorded as a hang. */
const WATCHDOG_MS = RUN_BUDGET.timeoutSeconds * 1000 + 60_000;
/** Cases whose file does not parse are still run (expecting BadInput) one time in this many. */
const RUN_UNPARSED_EVERY = 10;
/** One case in this many also goes through the CLI (uki inspect and run, exit codes checked). */
const CLI_EVERY = 25;

export interface Finding {
  readonly stage: 'inspect' | 'predict' | 'run' | 'cli' | 'hang' | 'host crash';
  readonly error: string;
}

export interface CaseResult {
  /** "ok uki", "PeFormatError IMAGE_FILE_HEADER.NumberOfSections", ... */
  readonly inspect: string;
  readonly predict?: string;
  /** "bad input", "returned EFI_SUCCESS", "fault #PF", "budget instructions", ... */
  readonly run?: string;
  readonly runMs?: number;
  readonly cli?: string;
  readonly finding?: Finding;
}

/** src/pcr/predict.ts predictPcrs, when it is in this build (it was written in parallel with the fuzzer). */
type Predictor = (file: Buffer, what: string) => unknown;
let predictor: Predictor | null | undefined;
function loadPredictor(): Predictor | null {
  if (predictor !== undefined) return predictor;
  predictor = null;
  try {
    const m = require('../../src/pcr/predict') as { predictPcrs?: Predictor };
    if (typeof m.predictPcrs === 'function') predictor = m.predictPcrs;
  } catch {
    /* not built: the stage is skipped and the report says so */
  }
  return predictor;
}

/** Named errors a malformed input may produce: anything else escaping inspect or prediction is a finding. */
const NAMED_ERRORS = ['PeFormatError', 'SetupHeaderError', 'CpioFormatError', 'PeEditError', 'UkiInputError', 'PcrPredictError', 'UnsupportedStubError', 'BadInput'];
const isNamedError = (e: unknown): e is Error => e instanceof Error && (NAMED_ERRORS.includes(e.name) || NAMED_ERRORS.includes(e.constructor.name));

/** "IMAGE_SECTION_HEADER[3].VirtualAddress" → "IMAGE_SECTION_HEADER[n].VirtualAddress", for the table. */
const fieldClass = (field: string): string => field.replace(/\[\d+\]/g, '[n]').replace(/DataDirectory\[[A-Z_]+\]/, 'DataDirectory[*]');

function crash(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

/** An outcome for the table: statuses by name, other values and addresses folded together. */
function outcomeLabel(o: Outcome): string {
  const fold = (text: string): string => text.replace(/0x[0-9a-f]+/g, '0x…');
  if (o.kind === 'returned' || o.kind === 'exit') return `${o.kind} ${fold(o.status)}`;
  if (o.kind === 'fault') return `fault ${fold(o.reason.split(' at ')[0].replace(/ \(.*$/, ''))}`;
  if (o.kind === 'budget') return `budget ${o.which}`;
  return o.kind;
}

/** Runs `fn` with the process's stdout and stderr swallowed (the CLI prints the guest's console). */
function silenced<T>(fn: () => T): T {
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

export interface ExamineOptions {
  run: boolean | 'if-parsed';
  cli: boolean;
  /** A directory for the CLI's input files. */
  tmp?: string;
}

/**
 * One case through every consumer. The contract: inspect either describes the file or throws a named format
 * error; runImage either throws BadInput (always when inspect found a format error) or ends with an outcome within
 * its budget; the CLI answers 2 for bad input and its documented codes otherwise.
 */
export function examine(seed: Seed, c: FuzzCase, o: ExamineOptions): CaseResult {
  const file = applyCase(seed, c);
  let inspect: string;
  let parseError: string | undefined;
  try {
    const i = inspectImage(file, seed.name);
    formatInspection(i);
    JSON.stringify(i);
    inspect = `ok ${i.kind}`;
  } catch (e) {
    if (e instanceof PeFormatError) {
      inspect = `PeFormatError ${fieldClass(e.field)}`;
      parseError = e.message;
    } else if (isNamedError(e)) inspect = e.constructor.name;
    else return { inspect: 'crash', finding: { stage: 'inspect', error: crash(e) } };
  }

  let predict: string | undefined;
  const p = loadPredictor();
  if (p) {
    try {
      p(file, seed.name);
      predict = 'ok';
    } catch (e) {
      if (!isNamedError(e)) return { inspect, predict: 'crash', finding: { stage: 'predict', error: crash(e) } };
      predict = e.constructor.name;
    }
  }

  let run: string | undefined;
  let runMs: number | undefined;
  const doRun = seed.runnable && (o.run === true || (o.run === 'if-parsed' && parseError === undefined));
  if (doRun) {
    const t0 = Date.now();
    try {
      const r = runImage({ image: file, imageName: seed.name, ...RUN_BUDGET });
      run = outcomeLabel(r.outcome);
      if (parseError !== undefined) {
        return { inspect, predict, run, finding: { stage: 'run', error: `inspect refused the file (${parseError}) but runImage ran it: ${run}` } };
      }
    } catch (e) {
      if (!(e instanceof BadInput)) return { inspect, predict, run: 'crash', finding: { stage: 'run', error: crash(e) } };
      run = 'bad input';
      if (parseError !== undefined && !e.message.endsWith(parseError)) {
        return { inspect, predict, run, finding: { stage: 'run', error: `runImage refused with "${e.message}", inspect with "${parseError}"` } };
      }
    }
    runMs = Date.now() - t0;
    if (runMs > RUN_BUDGET.timeoutSeconds * 1000 + HANG_GRACE_MS) {
      return { inspect, predict, run, runMs, finding: { stage: 'hang', error: `runImage took ${runMs} ms with a ${RUN_BUDGET.timeoutSeconds} s budget` } };
    }
  }

  let cli: string | undefined;
  if (o.cli && o.tmp) {
    const path = join(o.tmp, 'case.efi');
    writeFileSync(path, file);
    try {
      const inspectCode = silenced(() => cliMain(['uki', 'inspect', path, '--json']));
      const want = inspect.startsWith('ok') ? 0 : 2;
      if (inspectCode !== want) return { inspect, predict, run, runMs, cli: `inspect ${inspectCode}`, finding: { stage: 'cli', error: `uki inspect exited ${inspectCode}, expected ${want}` } };
      let runCode: number | undefined;
      if (seed.runnable) {
        const args = ['run', path, '--quiet', '--memory', '64M', '--max-instructions', String(RUN_BUDGET.maxInstructions), '--timeout', String(RUN_BUDGET.timeoutSeconds)];
        runCode = silenced(() => cliMain(args));
        const allowed = parseError !== undefined ? [2] : [0, 1, 2, 3, 4];
        if (!allowed.includes(runCode)) return { inspect, predict, run, runMs, cli: `run ${runCode}`, finding: { stage: 'cli', error: `stubemu run exited ${runCode}, expected ${allowed.join('/')}` } };
      }
      cli = `inspect ${inspectCode}${runCode === undefined ? '' : `, run ${runCode}`}`;
    } catch (e) {
      return { inspect, predict, run, runMs, cli: 'crash', finding: { stage: 'cli', error: crash(e) } };
    }
  }
  return { inspect, predict, run, runMs, cli };
}

/** The seed of case `i` of a campaign: each case can be regenerated alone. */
export const caseSeed = (seed: number, i: number): number => (Math.imul(seed ^ 0x5bd1e995, 0x01000193) + i * 0x9e3779b1) | 0;

export function generateCase(arb: fc.Arbitrary<FuzzCase>, seed: number, i: number): FuzzCase {
  return fc.sample(arb, { seed: caseSeed(seed, i), numRuns: 1 })[0];
}

/** Shrinks a failing case with fast-check (at most `budget` re-examinations); undefined when it does not reproduce. */
export function minimise(seeds: readonly Seed[], arb: fc.Arbitrary<FuzzCase>, seed: number, i: number, o: ExamineOptions, budget = 200): FuzzCase | undefined {
  let calls = 0;
  const byName = new Map(seeds.map((s) => [s.name, s]));
  const r = fc.check(fc.property(arb, (c) => {
    if (++calls > budget) return true;
    return examine(byName.get(c.seed)!, c, o).finding === undefined;
  }), { seed: caseSeed(seed, i), numRuns: 1 });
  return r.failed ? (r.counterexample?.[0] as FuzzCase | undefined) : undefined;
}

/**
 * Minimises a case that kills its process (a native crash in the CPU emulator): drops one mutation at a time and
 * keeps the drop when a fresh process still dies on the rest.
 */
export function minimiseHostCrash(c: FuzzCase, withKernel: boolean): FuzzCase {
  const dies = (x: FuzzCase): boolean => {
    const r = spawnSync(process.execPath, [__filename, '--examine', encodeCase(x), ...(withKernel ? ['--kernel'] : [])], { stdio: 'ignore', timeout: WATCHDOG_MS });
    return r.signal !== null && r.error === undefined;
  };
  let cur = c;
  for (let k = cur.mutations.length - 1; k >= 0 && cur.mutations.length > 1; k--) {
    const fewer = { ...cur, mutations: cur.mutations.filter((_, j) => j !== k) };
    if (dies(fewer)) cur = fewer;
  }
  return cur;
}

// --- worker / controller ---

interface WorkerJob { seed: number; runs: number; jobs: number; from: number; withKernel: boolean; abortAt?: number }
type WorkerMessage =
  | { type: 'start'; i: number }
  | { type: 'done'; i: number; result: CaseResult; description: string; minimised?: string }
  | { type: 'ready'; predict: boolean }
  | { type: 'finished' };

function workerMain(): void {
  let seeds: Seed[] = [];
  let arb: fc.Arbitrary<FuzzCase>;
  const tmp = mkdtempSync(join(tmpdir(), 'stubemu-fuzz-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  process.on('message', (job: WorkerJob) => {
    seeds = loadSeeds({ withKernel: job.withKernel });
    arb = caseArb(seeds);
    const byName = new Map(seeds.map((s) => [s.name, s]));
    process.send!({ type: 'ready', predict: loadPredictor() !== null } satisfies WorkerMessage);
    for (let i = job.from; i < job.runs; i += job.jobs) {
      process.send!({ type: 'start', i } satisfies WorkerMessage);
      // --self-test-abort: the runner's own test of its host-crash path.
      if (i === job.abortAt) process.abort();
      const c = generateCase(arb, job.seed, i);
      const o: ExamineOptions = { run: i % RUN_UNPARSED_EVERY === 0 ? true : 'if-parsed', cli: i % CLI_EVERY === 0, tmp };
      const result = examine(byName.get(c.seed)!, c, o);
      let minimised: string | undefined;
      if (result.finding && result.finding.stage !== 'hang') {
        const m = minimise(seeds, arb, job.seed, i, o);
        if (m) minimised = describeCase(m);
      }
      process.send!({ type: 'done', i, result, description: describeCase(c), minimised } satisfies WorkerMessage);
    }
    process.send!({ type: 'finished' } satisfies WorkerMessage, undefined, {}, () => process.exit(0));
  });
}

interface Options { runs: number; seed: number; jobs: number; only?: number; withKernel: boolean; abortAt?: number; json?: string }

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: 1000, seed: (Date.now() % 0x7fff_ffff) | 0, jobs: Math.max(1, Math.min(2, cpus().length)), withKernel: false };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const num = (): number => {
      const v = Number(argv[++k]);
      if (!Number.isInteger(v)) throw new Error(`${a} needs an integer`);
      return v;
    };
    if (a === '--runs') o.runs = num();
    else if (a === '--seed') o.seed = num();
    else if (a === '--jobs') o.jobs = Math.max(1, num());
    else if (a === '--case') o.only = num();
    else if (a === '--kernel') o.withKernel = true;
    else if (a === '--self-test-abort') o.abortAt = num();
    else if (a === '--json') o.json = argv[++k];
    else throw new Error(`unknown option ${a} (--runs N --seed S --jobs J --case I --kernel --json FILE)`);
  }
  return o;
}

function table(title: string, counts: Map<string, number>): string {
  const rows = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return `${title}\n${rows.map(([k, n]) => `  ${k.padEnd(w)}  ${String(n).padStart(6)}`).join('\n') || '  (none)'}`;
}

/** Reproduces one case in this process and prints everything about it. */
function reproduce(o: Options, i: number): number {
  const seeds = loadSeeds({ withKernel: o.withKernel });
  const arb = caseArb(seeds);
  const c = generateCase(arb, o.seed, i);
  const tmp = mkdtempSync(join(tmpdir(), 'stubemu-fuzz-'));
  try {
    console.log(`case ${i} of seed ${o.seed}: ${describeCase(c)}`);
    const r = examine(seeds.find((s) => s.name === c.seed)!, c, { run: true, cli: true, tmp });
    console.log(JSON.stringify(r, null, 2));
    return r.finding ? 1 : 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function controllerMain(argv: string[]): void {
  const o = parseOptions(argv);
  if (o.only !== undefined) {
    process.exitCode = reproduce(o, o.only);
    return;
  }
  const started = Date.now();
  const inspectCounts = new Map<string, number>();
  const runCounts = new Map<string, number>();
  const cliCounts = new Map<string, number>();
  const predictCounts = new Map<string, number>();
  const findings: { i: number; description: string; minimised?: string; finding: Finding }[] = [];
  // The controller regenerates a case itself when its worker died on it.
  let local: { seeds: Seed[]; arb: fc.Arbitrary<FuzzCase> } | undefined;
  const caseOf = (i: number): FuzzCase => {
    local ??= (() => {
      const seeds = loadSeeds({ withKernel: o.withKernel });
      return { seeds, arb: caseArb(seeds) };
    })();
    return generateCase(local.arb, o.seed, i);
  };
  let done = 0;
  let runs = 0;
  let runMs = 0;
  let predictAvailable = false;
  const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  console.log(`stubemu fuzz: ${o.runs} cases, seed ${o.seed}, ${o.jobs} worker(s); budget per run ${RUN_BUDGET.maxInstructions} instructions, ${RUN_BUDGET.timeoutSeconds} s, ${RUN_BUDGET.memoryBytes >> 20} MiB`);

  let live = 0;
  const finish = (): void => {
    const s = (Date.now() - started) / 1000;
    console.log(`\ntried ${done} cases in ${s.toFixed(1)} s (${(done / s).toFixed(1)} cases/s); ${runs} runImage calls, ${runs ? (runMs / runs).toFixed(1) : '-'} ms each on average`);
    console.log(table('inspectImage:', inspectCounts));
    console.log(predictAvailable ? table('PCR prediction:', predictCounts) : 'PCR prediction: skipped (src/pcr/predict.ts is not in this build)');
    console.log(table('runImage:', runCounts));
    console.log(table('CLI exit codes:', cliCounts));
    if (findings.length === 0) console.log('\nno crashes or hangs found');
    else {
      console.log(`\n${findings.length} finding(s):`);
      for (const f of findings.sort((a, b) => a.i - b.i)) {
        console.log(`- case ${f.i} [${f.finding.stage}] ${f.description}`);
        if (f.minimised) console.log(`  minimised: ${f.minimised}`);
        console.log(`  ${f.finding.error.split('\n').join('\n  ')}`);
        console.log(`  reproduce: node dist/test/fuzz/run.js --seed ${o.seed} --case ${f.i}${o.withKernel ? ' --kernel' : ''}`);
      }
    }
    if (o.json !== undefined) {
      const obj = (m: Map<string, number>): Record<string, number> => Object.fromEntries([...m.entries()].sort());
      writeFileSync(o.json, `${JSON.stringify({
        seed: o.seed, cases: done, seconds: s, runs, runMsAverage: runs ? runMs / runs : null,
        inspect: obj(inspectCounts), predict: predictAvailable ? obj(predictCounts) : null, run: obj(runCounts), cli: obj(cliCounts), findings,
      }, null, 2)}\n`);
    }
    process.exitCode = findings.length ? 1 : 0;
  };

  const spawn = (from: number, stride: number, stopAt: number): void => {
    live++;
    const child: ChildProcess = fork(__filename, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let current: { i: number; since: number } | undefined;
    let ended = false;
    const watchdog = setInterval(() => {
      if (current && Date.now() - current.since > WATCHDOG_MS) {
        findings.push({ i: current.i, description: describeCase(caseOf(current.i)), finding: { stage: 'hang', error: `no answer for ${WATCHDOG_MS / 1000} s; worker killed` } });
        done++;
        const next = current.i + stride;
        current = undefined;
        ended = true;
        child.kill('SIGKILL');
        if (next < stopAt) spawn(next, stride, stopAt);
      }
    }, 1000);
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') predictAvailable = m.predict;
      else if (m.type === 'start') current = { i: m.i, since: Date.now() };
      else if (m.type === 'done') {
        current = undefined;
        done++;
        bump(inspectCounts, m.result.inspect);
        if (m.result.predict) bump(predictCounts, m.result.predict);
        if (m.result.run) {
          bump(runCounts, m.result.run);
          runs++;
          runMs += m.result.runMs ?? 0;
        }
        if (m.result.cli) bump(cliCounts, m.result.cli);
        if (m.result.finding) findings.push({ i: m.i, description: m.description, minimised: m.minimised, finding: m.result.finding });
        if (done % 500 === 0) process.stdout.write(`  ${done} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      } else if (m.type === 'finished') ended = true;
    });
    child.on('exit', (code, signal) => {
      clearInterval(watchdog);
      if (!ended && current) {
        // The worker died inside a case: a host crash (native abort, out of memory, ...).
        const c = caseOf(current.i);
        const minimised = o.abortAt === current.i ? undefined : describeCase(minimiseHostCrash(c, o.withKernel));
        findings.push({ i: current.i, description: describeCase(c), minimised, finding: { stage: 'host crash', error: `worker exited with ${signal ?? `code ${code}`}` } });
        done++;
        const next = current.i + stride;
        if (next < stopAt) spawn(next, stride, stopAt);
      }
      if (--live === 0) finish();
    });
    child.send({ seed: o.seed, runs: stopAt, jobs: stride, from, withKernel: o.withKernel, abortAt: o.abortAt } satisfies WorkerJob);
  };
  for (let w = 0; w < Math.min(o.jobs, o.runs); w++) spawn(w, o.jobs, o.runs);
}

/** `--examine CASE-JSON`: one explicit case in this process; exit 1 on a finding (a native crash kills it). */
function examineMain(json: string, withKernel: boolean): void {
  const c = decodeCase(json);
  const seed = loadSeeds({ withKernel }).find((s) => s.name === c.seed);
  if (!seed) throw new Error(`no seed ${c.seed}`);
  const r = examine(seed, c, { run: true, cli: false });
  console.log(JSON.stringify(r, null, 2));
  process.exitCode = r.finding ? 1 : 0;
}

if (require.main === module) {
  if (process.argv[2] === '--worker') workerMain();
  else if (process.argv[2] === '--examine') examineMain(process.argv[3], process.argv.includes('--kernel'));
  else {
    try {
      controllerMain(process.argv.slice(2));
    } catch (e) {
      console.error(`stubemu fuzz: ${(e as Error).message}`);
      process.exitCode = 2;
    }
  }
}
