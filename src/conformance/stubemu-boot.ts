// The side under test: the same ESP run by stubemu to ExitBootServices, with the same machine settings; what the
// kernel would receive is read from the hand-off (boot_params command line and ramdisk).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runImage, RunOptions } from '../api';
import { listCpioArchives, S_IFMT, S_IFREG } from '../initrd/cpio';
import { createHash } from 'node:crypto';
import { MACHINE } from './machine';

export interface StubemuBoot {
  readonly ms: number;
  readonly outcome: string;
  readonly eventLog?: Buffer;
  readonly cmdline?: string;
  readonly initrd?: { size: number; sha256: string };
  /** sha256 of each regular file the kernel would unpack from the initrd (later archives override earlier ones). */
  readonly files?: Record<string, string>;
  readonly failure?: string;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What the kernel's initramfs unpacker would leave in the root file system: regular files by path. */
export function unpackedFiles(initrd: Buffer): Record<string, string> {
  const files: Record<string, string> = {};
  for (const a of listCpioArchives(initrd).archives) {
    for (const e of a.entries) {
      const path = e.path.replace(/^(\.?\/)+/, '');
      if ((e.mode & S_IFMT) === S_IFREG) files[path] = sha256(e.data);
      else delete files[path];
    }
  }
  return files;
}

export function bootInStubemu(espDir: string, bootPath: string, timeoutSeconds: number, extra: Partial<RunOptions> = {}): StubemuBoot {
  const t0 = performance.now();
  const file = join(espDir, ...bootPath.split('\\').filter(Boolean));
  const r = runImage({
    image: readFileSync(file),
    imageName: bootPath.split('\\').pop()!,
    imagePath: bootPath,
    espDir,
    memoryBytes: MACHINE.memoryMiB * 1024 * 1024,
    secureBoot: MACHINE.secureBoot,
    pcrBanks: MACHINE.pcrBanks,
    // QEMU's vvfat ESP is an MBR disk: systemd-stub 262 finds no GPT on it and makes no boot secret (an extra initrd
    // cpio). stubemu's ESP would be a GPT disk; leave the disk out so both sides see the same.
    espDisk: false,
    // No instruction budget: the engine then runs without counting (much faster) and the time budget bounds
    // the run; the generic 6.1 kernel's EFI stub decompresses its XZ payload in one long stretch of guest code.
    timeoutSeconds,
    ...extra,
  });
  const ms = performance.now() - t0;
  const outcome = `${r.outcome.kind}${'status' in r.outcome ? ` ${String(r.outcome.status)}` : ''}`;
  const eventLog = r.firmware.tcg2?.measuredBoot.serialize();
  if (!r.handoff) return { ms, outcome, eventLog, failure: `no ExitBootServices hand-off: ${r.summary}` };
  const h = r.handoff;
  const initrd = h.blobs.initrd;
  return {
    ms, outcome, eventLog,
    cmdline: h.report.cmdline ?? undefined,
    initrd: initrd ? { size: initrd.length, sha256: sha256(initrd) } : undefined,
    files: initrd ? unpackedFiles(Buffer.from(initrd.buffer, initrd.byteOffset, initrd.length)) : undefined,
  };
}
