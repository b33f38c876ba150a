// The conformance initrd: busybox-static and a /init that reports, on the serial console, what the kernel received
// (its command line, the initrd bytes it was handed) and the firmware's TPM event log, then powers the machine off.
import { writeCpio, S_IFDIR, S_IFREG, S_IFLNK } from '../initrd/cpio';

/** Marker prefix of every line /init writes; nothing the kernel prints starts with it. */
export const MARK = '@@conformance';

/**
 * /init. The kernel keeps the initrd it was handed at /sys/firmware/initrd when booted with `retain_initrd`
 * (init/initramfs.c; Linux 6.12 and 7.x have it, 6.1 does not): the raw bytes the stub and the kernel's EFI stub
 * passed, concatenated parts included. binary_bios_measurements is the log the kernel's EFI stub copied from EFI_TCG2_PROTOCOL.GetEventLog
 * merged with the final events table (events logged after GetEventLog, up to ExitBootServices).
 */
export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev
mount -t devtmpfs dev /dev 2>/dev/null
# The serial port itself, not /dev/console: a case without console=ttyS0 still reports.
exec </dev/ttyS0 >/dev/ttyS0 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
# Kernel messages on the console would land inside the report's base64 lines (seen: a garbled event log under
# load); only emergencies may print from here on.
echo 1 > /proc/sys/kernel/printk
M=${MARK}
echo "$M begin"
echo "$M cmdline $(base64 -w 0 /proc/cmdline)"
if [ -e /sys/firmware/initrd ]; then
  echo "$M initrd $(wc -c < /sys/firmware/initrd) $(sha256sum < /sys/firmware/initrd)"
else
  echo "$M initrd none"
fi
# Linux 6.1 has no /sys/firmware/initrd: the unpacked files say what the initrd carried.
echo "$M files-begin"
cd / && find . -xdev -type f | sort | xargs sha256sum
echo "$M files-end"
L=/sys/kernel/security/tpm0/binary_bios_measurements
if [ -e $L ]; then
  cat $L > /eventlog
  echo "$M eventlog $(wc -c < /eventlog) $(sha256sum < /eventlog)"
  echo "$M eventlog-base64-begin"
  base64 /eventlog
  echo "$M eventlog-base64-end"
else
  echo "$M eventlog none $(ls /sys/kernel/security 2>&1 | tr '\\n' ' ')"
fi
echo "$M end"
poweroff -f
`;

/** newc cpio with /init, /bin/busybox and the mount points; the same bytes for the same busybox. */
export function conformanceInitrd(busybox: Buffer): Buffer {
  return writeCpio([
    { path: 'bin', mode: S_IFDIR | 0o755 },
    { path: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { path: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
    { path: 'dev', mode: S_IFDIR | 0o755 },
    { path: 'proc', mode: S_IFDIR | 0o755 },
    { path: 'sys', mode: S_IFDIR | 0o755 },
    { path: 'init', mode: S_IFREG | 0o755, data: Buffer.from(INIT_SCRIPT) },
  ]);
}
