// The text form of a report diff: one block per facet, `-` only in A, `+` only in B, `~` in both but different;
// runs of equal calls are folded into one line.
import { Aligned, CallRef, FieldChange, ReportDiff } from './compare';

const change = (c: FieldChange) => `${c.field}: ${c.a ?? '(none)'} → ${c.b ?? '(none)'}`;

function callLine(c: CallRef): string {
  return `${c.image} ${c.service}(${c.args})${c.status ? ` → ${c.status}` : ''}`;
}

function alignedLines<T>(rows: readonly Aligned<T>[], label: (x: T) => string, num: ((x: T) => string) | undefined, noun: string): string[] {
  const out: string[] = [];
  let run: { a: T; b: T }[] = [];
  const flush = () => {
    if (run.length === 0) return;
    const first = run[0];
    const last = run[run.length - 1];
    const where = num ? ` (A ${num(first.a)}${run.length > 1 ? `–${num(last.a)}` : ''}, B ${num(first.b)}${run.length > 1 ? `–${num(last.b)}` : ''})` : '';
    out.push(`    = ${run.length} ${noun}${run.length > 1 ? 's' : ''} in both${where}`);
    run = [];
  };
  for (const r of rows) {
    if (r.op === 'same' && r.changes.length === 0) {
      run.push({ a: r.a, b: r.b });
      continue;
    }
    flush();
    if (r.op === 'only-a') out.push(`    - ${num ? `A ${num(r.a)} ` : ''}${label(r.a)}`);
    else if (r.op === 'only-b') out.push(`    + ${num ? `B ${num(r.b)} ` : ''}${label(r.b)}`);
    else out.push(`    ~ ${num ? `A ${num(r.a)} / B ${num(r.b)} ` : ''}${label(r.a)}: ${r.changes.map(change).join('; ')}`);
  }
  flush();
  return out;
}

export function diffText(d: ReportDiff): string {
  const lines: string[] = [];
  lines.push(`stubemu diff: A = ${d.a.name} (${d.a.image}), B = ${d.b.name} (${d.b.image}): ${d.identical ? 'identical' : 'different'}`);
  const block = (title: string, body: string[], same: string) => {
    lines.push(body.length ? `${title}:` : `${title}: ${same}`);
    lines.push(...body);
  };
  block('outcome', d.outcome.map((c) => `    ~ ${change(c)}`), 'same');
  block('images', d.images.map((c) => `    ~ ${change(c)}`), 'same');
  lines.push(`service calls: A ${d.calls.total.a}, B ${d.calls.total.b}`);
  for (const c of d.callCounts) lines.push(`    ~ ${c.service}: ${c.a} → ${c.b}`);
  if (d.calls.aligned === null) lines.push('  call sequence: not compared (a report was made without --trace)');
  else {
    lines.push(`  call sequence (aligned on image, service and arguments that are not addresses): ${d.calls.onlyA} only in A, ${d.calls.onlyB} only in B, ${d.calls.changed} with different values`);
    lines.push(...alignedLines(d.calls.aligned, callLine, (c) => `#${c.seq}`, 'call'));
  }
  if (d.measurements.aligned === null) lines.push('measurements: no TPM in either run');
  else {
    const ev = d.measurements.aligned;
    const differs = ev.some((r) => r.op !== 'same' || r.changes.length > 0);
    lines.push(`measurements (event by event): ${differs ? '' : 'same'}`.trimEnd());
    if (differs) lines.push(...alignedLines(ev, (e) => `PCR ${e.pcr} ${e.type} ${e.data}`, (e) => `event ${e.index}`, 'event'));
    block('  final PCRs', d.measurements.pcrs.map((p) => `    ~ ${p.bank} PCR ${p.pcr}: ${p.a ?? '(none)'} → ${p.b ?? '(none)'}`), 'same');
  }
  block('variables at the end', d.variables.final.map((c) => `    ~ ${change(c)}`), 'same');
  const vc = d.variables.changes.some((r) => r.op !== 'same');
  lines.push(`variable changes by the guest: ${vc ? '' : 'same'}`.trimEnd());
  if (vc) lines.push(...alignedLines(d.variables.changes, (x) => x, undefined, 'change'));
  block('section usage', d.sections.flatMap((s) => s.changes.map((c) => `    ~ ${s.name} ${change(c)}`)), 'same');
  block('hand-off', d.handoff.map((c) => `    ~ ${change(c)}`), 'same');
  return lines.join('\n') + '\n';
}
