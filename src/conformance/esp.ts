// The ESP of a case, the same directory for QEMU (as a read-only vvfat drive) and for stubemu (--esp): the UKI as
// the removable-media boot file, or systemd-boot with a Type #1 entry whose `options` become the UKI's LoadOptions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EspLayout {
  /** The image the firmware starts, relative to the ESP root with backslashes (\EFI\BOOT\BOOTX64.EFI). */
  readonly bootPath: string;
  /** Host path of that image. */
  readonly bootFile: string;
}

export const BOOT_PATH = '\\EFI\\BOOT\\BOOTX64.EFI';
/** Where the UKI sits when systemd-boot loads it: outside EFI/Linux, so it is not also found as a Type #2 entry. */
export const ENTRY_UKI = '/conformance/case.efi';

/**
 * Writes the ESP into `dir`. With `loader`, systemd-boot is BOOTX64.EFI and boots loader/entries/case.conf
 * (`efi` + `options`) at once (`timeout 0` hides the menu); the UKI is at ENTRY_UKI.
 */
export function writeEsp(dir: string, uki: Buffer, loader?: { systemdBoot: Buffer; options: string }): EspLayout {
  const bootDir = join(dir, 'EFI', 'BOOT');
  mkdirSync(bootDir, { recursive: true });
  const bootFile = join(bootDir, 'BOOTX64.EFI');
  if (!loader) {
    writeFileSync(bootFile, uki);
    return { bootPath: BOOT_PATH, bootFile };
  }
  writeFileSync(bootFile, loader.systemdBoot);
  mkdirSync(join(dir, 'conformance'), { recursive: true });
  writeFileSync(join(dir, ...ENTRY_UKI.split('/').filter(Boolean)), uki);
  mkdirSync(join(dir, 'loader', 'entries'), { recursive: true });
  writeFileSync(join(dir, 'loader', 'loader.conf'), 'timeout 0\ndefault case.conf\n');
  writeFileSync(join(dir, 'loader', 'entries', 'case.conf'), `title conformance\nefi ${ENTRY_UKI}\noptions ${loader.options}\n`);
  return { bootPath: BOOT_PATH, bootFile };
}
