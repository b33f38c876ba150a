// EFI_SYSTEM_TABLE (UEFI 2.10 §4.3) with its table header CRC32s and the configuration table array (§4.6).
import { GuestMemory } from '../../core/guest-memory';
import { crc32 } from '../crc32';
import { guidFromBytes, guidToBytes } from '../../core/guid';
import { EFI_2_100_SYSTEM_TABLE_REVISION } from './boot-services-decl';

export const EFI_SYSTEM_TABLE_SIGNATURE = 0x5453595320494249n; // "IBI SYST"

/** Field offsets of EFI_SYSTEM_TABLE on x64. */
export const ST = {
  Hdr: 0,
  FirmwareVendor: 24,
  FirmwareRevision: 32,
  ConsoleInHandle: 40,
  ConIn: 48,
  ConsoleOutHandle: 56,
  ConOut: 64,
  StandardErrorHandle: 72,
  StdErr: 80,
  RuntimeServices: 88,
  BootServices: 96,
  NumberOfTableEntries: 104,
  ConfigurationTable: 112,
  size: 120,
} as const;

/** EFI_TABLE_HEADER: Signature u64, Revision u32, HeaderSize u32, CRC32 u32, Reserved u32. */
export function writeTableHeader(mem: GuestMemory, table: bigint, signature: bigint, headerSize: number, revision = EFI_2_100_SYSTEM_TABLE_REVISION): void {
  mem.setU64(table, signature);
  mem.setU32(table + 8n, revision);
  mem.setU32(table + 12n, headerSize);
  mem.setU32(table + 20n, 0);
  updateTableCrc(mem, table);
}

/** CRC32 over HeaderSize bytes with the CRC32 field taken as zero (UEFI 2.10 §4.2). */
export function updateTableCrc(mem: GuestMemory, table: bigint): void {
  const size = mem.u32(table + 12n);
  mem.setU32(table + 16n, 0);
  mem.setU32(table + 16n, crc32(mem.view(table, size)));
}

export interface ConfigurationTableEntry {
  guid: string;
  table: bigint;
}

/**
 * The EFI_CONFIGURATION_TABLE array: InstallConfigurationTable adds, replaces and (with a NULL table) removes
 * entries; the array is reallocated in firmware memory and the system table updated with its CRC.
 */
export class ConfigurationTables {
  private entries: ConfigurationTableEntry[] = [];

  constructor(
    private readonly mem: GuestMemory,
    private readonly systemTable: bigint,
    private readonly allocate: (size: number) => bigint,
  ) {
    this.sync();
  }

  list(): readonly ConfigurationTableEntry[] {
    return this.entries;
  }

  find(guid: string): bigint | undefined {
    return this.entries.find((e) => e.guid === guid)?.table;
  }

  /** Returns false when asked to remove an entry that does not exist (EFI_NOT_FOUND). */
  install(guid: string, table: bigint): boolean {
    const i = this.entries.findIndex((e) => e.guid === guid);
    if (table === 0n) {
      if (i < 0) return false;
      this.entries.splice(i, 1);
    } else if (i >= 0) this.entries[i] = { guid, table };
    else this.entries.push({ guid, table });
    this.sync();
    return true;
  }

  private array = 0n;
  private capacity = 0;

  private sync(): void {
    // Firmware memory is never freed, so the array grows in steps (as edk2's does) instead of on every install.
    if (this.array === 0n || this.entries.length > this.capacity) {
      this.capacity = Math.max(16, this.capacity * 2, this.entries.length);
      this.array = this.allocate(this.capacity * 24);
    }
    const array = this.array;
    this.entries.forEach((e, i) => {
      this.mem.write(array + BigInt(24 * i), guidToBytes(e.guid));
      this.mem.setU64(array + BigInt(24 * i + 16), e.table);
    });
    this.mem.setU64(this.systemTable + BigInt(ST.NumberOfTableEntries), BigInt(this.entries.length));
    this.mem.setU64(this.systemTable + BigInt(ST.ConfigurationTable), array);
    updateTableCrc(this.mem, this.systemTable);
  }
}

export function readGuid(mem: GuestMemory, a: bigint): string {
  return guidFromBytes(mem.view(a, 16));
}
