// The page's stylesheet and its one small script (table filters), inlined: the page must work from file:// with
// no network.
import { trusted } from './html';

export const CSS = trusted(`
:root { --fg:#1d2330; --muted:#5c6475; --line:#d9dde5; --bg:#fff; --alt:#f6f7fa; --accent:#1f5fbf; --bad:#b3261e; --good:#1b7f3b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { padding:14px 24px; background:#16202e; color:#fff; }
header h1 { margin:0; font-size:19px; }
header .sub { color:#b9c3d3; font-size:13px; }
nav { position:sticky; top:0; background:#fff; border-bottom:1px solid var(--line); padding:6px 24px; z-index:2; }
nav a { margin-right:14px; color:var(--accent); text-decoration:none; font-size:13px; }
main { padding:8px 24px 40px; max-width:1400px; }
section { margin-top:22px; }
h2 { font-size:17px; border-bottom:2px solid var(--line); padding-bottom:4px; }
h3 { font-size:14px; margin:16px 0 6px; }
table { border-collapse:collapse; margin:6px 0; font-size:12.5px; }
th, td { border:1px solid var(--line); padding:3px 7px; text-align:left; vertical-align:top; }
th { background:var(--alt); font-weight:600; }
tr:nth-child(even) td { background:#fbfbfd; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
code, .mono, td.mono { font-family:ui-monospace, "DejaVu Sans Mono", monospace; font-size:12px; }
td.mono { overflow-wrap:anywhere; }
.hash { font-family:ui-monospace, monospace; font-size:11.5px; word-break:break-all; }
pre.console { background:#0f1722; color:#d6e2f0; padding:10px; max-height:260px; overflow:auto; font-size:12px; }
.kv { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; }
.kv dt { color:var(--muted); }
.kv dd { margin:0; }
.ok { color:var(--good); font-weight:600; }
.bad { color:var(--bad); font-weight:600; }
.none, .note { color:var(--muted); }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; margin:6px 0; }
.legend .key i { display:inline-block; width:12px; height:12px; margin-right:4px; vertical-align:-2px; border:1px solid #0003; }
.scroll { overflow-x:auto; }
svg text { font-family:ui-monospace, "DejaVu Sans Mono", monospace; }
svg.memory .addr { font-size:10px; text-anchor:end; fill:var(--muted); }
svg.memory .hole { fill:#fff; stroke:#bbb; stroke-width:0.5; }
svg.memory .mem { stroke:none; }
svg.memory .image { fill:none; stroke:#1d2330; stroke-width:1.2; }
svg.memory .section { fill:#3d5a80; }
svg.memory .marker.kernel, .legend i.k-kernel { fill:#d62828; background:#d62828; }
svg.memory .marker.initrd, .legend i.k-initrd { fill:#f77f00; background:#f77f00; }
svg.memory .marker.boot-params, svg.memory .marker.cmdline, .legend i.k-bp { fill:#6a4c93; background:#6a4c93; }
svg.memory .marker-label { font-size:10px; fill:#000; }
svg.memory .gap { font-size:10px; fill:var(--muted); font-style:italic; }
.legend i.k-image { background:#fff; border:1.5px solid #1d2330; }
.legend i.k-section { background:#3d5a80; }
svg.timeline .lane { fill:#f6f7fa; stroke:#e1e4ea; }
svg.timeline .lane-label { font-size:11px; font-weight:600; fill:var(--fg); }
svg.timeline .depth-label { font-size:9px; fill:var(--muted); text-anchor:end; }
svg.timeline .tick { stroke:#e3e6ec; }
svg.timeline .tick-label { font-size:9px; fill:var(--muted); text-anchor:middle; }
.bs, .legend i.g-bs { fill:#1f5fbf; background:#1f5fbf; }
.rt, .legend i.g-rt { fill:#8e44ad; background:#8e44ad; }
.tcg, .legend i.g-tcg { fill:#1b7f3b; background:#1b7f3b; }
.con, .legend i.g-con { fill:#777; background:#777; }
.proto, .legend i.g-proto { fill:#e07a1f; background:#e07a1f; }
svg.timeline rect.span { opacity:0.45; }
.legend i.g-span { background:#1f5fbf73; }
input.filter { margin:4px 0; padding:3px 6px; width:320px; font-size:12.5px; }
td.depth { white-space:pre; font-family:ui-monospace, monospace; font-size:12px; }
tr.diff-del td { background:#fdecea !important; }
tr.diff-add td { background:#e8f5e9 !important; }
tr.diff-chg td { background:#fff8e1 !important; }
.badge { display:inline-block; padding:1px 7px; border-radius:9px; font-size:12px; background:var(--alt); border:1px solid var(--line); }
.badge.bad { background:#fdecea; }
.badge.ok { background:#e8f5e9; }
`);

/** Filters the rows of the table named by an input's data-filter attribute by the text typed. */
export const SCRIPT = trusted(`
document.querySelectorAll('input.filter').forEach(function (input) {
  var table = document.getElementById(input.getAttribute('data-filter'));
  input.addEventListener('input', function () {
    var q = input.value.toLowerCase();
    table.querySelectorAll('tbody tr').forEach(function (tr) {
      tr.style.display = !q || tr.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
`);
