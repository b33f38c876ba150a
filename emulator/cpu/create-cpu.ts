// Picks the CPU engine: Unicorn 2.0.1 (default: counts instructions, deterministic) or the host's KVM.
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
