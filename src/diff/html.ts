// The HTML form of a report diff (`stubemu diff A B --html FILE`): the same facets as the text form, as tables
// with rows coloured by kind (only in A, only in B, different), on the report page's self-contained shell.
import { html, Html } from '../report-html/html';
import { pageShell } from '../report-html/page';
import { Aligned, FieldChange, ReportDiff } from './compare';

const changesTable = (id: string, rows: FieldChange[], what = 'field'): Html =>
  rows.length === 0
    ? html`<p class="none" id="${id}">same</p>`
    : html`<table id="${id}"><thead><tr><th>${what}</th><th>A</th><th>B</th></tr></thead><tbody>${rows.map((c) => html`<tr class="diff-chg"><td class="mono">${c.field}</td><td class="mono">${c.a ?? '(none)'}</td><td class="mono">${c.b ?? '(none)'}</td></tr>`)}</tbody></table>`;

function alignedTable<T>(id: string, rows: Aligned<T>[], cols: { head: string; cell: (x: T) => string }[], foldSame = true): Html {
  const body: Html[] = [];
  let run = 0;
  const flush = () => {
    if (run > 0) body.push(html`<tr class="same-run"><td colspan="${cols.length * 2 + 2}" class="note">… ${run} in both, equal</td></tr>`);
    run = 0;
  };
  for (const r of rows) {
    if (r.op === 'same' && r.changes.length === 0 && foldSame) {
      run++;
      continue;
    }
    flush();
    const cells = (x: T | undefined) => cols.map((c) => html`<td class="mono">${x === undefined ? '' : c.cell(x)}</td>`);
    if (r.op === 'only-a') body.push(html`<tr class="diff-del" data-op="only-a"><td>−</td>${cells(r.a)}${cells(undefined)}<td></td></tr>`);
    else if (r.op === 'only-b') body.push(html`<tr class="diff-add" data-op="only-b"><td>+</td>${cells(undefined)}${cells(r.b)}<td></td></tr>`);
    else body.push(html`<tr class="${r.changes.length ? 'diff-chg' : ''}" data-op="${r.changes.length ? 'changed' : 'same'}"><td>${r.changes.length ? '~' : '='}</td>${cells(r.a)}${cells(r.b)}<td class="mono">${r.changes.map((c) => `${c.field}: ${c.a ?? '(none)'} → ${c.b ?? '(none)'}`).join('; ')}</td></tr>`);
  }
  flush();
  return html`<div class="scroll"><table id="${id}"><thead><tr><th></th>${cols.map((c) => html`<th>A ${c.head}</th>`)}${cols.map((c) => html`<th>B ${c.head}</th>`)}<th>differences</th></tr></thead><tbody>${body}</tbody></table></div>`;
}

export function renderDiffHtml(d: ReportDiff): string {
  const verdict = html`<p><span id="diff-verdict" class="badge ${d.identical ? 'ok' : 'bad'}">${d.identical ? 'identical' : 'different'}</span> A = <code>${d.a.name}</code> (${d.a.image}), B = <code>${d.b.name}</code> (${d.b.image})</p>`;
  const calls = d.calls.aligned === null
    ? html`<p class="none">Call sequences not compared: a report was made without --trace.</p>`
    : html`<p class="note">Aligned on the calling image, the service and the arguments that are not addresses; ${d.calls.onlyA} calls only in A, ${d.calls.onlyB} only in B, ${d.calls.changed} in both with different values. Equal runs are folded.</p>
${alignedTable('diff-calls', d.calls.aligned, [{ head: '#', cell: (c) => String(c.seq) }, { head: 'call', cell: (c) => `${c.image} ${c.service}(${c.args})${c.status ? ` → ${c.status}` : ''}` }])}`;
  const events = d.measurements.aligned === null
    ? html`<p class="none">No TPM in either run.</p>`
    : alignedTable('diff-events', d.measurements.aligned, [{ head: 'event', cell: (e) => `${e.index}: PCR ${e.pcr} ${e.type} ${e.data}` }]);
  const body = html`<section id="diff-summary"><h2>Summary</h2>${verdict}
<h3>Outcome</h3>${changesTable('diff-outcome', d.outcome)}
<h3>Images</h3>${changesTable('diff-images', d.images)}
<h3>Calls per service (A ${d.calls.total.a}, B ${d.calls.total.b})</h3>
${d.callCounts.length ? html`<table id="diff-counts"><thead><tr><th>service</th><th>A</th><th>B</th></tr></thead><tbody>${d.callCounts.map((c) => html`<tr class="diff-chg"><td>${c.service}</td><td class="num">${c.a}</td><td class="num">${c.b}</td></tr>`)}</tbody></table>` : html`<p class="none">same</p>`}</section>
<section id="diff-calls-section"><h2>Service-call sequence</h2>${calls}</section>
<section id="diff-measurements"><h2>Measurements</h2>${events}
<h3>Final PCRs</h3>${d.measurements.pcrs.length ? html`<table id="diff-pcrs"><thead><tr><th>bank</th><th>PCR</th><th>A</th><th>B</th></tr></thead><tbody>${d.measurements.pcrs.map((p) => html`<tr class="diff-chg" data-bank="${p.bank}" data-pcr="${p.pcr}"><td>${p.bank}</td><td class="num">${p.pcr}</td><td class="hash">${p.a ?? '(none)'}</td><td class="hash">${p.b ?? '(none)'}</td></tr>`)}</tbody></table>` : html`<p class="none">same</p>`}</section>
<section id="diff-variables"><h2>Variables</h2><h3>At the end</h3>${changesTable('diff-variables-final', d.variables.final, 'variable')}
<h3>Changes the guest made</h3>${alignedTable('diff-variable-changes', d.variables.changes, [{ head: 'change', cell: (x) => x }])}</section>
<section id="diff-sections"><h2>Section usage</h2>${changesTable('diff-section-usage', d.sections.flatMap((s) => s.changes.map((c) => ({ ...c, field: `${s.name} ${c.field}` }))), 'section, fact')}</section>
<section id="diff-handoff"><h2>Hand-off</h2>${changesTable('diff-handoff-table', d.handoff)}</section>`;
  const nav: [string, string][] = [['diff-summary', 'Summary'], ['diff-calls-section', 'Calls'], ['diff-measurements', 'Measurements'], ['diff-variables', 'Variables'], ['diff-sections', 'Sections'], ['diff-handoff', 'Hand-off']];
  return pageShell(`stubemu diff: ${d.a.image} vs ${d.b.image}`, d.identical ? 'identical' : 'different', nav, body);
}
