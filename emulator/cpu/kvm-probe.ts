// Runs a few instructions under KVM before trusting it: some hosts expose a /dev/kvm that cannot run an ordinary
// guest (PVM, KVM without hardware virtualisation, fails on every x87/SSE instruction), and EFI code uses SSE.
import { KvmCpu } from './kvm-cpu';

/** Undefined when a long-mode guest can run SSE code under this host's KVM, else what went wrong. */
export function probeKvm(): string | undefined {
  const cpu = new KvmCpu();
  try {
    const ram = cpu.allocateRam(4 << 20);
    cpu.mapRam(0n, ram);
    // Identity map of the first 2 MiB page; flat GDT as the firmware's (0x30 data, 0x38 64-bit code).
    ram.writeBigUInt64LE(0x2000n | 3n, 0x1000);
    ram.writeBigUInt64LE(0x3000n | 3n, 0x2000);
    ram.writeBigUInt64LE(0x83n, 0x3000);
    ram.writeBigUInt64LE(0x00cf92000000ffffn, 0x4000 + 0x30);
    ram.writeBigUInt64LE(0x00af9a000000ffffn, 0x4000 + 0x38);
    // xorps xmm0, xmm0; mov eax, 0x5a; movd xmm0, eax; movd ecx, xmm0; hlt
    ram.set([0x0f, 0x57, 0xc0, 0xb8, 0x5a, 0, 0, 0, 0x66, 0x0f, 0x6e, 0xc0, 0x66, 0x0f, 0x7e, 0xc1, 0xf4], 0x5000);
    ram.fill(0xf4, 0x6000, 0x7000);
    cpu.addStopRange(0x6000n, 0x7000n);
    cpu.setDescriptorTables({ base: 0x4000n, limit: 0x3f }, { base: 0x7000n, limit: 0 });
    cpu.writeMsr(0xc000_0080, 0x500n);
    cpu.writeReg('cr3', 0x1000n);
    cpu.writeReg('cr4', 0x668n);
    cpu.writeReg('cr0', 0x8001_0033n);
    cpu.writeReg('rflags', 2n);
    cpu.writeReg('rsp', 0x8000n);
    cpu.writeReg('rip', 0x5000n);
    const stop = cpu.run(0);
    if (stop.kind === 'exception' && stop.rip === 0x5010n && cpu.readReg('rcx') === 0x5an) return undefined;
    const what = stop.kind === 'exception' ? stop.detail : stop.kind;
    return `this host's KVM cannot run SSE code in a guest (probe stopped at 0x${stop.rip.toString(16)}: ${what}); PVM hosts behave so`;
  } catch (e) {
    return (e as Error).message;
  } finally {
    cpu.close();
  }
}
