// `--kexec-out DIR`: the hand-off as files a kexec loader takes (kernel, initrd, cmdline) plus what the stub
// left in memory (boot_params, memory map, every non-free region).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firmware } from '../efi-services/firmware';
import { captureHandoff, segments } from './handoff';
import { reportJson } from './report';

export function writeKexecOut(dir: string, fw: Firmware, handoff: NonNullable<ReturnType<typeof captureHandoff>>): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string | Buffer) => {
    writeFileSync(join(dir, name), data);
    written.push(name);
  };
  if (handoff.blobs.kernel) put('kernel', handoff.blobs.kernel);
  if (handoff.blobs.initrd) put('initrd', handoff.blobs.initrd);
  if (handoff.report.cmdline !== null) put('cmdline', handoff.report.cmdline);
  if (handoff.blobs.bootParams) put('boot_params.bin', handoff.blobs.bootParams);
  put('memmap.json', reportJson(handoff.report.memoryMap));
  put('segments.json', reportJson(segments(fw)));
  put('handoff.json', reportJson(handoff.report));
  return written;
}
