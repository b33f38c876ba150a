// What the bench adds beyond times: where guest time goes (the sampling profiler) and the KVM engine's figures.
import { runImage } from '../api';
import { cpuProblem } from '../../emulator/cpu/create-cpu';
import { ProfileReport } from '../../emulator/guest-profile';
import { BenchCase } from './cases';
import { runOptions } from './stubemu';
import { median } from './stats';

/** Sampling interval of the bench's profiled run: a few thousand samples for a Linux boot. */
export const BENCH_PROFILE_MS = 2;

/** One profiled run of a case (Unicorn engine). */
export function profileCase(c: BenchCase): ProfileReport | undefined {
  const r = runImage({ ...runOptions(c), profileMs: BENCH_PROFILE_MS });
  return r.report.profile as ProfileReport | undefined;
}

export function profileLines(id: string, p: ProfileReport | undefined): string[] {
  if (!p || p.samples === 0) return [`${id}: no samples`];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `${id}: ${p.samples} samples; ${p.byRegion.slice(0, 3).map((r) => `${r.region} ${pct(r.share)}`).join(', ')}`,
    `  hottest: ${p.topAddresses.slice(0, 6).map((r) => `${r.at} ${pct(r.share)}`).join(', ')}`,
  ];
}

/** runImage with the KVM engine, `runs` times (median ms), or why KVM cannot be used on this host. */
export function kvmFigures(c: BenchCase, runs: number): { medianMs: number; outcome: string } | string {
  const problem = cpuProblem('kvm');
  if (problem) return problem;
  const times: number[] = [];
  let outcome = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = runImage({ ...runOptions(c), cpu: 'kvm' });
    times.push(performance.now() - t0);
    outcome = r.outcome.kind;
  }
  return { medianMs: median(times), outcome };
}
