// `npm run bench -- [options]`: the bench's command line.
import { parseArgs } from 'node:util';

export const CASE_GROUPS = ['uki', 'uki64', 'kernel', 'samples', 'uki-xz', 'uki612'] as const;
export type CaseGroup = typeof CASE_GROUPS[number];

export interface BenchOptions {
  readonly runs: number;
  readonly cases: readonly CaseGroup[];
  readonly qemu: boolean;
  readonly json: string | undefined;
  /** Bound of one QEMU boot to the kernel's first line; a run past it is reported as timed out. */
  readonly qemuTimeoutSeconds: number;
  /** Write a V8 CPU profile of one stubemu run per case into this directory (`node --cpu-prof`). */
  readonly cpuProf: string | undefined;
  /** One extra run per Linux case with the sampling profiler: where guest time goes. */
  readonly profile: boolean;
  readonly help: boolean;
}

export const BENCH_USAGE = `usage: npm run bench -- [options]

Time and memory of stubemu to ExitBootServices, beside QEMU+OVMF(+swtpm) to the kernel's first console line
and the host floor (hash the measured sections, copy kernel and initrd). Build first: npx tsc -p .

options:
  --runs N               runs per case and figure (default 5, at least 3)
  --cases LIST           comma-separated: ${CASE_GROUPS.join(',')} (default all)
  --no-qemu              skip the QEMU+OVMF reference (also skipped, with a note, when it cannot be installed)
  --qemu-timeout SECONDS bound of one QEMU boot (default 300)
  --no-profile           skip the profiled run per Linux case (where guest time goes) and the KVM engine figures
  --cpu-prof DIR         also write one V8 CPU profile per case (node --cpu-prof) into DIR
  --json FILE            write every sample and summary as JSON
`;

export class BenchUsageError extends Error {}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        runs: { type: 'string' },
        cases: { type: 'string' },
        'no-qemu': { type: 'boolean' },
        'qemu-timeout': { type: 'string' },
        'cpu-prof': { type: 'string' },
        'no-profile': { type: 'boolean' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const runs = values.runs === undefined ? 5 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 3) throw new BenchUsageError(`--runs: need an integer of at least 3 (median and spread), got ${values.runs}`);
  const qemuTimeoutSeconds = values['qemu-timeout'] === undefined ? 300 : Number(values['qemu-timeout']);
  if (!Number.isFinite(qemuTimeoutSeconds) || qemuTimeoutSeconds <= 0) throw new BenchUsageError(`--qemu-timeout: not a positive number: ${values['qemu-timeout']}`);
  let cases: CaseGroup[] = [...CASE_GROUPS];
  if (values.cases !== undefined) {
    const names = values.cases.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = names.filter((n) => !(CASE_GROUPS as readonly string[]).includes(n));
    if (unknown.length > 0 || names.length === 0) throw new BenchUsageError(`--cases: unknown ${unknown.join(',') || '(empty list)'}; choose from ${CASE_GROUPS.join(',')}`);
    cases = CASE_GROUPS.filter((g) => names.includes(g));
  }
  return {
    runs, cases, qemu: !(values['no-qemu'] ?? false), json: values.json, qemuTimeoutSeconds, cpuProf: values['cpu-prof'],
    profile: !(values['no-profile'] ?? false),
    help: values.help ?? false,
  };
}
