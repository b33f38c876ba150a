// The x86-64 register file as the board, the calling convention and fault reports see it.

export type Reg =
  | 'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rbp' | 'rsp'
  | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15'
  | 'rip' | 'rflags' | 'cr0' | 'cr2' | 'cr3' | 'cr4';

export const GENERAL_REGS: readonly Reg[] = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
];

export type RegisterFile = Record<Reg, bigint>;
