// The conformance matrix: which stub, kernel, command line and loader each case boots. Command lines are chosen
// to keep the QEMU boot short (quiet, panic=-1) and to make the kernel keep its initrd (retain_initrd).
export type StubId = 'stub-252' | 'stub-254' | 'stub-257' | 'stub-262';
export type KernelId = 'kernel-6.1' | 'kernel-6.1-cloud' | 'kernel-6.12-cloud' | 'kernel-7-cloud';

export interface ConformanceCase {
  readonly id: string;
  readonly stub: StubId;
  readonly kernel: KernelId;
  /** The UKI's .cmdline; none: the UKI has no .cmdline section. */
  readonly cmdline?: string;
  /**
   * LoadOptions for the UKI, passed the way a real machine does it: systemd-boot (from the same systemd-boot-efi
   * package as the stub) is the removable-media boot file and starts the UKI from a Type #1 entry whose `options`
   * line it hands over as LoadOptions. Both sides run systemd-boot, so its own measurements are compared too.
   */
  readonly loaderOptions?: string;
  /** Part of the slice `npm test` runs (fast on today's engine: 6.1 kernels). */
  readonly inTestSlice?: boolean;
  /**
   * Secure Boot with the Microsoft keys of OVMF_VARS_4M.ms.fd on both sides: Microsoft-signed shim is BOOTX64.EFI
   * and starts the UKI, signed with a key enrolled in MokList (src/conformance/secure-boot-case.ts).
   */
  readonly secureBootShim?: boolean;
}

export const CASE_CMDLINE = 'console=ttyS0 retain_initrd panic=-1 quiet';

export const CASES: readonly ConformanceCase[] = [
  { id: '252-6.1-generic', stub: 'stub-252', kernel: 'kernel-6.1', cmdline: CASE_CMDLINE },
  { id: '252-6.1-cloud', stub: 'stub-252', kernel: 'kernel-6.1-cloud', cmdline: CASE_CMDLINE, inTestSlice: true },
  { id: '252-6.1-cloud-no-cmdline', stub: 'stub-252', kernel: 'kernel-6.1-cloud' },
  { id: '252-6.1-cloud-sdboot-options', stub: 'stub-252', kernel: 'kernel-6.1-cloud', loaderOptions: `${CASE_CMDLINE} conformance=loadoptions`, inTestSlice: true },
  { id: '257-6.12-cloud', stub: 'stub-257', kernel: 'kernel-6.12-cloud', cmdline: CASE_CMDLINE },
  { id: '257-6.12-cloud-no-cmdline', stub: 'stub-257', kernel: 'kernel-6.12-cloud' },
  { id: '262-7-cloud', stub: 'stub-262', kernel: 'kernel-7-cloud', cmdline: CASE_CMDLINE },
  // No console= anywhere: systemd-stub 262 appends one for the serial terminal it finds behind ConOut (console.c).
  { id: '262-7-cloud-no-cmdline', stub: 'stub-262', kernel: 'kernel-7-cloud' },
  { id: 'sb-shim-252-6.1-cloud', stub: 'stub-252', kernel: 'kernel-6.1-cloud', cmdline: CASE_CMDLINE, secureBootShim: true, inTestSlice: true },
];

/** Cases by id, in matrix order; unknown ids are an error naming the known ones. */
export function selectCases(ids: readonly string[] | undefined, slice = false): ConformanceCase[] {
  if (!ids || ids.length === 0) return CASES.filter((c) => !slice || c.inTestSlice);
  return ids.map((id) => {
    const c = CASES.find((x) => x.id === id);
    if (!c) throw new Error(`unknown case ${id}; cases: ${CASES.map((x) => x.id).join(', ')}`);
    return c;
  });
}
