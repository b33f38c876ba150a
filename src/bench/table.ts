// The bench's printed tables: stubemu's figures per case, then the reference, the floor and the targets.
import { CASE_TARGETS, CaseSummary, Target, TARGETS } from './results';
import { Summary } from './stats';

/** Plain-text table: first column left-aligned, the others right-aligned, two spaces between columns. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return '?';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  if (v >= 10) return `${v.toFixed(0)} ms`;
  return `${v.toFixed(2)} ms`;
}

/** "4.93 s ±3%": the median and the spread (max − min) relative to it. */
export function formatMs(s: Summary | undefined): string {
  if (!s) return '-';
  return `${ms(s.median)} ±${Math.round((s.relativeSpread * 100) / 2)}%`;
}

function mib(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(Math.abs(v) < 10 ? 1 : 0)} MiB` : '?';
}

function verdict(t: Target, show: (v: number) => string): string {
  if (t.value === undefined || t.met === undefined) return '-';
  return `${show(t.value)} ${t.met ? 'met' : 'NOT met'}`;
}

export interface NamedSummary {
  readonly id: string;
  readonly summary: CaseSummary;
}

export function stubemuTable(cases: readonly NamedSummary[]): string {
  return renderTable(
    ['case', 'outcome', 'process→EBS', 'runImage', 'emulation', 'services', 'stops', 'calls', 'peak RSS', 'touched'],
    cases.map(({ id, summary: s }) => [
      id, s.outcome, formatMs(s.childToEbsMs), formatMs(s.runImageMs), formatMs(s.emulationMs), formatMs(s.serviceMs),
      String(s.stops), String(s.calls), mib(s.peakRssMiB.median), mib(s.touchedMiB),
    ]),
  );
}

export function referenceTable(cases: readonly NamedSummary[]): string {
  return renderTable(
    ['case', 'QEMU→BdsDxe', 'QEMU→EFI stub', 'QEMU→kernel', 'floor', `QEMU/stubemu ≥${TARGETS.qemuSpeedup}× (case)`, 'process→EBS (case)', `runImage/floor ≤${TARGETS.floorRatio}×`, `RSS−touched ≤${TARGETS.rssHeadroomMiB} MiB`],
    cases.map(({ id, summary: s }) => [
      id,
      formatMs(s.qemuToBootOptionMs),
      formatMs(s.qemuToEfiStubMs),
      s.qemuToKernelMs ? formatMs(s.qemuToKernelMs) + (s.qemuFailures > 0 ? ` (${s.qemuFailures} failed)` : '') : s.qemuFailures > 0 ? `${s.qemuFailures} failed` : '-',
      formatMs(s.floorMs),
      verdict(s.targets.qemu, (v) => `${v.toFixed(2)}×${CASE_TARGETS[id]?.qemuSpeedup ? ` (≥${CASE_TARGETS[id].qemuSpeedup}×)` : ''}`),
      s.targets.ebs ? verdict(s.targets.ebs, (v) => `${ms(v)} (≤${ms(CASE_TARGETS[id]?.ebsMs ?? Number.NaN)})`) : '-',
      verdict(s.targets.floor, (v) => `${v.toFixed(0)}×`),
      verdict(s.targets.rss, (v) => mib(v)),
    ]),
  );
}

export const TABLE_NOTES = `process→EBS: spawn of \`node dist/src/cli.js run\` until its summary line (the run ended: ExitBootServices for
  the Linux cases); runImage: the same run in-process; emulation/services: time inside Unicorn versus in firmware
  services (machine.stats); stops: returns from Unicorn; peak RSS: GNU time %M of the child; touched: guest RAM
  pages resident at the end (pagemap; pages written with zeros count). QEMU (TCG, q35, OVMF, swtpm TPM 2.0), from its start until a serial
  line: BdsDxe = OVMF starts the boot option (a -kernel boot prints none), EFI stub = the Linux stub's first
  message (after it decompressed the kernel), kernel = "Linux version". floor: hash the measured blobs once per
  bank (sha1, sha256) and copy kernel and initrd once. Figures: median ±half the min–max spread.`;
