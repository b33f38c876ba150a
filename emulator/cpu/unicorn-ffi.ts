// Raw binding of libunicorn.so.2 (Unicorn 2.x, chosen by unicorn-library.ts) through koffi; constants are those of
// <unicorn/unicorn.h>, unchanged from 2.0.1 to 2.1.1.
import * as koffi from 'koffi';
import { loadUnicorn } from './unicorn-library';

export const UC = {
  ARCH_X86: 4,
  MODE_64: 8,
  PROT_NONE: 0,
  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  PROT_ALL: 7,
  HOOK_INTR: 1,
  HOOK_INSN: 2,
  HOOK_CODE: 4,
  HOOK_INSN_INVALID: 16384,
  HOOK_MEM_INVALID: 1008,
  ERR_OK: 0,
  ERR_READ_UNMAPPED: 6,
  ERR_WRITE_UNMAPPED: 7,
  ERR_FETCH_UNMAPPED: 8,
  ERR_INSN_INVALID: 10,
  ERR_WRITE_PROT: 12,
  ERR_READ_PROT: 13,
  ERR_FETCH_PROT: 14,
  ERR_ARG: 15,
  ERR_EXCEPTION: 21,
  MEM_READ_UNMAPPED: 19,
  MEM_WRITE_UNMAPPED: 20,
  MEM_FETCH_UNMAPPED: 21,
  MEM_WRITE_PROT: 22,
  MEM_READ_PROT: 23,
  MEM_FETCH_PROT: 24,
  CTL_TB_REMOVE_CACHE: 1207959561, // UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2)
  CTL_TB_FLUSH: 1073741834, // UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0)
  CTL_TCG_BUFFER_SIZE: 1140850701, // UC_CTL_WRITE(UC_CTL_TCG_BUFFER_SIZE, 1)
  QUERY_TIMEOUT: 4,
  X86_INS_CPUID: 113,
  X86_INS_IN: 218,
  X86_INS_OUT: 500,
} as const;

export const UC_X86_REG = {
  rax: 35, rbx: 37, rcx: 38, rdx: 40, rsi: 43, rdi: 39, rbp: 36, rsp: 44, rip: 41,
  r8: 106, r9: 107, r10: 108, r11: 109, r12: 110, r13: 111, r14: 112, r15: 113,
  rflags: 253, cs: 11, ds: 17, es: 28, ss: 49, fs: 32, gs: 33,
  cr0: 50, cr2: 52, cr3: 53, cr4: 54, gdtr: 243, idtr: 242, msr: 248,
} as const;

let cached: ReturnType<typeof bind> | undefined;

function bind() {
  const loaded = loadUnicorn();
  const lib = loaded.lib;
  const engine = koffi.opaque('uc_engine');
  const enginePtr = koffi.pointer(engine);
  return {
    engine: enginePtr,
    loaded,
    uc_open: lib.func('int uc_open(int arch, int mode, _Out_ uc_engine **uc)'),
    uc_close: lib.func('int uc_close(uc_engine *uc)'),
    uc_strerror: lib.func('const char *uc_strerror(int code)'),
    uc_mem_map_ptr: lib.func('int uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size, uint32_t perms, void *ptr)'),
    uc_mem_unmap: lib.func('int uc_mem_unmap(uc_engine *uc, uint64_t address, size_t size)'),
    uc_mem_write: lib.func('int uc_mem_write(uc_engine *uc, uint64_t address, const void *bytes, size_t size)'),
    uc_mem_read: lib.func('int uc_mem_read(uc_engine *uc, uint64_t address, _Out_ void *bytes, size_t size)'),
    uc_mem_protect: lib.func('int uc_mem_protect(uc_engine *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_reg_write: lib.func('int uc_reg_write(uc_engine *uc, int regid, const void *value)'),
    uc_reg_read: lib.func('int uc_reg_read(uc_engine *uc, int regid, _Out_ void *value)'),
    uc_emu_start: lib.func('int uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
    uc_emu_stop: lib.func('int uc_emu_stop(uc_engine *uc)'),
    uc_query: lib.func('int uc_query(uc_engine *uc, int type, _Out_ size_t *result)'),
    uc_hook_add: lib.func(
      'int uc_hook_add(uc_engine *uc, _Out_ uint64_t *hh, int type, void *cb, void *user, uint64_t begin, uint64_t end, ...)',
    ),
    uc_hook_del: lib.func('int uc_hook_del(uc_engine *uc, uint64_t hh)'),
    uc_ctl: lib.func('int uc_ctl(uc_engine *uc, int ctl, ...)'),
    HookCode: koffi.proto('void stubemu_hook_code(uc_engine *uc, uint64_t address, uint32_t size, void *user)'),
    HookCpuid: koffi.proto('int stubemu_hook_cpuid(uc_engine *uc, void *user)'),
    HookIntr: koffi.proto('void stubemu_hook_intr(uc_engine *uc, uint32_t intno, void *user)'),
    HookIn: koffi.proto('uint32_t stubemu_hook_in(uc_engine *uc, uint32_t port, int size, void *user)'),
    HookOut: koffi.proto('void stubemu_hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)'),
    HookInsnInvalid: koffi.proto('bool stubemu_hook_insn_invalid(uc_engine *uc, void *user)'),
    HookMem: koffi.proto('bool stubemu_hook_mem(uc_engine *uc, int type, uint64_t address, int size, int64_t value, void *user)'),
  };
}

export function unicorn() {
  cached ??= bind();
  return cached;
}
