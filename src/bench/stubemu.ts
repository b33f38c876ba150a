// Measuring stubemu: `stubemu run` in a fresh child (wall time, peak RSS) and runImage in-process (stats, pages).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as koffi from 'koffi';
import { runImage } from '../api';
import { BenchCase, REPO_ROOT } from './cases';

export const CLI_PATH = join(REPO_ROOT, 'dist', 'src', 'cli.js');
/** Debian's `time` package: `-f %M` is the child's peak resident set in KiB (getrusage ru_maxrss). */
export const GNU_TIME = '/usr/bin/time';
export const PAGE_SIZE = 4096;
/** Wall-clock budget handed to stubemu (its default, 60 s, is meant for interactive runs). */
const RUN_TIMEOUT_SECONDS = 600;

/** Pages of `ram` holding at least one non-zero byte (the bench's "touched" figure where pagemap is unavailable). */
export function countTouchedPages(ram: Buffer): number {
  const words = Math.floor(ram.byteOffset % 8 === 0 ? ram.length / 8 : 0);
  const view = words > 0 ? new BigUint64Array(ram.buffer, ram.byteOffset, words) : undefined;
  let touched = 0;
  for (let page = 0; page * PAGE_SIZE < ram.length; page++) {
    const start = page * PAGE_SIZE;
    const end = Math.min(start + PAGE_SIZE, ram.length);
    let nonZero = false;
    if (view && end % 8 === 0) {
      for (let w = start / 8; w < end / 8; w++) if (view[w] !== 0n) { nonZero = true; break; }
    } else {
      for (let b = start; b < end; b++) if (ram[b] !== 0) { nonZero = true; break; }
    }
    if (nonZero) touched++;
  }
  return touched;
}

/** /proc/self/pagemap entry bits (Linux Documentation/admin-guide/mm/pagemap.rst), in the entry's upper 32 bits. */
const PM_PRESENT_HI = 1 << (63 - 32);
const PM_MMAP_EXCLUSIVE_HI = 1 << (56 - 32);

/**
 * Pages of `ram`'s host memory that are resident and mapped by this process alone (/proc/self/pagemap: present
 * and exclusively mapped), whatever bytes they hold: what the process's RSS counts for guest RAM, including pages
 * the guest cleared to zero. A page only read stays unresident or maps the shared zero page, which is not
 * exclusive and not in RSS. Pages at the ends are whole host pages. Undefined without a readable pagemap.
 */
export function countResidentPages(ram: Buffer): number | undefined {
  if (ram.length === 0) return 0;
  let fd: number;
  try {
    fd = openSync('/proc/self/pagemap', 'r');
  } catch {
    return undefined;
  }
  try {
    const start = koffi.address(ram);
    const first = Number(start / BigInt(PAGE_SIZE));
    const count = Number((start + BigInt(ram.length) - 1n) / BigInt(PAGE_SIZE)) - first + 1;
    const chunk = Buffer.alloc(8 * 65536);
    let resident = 0;
    for (let done = 0; done < count;) {
      const n = Math.min(count - done, chunk.length / 8);
      if (readSync(fd, chunk, 0, 8 * n, 8 * (first + done)) !== 8 * n) return undefined;
      for (let i = 0; i < n; i++) {
        const hi = chunk.readUInt32LE(8 * i + 4);
        if ((hi & PM_PRESENT_HI) !== 0 && (hi & PM_MMAP_EXCLUSIVE_HI) !== 0) resident++;
      }
      done += n;
    }
    return resident;
  } finally {
    closeSync(fd);
  }
}

export interface InProcessSample {
  readonly runImageMs: number;
  readonly emulationMs: number;
  readonly serviceMs: number;
  /** Times Unicorn returned to the host (service calls, RDTSC sites, instruction chunks). */
  readonly stops: number;
  readonly calls: number;
  /** Guest RAM pages resident at the end of the run (countResidentPages; non-zero pages without a pagemap). */
  readonly touchedPages: number;
  /** Guest RAM pages holding a non-zero byte at the end of the run (countTouchedPages). */
  readonly nonZeroPages: number;
  readonly outcome: string;
}

export function runOptions(c: BenchCase) {
  return {
    image: c.image,
    imageName: c.imagePath.split('/').pop()!,
    initrds: c.initrd ? [c.initrd] : undefined,
    loadOptions: c.loadOptions,
    timeoutSeconds: RUN_TIMEOUT_SECONDS,
  };
}

/** One runImage in this process; `touched` false skips the page counts (the non-zero scan reads all guest RAM). */
export function measureInProcess(c: BenchCase, touched = true): InProcessSample {
  const t0 = performance.now();
  const r = runImage(runOptions(c));
  const runImageMs = performance.now() - t0;
  const s = r.machine.stats;
  return {
    runImageMs,
    emulationMs: s.emulationMs,
    serviceMs: s.serviceMs,
    stops: s.stops,
    calls: (r.report.calls as { total: number }).total,
    ...(touched ? pageCounts(r.firmware.mem.ram) : { touchedPages: Number.NaN, nonZeroPages: Number.NaN }),
    outcome: r.outcome.kind,
  };
}

function pageCounts(ram: Buffer): { touchedPages: number; nonZeroPages: number } {
  // Resident pages first: the non-zero scan maps the zero page over the rest of RAM (present, not exclusive).
  const resident = countResidentPages(ram);
  const nonZeroPages = countTouchedPages(ram);
  return { touchedPages: resident ?? nonZeroPages, nonZeroPages };
}

export interface ChildSample {
  /** From spawn to the summary line on stderr (written once the run ended: ExitBootServices, return, fault). */
  readonly toSummaryMs: number;
  /** From spawn to the process's exit. */
  readonly toExitMs: number;
  readonly maxRssKiB: number;
  readonly exitCode: number | null;
  readonly summary: string;
  /** "N service calls" from the summary line. */
  readonly calls: number | undefined;
}

/** The `stubemu run` arguments of a case (also what the docs show). */
export function cliArgs(c: BenchCase): string[] {
  return [
    'run', c.imagePath, '--quiet', '--timeout', String(RUN_TIMEOUT_SECONDS),
    ...(c.initrdPath ? ['--initrd', c.initrdPath] : []),
    ...(c.loadOptions !== undefined ? ['--load-options', c.loadOptions] : []),
  ];
}

const SUMMARY = /^stubemu: .*; (\d+) service calls in [\d.]+ s$/m;

/**
 * `node dist/src/cli.js run ...` in a fresh process under GNU time (or, without it, a preloaded module that
 * records process.resourceUsage().maxRSS at exit). `scratch` is a directory for the RSS file.
 */
export function measureChild(c: BenchCase, scratch: string, cpuProfDir?: string): Promise<ChildSample> {
  const rssFile = join(scratch, `rss-${process.pid}-${Date.now()}.txt`);
  const nodeArgs = [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), CLI_PATH, ...cliArgs(c)];
  let command: string;
  let args: string[];
  if (existsSync(GNU_TIME)) {
    command = GNU_TIME;
    args = ['-o', rssFile, '-f', '%M', process.execPath, ...nodeArgs];
  } else {
    const preload = join(scratch, 'maxrss-preload.js');
    writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
    command = process.execPath;
    args = ['--require', preload, ...nodeArgs];
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let toSummaryMs: number | undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (toSummaryMs === undefined && SUMMARY.test(stderr)) toSummaryMs = performance.now() - t0;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const toExitMs = performance.now() - t0;
      let maxRssKiB = Number.NaN;
      try {
        // GNU time writes "Command exited with non-zero status N" before the format line when the child fails.
        const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
        maxRssKiB = Number(lines[lines.length - 1]);
        rmSync(rssFile);
      } catch {
        // Reported as NaN: the child died before writing it.
      }
      const m = SUMMARY.exec(stderr);
      resolve({
        toSummaryMs: toSummaryMs ?? toExitMs, toExitMs, maxRssKiB, exitCode: code,
        summary: m ? m[0] : stderr.trim().split('\n').pop() ?? '', calls: m ? Number(m[1]) : undefined,
      });
    });
  });
}
