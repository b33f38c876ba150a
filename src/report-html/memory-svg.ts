// The memory map drawn to scale: guest RAM as rows of equal address ranges (linear, so a region's area is its
// size), descriptors coloured by type, the images and the started image's sections placed on top, and the
// hand-off's kernel, initrd, boot_params and command line marked. Regions smaller than a pixel get one pixel.
import { html, Html, join } from './html';
import { RunReport } from './model';

export const MEMORY_TYPE_COLOURS: Record<string, string> = {
  EfiConventionalMemory: '#e8efe6',
  EfiLoaderCode: '#f4a261',
  EfiLoaderData: '#f6c89f',
  EfiBootServicesCode: '#6d8fc7',
  EfiBootServicesData: '#a9c0e6',
  EfiRuntimeServicesCode: '#9b5de5',
  EfiRuntimeServicesData: '#c9a7f0',
  EfiACPIReclaimMemory: '#2a9d8f',
  EfiACPIMemoryNVS: '#7fc8bf',
  EfiReservedMemoryType: '#8d8d8d',
  EfiUnusableMemory: '#555555',
  EfiMemoryMappedIO: '#d4d4aa',
  EfiPersistentMemory: '#e9c46a',
};
export const typeColour = (t: string): string => MEMORY_TYPE_COLOURS[t] ?? '#cccccc';

export interface Marker {
  label: string;
  start: bigint;
  size: bigint;
  kind: 'kernel' | 'initrd' | 'boot-params' | 'cmdline';
}

const LABEL_W = 96;
const PLOT_W = 1000;
const ROW_H = 38;
const MIB = 1n << 20n;

const fmtHex = (v: bigint) => `0x${v.toString(16)}`;

export function fmtSize(n: bigint | number): string {
  const v = Number(n);
  if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(v % (1 << 30) ? 2 : 0)} GiB`;
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(v % (1 << 20) ? 1 : 0)} MiB`;
  if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(v % (1 << 10) ? 1 : 0)} KiB`;
  return `${v} B`;
}

/** The hand-off's regions, when the run reached ExitBootServices. */
export function handoffMarkers(r: RunReport): Marker[] {
  const h = r.handoff;
  const out: Marker[] = [];
  if (!h) return out;
  if (h.kernel) out.push({ label: `kernel (${h.kernel.image})`, start: BigInt(h.kernel.address), size: BigInt(h.kernel.size), kind: 'kernel' });
  if (h.initrd) out.push({ label: 'initrd', start: BigInt(h.initrd.address), size: BigInt(h.initrd.size), kind: 'initrd' });
  if (h.bootParams) out.push({ label: 'boot_params', start: BigInt(h.bootParams.address), size: 4096n, kind: 'boot-params' });
  if (h.bootParams?.cmdline) out.push({ label: 'cmdline', start: BigInt(h.bootParams.cmdline.address), size: BigInt(h.bootParams.cmdline.text.length + 1), kind: 'cmdline' });
  return out;
}

export function memoryMapSvg(r: RunReport): Html {
  const map = r.memoryMap ?? [];
  if (map.length === 0) return html`<p class="none">The report has no memory map.</p>`;
  const regions = map.map((d) => ({ d, start: BigInt(d.start), end: BigInt(d.start) + BigInt(d.pages) * 4096n }));
  const top = regions.reduce((m, x) => (x.end > m ? x.end : m), 0n);
  // About 64 rows, each a power-of-two range of at least 1 MiB, so row starts are round addresses.
  let rowBytes = MIB;
  while (rowBytes * 64n < top) rowBytes *= 2n;
  const rowCount = Number((top + rowBytes - 1n) / rowBytes);
  const images = r.images ?? [];
  const main = images.find((i) => i.source === 'command line') ?? images[0];
  const markers = handoffMarkers(r);
  // Rows holding nothing but free memory are folded into one gap line (marked as such): the scale holds within
  // every drawn row, and the page does not spend 40 rows on EfiConventionalMemory.
  const things = [
    ...regions.filter((x) => x.d.type !== 'EfiConventionalMemory').map((x) => [x.start, x.end] as const),
    ...images.map((i) => [BigInt(i.base), BigInt(i.base) + BigInt(i.size)] as const),
    ...markers.map((m) => [m.start, m.start + m.size] as const),
  ];
  const busy = (row: number) => {
    const a = BigInt(row) * rowBytes;
    const b = a + rowBytes;
    return things.some(([s, e]) => s < b && e > a) || !regions.some((x) => x.start <= a && x.end >= b);
  };
  const rowY: (number | undefined)[] = [];
  const gaps: { y: number; from: bigint; to: bigint }[] = [];
  let y = 0;
  for (let i = 0; i < rowCount; ) {
    if (busy(i)) {
      rowY[i++] = y;
      y += ROW_H;
      continue;
    }
    let j = i;
    while (j < rowCount && !busy(j)) j++;
    if (j - i === 1) {
      rowY[i++] = y;
      y += ROW_H;
      continue;
    }
    gaps.push({ y, from: BigInt(i) * rowBytes, to: BigInt(j) * rowBytes });
    y += 18;
    i = j;
  }
  const px = (a: bigint) => (Number(a % rowBytes) / Number(rowBytes)) * PLOT_W;
  const parts: Html[] = [];

  /** Draws [start, end) as one rectangle per drawn row it crosses. */
  const span = (start: bigint, end: bigint, y0: number, h: number, attrs: { cls: string; fill?: string; title: string; data?: string }): void => {
    for (let a = start; a < end; ) {
      const row = a / rowBytes;
      const rowEnd = (row + 1n) * rowBytes;
      const b = end < rowEnd ? end : rowEnd;
      const ry = rowY[Number(row)];
      if (ry !== undefined) {
        const x = LABEL_W + px(a);
        const w = Math.max(1, b === rowEnd ? LABEL_W + PLOT_W - x : LABEL_W + px(b) - x);
        parts.push(html`<rect class="${attrs.cls}" x="${x.toFixed(2)}" y="${ry + y0}" width="${w.toFixed(2)}" height="${h}"${attrs.fill ? html` fill="${attrs.fill}"` : ''}${attrs.data ? html` data-name="${attrs.data}"` : ''}><title>${attrs.title}</title></rect>`);
      }
      a = b;
    }
  };

  rowY.forEach((ry, i) => {
    if (ry === undefined) return;
    parts.push(html`<text class="addr" x="${LABEL_W - 6}" y="${ry + 12}">${fmtHex(BigInt(i) * rowBytes)}</text>`);
    parts.push(html`<rect class="hole" x="${LABEL_W}" y="${ry}" width="${PLOT_W}" height="14"/>`);
  });
  for (const g of gaps) {
    parts.push(html`<text class="gap" x="${LABEL_W + 4}" y="${g.y + 12}">⋯ ${fmtHex(g.from)}–${fmtHex(g.to - 1n)}: ${fmtSize(g.to - g.from)} of EfiConventionalMemory, not drawn</text>`);
  }
  for (const { d, start, end } of regions) {
    span(start, end, 0, 14, { cls: 'mem', fill: typeColour(d.type), title: `${d.type} ${fmtHex(start)}–${fmtHex(end - 1n)} (${d.pages} pages, ${fmtSize(end - start)}) attr ${d.attribute}`, data: d.type });
  }
  // Images as outlines over the map, the started image's sections as bars under it.
  for (const img of images) {
    const b = BigInt(img.base);
    span(b, b + BigInt(img.size), 0, 14, { cls: 'image', title: `image ${img.name} at ${img.base} (${fmtSize(img.size)}, from ${img.source})`, data: img.name });
  }
  if (main && r.imageSections) {
    const base = BigInt(main.base);
    for (const s of r.imageSections) {
      const a = base + BigInt(s.rva);
      span(a, a + BigInt(Math.max(1, s.size)), 15, 5, { cls: 'section', title: `${main.name} section ${s.name} at ${fmtHex(a)} (${fmtSize(s.size)})`, data: s.name });
    }
  }
  // Marker labels under their bar, pushed right when they would overlap the previous label of the same row.
  const labelEnd = new Map<number, number>();
  const sorted = [...markers].sort((a, b) => (a.start < b.start ? -1 : 1));
  for (const m of sorted) span(m.start, m.start + m.size, 21, 5, { cls: `marker ${m.kind}`, title: `${m.label} at ${fmtHex(m.start)} (${fmtSize(m.size)})`, data: m.kind });
  for (const m of sorted) {
    const row = Number(m.start / rowBytes);
    const ry = rowY[row];
    if (ry === undefined) continue;
    const text = m.label.split(' ')[0];
    const lx = Math.max(LABEL_W + px(m.start), labelEnd.get(row) ?? 0);
    labelEnd.set(row, lx + text.length * 6.2 + 8);
    parts.push(html`<text class="marker-label ${m.kind}" x="${lx.toFixed(2)}" y="${ry + 36}">${text}</text>`);
  }
  const used = [...new Set(map.map((d) => d.type))];
  const legend = join(used.map((t) => html`<span class="key"><i style="background:${typeColour(t)}"></i>${t}</span>`));
  return html`<div class="legend">${legend}<span class="key"><i class="k-image"></i>image</span><span class="key"><i class="k-section"></i>section of ${main?.name ?? 'the image'}</span><span class="key"><i class="k-kernel"></i>kernel</span><span class="key"><i class="k-initrd"></i>initrd</span><span class="key"><i class="k-bp"></i>boot_params / cmdline</span></div>
<p class="note">Linear scale: each row is ${fmtSize(rowBytes)} of guest physical address space (${fmtSize(rowBytes / BigInt(PLOT_W))} per pixel); regions smaller than a pixel are drawn one pixel wide; runs of rows holding only free memory are folded into one line. Hover for details.</p>
<svg id="memory-svg" class="memory" viewBox="0 0 ${LABEL_W + PLOT_W + 4} ${y}" width="${LABEL_W + PLOT_W + 4}" height="${y}" role="img" aria-label="memory map">${join(parts)}</svg>`;
}
