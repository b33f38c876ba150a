// The service-call timeline: one lane per image (the caller's image), one row per nesting depth inside a lane,
// x = the virtual clock (µs; it moves 1 µs per call, by Stall()'s argument and to the next timer when the guest
// waits). A call that ran other guest code (StartImage, LoadImage with a security override) is a bar from its
// start to its return.
import { html, Html, join } from './html';
import { callerImage, TraceCall } from './model';

const LANE_LABEL_W = 170;
const PLOT_W = 960;
const SUBROW_H = 16;

export function serviceGroup(service: string): string {
  const owner = service.split('.')[0];
  if (owner === 'BootServices') return 'bs';
  if (owner === 'RuntimeServices') return 'rt';
  if (owner === 'Tcg2') return 'tcg';
  if (owner === 'ConOut' || owner === 'StdErr' || owner === 'ConIn') return 'con';
  return 'proto';
}

export const callTime = (c: TraceCall): number => c.micros ?? c.seq;

export function timelineSvg(trace: readonly TraceCall[], imageNames: readonly string[]): Html {
  if (trace.length === 0) return html`<p class="none">No calls were traced.</p>`;
  const lanes: { name: string; depths: number[] }[] = [];
  const laneOf = new Map<TraceCall, string>();
  for (const c of trace) {
    const name = callerImage(c.caller, imageNames);
    laneOf.set(c, name);
    let lane = lanes.find((l) => l.name === name);
    if (!lane) lanes.push((lane = { name, depths: [] }));
    if (!lane.depths.includes(c.depth)) lane.depths.push(c.depth);
  }
  for (const l of lanes) l.depths.sort((a, b) => a - b);
  const t0 = Math.min(...trace.map(callTime));
  const t1 = Math.max(...trace.map((c) => c.returnMicros ?? callTime(c))) + 1;
  const x = (t: number) => LANE_LABEL_W + ((t - t0) / (t1 - t0)) * PLOT_W;
  const parts: Html[] = [];
  let y = 22;
  const laneY = new Map<string, number>();
  for (const l of lanes) {
    laneY.set(l.name, y);
    const h = l.depths.length * SUBROW_H;
    parts.push(html`<rect class="lane" x="0" y="${y}" width="${LANE_LABEL_W + PLOT_W}" height="${h}"/>`);
    parts.push(html`<text class="lane-label" x="4" y="${y + 12}">${l.name}</text>`);
    l.depths.forEach((d, i) => parts.push(html`<text class="depth-label" x="${LANE_LABEL_W - 4}" y="${y + i * SUBROW_H + 11}">depth ${d}</text>`));
    y += h + 6;
  }
  // Time axis: about ten ticks at round numbers of µs.
  const step = niceStep((t1 - t0) / 10);
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    parts.push(html`<line class="tick" x1="${x(t).toFixed(1)}" y1="14" x2="${x(t).toFixed(1)}" y2="${y}"/><text class="tick-label" x="${x(t).toFixed(1)}" y="11">${t} µs</text>`);
  }
  for (const c of trace) {
    const lane = lanes.find((l) => l.name === laneOf.get(c))!;
    const cy = laneY.get(lane.name)! + lane.depths.indexOf(c.depth) * SUBROW_H;
    const t = callTime(c);
    const end = c.returnMicros ?? t;
    const title = `#${c.seq} at ${t} µs: ${c.service} from ${c.caller}${c.status ? ` → ${c.status}` : ''}${end - t > 1 ? ` (returned at ${end} µs)` : ''}`;
    const g = serviceGroup(c.service);
    if (end - t > 1) {
      parts.push(html`<rect class="span ${g}" data-seq="${c.seq}" x="${x(t).toFixed(2)}" y="${cy + 9}" width="${Math.max(2, x(end) - x(t)).toFixed(2)}" height="5"><title>${title}</title></rect>`);
    }
    parts.push(html`<rect class="call ${g}" data-seq="${c.seq}" x="${(x(t) - 1).toFixed(2)}" y="${cy + 2}" width="2.5" height="${end - t > 1 ? 7 : 12}"><title>${title}</title></rect>`);
  }
  return html`<div class="legend"><span class="key"><i class="g-bs"></i>BootServices</span><span class="key"><i class="g-rt"></i>RuntimeServices</span><span class="key"><i class="g-tcg"></i>Tcg2</span><span class="key"><i class="g-con"></i>console</span><span class="key"><i class="g-proto"></i>other protocols</span><span class="key"><i class="g-span"></i>a call running guest code until it returned</span></div>
<svg id="timeline-svg" class="timeline" viewBox="0 0 ${LANE_LABEL_W + PLOT_W + 10} ${y}" width="${LANE_LABEL_W + PLOT_W + 10}" height="${y}" role="img" aria-label="service call timeline">${join(parts)}</svg>`;
}

function niceStep(raw: number): number {
  if (raw <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
