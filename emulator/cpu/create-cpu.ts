// Picks the CPU engine: Unicorn 2.x (default: emulated, deterministic; the library chosen by unicorn-library.ts) or the
// host's KVM.
import { Cpu } from './cpu';

export type CpuKind = 'unicorn' | 'kvm';
export const CPU_KINDS: readonly CpuKind[] = ['unicorn', 'kvm'];

/** Why `kind` cannot run on this host, or undefined when it can. */
export function cpuProblem(kind: CpuKind): string | undefined {
  if (kind === 'kvm') return (require('./kvm-cpu') as typeof import('./kvm-cpu')).kvmProblem();
  return undefined;
}

export function createCpu(kind: CpuKind): Cpu {
  // Loaded on demand: a machine without libunicorn2 can still use KVM, and the other way round.
  if (kind === 'kvm') return new (require('./kvm-cpu') as typeof import('./kvm-cpu')).KvmCpu();
  return new (require('./unicorn-cpu') as typeof import('./unicorn-cpu')).UnicornCpu();
}

/** The engine's exact version and, for a version known slow or broken, the warning (`stubemu --version`, the run). */
export function engineInfo(kind: CpuKind): { version: string; source?: string; warning?: string } {
  if (kind === 'kvm') return { version: 'KVM (the host CPU)' };
  const l = (require('./unicorn-ffi') as typeof import('./unicorn-ffi')).unicorn().loaded;
  return { version: `Unicorn ${l.versionText}`, source: l.source, warning: l.warning };
}
