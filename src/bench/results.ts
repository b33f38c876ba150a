// One case's samples, their summaries and the targets printed beside them (never asserted).
import { Summary, summarize } from './stats';
import { ChildSample, InProcessSample, PAGE_SIZE } from './stubemu';
import { QemuSample } from './qemu';

/** The goals the bench prints beside its figures. */
export const TARGETS = {
  /** QEMU+OVMF start → kernel's first line, over stubemu process start → ExitBootServices: at least this. */
  qemuSpeedup: 20,
  /** runImage over the floor: at most this. */
  floorRatio: 5,
  /** Peak RSS of `stubemu run` minus guest memory touched: at most this many MiB. */
  rssHeadroomMiB: 200,
} as const;

/**
 * Per-case goals of issue #11 (Unicorn 2.1.1, no instruction count): process start → ExitBootServices at most
 * `ebsMs`, and QEMU+OVMF over stubemu at least `qemuSpeedup` (instead of the general one) where given.
 */
export const CASE_TARGETS: Readonly<Record<string, { ebsMs: number; qemuSpeedup?: number }>> = {
  uki: { ebsMs: 600, qemuSpeedup: 12 },
  'uki-xz': { ebsMs: 2000, qemuSpeedup: 4 },
  uki612: { ebsMs: 1200, qemuSpeedup: 6 },
  uki64: { ebsMs: 1500 },
};

export interface Target {
  /** The figure compared (a ratio, or MiB for the RSS headroom); undefined when not measured. */
  readonly value: number | undefined;
  readonly met: boolean | undefined;
}

export interface CaseSamples {
  readonly child: readonly ChildSample[];
  readonly inProcess: readonly InProcessSample[];
  readonly qemu: readonly QemuSample[] | undefined;
  readonly floorMs: readonly number[];
  readonly floorBytes: { readonly hashed: number; readonly copied: number };
}

export interface CaseSummary {
  readonly outcome: string;
  readonly childToEbsMs: Summary;
  readonly childToExitMs: Summary;
  readonly peakRssMiB: Summary;
  readonly runImageMs: Summary;
  readonly emulationMs: Summary;
  readonly serviceMs: Summary;
  readonly stops: number;
  readonly calls: number;
  readonly touchedMiB: number;
  /** Undefined when QEMU was not run for this case or never reached the kernel. */
  readonly qemuToKernelMs: Summary | undefined;
  readonly qemuToBootOptionMs: Summary | undefined;
  readonly qemuToEfiStubMs: Summary | undefined;
  readonly qemuFailures: number;
  readonly floorMs: Summary;
  readonly targets: { readonly qemu: Target; readonly floor: Target; readonly rss: Target; readonly ebs: Target };
}

const defined = (xs: readonly (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined && Number.isFinite(x));

export function evaluateTargets(f: {
  childToEbsMs: number; qemuToKernelMs: number | undefined; runImageMs: number; floorMs: number; peakRssMiB: number; touchedMiB: number;
  caseId?: string;
}): CaseSummary['targets'] {
  const speedup = f.qemuToKernelMs === undefined ? undefined : f.qemuToKernelMs / f.childToEbsMs;
  const goal = f.caseId === undefined ? undefined : CASE_TARGETS[f.caseId];
  const qemuGoal = goal?.qemuSpeedup ?? TARGETS.qemuSpeedup;
  const floor = f.floorMs > 0 ? f.runImageMs / f.floorMs : undefined;
  const headroom = Number.isFinite(f.peakRssMiB) ? f.peakRssMiB - f.touchedMiB : undefined;
  return {
    qemu: { value: speedup, met: speedup === undefined ? undefined : speedup >= qemuGoal },
    ebs: { value: goal ? f.childToEbsMs : undefined, met: goal ? f.childToEbsMs <= goal.ebsMs : undefined },
    floor: { value: floor, met: floor === undefined ? undefined : floor <= TARGETS.floorRatio },
    rss: { value: headroom, met: headroom === undefined ? undefined : headroom <= TARGETS.rssHeadroomMiB },
  };
}

export function summarizeCase(s: CaseSamples, caseId?: string): CaseSummary {
  const kinds = [...new Set(s.inProcess.map((r) => r.outcome))];
  const codes = [...new Set(s.child.map((c) => String(c.exitCode)))];
  const touched = defined(s.inProcess.map((r) => r.touchedPages));
  const qemuOk = s.qemu ? defined(s.qemu.map((q) => q.toKernelMs)) : [];
  const qemuBoot = s.qemu ? defined(s.qemu.map((q) => q.toBootOptionMs)) : [];
  const qemuStub = s.qemu ? defined(s.qemu.map((q) => q.toEfiStubMs)) : [];
  const rss = defined(s.child.map((c) => c.maxRssKiB / 1024));
  const base = {
    outcome: `${kinds.join('|')} (rc ${codes.join('|')})`,
    childToEbsMs: summarize(s.child.map((c) => c.toSummaryMs)),
    childToExitMs: summarize(s.child.map((c) => c.toExitMs)),
    peakRssMiB: rss.length > 0 ? summarize(rss) : summarize([Number.NaN]),
    runImageMs: summarize(s.inProcess.map((r) => r.runImageMs)),
    emulationMs: summarize(s.inProcess.map((r) => r.emulationMs)),
    serviceMs: summarize(s.inProcess.map((r) => r.serviceMs)),
    stops: s.inProcess[0].stops,
    calls: s.inProcess[0].calls,
    touchedMiB: touched.length > 0 ? (touched[0] * PAGE_SIZE) / 2 ** 20 : Number.NaN,
    qemuToKernelMs: qemuOk.length > 0 ? summarize(qemuOk) : undefined,
    qemuToBootOptionMs: qemuBoot.length > 0 ? summarize(qemuBoot) : undefined,
    qemuToEfiStubMs: qemuStub.length > 0 ? summarize(qemuStub) : undefined,
    qemuFailures: s.qemu ? s.qemu.length - qemuOk.length : 0,
    floorMs: summarize(s.floorMs),
  };
  return {
    ...base,
    targets: evaluateTargets({
      childToEbsMs: base.childToEbsMs.median, qemuToKernelMs: base.qemuToKernelMs?.median, runImageMs: base.runImageMs.median,
      floorMs: base.floorMs.median, peakRssMiB: base.peakRssMiB.median, touchedMiB: base.touchedMiB, caseId,
    }),
  };
}
