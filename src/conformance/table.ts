// The conformance table: one row per case, one column per check, then every difference in full and the timings.
import { CaseResult } from './run-case';

const MARK: Record<string, string> = { identical: 'same', different: 'DIFF', missing: 'n/a' };

export function conformanceTable(results: readonly CaseResult[]): string {
  if (results.length === 0) return 'no cases\n';
  const checks = results[0].checks.map((c) => c.check);
  const idWidth = Math.max(4, ...results.map((r) => r.id.length));
  const widths = checks.map((c) => Math.max(c.length, 4));
  const row = (id: string, cells: string[]) => `${id.padEnd(idWidth)}  ${cells.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd();
  const lines = [row('case', checks), row('-'.repeat(idWidth), widths.map((w) => '-'.repeat(w)))];
  for (const r of results) lines.push(row(r.id, r.checks.map((c) => MARK[c.status])));
  lines.push('');
  for (const r of results) {
    for (const c of r.checks) if (c.status !== 'identical') lines.push(`${r.id} / ${c.check}: ${c.status === 'missing' ? 'not compared, ' : ''}${c.detail}`);
    for (const p of r.problems) lines.push(`${r.id}: ${p.slice(0, 400)}`);
  }
  lines.push('');
  lines.push(`${'case'.padEnd(idWidth)}  QEMU total   QEMU to /init  stubemu to EBS`);
  for (const r of results) {
    const s = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);
    lines.push(`${r.id.padEnd(idWidth)}  ${s(r.timings.qemuMs).padStart(10)}  ${s(r.timings.qemuToInitMs).padStart(14)}  ${s(r.timings.stubemuMs).padStart(14)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** True when every check of every case came out identical. */
export function allIdentical(results: readonly CaseResult[]): boolean {
  return results.every((r) => r.checks.every((c) => c.status === 'identical'));
}
