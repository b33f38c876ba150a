// EFI_TCG2_PROTOCOL (TCG EFI Protocol Specification rev 00.13 §6) over the measured-boot state, with the status
// handling and log placement of edk2 Tcg2Dxe as OVMF runs it.
import { GUID } from '../../core/guid';
import { fn, tableDecl } from '../../core/abi';
import { buildInterface } from '../interface';
import { FirmwareOptions } from '../firmware-options';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { DeterministicRandom } from '../random';
import {
  EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_SUCCESS, EFI_UNSUPPORTED, EFI_VOLUME_FULL,
} from '../../core/status';
import { AuthenticodeError, authenticodeDigests } from './authenticode';
import { EV } from './event-data';
import { DEFAULT_LOG_AREA_SIZE, MeasuredBoot } from './event-log';
import { ALL_BANKS, bankBitmap, banksOfBitmap, DEFAULT_PCR_BANKS, HashAlgorithmName, PCR_COUNT } from './pcr-banks';
import { executeTpm2Command } from './tpm2-commands';

export const EFI_TCG2_PROTOCOL_GUID = GUID.TCG2_PROTOCOL;
export const EFI_TCG2_FINAL_EVENTS_TABLE_GUID = '1e2ed096-30e2-4254-bd89-863bbef82325';

export const EFI_TCG2_PROTOCOL = tableDecl({
  name: 'EFI_TCG2_PROTOCOL',
  traceName: 'Tcg2',
  headerSize: 0,
  members: [
    fn('GetCapability', 'This:PTR', 'ProtocolCapability:PTR'),
    fn('GetEventLog', 'This:PTR', 'EventLogFormat:UINT32', 'EventLogLocation:PTR', 'EventLogLastEntry:PTR', 'EventLogTruncated:PTR'),
    fn('HashLogExtendEvent', 'This:PTR', 'Flags:UINT64', 'DataToHash:UINT64', 'DataToHashLen:UINT64', 'EfiTcgEvent:PTR'),
    fn('SubmitCommand', 'This:PTR', 'InputParameterBlockSize:UINT32', 'InputParameterBlock:PTR', 'OutputParameterBlockSize:UINT32', 'OutputParameterBlock:PTR'),
    fn('GetActivePcrBanks', 'This:PTR', 'ActivePcrBanks:PTR'),
    fn('SetActivePcrBanks', 'This:PTR', 'ActivePcrBanks:UINT32'),
    fn('GetResultOfSetActivePcrBanks', 'This:PTR', 'OperationPresent:PTR', 'Response:PTR'),
  ],
});

export const EFI_TCG2_EVENT_LOG_FORMAT_TCG_1_2 = 0x1;
export const EFI_TCG2_EVENT_LOG_FORMAT_TCG_2 = 0x2;
export const EFI_TCG2_EXTEND_ONLY = 0x1n;
export const PE_COFF_IMAGE = 0x10n;

/**
 * EFI_TCG2_BOOT_SERVICE_CAPABILITY (TCG EFI Protocol Spec §6.4.4). The header declares it without packing, so the
 * UINT32 and UINT16 fields sit at their natural alignment: 36 bytes. The 1.0 structure (TREE_BOOT_SERVICE_CAPABILITY)
 * ends before NumberOfPCRBanks: 28 bytes.
 */
export const BOOT_SERVICE_CAPABILITY = {
  Size: 0, StructureVersion: 1, ProtocolVersion: 3, HashAlgorithmBitmap: 8, SupportedEventLogs: 12, TPMPresentFlag: 16,
  MaxCommandSize: 18, MaxResponseSize: 20, ManufacturerID: 24, NumberOfPCRBanks: 28, ActivePcrBanks: 32,
  size: 36, size1_0: 28,
} as const;
if (BOOT_SERVICE_CAPABILITY.ActivePcrBanks + 4 !== BOOT_SERVICE_CAPABILITY.size) throw new Error('EFI_TCG2_BOOT_SERVICE_CAPABILITY layout');

/** EFI_TCG2_EVENT, packed (§6.5): Size, then EFI_TCG2_EVENT_HEADER (HeaderSize, HeaderVersion, PCRIndex, EventType). */
export const TCG2_EVENT = { Size: 0, HeaderSize: 4, HeaderVersion: 8, PCRIndex: 10, EventType: 14, Event: 18, headerSize: 14 } as const;
if (TCG2_EVENT.Event - TCG2_EVENT.HeaderSize !== TCG2_EVENT.headerSize) throw new Error('EFI_TCG2_EVENT layout');
export const EFI_TCG2_EVENT_HEADER_VERSION = 1;

/** EFI_TCG2_FINAL_EVENTS_TABLE (§6.6.2): Version (1), NumberOfEvents, then TCG_PCR_EVENT2 records. */
export const FINAL_EVENTS_TABLE = { Version: 0, NumberOfEvents: 8, Events: 16 } as const;
/** PcdTcg2FinalLogAreaLen default. */
export const FINAL_EVENTS_AREA_SIZE = 0x8000;

export interface Tcg2Options {
  /** Active PCR banks; default sha1 + sha256 (OVMF with swtpm). Ignored when `measuredBoot` is given. */
  banks?: readonly HashAlgorithmName[];
  /** The measured-boot state to expose; a new one with `banks` by default. */
  measuredBoot?: MeasuredBoot;
  /** Installs a configuration table (the EFI_TCG2_FINAL_EVENTS_TABLE). */
  installConfigTable?: (guid: string, address: bigint) => void;
  /** TPM2_GetRandom bytes; default a deterministic stream. */
  random?: (n: number) => Buffer;
  /** TPM_PT_MANUFACTURER and ManufacturerID; default "STUB". */
  manufacturerId?: number;
}

export interface Tcg2 {
  /** The interface to install with EFI_TCG2_PROTOCOL_GUID. */
  protocol: bigint;
  measuredBoot: MeasuredBoot;
  /** The log area (EfiBootServicesData, as OVMF's PcdTpm2AcpiTableRev 3 gives) and the final events table. */
  logArea: bigint;
  finalEventsTable: bigint;
  state: Tcg2State;
}

export interface Tcg2State {
  getEventLogCalled: boolean;
  /** A SetActivePcrBanks request waiting for a reset that never comes. */
  pendingActivePcrBanks?: number;
  finalEvents: number;
  finalEventsTruncated: boolean;
}

/** swtpm's TPM_PT_MAX_COMMAND_SIZE / TPM_PT_MAX_RESPONSE_SIZE. */
const MAX_BUFFER = 4096;

/**
 * Module entry (platform-protocols.ts): a TPM 2.0 with `options.pcrBanks` behind EFI_TCG2_PROTOCOL on a new handle,
 * its final events table a configuration table, TPM2_GetRandom from the firmware's random stream.
 */
export function install(ctx: InstallContext, options: FirmwareOptions): Tcg2 {
  const tcg2 = installTcg2(ctx.platform, {
    banks: options.pcrBanks ?? DEFAULT_PCR_BANKS,
    installConfigTable: (guid, address) => void ctx.configTables.install(guid, address),
    random: (n) => ctx.random.bytes(n),
  });
  ctx.db.install(0n, EFI_TCG2_PROTOCOL_GUID, tcg2.protocol);
  return tcg2;
}

export function installTcg2(platform: Platform, options: Tcg2Options = {}): Tcg2 {
  const mem = platform.mem;
  const mb = options.measuredBoot ?? new MeasuredBoot({ banks: options.banks ?? DEFAULT_PCR_BANKS, logCapacity: DEFAULT_LOG_AREA_SIZE });
  const implemented = ALL_BANKS;
  const hashAlgorithmBitmap = bankBitmap(implemented);
  const activeBitmap = bankBitmap(mb.banks);
  const manufacturerId = options.manufacturerId ?? 0x53545542;
  const fallbackRandom = new DeterministicRandom('stubemu-tpm');
  const random = options.random ?? ((n: number) => fallbackRandom.bytes(n));
  const state: Tcg2State = { getEventLogCalled: false, finalEvents: 0, finalEventsTruncated: false };

  // edk2 SetupEventLog: the area is filled with 0xFF, then the records are copied in.
  const logArea = platform.allocate(mb.capacity);
  mem.fill(logArea, mb.capacity, 0xff);
  mem.write(logArea, mb.serialize());
  const finalEventsTable = platform.allocate(FINAL_EVENTS_AREA_SIZE, true);
  mem.fill(finalEventsTable, FINAL_EVENTS_AREA_SIZE, 0xff);
  mem.setU64(finalEventsTable + BigInt(FINAL_EVENTS_TABLE.Version), 1n);
  mem.setU64(finalEventsTable + BigInt(FINAL_EVENTS_TABLE.NumberOfEvents), 0n);
  let finalSize = 0;
  options.installConfigTable?.(EFI_TCG2_FINAL_EVENTS_TABLE_GUID, finalEventsTable);

  // Every logged record goes to the log area; after the first GetEventLog also to the final events table (§6.6.2).
  mb.onLogged((record, offset) => {
    mem.write(logArea + BigInt(offset), record);
    if (!state.getEventLogCalled || state.finalEventsTruncated) return;
    if (FINAL_EVENTS_TABLE.Events + finalSize + record.length > FINAL_EVENTS_AREA_SIZE) {
      state.finalEventsTruncated = true;
      return;
    }
    mem.write(finalEventsTable + BigInt(FINAL_EVENTS_TABLE.Events + finalSize), record);
    finalSize += record.length;
    state.finalEvents++;
    mem.setU64(finalEventsTable + BigInt(FINAL_EVENTS_TABLE.NumberOfEvents), BigInt(state.finalEvents));
  });

  const protocol = buildInterface(platform, EFI_TCG2_PROTOCOL, {
    GetCapability: ([self, cap]) => {
      if (self === 0n || cap === 0n) return EFI_INVALID_PARAMETER;
      const c = BOOT_SERVICE_CAPABILITY;
      const size = mem.u8(cap + BigInt(c.Size));
      if (size < c.size) {
        // edk2 Tcg2GetCapability: a caller with the 1.0 structure gets its fields and version 1.0.
        if (size < c.size1_0) {
          mem.setU8(cap + BigInt(c.Size), c.size);
          return EFI_BUFFER_TOO_SMALL;
        }
        mem.write(cap, capability(1, 0).subarray(0, c.size1_0));
        mem.setU8(cap + BigInt(c.Size), c.size1_0);
        return EFI_SUCCESS;
      }
      mem.write(cap, capability(1, 1));
      return EFI_SUCCESS;
    },

    GetEventLog: ([self, format, location, lastEntry, truncated]) => {
      if (self === 0n) return EFI_INVALID_PARAMETER;
      // Only the crypto-agile log is kept; the SHA-1 TCG 1.2 log is not offered (SupportedEventLogs says so).
      if (format !== BigInt(EFI_TCG2_EVENT_LOG_FORMAT_TCG_2)) return EFI_INVALID_PARAMETER;
      if (location !== 0n) mem.setU64(location, logArea);
      if (lastEntry !== 0n) mem.setU64(lastEntry, logArea + BigInt(mb.lastEntryOffset));
      if (truncated !== 0n) mem.setU8(truncated, mb.truncated ? 1 : 0);
      state.getEventLogCalled = true;
      return EFI_SUCCESS;
    },

    HashLogExtendEvent: ([self, flags, data, dataLen, event], call) => {
      if (self === 0n || event === 0n) return EFI_INVALID_PARAMETER;
      const e = TCG2_EVENT;
      const type = mem.u32(event + BigInt(e.EventType));
      if (type !== EV.NO_ACTION && data === 0n) return EFI_INVALID_PARAMETER;
      const size = mem.u32(event + BigInt(e.Size));
      const headerSize = mem.u32(event + BigInt(e.HeaderSize));
      if (size < headerSize + 4) return EFI_INVALID_PARAMETER;
      // U-Boot efi_tcg2: the header must be the version 1 EFI_TCG2_EVENT_HEADER, or its fields are not where read.
      if (headerSize < e.headerSize || mem.u16(event + BigInt(e.HeaderVersion)) !== EFI_TCG2_EVENT_HEADER_VERSION) return EFI_INVALID_PARAMETER;
      const pcr = mem.u32(event + BigInt(e.PCRIndex));
      if (pcr >= PCR_COUNT) {
        // edk2 extends an NV index for EV_NO_ACTION with PCRIndex > 23; there are no NV indices here.
        return type === EV.NO_ACTION ? EFI_UNSUPPORTED : EFI_INVALID_PARAMETER;
      }
      const eventData = mem.read(event + BigInt(4 + headerSize), size - headerSize - 4);
      const extendOnly = (flags & EFI_TCG2_EXTEND_ONLY) !== 0n;
      let toHash: Buffer | ReturnType<typeof authenticodeDigests>;
      // A view: hashed before this service returns, so the guest cannot change it in between (no copy of a
      // 64 MiB .initrd).
      const bytes = type === EV.NO_ACTION && data === 0n ? Buffer.alloc(0) : mem.view(data, Number(dataLen));
      if ((flags & PE_COFF_IMAGE) !== 0n && type !== EV.NO_ACTION) {
        // edk2 MeasurePeImageAndExtend and U-Boot tcg2_hash_pe_image read DataToHash in file layout.
        try {
          toHash = authenticodeDigests(bytes, mb.banks);
        } catch (err) {
          if (!(err instanceof AuthenticodeError)) throw err;
          call.note(err.message);
          return EFI_UNSUPPORTED;
        }
      } else {
        toHash = bytes;
      }
      const measured = mb.measure(pcr, type, eventData, toHash, { extendOnly });
      call.note(`PCR ${pcr} ${measured.logged || extendOnly ? '' : '(log full) '}${mb.banks.map((b) => `${b}:${measured.digests[b]!.toString('hex')}`).join(' ')}`);
      // The extend happened even when the log had no room (§6.6.5: EFI_VOLUME_FULL).
      return !extendOnly && !measured.logged ? EFI_VOLUME_FULL : EFI_SUCCESS;
    },

    SubmitCommand: ([self, inSize, input, outSize, output]) => {
      if (self === 0n || inSize === 0n || input === 0n || outSize === 0n || output === 0n) return EFI_INVALID_PARAMETER;
      // edk2 rejects commands larger than TPM_PT_MAX_COMMAND_SIZE; a larger output buffer is harmless and accepted.
      if (inSize > BigInt(MAX_BUFFER)) return EFI_INVALID_PARAMETER;
      const reply = executeTpm2Command(mem.read(input, Number(inSize)), {
        pcrs: mb.pcrBanks, implemented, random, manufacturerId, maxCommandSize: MAX_BUFFER, maxResponseSize: MAX_BUFFER,
      });
      if (reply.length > Number(outSize)) return EFI_BUFFER_TOO_SMALL;
      mem.write(output, reply);
      return EFI_SUCCESS;
    },

    GetActivePcrBanks: ([self, out]) => {
      if (self === 0n || out === 0n) return EFI_INVALID_PARAMETER;
      mem.setU32(out, activeBitmap);
      return EFI_SUCCESS;
    },

    SetActivePcrBanks: ([self, banks]) => {
      if (self === 0n || banks === 0n) return EFI_INVALID_PARAMETER;
      if ((Number(banks) & ~hashAlgorithmBitmap) !== 0) return EFI_INVALID_PARAMETER;
      // edk2 queues a TCG2_PHYSICAL_PRESENCE_SET_PCR_BANKS request for the next boot, or clears it when the
      // requested banks are the active ones; the reset that would apply it never happens here.
      state.pendingActivePcrBanks = Number(banks) === activeBitmap ? undefined : Number(banks);
      return EFI_SUCCESS;
    },

    GetResultOfSetActivePcrBanks: ([self, present, response]) => {
      if (self === 0n || present === 0n || response === 0n) return EFI_INVALID_PARAMETER;
      // The result of a request made in the previous boot: there was no previous boot, so no operation.
      mem.setU32(present, 0);
      mem.setU32(response, 0);
      return EFI_SUCCESS;
    },
  });

  function capability(major: number, minor: number): Buffer {
    const c = BOOT_SERVICE_CAPABILITY;
    const b = Buffer.alloc(c.size);
    b[c.Size] = c.size;
    b[c.StructureVersion] = major;
    b[c.StructureVersion + 1] = minor;
    b[c.ProtocolVersion] = major;
    b[c.ProtocolVersion + 1] = minor;
    b.writeUInt32LE(hashAlgorithmBitmap, c.HashAlgorithmBitmap);
    b.writeUInt32LE(EFI_TCG2_EVENT_LOG_FORMAT_TCG_2, c.SupportedEventLogs);
    b[c.TPMPresentFlag] = 1;
    b.writeUInt16LE(MAX_BUFFER, c.MaxCommandSize);
    b.writeUInt16LE(MAX_BUFFER, c.MaxResponseSize);
    b.writeUInt32LE(manufacturerId, c.ManufacturerID);
    b.writeUInt32LE(implemented.length, c.NumberOfPCRBanks);
    b.writeUInt32LE(activeBitmap, c.ActivePcrBanks);
    return b;
  }

  return { protocol, measuredBoot: mb, logArea, finalEventsTable, state };
}

/** The banks a SetActivePcrBanks bitmap names, for the report. */
export function pendingBanks(state: Tcg2State): HashAlgorithmName[] | undefined {
  return state.pendingActivePcrBanks === undefined ? undefined : banksOfBitmap(state.pendingActivePcrBanks);
}
