// The platform protocols and tables the firmware installs after the system table, the consoles and the ESP: one
// ordered list, each entry behind its option (STYLE 3, as U-Boot's efi_init_obj_list).
//
// The module shape: a protocol file exports its GUID (an alias of core/guid.ts, where every GUID is defined
// once), its TableDecl, and `install(ctx: InstallContext, options: FirmwareOptions)`, which installs on ctx.db and
// returns the state the firmware keeps (or nothing). To add one, write the module and put an entry here where it
// belongs: `when` for an option gate, `key` when the firmware keeps its state (PlatformProtocols). The order is
// part of the behaviour: handles and firmware allocations follow it, and reports are compared byte for byte.
import { FirmwareOptions } from './firmware-options';
import { InstallContext } from './install-context';
import * as devicePathFromText from './protocols/device-path-from-text';
import * as devicePathToText from './protocols/device-path-to-text';
import * as devicePathUtilities from './protocols/device-path-utilities';
import * as graphicsOutput from './protocols/graphics-output';
import * as hiiDatabase from './protocols/hii-database';
import * as hiiString from './protocols/hii-string';
import * as initrdLoadFile2 from './protocols/initrd-load-file2';
import * as memoryAttribute from './protocols/memory-attribute';
import * as rng from './protocols/rng';
import * as securityArch from './protocols/security-arch';
import * as unicodeCollation from './protocols/unicode-collation';
import * as acpi from './tables/acpi';
import * as smbios from './tables/smbios';
import * as firmwareMeasurements from './tcg/firmware-measurements';
import * as tcg2 from './tcg/tcg2-protocol';

/** The state of installed platform protocols the firmware and the report use. */
export interface PlatformProtocols {
  memoryAttributes?: memoryAttribute.MemoryAttributeProtocol;
  security?: securityArch.SecurityArchProtocols;
  gop?: graphicsOutput.GraphicsOutput;
  initrd?: initrdLoadFile2.InitrdLoadFile2;
  tcg2?: tcg2.Tcg2;
  measurements?: firmwareMeasurements.FirmwareMeasurements;
  hii?: hiiDatabase.HiiDatabase;
}

type Install<T> = (ctx: InstallContext, options: FirmwareOptions, installed: Readonly<PlatformProtocols>) => T;

/** One entry: `key` names where its state goes; the type pairs each key with what its install returns. */
export type PlatformProtocolEntry = { name: string; when?: (options: FirmwareOptions) => boolean } & (
  | { [K in keyof PlatformProtocols]-?: { key: K; install: Install<NonNullable<PlatformProtocols[K]>> } }[keyof PlatformProtocols]
  | { key?: undefined; install: Install<void> }
);

const tpm = (o: FirmwareOptions) => o.pcrBanks !== null;

export const PLATFORM_PROTOCOLS: readonly PlatformProtocolEntry[] = [
  { name: 'EFI_RNG_PROTOCOL', when: (o) => !o.noRng, install: rng.install },
  { name: 'ACPI tables', install: acpi.install },
  { name: 'SMBIOS tables', install: smbios.install },
  { name: 'EFI_MEMORY_ATTRIBUTE_PROTOCOL', key: 'memoryAttributes', install: memoryAttribute.install },
  { name: 'EFI_SECURITY_ARCH_PROTOCOL, EFI_SECURITY2_ARCH_PROTOCOL', key: 'security', install: securityArch.install },
  { name: 'EFI_GRAPHICS_OUTPUT_PROTOCOL', key: 'gop', when: (o) => o.gop !== undefined, install: graphicsOutput.install },
  { name: 'initrd EFI_LOAD_FILE2_PROTOCOL', key: 'initrd', when: (o) => o.initrd !== undefined, install: initrdLoadFile2.install },
  { name: 'EFI_TCG2_PROTOCOL', key: 'tcg2', when: tpm, install: tcg2.install },
  {
    name: 'PC client firmware measurements',
    key: 'measurements',
    when: tpm,
    install: (ctx, _options, installed) => firmwareMeasurements.install(ctx, installed.tcg2!),
  },
  // What OVMF's DevicePathDxe and EnglishDxe offer; edk2 applications such as the UEFI Shell look for them.
  { name: 'EFI_DEVICE_PATH_UTILITIES_PROTOCOL', install: devicePathUtilities.install },
  { name: 'EFI_DEVICE_PATH_TO_TEXT_PROTOCOL', install: devicePathToText.install },
  { name: 'EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL', install: devicePathFromText.install },
  { name: 'EFI_UNICODE_COLLATION2_PROTOCOL', install: unicodeCollation.install },
  // OVMF's HiiDatabaseDxe: the database and the string protocol over it.
  { name: 'EFI_HII_DATABASE_PROTOCOL', key: 'hii', install: hiiDatabase.install },
  { name: 'EFI_HII_STRING_PROTOCOL', install: (ctx, _options, installed) => hiiString.install(ctx, installed.hii!) },
];

/** Installs the entries of `list` whose option gate is open, in order; returns their states. */
export function installPlatformProtocols(
  ctx: InstallContext,
  options: FirmwareOptions,
  list: readonly PlatformProtocolEntry[] = PLATFORM_PROTOCOLS,
): PlatformProtocols {
  const installed: Record<string, unknown> = {};
  for (const entry of list) {
    if (entry.when && !entry.when(options)) continue;
    const state = entry.install(ctx, options, installed as PlatformProtocols);
    if (entry.key) installed[entry.key] = state;
  }
  return installed as PlatformProtocols;
}
