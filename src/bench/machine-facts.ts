// The machine a bench ran on, printed under its tables (nproc, CPU model, RAM, Node, Unicorn, QEMU, OVMF).
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cases';
import { QemuTools, qemuVersions } from './qemu';

export interface MachineFacts {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly ramGiB: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
  readonly unicorn: string;
  readonly koffi: string;
  readonly reference: Record<string, string> | null;
  /** 1-minute load average when the bench started and when it ended: other work on the machine skews timings. */
  readonly loadAverage: readonly [number, number];
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function koffiVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'koffi', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineFacts(tools: QemuTools | undefined, loadAtStart: number): MachineFacts {
  return {
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    kernel: release(),
    node: process.version,
    unicorn: unicornFact(),
    koffi: koffiVersion(),
    reference: tools ? qemuVersions(tools) : null,
    loadAverage: [loadAtStart, loadavg()[0]],
  };
}

export function formatFacts(f: MachineFacts): string {
  const lines = [
    `machine: ${f.nproc} × ${f.cpuModel}, ${f.ramGiB} GiB RAM, ${f.os}, Linux ${f.kernel}`,
    `stubemu: Node ${f.node}, ${f.unicorn}, koffi ${f.koffi}`,
    `load average (1 min): ${f.loadAverage[0].toFixed(2)} at start, ${f.loadAverage[1].toFixed(2)} at end`,
  ];
  if (f.reference) lines.push(`reference: ${f.reference.qemu}; OVMF ${f.reference.ovmf}; ${f.reference.swtpm}`);
  return lines.join('\n');
}

/** The engine the runs load (emulator/cpu/unicorn-library.ts), not whichever Debian package is installed. */
function unicornFact(): string {
  try {
    const e = (require('../../emulator/cpu/create-cpu') as typeof import('../../emulator/cpu/create-cpu')).engineInfo('unicorn');
    return `${e.version} (${e.source})`;
  } catch (err) {
    return `no Unicorn (${(err as Error).message})`;
  }
}
