// What PC client firmware measures before and while it boots (PFP 1.05 §3.3.4, §10.4), in the order and encoding
// of OVMF with swtpm (edk2 Tcg2Pei, Tcg2Dxe and DxeTpm2MeasureBootLib), reached through a few named hooks (STYLE 11).
import { encodeUtf16z } from '../../core/guest-memory';
import { GUID } from '../../core/guid';
import { AuthenticodeError, authenticodeDigests } from './authenticode';
import { EFI_ACTION, encodeImageLoadEvent, encodeVariableData, EV } from './event-data';
import { MeasuredBoot, MeasuredEvent } from './event-log';
import { InstallContext } from '../install-context';
import { Tcg2 } from './tcg2-protocol';

export const EFI_IMAGE_SECURITY_DATABASE_GUID = GUID.IMAGE_SECURITY_DATABASE;

/** The Secure Boot policy variables, in the order edk2 MeasureAllSecureVariables measures them into PCR 7. */
const SECURE_BOOT_POLICY: readonly [string, string][] = [
  [GUID.GLOBAL_VARIABLE, 'SecureBoot'],
  [GUID.GLOBAL_VARIABLE, 'PK'],
  [GUID.GLOBAL_VARIABLE, 'KEK'],
  [EFI_IMAGE_SECURITY_DATABASE_GUID, 'db'],
  [EFI_IMAGE_SECURITY_DATABASE_GUID, 'dbx'],
];

/** PE subsystems and where their images are measured (edk2 Tcg2MeasurePeImage; PFP 1.05 §3.3.4.3, §3.3.4.5). */
const IMAGE_EVENTS: Readonly<Record<number, { pcr: number; type: number }>> = {
  10: { pcr: 4, type: EV.EFI_BOOT_SERVICES_APPLICATION },
  11: { pcr: 2, type: EV.EFI_BOOT_SERVICES_DRIVER },
  12: { pcr: 2, type: EV.EFI_RUNTIME_SERVICES_DRIVER },
};

export interface FirmwareMeasurementOptions {
  /** PcdFirmwareVersionString, measured as EV_S_CRTM_VERSION; OVMF's is empty, so its event is one UTF-16 NUL. */
  crtmVersion?: string;
  /** A variable's data as the firmware holds it; undefined when it does not exist. */
  readVariable(guid: string, name: string): Buffer | undefined;
}

export interface ImageLoadedInfo {
  /** The PE file as LoadImage received it: the Authenticode digest is taken over it. */
  file: Buffer;
  /** ImageLocationInMemory and ImageLengthInMemory. edk2 puts the file buffer's address and the file size here. */
  base: bigint;
  size: bigint | number;
  /** ImageLinkTimeAddress: the optional header's ImageBase. */
  linkTimeAddress: bigint;
  /** The image's full device path in binary form (End node included); empty for a buffer with no path. */
  devicePathBytes: Buffer;
  /** PE Subsystem; default 10 (EFI application). */
  subsystem?: number;
}

/** Firmware-side measurements of one boot; hooks are called by the image services, BDS and ExitBootServices. */
export class FirmwareMeasurements {
  private bootAttempts = 0;
  /** Why an image went unmeasured, for the report. */
  readonly notes: string[] = [];

  constructor(readonly measuredBoot: MeasuredBoot, private readonly o: FirmwareMeasurementOptions) {}

  /** Before BDS, in the order OVMF makes them: the S-CRTM version, then the Secure Boot policy. */
  onFirmwareStart(): void {
    this.measureCrtmVersion();
    this.measureSecureBootPolicy();
  }

  /**
   * The S-CRTM version into PCR 0 (edk2 Tcg2Pei MeasureCRTMVersion: the UTF-16 string with its NUL). OVMF then
   * measures its firmware volumes (EV_EFI_PLATFORM_FIRMWARE_BLOB) into PCR 0; stubemu has none.
   */
  measureCrtmVersion(): void {
    const version = encodeUtf16z(this.o.crtmVersion ?? '');
    this.measuredBoot.measure(0, EV.S_CRTM_VERSION, version, version);
  }

  /**
   * SecureBoot, PK, KEK, db, dbx (and dbt when present) into PCR 7, empty when absent, then the PCR 7 separator
   * (edk2 Tcg2Dxe MeasureSecureBootPolicy, run when the variable write protocol appears).
   */
  measureSecureBootPolicy(): void {
    for (const [guid, name] of SECURE_BOOT_POLICY) this.measureDriverConfig(guid, name, this.o.readVariable(guid, name) ?? Buffer.alloc(0));
    const dbt = this.o.readVariable(EFI_IMAGE_SECURITY_DATABASE_GUID, 'dbt');
    if (dbt) this.measureDriverConfig(EFI_IMAGE_SECURITY_DATABASE_GUID, 'dbt', dbt);
    this.separator(7);
  }

  /**
   * ReadyToBoot (edk2 Tcg2Dxe OnReadyToBoot). First attempt: BootOrder and its Boot#### into PCR 1, the
   * "Calling EFI Application from Boot Option" action into PCR 4, separators into PCRs 0–6. Later attempts:
   * "Returning from …" then "Calling …" again.
   */
  onReadyToBoot(): void {
    if (this.bootAttempts++ === 0) {
      this.measureBootVariables();
      this.action(4, EFI_ACTION.CALLING_EFI_APPLICATION);
      for (let pcr = 0; pcr < 7; pcr++) this.separator(pcr);
    } else {
      this.action(4, EFI_ACTION.RETURNING_FROM_EFI_APPLICATION);
      this.action(4, EFI_ACTION.CALLING_EFI_APPLICATION);
    }
  }

  /**
   * LoadImage's measurement (edk2 DxeTpm2MeasureBootHandler → Tcg2MeasurePeImage): UEFI_IMAGE_LOAD_EVENT with the
   * Authenticode digest of the file. BDS signals ReadyToBoot before it loads a boot option (edk2
   * EfiBootManagerBoot), so the ReadyToBoot measurements are made first if nothing has signalled it yet.
   */
  onImageLoaded(info: ImageLoadedInfo): MeasuredEvent | undefined {
    this.beforeBootOption();
    const target = IMAGE_EVENTS[info.subsystem ?? 10];
    if (!target) {
      this.notes.push(`image with subsystem ${info.subsystem} not measured (edk2 measures applications and drivers only)`);
      return undefined;
    }
    let digests;
    try {
      digests = authenticodeDigests(info.file, this.measuredBoot.banks);
    } catch (e) {
      if (!(e instanceof AuthenticodeError)) throw e;
      this.notes.push(`image not measured: ${e.message}`);
      return undefined;
    }
    const data = encodeImageLoadEvent({
      imageLocationInMemory: info.base,
      imageLengthInMemory: BigInt(info.size),
      imageLinkTimeAddress: info.linkTimeAddress,
      devicePath: info.devicePathBytes,
    });
    return this.measuredBoot.measure(target.pcr, target.type, data, digests);
  }

  /** BDS signals ReadyToBoot before it calls LoadImage on the first boot option (edk2 EfiBootManagerBoot). */
  beforeBootOption(): void {
    if (this.bootAttempts === 0) this.onReadyToBoot();
  }

  /** The first StartImage of a boot option happens after ReadyToBoot; make sure its measurements are in the log. */
  onStartImage(firstTime: boolean): void {
    if (firstTime && this.bootAttempts === 0) this.onReadyToBoot();
  }

  /** ExitBootServices (edk2 OnExitBootServices / OnExitBootServicesFailed): two actions into PCR 5. */
  onExitBootServices(success: boolean): void {
    this.action(5, EFI_ACTION.EXIT_BOOT_SERVICES_INVOCATION);
    this.action(5, success ? EFI_ACTION.EXIT_BOOT_SERVICES_SUCCEEDED : EFI_ACTION.EXIT_BOOT_SERVICES_FAILED);
  }

  /** EV_EFI_VARIABLE_DRIVER_CONFIG: the digest covers the whole UEFI_VARIABLE_DATA (PFP 1.05 §3.3.4.8). */
  private measureDriverConfig(guid: string, name: string, data: Buffer): void {
    const event = encodeVariableData(guid, name, data);
    this.measuredBoot.measure(7, EV.EFI_VARIABLE_DRIVER_CONFIG, event, event);
  }

  /** edk2 MeasureAllBootVariables: EV_EFI_VARIABLE_BOOT, digest of the variable data only. */
  private measureBootVariables(): void {
    const order = this.o.readVariable(GUID.GLOBAL_VARIABLE, 'BootOrder');
    if (!order) return;
    this.measuredBoot.measure(1, EV.EFI_VARIABLE_BOOT, encodeVariableData(GUID.GLOBAL_VARIABLE, 'BootOrder', order), order);
    for (let i = 0; i + 1 < order.length; i += 2) {
      // edk2 names the variable with "Boot%04x": lower-case hex digits, so Boot000A is looked up as Boot000a.
      const name = `Boot${order.readUInt16LE(i).toString(16).padStart(4, '0')}`;
      const data = this.o.readVariable(GUID.GLOBAL_VARIABLE, name);
      if (data) this.measuredBoot.measure(1, EV.EFI_VARIABLE_BOOT, encodeVariableData(GUID.GLOBAL_VARIABLE, name, data), data);
    }
  }

  /** EV_EFI_ACTION: the ASCII string without its NUL is both the event and the data hashed (edk2 TcgMeasureAction). */
  private action(pcr: number, text: string): void {
    const s = Buffer.from(text, 'latin1');
    this.measuredBoot.measure(pcr, EV.EFI_ACTION, s, s);
  }

  /** EV_SEPARATOR: a UINT32 0 (PFP 1.05 §3.3.2.2). */
  private separator(pcr: number): void {
    const zero = Buffer.alloc(4);
    this.measuredBoot.measure(pcr, EV.SEPARATOR, zero, zero);
  }
}

/** Creates the firmware measurements and makes the pre-BDS ones (S-CRTM version, Secure Boot policy). */
export function startFirmwareMeasurements(measuredBoot: MeasuredBoot, options: FirmwareMeasurementOptions): FirmwareMeasurements {
  const m = new FirmwareMeasurements(measuredBoot, options);
  m.onFirmwareStart();
  return m;
}

/**
 * Module entry (platform-protocols.ts): what a PC client firmware measures before the boot application (TCG PFP:
 * the CRTM version in PCR 0, the Secure Boot policy in PCR 7), into the TPM behind `tcg2`.
 */
export function install(ctx: InstallContext, tcg2: Tcg2): FirmwareMeasurements {
  return startFirmwareMeasurements(tcg2.measuredBoot, {
    readVariable: (guid, name) => {
      const v = ctx.variables.get(guid, name);
      return typeof v === 'bigint' ? undefined : Buffer.from(v.data);
    },
  });
}
