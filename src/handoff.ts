// The kernel hand-off captured when ExitBootServices succeeds: boot_params, command line, initrd, the kernel
// the stub started, the memory map and CPU state — what a kexec loader needs.
import { hex } from '../core/hex';
import { digest } from '../core/digest-memo';
import { Firmware } from '../efi-services/firmware';
import { memoryTypeName } from '../efi-services/boot/memory-types';
import { EfiConventionalMemory, EfiLoaderData } from '../efi-services/boot/memory-types';
import { sectionAt, sectionCopySize } from '../pe/pe-image';
import { BOOT_PARAMS, BootParamsReport, decodeBootParams, looksLikeBootParams } from './linux/boot-params';

const sha256 = (b: Uint8Array) => digest('sha256', b).toString('hex');

export interface HandoffReport {
  /** Where the caller of ExitBootServices resumes, and with which stack. */
  cpu: { returnAddress: string; rsp: string; image: string | null };
  bootParams: BootParamsReport | null;
  bootParamsCandidates: number;
  cmdline: string | null;
  initrd: { address: string; size: number; sha256: string } | null;
  kernel: { image: string; address: string; size: number; fileSha256: string; source: string; section?: string } | null;
  memoryMap: { type: string; start: string; pages: number; attribute: string }[];
}

export interface HandoffBlobs {
  bootParams?: Buffer;
  initrd?: Buffer;
  kernel?: Buffer;
}

/** Searches LoaderData allocations for the boot_params page an x86 EFI stub filled before ExitBootServices. */
function findBootParams(fw: Firmware): bigint[] {
  const found: bigint[] = [];
  for (const a of fw.map.allocations()) {
    if (a.type !== EfiLoaderData || a.pages > 64n) continue;
    for (let p = 0n; p < a.pages; p++) {
      const at = a.start + p * 4096n;
      if (looksLikeBootParams(fw.mem.view(at, BOOT_PARAMS.size), fw.systemTable)) found.push(at);
    }
  }
  return found;
}

export function captureHandoff(fw: Firmware): { report: HandoffReport; blobs: HandoffBlobs } | undefined {
  const h = fw.handOff;
  if (!h) return undefined;
  const blobs: HandoffBlobs = {};
  const candidates = findBootParams(fw);
  let bootParams: BootParamsReport | null = null;
  let initrd: HandoffReport['initrd'] = null;
  if (candidates.length > 0) {
    const at = candidates[candidates.length - 1];
    bootParams = decodeBootParams(fw.mem, at);
    blobs.bootParams = fw.mem.read(at, BOOT_PARAMS.size);
    if (bootParams.ramdisk && fw.mem.isMapped(BigInt(bootParams.ramdisk.address), bootParams.ramdisk.size)) {
      // A view of guest RAM (the run is over, it no longer changes) rather than another copy of the initrd.
      const bytes = fw.mem.view(BigInt(bootParams.ramdisk.address), bootParams.ramdisk.size);
      blobs.initrd = bytes;
      initrd = { address: bootParams.ramdisk.address, size: bytes.length, sha256: sha256(bytes) };
    }
  }
  // The kernel: the image ExitBootServices returns into (LoadImage path), or the section of the UKI it sits in
  // (the EFI handover path runs the .linux payload inside the stub's image).
  const img = fw.images.containingOrAdopt(h.returnAddress);
  let kernel: HandoffReport['kernel'] = null;
  if (img) {
    const rva = Number(h.returnAddress - img.base);
    const sec = sectionAt(img.pe, rva);
    if (img.guestLoaded) {
      // Placed by the stub's own PE loader (systemd-stub 258+): the kernel file is the section it was loaded from.
      kernel = { image: img.name, address: hex(img.base), size: img.size, fileSha256: img.fileSha256, source: img.source };
      if (!img.guestLoaded.fileIsMemoryImage) blobs.kernel = img.file;
    } else if (img.source !== 'command line' || !sec || sec.name !== '.linux') {
      kernel = { image: img.name, address: hex(img.base), size: img.size, fileSha256: img.fileSha256, source: img.source };
      blobs.kernel = img.file;
    } else {
      const bytes = img.file.subarray(sec.pointerToRawData, sec.pointerToRawData + sectionCopySize(sec));
      kernel = { image: img.name, address: hex(img.base + BigInt(sec.virtualAddress)), size: bytes.length, fileSha256: sha256(bytes), source: 'in place', section: sec.name };
      blobs.kernel = bytes; // a view of the image file, which does not change
    }
  }
  return {
    report: {
      cpu: { returnAddress: fw.symbolize(h.returnAddress), rsp: hex(h.stackPointer), image: img?.name ?? null },
      bootParams,
      bootParamsCandidates: candidates.length,
      cmdline: bootParams?.cmdline?.text ?? null,
      initrd,
      kernel,
      memoryMap: fw.map.descriptors().map((d) => ({ type: memoryTypeName(d.type), start: hex(d.physicalStart), pages: Number(d.numberOfPages), attribute: hex(d.attribute) })),
    },
    blobs,
  };
}

/** Every region that is not free at ExitBootServices, with the sha256 of its bytes: what a kexec would load. */
export function segments(fw: Firmware): { type: string; address: string; size: number; sha256: string }[] {
  return fw.map
    .descriptors()
    .filter((d) => d.type !== EfiConventionalMemory)
    .map((d) => {
      const size = Number(d.numberOfPages) * 4096;
      return {
        type: memoryTypeName(d.type),
        address: hex(d.physicalStart),
        size,
        sha256: fw.mem.isMapped(d.physicalStart, size) ? sha256(fw.mem.view(d.physicalStart, size)) : '',
      };
    });
}
