// What the firmware is built with (createFirmware): the options of a run that reach the firmware model.
import { ImageHooks } from './boot/images';
import { Volume } from './esp/volume';
import { InputKey } from './protocols/simple-text-input';
import { VariableSeed } from './runtime/variables-json';
import { HashAlgorithmName } from './tcg/pcr-banks';
import { SecureBootKeys } from './security/secure-boot';
import { SectorStore } from './disk/block-device';
import { GptLayout } from './disk/gpt-read';

export interface FirmwareOptions {
  trace: boolean;
  variables?: readonly VariableSeed[];
  keys?: readonly InputKey[];
  /** GetTime at the start of the run, in seconds since the Unix epoch. */
  epochSeconds?: bigint;
  /** The ESP; by default an in-memory volume holding the started image. */
  esp?: Volume;
  onConsole?: (text: string, stream: 'ConOut' | 'StdErr') => void;
  /** Seed of EFI_RNG_PROTOCOL's deterministic stream; undefined = the protocol is installed with seed "stubemu". */
  rngSeed?: string;
  /** SecureBootEnable: with keys, Secure Boot on and images verified; without, only announced (SecureBoot=1, SetupMode=0). */
  secureBoot?: boolean;
  /** PK, KEK, db, dbx as EFI_SIGNATURE_LIST bytes (--pk/--kek/--db/--dbx, --ms-keys). */
  secureBootKeys?: SecureBootKeys;
  /** Leave EFI_RNG_PROTOCOL out. */
  noRng?: boolean;
  /** A Linux initrd offered through LoadFile2 on the initrd media device path (what OVMF does for -initrd). */
  initrd?: Uint8Array;
  /** A GOP framebuffer of this size. */
  gop?: { width: number; height: number };
  /** SMBIOS type 11 (OEM strings), e.g. io.systemd.credential:name=value. */
  smbiosOemStrings?: readonly string[];
  /** Active PCR banks of the emulated TPM 2.0 (default sha1 + sha256, as OVMF with swtpm); null: no TPM. */
  pcrBanks?: readonly HashAlgorithmName[] | null;
  imageHooks?: ImageHooks;
  /** The ESP also as a GPT disk with Block I/O and Disk I/O (default true; efi-services/disk/esp-disk.ts). */
  espDisk?: boolean;
  /**
   * A raw GPT disk image (`--disk FILE`; efi-services/disk/raw-disk-handles.ts) instead of the ESP disk: its EFI system
   * partition is the ESP handle, which then has no SimpleFileSystem (stubemu reads no FAT image).
   */
  disk?: { store: SectorStore; layout: GptLayout };
}
