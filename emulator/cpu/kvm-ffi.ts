// Raw binding of the Linux KVM API (Documentation/virt/kvm/api.rst, x86_64 <linux/kvm.h>) and the few libc calls
// it needs, through koffi. Struct layouts are given as byte offsets next to their C declarations.
import * as koffi from 'koffi';

/** ioctl request numbers: _IO/_IOR/_IOW(KVMIO = 0xAE, nr, size) as <linux/kvm.h> defines them. */
export const KVM = {
  GET_API_VERSION: 0xae00,
  CREATE_VM: 0xae01,
  CHECK_EXTENSION: 0xae03,
  GET_VCPU_MMAP_SIZE: 0xae04,
  CREATE_VCPU: 0xae41,
  SET_USER_MEMORY_REGION: 0x4020ae46, // struct kvm_userspace_memory_region (32 bytes)
  SET_TSS_ADDR: 0xae47,
  RUN: 0xae80,
  GET_REGS: 0x8090ae81, // struct kvm_regs (144 bytes)
  SET_REGS: 0x4090ae82,
  GET_SREGS: 0x8138ae83, // struct kvm_sregs (312 bytes)
  SET_SREGS: 0x4138ae84,
  GET_MSRS: 0xc008ae88, // struct kvm_msrs (8 bytes + entries)
  SET_MSRS: 0x4008ae89,
  SET_CPUID2: 0x4008ae90, // struct kvm_cpuid2 (8 bytes + entries)
  SET_GUEST_DEBUG: 0x4048ae9b, // struct kvm_guest_debug (72 bytes)
  API_VERSION: 12,
  CAP_USER_MEMORY: 3,
  CAP_SET_GUEST_DEBUG: 23,
} as const;

export const EXIT = {
  UNKNOWN: 0, EXCEPTION: 1, IO: 2, HYPERCALL: 3, DEBUG: 4, HLT: 5, MMIO: 6, IRQ_WINDOW_OPEN: 7, SHUTDOWN: 8,
  FAIL_ENTRY: 9, INTR: 10, INTERNAL_ERROR: 17,
} as const;

export const GUESTDBG = { ENABLE: 0x1, USE_SW_BP: 0x10000, USE_HW_BP: 0x20000 } as const;

/** struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags, 8 bytes each. */
export const REGS_ORDER = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const;
export const REGS_SIZE = 144;

/**
 * struct kvm_sregs: 8 struct kvm_segment (24 bytes: u64 base, u32 limit, u16 selector, u8 type, present, dpl,
 * db, s, l, g, avl, unusable, padding) cs ds es fs gs ss tr ldt; struct kvm_dtable (u64 base, u16 limit, pad)
 * gdt idt; u64 cr0 cr2 cr3 cr4 cr8 efer apic_base; u64 interrupt_bitmap[4].
 */
export const SREGS = {
  size: 312,
  segment: { cs: 0, ds: 24, es: 48, fs: 72, gs: 96, ss: 120, tr: 144, ldt: 168 },
  gdt: 192,
  idt: 208,
  cr0: 224,
  cr2: 232,
  cr3: 240,
  cr4: 248,
  cr8: 256,
  efer: 264,
  apicBase: 272,
} as const;

/** struct kvm_run: exit_reason at 8, the exit union at 32. */
export const RUN = {
  immediateExit: 1,
  exitReason: 8,
  union: 32,
} as const;

export const SIGALRM = 14;
const SIGEV_THREAD_ID = 4;
const CLOCK_MONOTONIC = 1;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
const MAP_SHARED = 0x1;
const MAP_PRIVATE = 0x2;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;

let cached: ReturnType<typeof bind> | undefined;

function bind() {
  const libc = koffi.load('libc.so.6');
  return {
    open: libc.func('int open(const char *path, int flags)'),
    close: libc.func('int close(int fd)'),
    ioctlValue: libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    ioctlPtr: libc.func('int ioctl(int fd, unsigned long request, void *arg)'),
    mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)'),
    munmap: libc.func('int munmap(void *addr, size_t length)'),
    gettid: libc.func('int gettid(void)'),
    timerCreate: libc.func('int timer_create(int clockid, void *sevp, _Out_ void **timerid)'),
    timerSettime: libc.func('int timer_settime(void *timerid, int flags, const void *new_value, void *old_value)'),
    timerDelete: libc.func('int timer_delete(void *timerid)'),
    strerror: libc.func('const char *strerror(int errnum)'),
  };
}

export function libc() {
  cached ??= bind();
  return cached;
}

export class KvmError extends Error {}

/** The errno text of the last failed call. */
export function lastError(): string {
  const e = koffi.errno();
  return `${libc().strerror(e)} (errno ${e})`;
}

export function wasInterrupted(): boolean {
  return koffi.errno() === EINTR;
}

export function openKvm(): number {
  const fd = libc().open('/dev/kvm', O_RDWR | O_CLOEXEC);
  if (fd < 0) throw new KvmError(`cannot open /dev/kvm: ${lastError()}`);
  return fd;
}

export function ioctl(fd: number, request: number, arg: Buffer | number | bigint, what: string): number {
  const r = typeof arg === 'object' ? libc().ioctlPtr(fd, request, arg) : libc().ioctlValue(fd, request, arg);
  if (r < 0) throw new KvmError(`${what}: ${lastError()}`);
  return r;
}

/** Anonymous zeroed memory, page-aligned as KVM_SET_USER_MEMORY_REGION requires; unmapped when `owner` is collected. */
const unmapper = new FinalizationRegistry<{ address: unknown; size: number }>((m) => libc().munmap(m.address, m.size));

export function mapAnonymous(size: number): Buffer {
  const p = libc().mmap(null, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (koffi.address(p) === 0xffff_ffff_ffff_ffffn) throw new KvmError(`mmap of ${size} bytes: ${lastError()}`);
  const ab = koffi.view(p, size);
  unmapper.register(ab, { address: p, size });
  return Buffer.from(ab);
}

/** The vCPU's struct kvm_run, shared with the kernel. */
export function mapRunArea(vcpuFd: number, size: number): Buffer {
  const p = libc().mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpuFd, 0);
  if (koffi.address(p) === 0xffff_ffff_ffff_ffffn) throw new KvmError(`mmap of kvm_run: ${lastError()}`);
  const ab = koffi.view(p, size);
  unmapper.register(ab, { address: p, size });
  return Buffer.from(ab);
}

export function addressOf(b: Buffer): bigint {
  return koffi.address(b);
}

/**
 * A periodic CLOCK_MONOTONIC timer that sends SIGALRM to this thread (SIGEV_THREAD_ID), so a KVM_RUN that does
 * not exit by itself returns with EINTR and the host can check its time budget. Node must have a handler for the
 * signal (an ignored signal does not interrupt), which `process.on('SIGALRM')` installs.
 */
export class SliceTimer {
  private readonly id: unknown;
  private static listeners = 0;
  private static readonly noop = () => {};

  private periodMs = 0;

  constructor(periodMs: number) {
    if (SliceTimer.listeners++ === 0) process.on('SIGALRM', SliceTimer.noop);
    // struct sigevent (64 bytes): sigev_value at 0, sigev_signo at 8, sigev_notify at 12, _tid at 16.
    const sev = Buffer.alloc(64);
    sev.writeInt32LE(SIGALRM, 8);
    sev.writeInt32LE(SIGEV_THREAD_ID, 12);
    sev.writeInt32LE(libc().gettid(), 16);
    const out: unknown[] = [null];
    if (libc().timerCreate(CLOCK_MONOTONIC, sev, out) !== 0) throw new KvmError(`timer_create: ${lastError()}`);
    this.id = out[0];
    this.setPeriod(periodMs);
  }

  /** Re-arms the timer with a new period (the profiler asks for shorter slices). */
  setPeriod(periodMs: number): void {
    if (periodMs === this.periodMs) return;
    this.periodMs = periodMs;
    // struct itimerspec: it_interval {sec, nsec}, it_value {sec, nsec}.
    const spec = Buffer.alloc(32);
    const ns = BigInt(Math.max(1, Math.round(periodMs * 1000))) * 1_000n;
    spec.writeBigInt64LE(ns / 1_000_000_000n, 0);
    spec.writeBigInt64LE(ns % 1_000_000_000n, 8);
    spec.writeBigInt64LE(ns / 1_000_000_000n, 16);
    spec.writeBigInt64LE(ns % 1_000_000_000n, 24);
    if (libc().timerSettime(this.id, 0, spec, null) !== 0) throw new KvmError(`timer_settime: ${lastError()}`);
  }

  close(): void {
    libc().timerDelete(this.id);
    if (--SliceTimer.listeners === 0) process.removeListener('SIGALRM', SliceTimer.noop);
  }
}
