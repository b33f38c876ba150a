// `stubemu report RUN.json -o RUN.html`: one self-contained page (inline CSS, SVG and a few lines of script; no
// network) showing a run: summary, call timeline, memory map to scale, UKI section usage, TCG events with a PCR
// replay, variables, and the kernel hand-off.
import { html, Html, join } from './html';
import { memoryMapSvg, fmtSize, handoffMarkers, typeColour } from './memory-svg';
import { callerImage, MemoryDescriptor, RunReport, SectionUse, TcgEvent, TraceCall } from './model';
import { replayPcrs } from './pcr-replay';
import { CSS, SCRIPT } from './style';
import { callTime, timelineSvg } from './timeline-svg';

export function outcomeText(o: RunReport['outcome']): string {
  switch (o.kind) {
    case 'exit-boot-services': return `ExitBootServices succeeded (returning to ${String(o.returnAddress ?? '?')})`;
    case 'returned': return `returned ${o.status ?? ''}`;
    case 'exit': return `Exit() with ${o.status ?? ''}${o.exitData ? ` "${String(o.exitData)}"` : ''}`;
    case 'reset': return `ResetSystem(${String(o.resetType)}, ${o.status ?? ''})`;
    case 'fault': return `fault: ${String(o.reason)}`;
    case 'budget': return `budget exhausted (${String(o.which)}): ${String(o.message ?? '')}`;
    case 'refused': return `refused by Secure Boot (${o.status ?? ''}): ${String(o.reason ?? '')}`;
    default: return o.kind;
  }
}

/** A one-line rendering of an event's decoded data (PFP event structures as the report decodes them). */
export function eventDataText(e: TcgEvent): string {
  const d = e.data as Record<string, unknown> | undefined;
  if (d === undefined || d === null) return '';
  if (typeof d !== 'object') return String(d);
  if (typeof d.unicodeName === 'string') return `${d.unicodeName} (${String(d.variableName)}) = ${String(d.variableData) || '(empty)'}`;
  if (d.taggedEventId !== undefined) return `${String(d.name ?? d.taggedEventId)}: ${String(d.text ?? '')}`;
  if (d.imageLocationInMemory !== undefined) return `image at ${String(d.imageLocationInMemory)} (${String(d.imageLengthInMemory)} bytes) ${String(d.devicePath ?? '')}`;
  if (typeof d.signature === 'string') return `${d.signature} (log header)`;
  if (typeof d.text === 'string') return JSON.stringify(d.text);
  if (d.value !== undefined) return `${String(d.value)} (${String(d.meaning ?? '')})`;
  return JSON.stringify(d);
}

const kv = (pairs: [string, Html | string | number | undefined | null][]): Html =>
  html`<dl class="kv">${pairs.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => html`<dt>${k}</dt><dd>${v as Html | string | number}</dd>`)}</dl>`;

const short = (h: string, n = 16) => html`<span class="hash" title="${h}">${h.length > n ? `${h.slice(0, n)}…` : h}</span>`;

function summary(r: RunReport): Html {
  const images = r.images ?? [];
  const bad = (r.guestErrors?.length ?? 0) > 0;
  return html`<section id="summary"><h2>Summary</h2>
${kv([
    ['image', html`<span id="summary-image">${r.image.name}</span>`],
    ['size', `${r.image.size} bytes`],
    ['sha256', html`<span class="hash">${r.image.sha256}</span>`],
    ['outcome', html`<span id="summary-outcome" class="${['fault', 'budget'].includes(r.outcome.kind) ? 'bad' : 'ok'}">${outcomeText(r.outcome)}</span>`],
    ['service calls', html`<span id="summary-calls">${r.calls.total}</span>${r.calls.trace ? '' : ' (run without --trace: counts only)'}`],
    ['virtual time', r.time ? `${r.time.virtualMicros} µs` : undefined],
    ['images loaded', String(images.length)],
    ['TCG events', r.eventLog ? String(r.eventLog.length) : 'no TPM'],
    ['guest errors', html`<span class="${bad ? 'bad' : ''}">${r.guestErrors?.length ?? 0}</span>`],
    ['unimplemented', (r.unimplemented ?? []).map((u) => `${u.service} ×${u.calls}`).join(', ') || 'none called'],
  ])}
<h3>Images</h3>
<table id="images-table"><thead><tr><th>name</th><th>base</th><th>size</th><th>entry</th><th>source</th><th>device path</th><th>file sha256</th><th>started</th><th>exit status</th></tr></thead><tbody>
${images.map((i) => html`<tr><td class="mono">${i.name}</td><td class="mono">${i.base}</td><td class="num">${fmtSize(i.size)}</td><td class="mono">${i.entry}</td><td>${i.source}</td><td class="mono">${i.devicePath ?? ''}</td><td>${short(i.fileSha256)}</td><td>${i.started ? 'yes' : 'no'}</td><td>${i.exitStatus ?? ''}</td></tr>`)}
</tbody></table>
${r.guestErrors && r.guestErrors.length > 0 ? html`<h3>Guest errors</h3><table id="guest-errors"><thead><tr><th>call #</th><th>service</th><th>caller</th><th>message</th></tr></thead><tbody>${r.guestErrors.map((g) => html`<tr><td class="num">${g.seq}</td><td>${g.service}</td><td class="mono">${g.caller}</td><td>${g.message}</td></tr>`)}</tbody></table>` : ''}
${r.missingProtocols && r.missingProtocols.length > 0 ? html`<h3>Protocols asked for and not found</h3><table id="missing-protocols"><thead><tr><th>protocol</th><th>GUID</th><th>misses</th><th>on some handle</th><th>asked by</th></tr></thead><tbody>${r.missingProtocols.map((m) => html`<tr><td>${m.name ?? ''}</td><td class="mono">${m.guid}</td><td class="num">${m.calls}</td><td>${m.installed ? 'yes' : 'no'}</td><td class="mono">${m.callers.map((c) => `${c.service} from ${c.caller} ×${c.calls}`).join('; ')}</td></tr>`)}</tbody></table>` : ''}
${r.fault ? html`<h3>Fault</h3><pre class="console">${JSON.stringify(r.fault, null, 2)}</pre>` : ''}
<h3>Console output</h3>
${r.console ? html`<pre class="console" id="console">${r.console}</pre>` : html`<p class="none">nothing written to ConOut</p>`}
${r.stdErr ? html`<h3>StdErr</h3><pre class="console">${r.stdErr}</pre>` : ''}
<details><summary>Calls per service</summary><table id="call-counts"><thead><tr><th>service</th><th>calls</th></tr></thead><tbody>${Object.entries(r.calls.counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([s, n]) => html`<tr><td>${s}</td><td class="num">${n}</td></tr>`)}</tbody></table></details>
<details><summary>Options of the run</summary><pre class="console">${JSON.stringify(r.options ?? {}, null, 2)}</pre></details>
</section>`;
}

const argsText = (c: TraceCall) => Object.entries(c.args).map(([k, v]) => `${k}=${v}`).join(' ');

function timeline(r: RunReport): Html {
  const trace = r.calls.trace;
  if (!trace) {
    return html`<section id="timeline"><h2>Timeline</h2><p class="none" id="no-trace">This report was made without <code>--trace</code>: only call counts are known. Run again with <code>stubemu run IMAGE --trace --json RUN.json</code> for the timeline.</p></section>`;
  }
  const names = (r.images ?? []).map((i) => i.name);
  return html`<section id="timeline"><h2>Timeline of service calls</h2>
<p class="note">One lane per image (the image the call came from), one row per nesting depth; x is the virtual clock, which moves 1 µs per call, by Stall() and to the next timer when the guest waits. ${trace.length} calls from ${new Set(trace.map((c) => callerImage(c.caller, names))).size} image(s).</p>
<div class="scroll">${timelineSvg(trace, names)}</div>
<p class="note">Every call with its arguments is listed under <a href="#calls">Calls</a>.</p></section>`;
}

function callList(r: RunReport): Html {
  const trace = r.calls.trace;
  if (!trace) return html``;
  const names = (r.images ?? []).map((i) => i.name);
  return html`<section id="calls"><h2>Every call</h2>
<input class="filter" data-filter="calls-table" placeholder="filter calls (service, argument, status…)">
<div class="scroll"><table id="calls-table"><thead><tr><th>#</th><th>µs</th><th>image</th><th>service (indented by depth)</th><th>caller</th><th>arguments</th><th>status</th><th>notes</th></tr></thead><tbody>
${trace.map((c) => html`<tr data-seq="${c.seq}"><td class="num">${c.seq}</td><td class="num">${callTime(c)}</td><td class="mono">${callerImage(c.caller, names)}</td><td class="depth">${'  '.repeat(Math.max(0, c.depth - 1))}${c.service}</td><td class="mono">${c.caller}</td><td class="mono">${argsText(c)}</td><td>${c.status ?? ''}</td><td>${(c.notes ?? []).join('; ')}</td></tr>`)}
</tbody></table></div></section>`;
}

function memory(r: RunReport): Html {
  const markers = handoffMarkers(r);
  const images = r.images ?? [];
  const contents = (d: MemoryDescriptor): string => {
    const s = BigInt(d.start);
    const e = s + BigInt(d.pages) * 4096n;
    const inside = (a: bigint, n: bigint) => a < e && a + n > s;
    return [
      ...images.filter((i) => inside(BigInt(i.base), BigInt(i.size))).map((i) => `image ${i.name}`),
      ...markers.filter((m) => inside(m.start, m.size)).map((m) => m.label),
    ].join(', ');
  };
  return html`<section id="memory"><h2>Memory map</h2>
<p class="note">At the end of the run${r.outcome.kind === 'exit-boot-services' ? ' (after ExitBootServices)' : ''}: ${(r.memoryMap ?? []).length} descriptors.</p>
<div class="scroll">${memoryMapSvg(r)}</div>
<h3>Descriptors</h3>
<table id="memory-table"><thead><tr><th>type</th><th>start</th><th>end</th><th>pages</th><th>size</th><th>attribute</th><th>holds</th></tr></thead><tbody>
${(r.memoryMap ?? []).map((d) => html`<tr><td><span class="legend"><span class="key"><i style="background:${typeColour(d.type)}"></i>${d.type}</span></span></td><td class="mono">${d.start}</td><td class="mono">0x${(BigInt(d.start) + BigInt(d.pages) * 4096n - 1n).toString(16)}</td><td class="num">${d.pages}</td><td class="num">${fmtSize(BigInt(d.pages) * 4096n)}</td><td class="mono">${d.attribute}</td><td>${contents(d)}</td></tr>`)}
</tbody></table></section>`;
}

function firstAccessText(s: SectionUse): string {
  const f = s.firstAccess;
  if (f === null) return 'never touched by guest code';
  if (typeof f === 'string') return f;
  return `${f.access} of ${f.at} by ${f.by}`;
}

function sections(r: RunReport): Html {
  if (!r.imageSections) return html`<section id="sections"><h2>Sections</h2><p class="none">The report has no section usage.</p></section>`;
  const h = r.handoff;
  const copyNote = (a: string): string => (h?.initrd?.address === a ? ' = hand-off initrd' : h?.bootParams?.cmdline?.address === a ? ' = hand-off cmdline' : h?.kernel?.address === a ? ' = hand-off kernel image' : '');
  const passed = (s: SectionUse): string => {
    const counts = new Map<string, number>();
    for (const p of s.passedTo) counts.set(`${p.service}(${p.argument})`, (counts.get(`${p.service}(${p.argument})`) ?? 0) + 1);
    return [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ');
  };
  return html`<section id="sections"><h2>Sections of ${r.image.name} and what the guest did with them</h2>
<table id="sections-table"><thead><tr><th>section</th><th>rva</th><th>size</th><th>sha256</th><th>first access</th><th>passed to</th><th>copies at the end</th></tr></thead><tbody>
${r.imageSections.map((s) => html`<tr data-section="${s.name}"><td class="mono">${s.name}</td><td class="mono">${s.rva}</td><td class="num">${s.size}</td><td>${short(s.sha256)}</td><td class="first-access">${firstAccessText(s)}</td><td class="passed-to">${passed(s) || '—'}</td><td class="copies">${s.copies.length === 0 ? '—' : s.copies.map((c) => `${c.address} (${c.memoryType}, ${c.length} bytes${copyNote(c.address)})`).join('; ')}</td></tr>`)}
</tbody></table></section>`;
}

function measurements(r: RunReport): Html {
  if (!r.eventLog) return html`<section id="measurements"><h2>Measurements</h2><p class="none">No TPM in this run.</p></section>`;
  const banks = [...new Set(r.eventLog.flatMap((e) => Object.keys(e.digests)))].sort();
  const shown = banks.includes('sha256') ? 'sha256' : banks[0];
  const replay = replayPcrs(r.eventLog, r.pcrs);
  const allMatch = replay.every((x) => x.matches);
  return html`<section id="measurements"><h2>Measurements (TCG event log)</h2>
<input class="filter" data-filter="tcg-events" placeholder="filter events (PCR, type, text…)">
<table id="tcg-events"><thead><tr><th>#</th><th>PCR</th><th>type</th><th>${shown} digest</th><th>event data</th></tr></thead><tbody>
${r.eventLog.map((e, i) => html`<tr data-pcr="${e.pcr}"><td class="num">${i}</td><td class="num">${e.pcr}</td><td class="mono">${e.type}</td><td>${e.digests[shown] ? short(e.digests[shown], 20) : ''}</td><td class="mono">${eventDataText(e)}</td></tr>`)}
</tbody></table>
<h3>PCR replay <span id="replay-verdict" class="badge ${allMatch ? 'ok' : 'bad'}">${allMatch ? 'the log replays to the reported PCRs' : 'the log does NOT replay to the reported PCRs'}</span></h3>
<p class="note">Each PCR recomputed from zero by extending the digests of its events in log order (EV_NO_ACTION is not extended), next to the value the TPM reported.</p>
<table id="pcr-replay"><thead><tr><th>bank</th><th>PCR</th><th>events</th><th>replayed</th><th>reported</th><th></th></tr></thead><tbody>
${replay.map((x) => html`<tr data-bank="${x.bank}" data-pcr="${x.pcr}"><td>${x.bank}</td><td class="num">${x.pcr}</td><td class="num">${x.events}</td><td class="hash replayed">${x.replayed}</td><td class="hash reported">${x.reported ?? '(not reported)'}</td><td class="${x.matches ? 'ok' : 'bad'}">${x.matches ? '✓' : '✗'}</td></tr>`)}
</tbody></table></section>`;
}

function variables(r: RunReport): Html {
  const vars = r.variables ?? [];
  const changes = r.variableChanges ?? [];
  const value = (v: { utf16?: string; data?: string }) => (v.utf16 !== undefined ? JSON.stringify(v.utf16) : v.data && v.data.length > 96 ? `${v.data.slice(0, 96)}…` : (v.data ?? ''));
  return html`<section id="variables"><h2>Variables</h2>
<h3>Changes the guest made (${changes.length})</h3>
<table id="variable-changes"><thead><tr><th>#</th><th>op</th><th>vendor GUID</th><th>name</th><th>attributes</th><th>size</th></tr></thead><tbody>
${changes.map((c, i) => html`<tr><td class="num">${i + 1}</td><td>${c.op}</td><td class="mono">${c.guid}</td><td class="mono">${c.name}</td><td>${(c.attributes ?? []).join(' ')}</td><td class="num">${c.size ?? ''}</td></tr>`)}
</tbody></table>
<h3>The store at the end (${vars.length})</h3>
<table id="variables-table"><thead><tr><th>vendor GUID</th><th>name</th><th>attributes</th><th>size</th><th>value</th></tr></thead><tbody>
${vars.map((v) => html`<tr><td class="mono">${v.guid}</td><td class="mono">${v.name}</td><td>${v.attributes.join(' ')}</td><td class="num">${v.size}</td><td class="mono">${value(v)}</td></tr>`)}
</tbody></table></section>`;
}

function handoff(r: RunReport): Html {
  const h = r.handoff;
  if (!h) return html`<section id="handoff"><h2>Hand-off</h2><p class="none">The run did not reach ExitBootServices: no hand-off.</p></section>`;
  const bp = h.bootParams;
  const fields = (o: Record<string, string> | undefined, id: string) =>
    o ? html`<table id="${id}"><thead><tr><th>field</th><th>value</th></tr></thead><tbody>${Object.entries(o).map(([k, v]) => html`<tr class="${/^0x0$|^0$/.test(String(v)) ? 'zero' : ''}"><td class="mono">${k}</td><td class="mono">${String(v)}</td></tr>`)}</tbody></table>` : html`<p class="none">—</p>`;
  const e820 = bp?.e820 ?? [];
  return html`<section id="handoff"><h2>Kernel hand-off (at ExitBootServices)</h2>
${kv([
    ['returns to', h.cpu?.returnAddress],
    ['kernel', h.kernel ? html`<span id="handoff-kernel">${h.kernel.image} at ${h.kernel.address} (${fmtSize(h.kernel.size)}, from ${h.kernel.source})</span>` : 'not found'],
    ['kernel file sha256', h.kernel ? html`<span class="hash">${h.kernel.fileSha256}</span>` : undefined],
    ['initrd', h.initrd ? html`<span id="handoff-initrd">${h.initrd.address}, ${h.initrd.size} bytes</span>` : 'none'],
    ['initrd sha256', h.initrd ? html`<span class="hash">${h.initrd.sha256}</span>` : undefined],
    ['command line', html`<code id="handoff-cmdline">${h.cmdline ?? ''}</code>`],
    ['boot_params', bp ? bp.address : 'not found'],
  ])}
${bp ? html`<div style="display:flex;gap:24px;flex-wrap:wrap"><div><h3>Setup header (boot_params.hdr)</h3>${fields(bp.setupHeader, 'setup-header')}</div><div><h3>efi_info</h3>${fields(bp.efiInfo, 'efi-info')}<h3>screen_info</h3>${fields(bp.screenInfo, 'screen-info')}<h3>Other</h3>${kv([['acpi_rsdp_addr', bp.acpiRsdpAddr], ['cmdline', bp.cmdline ? `${bp.cmdline.address}: ${bp.cmdline.text}` : 'none'], ['ramdisk', bp.ramdisk ? `${bp.ramdisk.address}, ${bp.ramdisk.size} bytes` : 'none'], ['setup_data', String(bp.setupData?.length ?? 0)]])}</div></div>` : ''}
<h3>e820</h3>
${e820.length ? html`<table id="e820"><thead><tr><th>address</th><th>size</th><th>type</th></tr></thead><tbody>${e820.map((e) => html`<tr><td class="mono">${e.addr ?? e.address ?? ''}</td><td class="mono">${String(e.size)}</td><td>${String(e.type)}</td></tr>`)}</tbody></table>` : html`<p class="none">empty: the x86 stub fills e820 after ExitBootServices returns, from efi_info.efi_memmap.</p>`}
<h3>Memory map at ExitBootServices (${(h.memoryMap ?? []).length} descriptors)</h3>
<table id="handoff-memory-map"><thead><tr><th>type</th><th>start</th><th>pages</th><th>size</th><th>attribute</th></tr></thead><tbody>
${(h.memoryMap ?? []).map((d) => html`<tr><td>${d.type}</td><td class="mono">${d.start}</td><td class="num">${d.pages}</td><td class="num">${fmtSize(BigInt(d.pages) * 4096n)}</td><td class="mono">${d.attribute}</td></tr>`)}
</tbody></table></section>`;
}

const NAV: [string, string][] = [['summary', 'Summary'], ['timeline', 'Timeline'], ['memory', 'Memory map'], ['sections', 'Sections'], ['measurements', 'Measurements'], ['variables', 'Variables'], ['handoff', 'Hand-off'], ['calls', 'Calls']];

export function pageShell(title: string, subtitle: string, nav: [string, string][], body: Html): string {
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${title}</title><style>${CSS}</style></head>
<body><header><h1>${title}</h1><div class="sub">${subtitle}</div></header>
<nav>${nav.map(([id, label]) => html`<a href="#${id}">${label}</a>`)}</nav>
<main>${body}</main>
<script>${SCRIPT}</script></body></html>
`.text;
}

/** The whole page for one run report. */
export function renderReportHtml(r: RunReport): string {
  const body = join([summary(r), timeline(r), memory(r), sections(r), measurements(r), variables(r), handoff(r), callList(r)], '\n');
  return pageShell(`stubemu: ${r.image.name}`, `${outcomeText(r.outcome)} — ${r.calls.total} service calls`, NAV, body);
}
