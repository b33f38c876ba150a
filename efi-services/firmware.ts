// The firmware: builds RAM, the memory map, the tables and the default protocols in one fixed order
// (STYLE 3, like U-Boot efi_init_obj_list), then runs an image and collects what happened.
import { CallLog } from '../emulator/call-log';
import { Cpu } from '../emulator/cpu/cpu';
import { GuestMemory, Range, encodeUtf16z } from '../emulator/guest-memory';
import { Machine } from '../emulator/machine';
import { rdtscCandidates } from '../emulator/rdtsc-sites';
import { sectionAt } from '../emulator/pe/pe-image';
import { initMachineState, pageTablePages, GDT_BYTES, IDT_BYTES } from '../emulator/machine-state';
import { buildInterface } from './interface';
import { VirtualClock } from './clock';
import { GUID } from './guid';
import { Platform } from './platform';
import { EfiError } from './status';
import { EventSystem, EVT_NOTIFY_WAIT, TPL_NOTIFY } from './boot/events';
import { eventServices } from './boot/event-services';
import { exitBootServicesService, ExitBootServicesState, HandOff } from './boot/exit-boot-services';
import { ImageHooks, ImageServices } from './boot/images';
import { MemoryMap } from './boot/memory-map';
import { memoryServices } from './boot/memory-services';
import {
  AllocateAddress, AllocateAnyPages, EfiBootServicesCode, EfiBootServicesData, EfiRuntimeServicesCode, EfiRuntimeServicesData,
} from './boot/memory-types';
import { miscServices, MiscState } from './boot/misc-services';
import { Pool } from './boot/pool';
import { ByProtocol, ProtocolDatabase } from './boot/protocol-db';
import { protocolServices } from './boot/protocol-services';
import { Volume } from './esp/volume';
import { MemoryVolume } from './esp/memory-volume';
import { devicePathAt, DevicePathNode, filePathNode, hardDriveNode, parseDevicePath, pciNode, pciRootNode, serializeDevicePath, isPrefixOf } from './protocols/device-path';
import { simpleFileSystem } from './protocols/simple-file-system';
import { DeterministicRandom, EFI_RNG_PROTOCOL_GUID, rngProtocol } from './protocols/rng';
import { buildAcpiTables } from './tables/acpi';
import { buildSmbiosTables } from './tables/smbios';
import { installMemoryAttributeProtocol, MemoryAttributeProtocol } from './protocols/memory-attribute';
import { installSecurityArchProtocols, SecurityArchProtocols, securityCheck } from './protocols/security-arch';
import { GraphicsOutput, installGraphicsOutput } from './protocols/graphics-output';
import { InitrdLoadFile2, installInitrdLoadFile2 } from './protocols/initrd-load-file2';
import { installTcg2, Tcg2 } from './tcg/tcg2-protocol';
import { FirmwareMeasurements, startFirmwareMeasurements } from './tcg/firmware-measurements';
import { HashAlgorithmName } from './tcg/pcr-banks';
import { InputKey, KeyQueue, simpleTextInput } from './protocols/simple-text-input';
import { simpleTextOutput, TextOutput } from './protocols/simple-text-output';
import { miscRuntimeServices } from './runtime/misc-runtime-services';
import { timeServices } from './runtime/time-services';
import { variableServices } from './runtime/variable-services';
import { VariableStore } from './runtime/variable-store';
import { seedVariables, VariableSeed } from './runtime/variables-json';
import { defineFirmwareVariables } from './runtime/firmware-variables';
import { EFI_BOOT_SERVICES } from './tables/boot-services-decl';
import { EFI_RUNTIME_SERVICES } from './tables/runtime-services-decl';
import { ConfigurationTables, EFI_SYSTEM_TABLE_SIGNATURE, ST, writeTableHeader } from './tables/system-table';

export const FIRMWARE_VENDOR = 'stubemu';
export const FIRMWARE_REVISION = 0x0001_0000;
/** The ESP's partition GUID: fixed, so device paths and reports are reproducible. */
export const ESP_PARTITION_GUID = '6e3b2a17-5c4d-4f1e-9a0b-3c2d1e0f5a6b';

export interface FirmwareOptions {
  /** Guest RAM in bytes (a multiple of 2 MiB, at least 64 MiB). */
  memoryBytes: number;
  trace: boolean;
  /** Unset: no instruction count (the time budget bounds the run). */
  maxInstructions?: number;
  timeoutMs: number;
  variables?: readonly VariableSeed[];
  keys?: readonly InputKey[];
  /** GetTime at the start of the run, in seconds since the Unix epoch. */
  epochSeconds?: bigint;
  /** The ESP; by default an in-memory volume holding the started image. */
  esp?: Volume;
  onConsole?: (text: string, stream: 'ConOut' | 'StdErr') => void;
  /** Seed of EFI_RNG_PROTOCOL's deterministic stream; undefined = the protocol is installed with seed "stubemu". */
  rngSeed?: string;
  /** Report Secure Boot as enabled (SecureBoot=1, SetupMode=0); no signature checking is done. */
  secureBoot?: boolean;
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
}

const TRAP_PAGES = 64n;
const STACK_PAGES = 64n; // 256 KiB (UEFI 2.10 §2.3.4.2: at least 128 KiB)

/** Why `bytes` cannot be guest RAM (a multiple of 2 MiB, 64 MiB to 4094 MiB, below the 4 GiB limit of a Buffer), or undefined. */
export function memorySizeProblem(bytes: number): string | undefined {
  const ok = Number.isInteger(bytes) && bytes % (2 << 20) === 0 && bytes >= 64 << 20 && bytes <= 4 * 2 ** 30 - 2 * 2 ** 20;
  return ok ? undefined : `--memory must be a multiple of 2 MiB between 64 MiB and 4094 MiB (got ${bytes} bytes)`;
}

export class Firmware {
  readonly mem: GuestMemory;
  readonly map: MemoryMap;
  readonly pool: Pool;
  readonly machine: Machine;
  readonly log: CallLog;
  readonly clock: VirtualClock;
  readonly events: EventSystem;
  readonly db: ProtocolDatabase;
  readonly images: ImageServices;
  readonly variables: VariableStore;
  readonly configTables: ConfigurationTables;
  readonly conOut: TextOutput;
  readonly stdErr: TextOutput;
  readonly keys: KeyQueue;
  readonly systemTable: bigint;
  readonly bootServices: bigint;
  readonly runtimeServices: bigint;
  readonly stackTop: bigint;
  readonly stackGuard: bigint;
  readonly esp: Volume;
  readonly espHandle: bigint;
  readonly espDevicePath: DevicePathNode[];
  readonly ebs: ExitBootServicesState = { exited: false, failedAttempts: 0 };
  readonly misc: MiscState = { monotonic: 0n };
  handOff?: HandOff;
  readonly random: DeterministicRandom;
  readonly memoryAttributes: MemoryAttributeProtocol;
  readonly security: SecurityArchProtocols;
  readonly gop?: GraphicsOutput;
  readonly initrd?: InitrdLoadFile2;
  readonly tcg2?: Tcg2;
  measurements?: FirmwareMeasurements;
  private startedAny = false;
  private readonly platform: Platform;

  constructor(readonly cpu: Cpu, readonly opts: FirmwareOptions) {
    const size = opts.memoryBytes;
    const problem = memorySizeProblem(size);
    if (problem) throw new Error(problem);
    // RAM: everything but the NULL page and the legacy VGA/BIOS hole, as a PC has it.
    const ram: Range[] = [{ start: 0x1000n, end: 0xa0000n }, { start: 0x100000n, end: BigInt(size) }];
    const host = cpu.allocateRam(size);
    this.mem = new GuestMemory(host, ram);
    for (const r of ram) cpu.mapRam(r.start, host.subarray(Number(r.start), Number(r.end)));
    this.mem.onCodeWrite = (a, n) => cpu.invalidateCode(a, n);
    this.map = new MemoryMap(ram);
    this.pool = new Pool(this.map, this.mem);
    this.log = new CallLog(opts.trace);

    // 1. Firmware code: trap regions the memory map describes (boot services code, runtime services code).
    const fwPages = (type: number, pages: bigint) => this.map.allocatePages(AllocateAnyPages, type, pages, undefined, 'firmware');
    const bootTraps = fwPages(EfiBootServicesCode, TRAP_PAGES);
    const rtTraps = fwPages(EfiRuntimeServicesCode, 1n);
    this.machine = new Machine(cpu, this.mem, { base: bootTraps, size: Number(TRAP_PAGES) * 4096 }, { base: rtTraps, size: 4096 }, this.log, {
      maxInstructions: opts.maxInstructions,
      timeoutMs: opts.timeoutMs,
    });
    this.platform = {
      mem: this.mem,
      trap: (owner, decl, impl, runtime) => this.machine.trap(owner, decl, impl, runtime),
      callGuest: (fn, args, why) => this.machine.callGuest(fn, args, why),
      allocate: (n, runtime) => this.pool.allocate(runtime ? EfiRuntimeServicesData : EfiBootServicesData, n, 'firmware'),
    };
    const p = this.platform;

    // 2. Processor state: GDT, IDT (vectors land in firmware traps), identity page tables, the stack.
    const vectors = Array.from({ length: 256 }, (_, v) =>
      this.machine.trap('Cpu', { name: `Vector${v}`, args: [], returns: 'VOID' }, undefined));
    const gdt = p.allocate(GDT_BYTES);
    const idt = p.allocate(IDT_BYTES);
    const pageTables = fwPages(EfiBootServicesData, BigInt(pageTablePages(BigInt(size))));
    initMachineState(cpu, this.mem, { gdt, idt, pageTables, ramTop: BigInt(size), ram, vectors });
    this.stackGuard = fwPages(EfiBootServicesData, STACK_PAGES + 1n);
    cpu.protect(this.stackGuard, 4096, 'none');
    this.stackTop = this.stackGuard + (STACK_PAGES + 1n) * 4096n;
    cpu.writeReg('rsp', this.stackTop);

    // 3. Services and their models.
    this.clock = new VirtualClock(opts.epochSeconds);
    this.log.clock = () => this.clock.nowMicros;
    this.events = new EventSystem(p, this.clock);
    this.events.onGuestError = (m) => this.log.guestError(undefined, undefined, m);
    this.db = new ProtocolDatabase(p, (e) => void this.events.signal(e), (e) => this.events.exists(e));
    this.events.onClose((e) => this.db.unregisterNotify(e));
    this.variables = new VariableStore();
    defineFirmwareVariables(this.variables, { secureBoot: opts.secureBoot });
    seedVariables(this.variables, opts.variables ?? []);
    this.keys = new KeyQueue(opts.keys ?? []);

    // 4. Tables: EFI_SYSTEM_TABLE, EFI_RUNTIME_SERVICES (runtime data), EFI_BOOT_SERVICES (boot data).
    this.systemTable = p.allocate(ST.size, true);
    this.configTables = new ConfigurationTables(this.mem, this.systemTable, (n) => p.allocate(n, true));
    this.images = new ImageServices({
      platform: p,
      systemTable: () => this.systemTable,
      allocatePages: (type, pages, preferred) => {
        if (preferred !== undefined) {
          try {
            return this.map.allocatePages(AllocateAddress, type, pages, preferred, 'firmware');
          } catch {
            /* fall through to anywhere */
          }
        }
        try {
          return this.map.allocatePages(AllocateAnyPages, type, pages, undefined, 'firmware');
        } catch {
          return undefined;
        }
      },
      freePages: (a, pages) => this.map.freePages(a, pages, 'firmware'),
      allocationAt: (a) => this.map.allocationAt(a),
      handles: {
        install: (h, guid, iface) => this.db.install(h, guid, iface),
        uninstallAll: (h) => this.removeHandle(h),
        protocol: (h, guid) => this.db.find(h, guid)?.interface,
        locateDevicePath: (guid, path) => this.locateDevicePath(guid, path),
      },
      scratch: {
        allocate: (n) => this.pool.allocate(EfiBootServicesData, n, 'firmware'),
        free: (a) => void this.pool.free(a, 'firmware'),
      },
      hooks: {
        loaded: (img, file, dp, fileAddress) => {
          this.machine.trapRdtsc(img.base, rdtscCandidates(img.pe, this.mem.view(img.base, img.size)));
          // PCR 4: EV_EFI_BOOT_SERVICES_APPLICATION with the Authenticode digest of the file (TCG PFP §10.4.4).
          // edk2's DxeTpm2MeasureBootHandler describes the file buffer LoadImage got, not the loaded image: its
          // address (SourceBuffer, or its own read buffer, which stubemu does not keep: the image base stands in)
          // and the file's size.
          this.measurements?.onImageLoaded({
            file,
            base: fileAddress ?? img.base,
            size: BigInt(file.length),
            linkTimeAddress: img.pe.imageBase,
            devicePathBytes: dp ? serializeDevicePath(dp) : Buffer.alloc(0),
            subsystem: img.pe.subsystem,
          });
          opts.imageHooks?.loaded?.(img, file, dp, fileAddress);
        },
        starting: (img) => {
          this.measurements?.onStartImage(!this.startedAny);
          this.startedAny = true;
          opts.imageHooks?.starting?.(img);
        },
      },
      onGuestError: (service, m) => this.log.guestError(service, undefined, m),
      authenticate: (dp, buffer, n, bootPolicy) => securityCheck(p, this.security, dp, buffer, n, bootPolicy),
    });
    const bs = buildInterface(p, EFI_BOOT_SERVICES, {
      ...memoryServices(p, this.map, this.pool, (m) => this.log.guestError(undefined, undefined, m)),
      ...eventServices(p, this.events),
      ...protocolServices(p, this.db, {
        allocatePool: (n) => this.pool.allocate(EfiBootServicesData, n, 'guest'),
        devicePathOf: (h) => this.devicePathBytesOf(h),
      }),
      ...this.images.services(),
      ...miscServices(p, this.clock, this.configTables, this.misc, (h) => this.db.isHandle(h)),
      ...exitBootServicesService(this.map, this.events, this.ebs, (ok) => this.measurements?.onExitBootServices(ok), (h) => {
        this.handOff = h;
        this.variables.exitBootServices();
        return { mapKey: `0x${h.mapKey.toString(16)}`, returnAddress: this.symbolize(h.returnAddress) };
      }),
    });
    const rt = buildInterface(p, EFI_RUNTIME_SERVICES, {
      ...timeServices(p, this.clock),
      ...variableServices(p, this.variables),
      ...miscRuntimeServices(p, this.misc),
    }, 0, true);
    this.bootServices = bs;
    this.runtimeServices = rt;
    writeTableHeader(this.mem, bs, EFI_BOOT_SERVICES.signature!, EFI_BOOT_SERVICES.headerSize + 8 * EFI_BOOT_SERVICES.members.length);
    writeTableHeader(this.mem, rt, EFI_RUNTIME_SERVICES.signature!, EFI_RUNTIME_SERVICES.headerSize + 8 * EFI_RUNTIME_SERVICES.members.length);

    // 5. Consoles (UEFI 2.10 §12): ConIn/ConInEx on one handle, ConOut and StdErr on their own.
    const onConsole = opts.onConsole ?? (() => {});
    this.conOut = simpleTextOutput(p, 'ConOut', (t) => onConsole(t, 'ConOut'));
    this.stdErr = simpleTextOutput(p, 'StdErr', (t) => onConsole(t, 'StdErr'));
    const conIn = simpleTextInput(p, this.keys, {
      createWaitEvent: (notify) => {
        const r = this.events.create(EVT_NOTIFY_WAIT, TPL_NOTIFY, notify, 0n);
        if (r.event === 0n) throw new EfiError(r.status, 'cannot create WaitForKey event');
        return r.event;
      },
      signal: (e) => void this.events.signal(e),
    });
    const conInHandle = this.db.install(0n, GUID.SIMPLE_TEXT_INPUT, conIn.protocol);
    this.db.install(conInHandle, GUID.SIMPLE_TEXT_INPUT_EX, conIn.protocolEx);
    const conOutHandle = this.db.install(0n, GUID.SIMPLE_TEXT_OUTPUT, this.conOut.protocol);
    const stdErrHandle = this.db.install(0n, GUID.SIMPLE_TEXT_OUTPUT, this.stdErr.protocol);

    const m = this.mem;
    const vendor = p.allocate((FIRMWARE_VENDOR.length + 1) * 2, true);
    m.write(vendor, encodeUtf16z(FIRMWARE_VENDOR));
    m.setU64(this.systemTable + BigInt(ST.FirmwareVendor), vendor);
    m.setU32(this.systemTable + BigInt(ST.FirmwareRevision), FIRMWARE_REVISION);
    m.setU64(this.systemTable + BigInt(ST.ConsoleInHandle), conInHandle);
    m.setU64(this.systemTable + BigInt(ST.ConIn), conIn.protocol);
    m.setU64(this.systemTable + BigInt(ST.ConsoleOutHandle), conOutHandle);
    m.setU64(this.systemTable + BigInt(ST.ConOut), this.conOut.protocol);
    m.setU64(this.systemTable + BigInt(ST.StandardErrorHandle), stdErrHandle);
    m.setU64(this.systemTable + BigInt(ST.StdErr), this.stdErr.protocol);
    m.setU64(this.systemTable + BigInt(ST.RuntimeServices), rt);
    m.setU64(this.systemTable + BigInt(ST.BootServices), bs);
    writeTableHeader(this.mem, this.systemTable, EFI_SYSTEM_TABLE_SIGNATURE, ST.size);

    // 6. The ESP: a GPT partition on a PCI disk, with EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (UEFI 2.10 §13.4).
    this.esp = opts.esp ?? new MemoryVolume({});
    this.espDevicePath = [
      pciRootNode(0),
      pciNode(1, 1),
      hardDriveNode({ partitionNumber: 1, partitionStart: 0x800n, partitionSize: 0x100000n, signature: ESP_PARTITION_GUID }),
    ];
    const dpBytes = serializeDevicePath(this.espDevicePath);
    const dp = p.allocate(dpBytes.length);
    m.write(dp, dpBytes);
    this.espHandle = this.db.install(0n, GUID.DEVICE_PATH, dp);
    this.db.install(this.espHandle, GUID.SIMPLE_FILE_SYSTEM, simpleFileSystem(p, this.esp).protocol);

    // 7. Platform protocols a boot loader and the Linux EFI stub look for.
    this.random = new DeterministicRandom(opts.rngSeed ?? 'stubemu');
    if (!opts.noRng) this.db.install(0n, EFI_RNG_PROTOCOL_GUID, rngProtocol(p, this.random));

    // ACPI 2.0+ and SMBIOS 3.0, as configuration tables (UEFI 2.10 §4.6).
    const tablePages = (n: number, type: number) => this.map.allocatePages(AllocateAnyPages, type, BigInt(Math.ceil(n / 4096)), undefined, 'firmware');
    this.configTables.install(GUID.ACPI_20_TABLE, buildAcpiTables(p, tablePages).rsdp);
    const smbiosOptions = { memoryBytes: size, ...(opts.smbiosOemStrings ? { type11Strings: [...opts.smbiosOemStrings] } : {}) };
    this.configTables.install(GUID.SMBIOS3_TABLE, buildSmbiosTables(p, tablePages, smbiosOptions).entryPoint);
    this.memoryAttributes = installMemoryAttributeProtocol(p, this.db, {
      isSystemMemory: (base, length) => this.mem.isMapped(base, Number(length)),
    });
    this.security = installSecurityArchProtocols(p, this.db);
    if (opts.gop) {
      this.gop = installGraphicsOutput(p, this.db, {
        ...opts.gop,
        allocate: tablePages,
        allocatePool: (n) => this.pool.allocate(EfiBootServicesData, n, 'guest'),
      });
    }
    if (opts.initrd) this.initrd = installInitrdLoadFile2(p, this.db, opts.initrd);
    // A TPM 2.0 behind EFI_TCG2_PROTOCOL, and the measurements a PC client firmware makes before the boot
    // application (TCG PFP: CRTM version in PCR 0, the Secure Boot policy in PCR 7).
    if (opts.pcrBanks !== null) {
      this.tcg2 = installTcg2(p, {
        banks: opts.pcrBanks ?? ['sha1', 'sha256'],
        installConfigTable: (guid, address) => void this.configTables.install(guid, address),
        random: (n) => this.random.bytes(n),
      });
      this.db.install(0n, GUID.TCG2_PROTOCOL, this.tcg2.protocol);
      this.measurements = startFirmwareMeasurements(this.tcg2.measuredBoot, {
        readVariable: (guid, name) => {
          const v = this.variables.get(guid, name);
          return typeof v === 'bigint' ? undefined : Buffer.from(v.data);
        },
      });
    }

    // 8. Calls: the clock moves 1 µs per call; after ExitBootServices only runtime services may be called.
    this.machine.symbolize = (a) => this.symbolize(a);
    // The TSC runs at a nominal 1 GHz on the virtual clock, and moves by 1000 cycles per read so that
    // back-to-back reads differ.
    let tscReads = 0n;
    this.machine.rdtsc = () => this.clock.nowMicros * 1000n + 1000n * ++tscReads;
    this.machine.beforeCall = (_service, runtime) => {
      this.clock.advance(1n);
      if (this.ebs.exited && !runtime) return 'boot service called after ExitBootServices';
      return undefined;
    };
  }

  /** `image+0xoffset` for addresses inside a loaded image, `firmware:Service` for traps, else hex. */
  symbolize(a: bigint): string {
    const img = this.images.containingOrAdopt(a);
    if (img) {
      // A kernel run in place from a UKI's .linux (the EFI handover path) reads better relative to that section.
      const rva = Number(a - img.base);
      const linux = sectionAt(img.pe, rva);
      if (linux?.name === '.linux') return `${img.name}:.linux+0x${(rva - linux.virtualAddress).toString(16)}`;
      return `${img.name}+0x${(a - img.base).toString(16)}`;
    }
    return `0x${a.toString(16)}`;
  }

  /** The image and section an address is in (`img:.text`), for the profiler; `firmware` for trap slots. */
  regionOf(a: bigint): string {
    const img = this.images.containingOrAdopt(a);
    if (img) return `${img.name}:${sectionAt(img.pe, Number(a - img.base))?.name ?? 'headers'}`;
    return this.machine.isTrapAddress(a) ? 'firmware' : 'outside images';
  }

  private devicePathBytesOf(handle: bigint): Buffer | undefined {
    const dp = this.db.find(handle, GUID.DEVICE_PATH)?.interface;
    if (dp === undefined || dp === 0n) return undefined;
    return devicePathAt(this.mem, dp).bytes;
  }

  private locateDevicePath(guid: string, path: readonly DevicePathNode[]): { handle: bigint; remaining: DevicePathNode[] } | undefined {
    let best: { handle: bigint; remaining: DevicePathNode[]; length: number } | undefined;
    for (const h of this.handlesWith(guid)) {
      const bytes = this.devicePathBytesOf(h);
      if (!bytes) continue;
      const nodes = parseDevicePath(bytes).nodes.filter((n) => n.type !== 0x7f);
      if (isPrefixOf(nodes, [...path]) && (!best || nodes.length > best.length)) {
        best = { handle: h, remaining: path.slice(nodes.length).filter((n) => n.type !== 0x7f), length: nodes.length };
      }
    }
    return best && { handle: best.handle, remaining: best.remaining };
  }

  private handlesWith(guid: string): bigint[] {
    try {
      return this.db.locateHandles(ByProtocol, guid, 0n);
    } catch (e) {
      if (e instanceof EfiError) return [];
      throw e;
    }
  }

  /** Uninstalls every protocol of a handle (an unloaded image), which destroys the handle. */
  private removeHandle(h: bigint): void {
    for (const guid of this.db.isHandle(h) ? this.db.protocolsPerHandle(h) : []) {
      const iface = this.db.find(h, guid);
      if (iface) this.db.uninstall(h, guid, iface.interface);
    }
  }

  /** The device path an image on the ESP at `path` (e.g. \EFI\BOOT\BOOTX64.EFI) has. */
  espFileDevicePath(path: string): DevicePathNode[] {
    return [...this.espDevicePath, filePathNode(path)];
  }
}
