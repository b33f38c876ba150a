// What /init reported on the serial console (guest-init.ts), parsed from the console text between the markers.
import { createHash } from 'node:crypto';
import { MARK } from './guest-init';

export interface GuestReport {
  /** /proc/cmdline without its trailing newline. */
  readonly cmdline?: string;
  /** /sys/firmware/initrd (retain_initrd): what the kernel was handed. */
  readonly initrd?: { size: number; sha256: string };
  /** sha256 of each regular file unpacked into the root file system, by path ("init", "bin/busybox"). */
  readonly files?: Record<string, string>;
  readonly eventLog?: Buffer;
  /** Why something is missing (no securityfs, no retain_initrd, a log that does not match its checksum). */
  readonly problems: string[];
  /** The `end` marker came: /init ran to its end. */
  readonly complete: boolean;
}

const B64_LINE = /^[A-Za-z0-9+/=]+$/;

export function parseGuestReport(console: string): GuestReport {
  const lines = console.split(/\r?\n/).map((l) => l.replace(/\r/g, ''));
  const problems: string[] = [];
  const field = (name: string): string | undefined => {
    const prefix = `${MARK} ${name} `;
    const l = lines.find((x) => x.startsWith(prefix));
    return l?.slice(prefix.length).trim();
  };
  let cmdline: string | undefined;
  const c = field('cmdline');
  if (c !== undefined) cmdline = Buffer.from(c, 'base64').toString('latin1').replace(/\n$/, '');
  else problems.push('no cmdline line');

  let initrd: GuestReport['initrd'];
  const i = field('initrd');
  const im = i ? /^(\d+) ([0-9a-f]{64})/.exec(i) : null;
  if (im) initrd = { size: Number(im[1]), sha256: im[2] };
  else if (i !== 'none') problems.push('no initrd line');

  let files: Record<string, string> | undefined;
  const fStart = lines.indexOf(`${MARK} files-begin`);
  const fEnd = lines.indexOf(`${MARK} files-end`);
  if (fStart >= 0 && fEnd > fStart) {
    files = {};
    for (const l of lines.slice(fStart + 1, fEnd)) {
      const m = /^([0-9a-f]{64})  \.\/(.+)$/.exec(l);
      if (m) files[m[2]] = m[1];
    }
  } else problems.push('no file list');

  let eventLog: Buffer | undefined;
  const e = field('eventlog');
  const em = e ? /^(\d+) ([0-9a-f]{64})/.exec(e) : null;
  if (em) {
    const start = lines.indexOf(`${MARK} eventlog-base64-begin`);
    const end = lines.indexOf(`${MARK} eventlog-base64-end`);
    if (start < 0 || end < start) problems.push('event log markers missing');
    else {
      // Kernel messages may land between base64 lines; they never look like base64 of 76 characters.
      const b64 = lines.slice(start + 1, end).filter((l) => B64_LINE.test(l)).join('');
      const bytes = Buffer.from(b64, 'base64');
      const got = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== Number(em[1]) || got !== em[2]) problems.push(`event log garbled on the serial line (${bytes.length} bytes, sha256 ${got}; /init said ${em[1]} bytes, ${em[2]})`);
      else eventLog = bytes;
    }
  } else problems.push(`no TPM event log in the guest: ${e ?? 'no eventlog line'}`);
  return { cmdline, initrd, files, eventLog, problems, complete: lines.includes(`${MARK} end`) };
}
