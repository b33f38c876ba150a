// The JSON run report (version 1): built from the firmware's state after a run; deterministic for the same inputs.
import { hex } from '../core/hex';
import type { Machine } from '../emulator/machine';
import { createHash } from 'node:crypto';
import { Firmware } from '../efi-services/firmware';
import { memoryTypeName } from '../efi-services/boot/memory-types';
import { guidName } from '../efi-services/boot/protocol-db';
import { variableChangesReport, variablesReport } from '../efi-services/runtime/variables-json';
import { FaultReport } from './fault-report';
import { HandoffReport } from './handoff';
import { SectionUsage } from './section-usage';
import { ProfileReport } from '../emulator/guest-profile';
import { Outcome, Report, ReportOptions } from './report-v1';

export type * from './report-v1';

export const REPORT_VERSION = 1;

export interface ReportInput {
  imageName: string;
  image: Buffer;
  options: ReportOptions;
  outcome: Outcome;
  fault?: FaultReport;
  handoff?: HandoffReport;
  imageSections?: SectionUsage[];
  /** Only with --profile: wall-clock samples, so not deterministic. */
  profile?: ProfileReport;
  /** The board the firmware ran on: its I/O ports and page 0. */
  machine: Machine;
}

/**
 * The report as its JSON says it (Report v1): built from the firmware's state, then put through the same
 * serialization as `reportJson`, so 64-bit values become hex strings and undefined keys disappear; the object a
 * caller holds is then exactly what the JSON file holds and what the schema describes.
 */
/** SHA-256 of the started file: the hash LoadImage took of these very bytes when it has one (a UKI is 14-81 MiB). */
function imageSha256(fw: Firmware, image: Buffer): string {
  return fw.images.images.find((i) => i.file === image)?.fileSha256 ?? createHash('sha256').update(image).digest('hex');
}

export function buildReport(fw: Firmware, r: ReportInput): Report {
  const counts: Record<string, number> = {};
  for (const k of [...fw.log.counts.keys()].sort()) counts[k] = fw.log.counts.get(k)!;
  // 64-bit values are still bigints here; the keys are Report's (a misspelt or extra key does not compile).
  const report: { [K in keyof Report]: unknown } = {
    stubemu: { reportVersion: REPORT_VERSION },
    image: { name: r.imageName, size: r.image.length, sha256: imageSha256(fw, r.image) },
    options: r.options,
    outcome: r.outcome,
    console: fw.conOut.text(),
    stdErr: fw.stdErr.text(),
    serial: r.machine.ports.uart.text(),
    pageZero: {
      mode: r.machine.nullPage ? 'zeros' : 'strict',
      accesses: (r.machine.nullPage?.accesses ?? []).map((a) => ({ access: a.access, address: hex(a.address), by: fw.symbolize(a.rip) })),
      total: r.machine.nullPage?.total ?? 0,
      onlyFirstSeen: r.machine.nullPage?.leftPresent ?? false,
    },
    ports: r.machine.ports.report().map((c) => ({ ...c, port: hex(c.port) })),
    calls: {
      total: [...fw.log.counts.values()].reduce((a, b) => a + b, 0),
      counts,
      ...(fw.log.trace ? { trace: fw.log.entries } : {}),
    },
    unimplemented: [...fw.log.unimplemented.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([service, calls]) => ({ service, calls })),
    guestErrors: fw.log.guestErrors,
    missingProtocols: fw.missingProtocols.report((g) => fw.db.handlesWith(g).length > 0),
    images: fw.images.images.map((i) => ({
      name: i.name,
      handle: hex(i.handle),
      base: hex(i.base),
      size: i.size,
      entry: `${i.name}+0x${(i.entry - i.base).toString(16)}`,
      parent: hex(i.parent),
      source: i.source,
      ...(i.guestLoaded ? { guestLoaded: { fileIsMemoryImage: i.guestLoaded.fileIsMemoryImage } } : {}),
      ...(i.devicePath !== undefined ? { devicePath: i.devicePath } : {}),
      fileSha256: i.fileSha256,
      subsystem: i.pe.subsystem,
      started: i.started,
      ...(i.exitStatus !== undefined ? { exitStatus: i.exitStatus } : {}),
      unloaded: i.unloaded,
    })),
    memoryMap: fw.map.descriptors().map((d) => ({
      type: memoryTypeName(d.type),
      start: hex(d.physicalStart),
      pages: Number(d.numberOfPages),
      attribute: hex(d.attribute),
    })),
    mapKey: fw.map.mapKey,
    variables: variablesReport(fw.variables),
    variableChanges: variableChangesReport(fw.variables),
    configurationTables: fw.configTables.list().map((t) => ({ guid: t.guid, name: guidName(t.guid) ?? null, address: hex(t.table) })),
    handles: fw.db.handles(),
    events: fw.events.eventsReport(),
    time: { virtualMicros: fw.clock.nowMicros.toString() },
    ...(fw.tcg2 ? { eventLog: fw.tcg2.measuredBoot.eventsReport(), pcrs: fw.tcg2.measuredBoot.pcrs() } : {}),
    ...(r.imageSections ? { imageSections: r.imageSections } : {}),
    ...(r.profile ? { profile: r.profile } : {}),
    ...(r.handoff ? { handoff: r.handoff } : {}),
    ...(r.fault ? { fault: r.fault } : {}),
    ...(r.options.secureBoot || fw.secureBoot.decisions.length > 0 || fw.opts.secureBootKeys ? { secureBoot: fw.secureBoot.report() } : {}),
  };
  return JSON.parse(reportJson(report)) as Report;
}

/** JSON with bigints as hex strings, two-space indented, newline-terminated. */
export function reportJson(report: unknown): string {
  return JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? hex(v) : v), 2) + '\n';
}
