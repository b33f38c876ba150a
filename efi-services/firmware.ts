// The firmware: builds the memory map, the trap regions, the processor state, the tables, the consoles, the ESP and
// the platform protocols in one fixed order (STYLE 3, like U-Boot efi_init_obj_list), on any Board.
import { Board, PlatformClock, ramTop } from '../core/board';
import { EspDisk, installEspDisk } from './disk/esp-disk';
import { gptHardDriveNode, installRawDisk } from './disk/raw-disk-handles';
import { GuestMemory, encodeUtf16z } from '../core/guest-memory';
import { GUID } from '../core/guid';
import { EFI_SUCCESS, EfiError } from '../core/status';
import { sectionAt } from '../pe/pe-image';
import { CallLog } from './call-log';
import { VirtualClock } from './clock';
import { Dispatcher } from './dispatcher';
import { FirmwareOptions } from './firmware-options';
import { InstallContext } from './install-context';
import { buildInterface } from './interface';
import { Platform } from './platform';
import { installPlatformProtocols, PlatformProtocols } from './platform-protocols';
import { DeterministicRandom } from './random';
import { EventSystem, EVT_NOTIFY_WAIT, TPL_NOTIFY } from './boot/events';
import { eventServices } from './boot/event-services';
import { exitBootServicesService, ExitBootServicesState, HandOff } from './boot/exit-boot-services';
import { ImageServices } from './boot/images';
import { locateDevicePath } from './boot/locate-device-path';
import { MemoryMap } from './boot/memory-map';
import { MissingProtocols } from './boot/missing-protocols';
import { memoryServices } from './boot/memory-services';
import {
  AllocateAddress, AllocateAnyPages, EfiBootServicesCode, EfiBootServicesData, EfiRuntimeServicesCode, EfiRuntimeServicesData,
} from './boot/memory-types';
import { miscServices, MiscState } from './boot/misc-services';
import { Pool } from './boot/pool';
import { DriverModel } from './boot/driver-model';
import { ProtocolDatabase } from './boot/protocol-db';
import { protocolServices } from './boot/protocol-services';
import { rdtscCandidates } from './boot/rdtsc-sites';
import { MemfsVolume } from './esp/memfs-volume';
import { Volume } from './esp/volume';
import { devicePathAt, DevicePathNode, filePathNode, hardDriveNode, pciNode, pciRootNode, placeDevicePath, serializeDevicePath } from './protocols/device-path';
import { devicePathToText } from './protocols/device-path-text';
import { imageOrigin } from './security/image-origin';
import { SecureBoot } from './security/secure-boot';
import { securityCheck } from './protocols/security-arch';
import { simpleFileSystem } from './protocols/simple-file-system';
import { KeyQueue, simpleTextInput } from './protocols/simple-text-input';
import { simpleTextOutput, TextOutput } from './protocols/simple-text-output';
import { serialTerminalDevicePath } from './protocols/serial-terminal-path';
import { defineFirmwareVariables } from './runtime/firmware-variables';
import { miscRuntimeServices } from './runtime/misc-runtime-services';
import { timeServices } from './runtime/time-services';
import { variableServices } from './runtime/variable-services';
import { VariableStore } from './runtime/variable-store';
import { seedVariables } from './runtime/variables-json';
import { EFI_BOOT_SERVICES } from './tables/boot-services-decl';
import { EFI_RUNTIME_SERVICES } from './tables/runtime-services-decl';
import { ConfigurationTables, EFI_SYSTEM_TABLE_SIGNATURE, ST, writeTableHeader } from './tables/system-table';

export const FIRMWARE_VENDOR = 'stubemu';
export const FIRMWARE_REVISION = 0x0001_0000;
/** The ESP's partition GUID: fixed, so device paths and reports are reproducible. */
export const ESP_PARTITION_GUID = '6e3b2a17-5c4d-4f1e-9a0b-3c2d1e0f5a6b';

const TRAP_PAGES = 64n;
const STACK_PAGES = 64n; // 256 KiB (UEFI 2.10 §2.3.4.2: at least 128 KiB)

export class Firmware {
  readonly mem: GuestMemory;
  readonly map: MemoryMap;
  readonly pool: Pool;
  readonly dispatcher: Dispatcher;
  readonly log: CallLog;
  readonly clock: VirtualClock;
  private readonly platformClock?: PlatformClock;
  readonly espDisk?: EspDisk;
  readonly events: EventSystem;
  readonly db: ProtocolDatabase;
  readonly images: ImageServices;
  /** ConnectController/DisconnectController over the guest's driver bindings. */
  readonly drivers: DriverModel;
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
  /** Protocols asked for and not found, for the report. */
  readonly missingProtocols = new MissingProtocols();
  handOff?: HandOff;
  readonly random: DeterministicRandom;
  /** What platform-protocols.ts installed (by option). */
  readonly protocols: PlatformProtocols;
  /** Secure Boot: the key variables, image verification and its decisions (efi-services/security). */
  readonly secureBoot: SecureBoot;
  private startedAny = false;
  private readonly platform: Platform;

  constructor(readonly board: Board, readonly opts: FirmwareOptions) {
    this.mem = board.mem;
    this.map = new MemoryMap(board.ram);
    this.pool = new Pool(this.map, this.mem);
    this.log = new CallLog(opts.trace);

    // 1. Firmware code: trap regions the memory map describes (boot services code, runtime services code).
    const bootTraps = this.firmwarePages(EfiBootServicesCode, TRAP_PAGES);
    const rtTraps = this.firmwarePages(EfiRuntimeServicesCode, 1n);
    this.dispatcher = new Dispatcher(board, { base: bootTraps, size: Number(TRAP_PAGES) * 4096 }, { base: rtTraps, size: 4096 }, this.log);
    this.platform = {
      mem: this.mem,
      trap: (owner, decl, impl, runtime) => this.dispatcher.trap(owner, decl, impl, runtime),
      callGuest: (fn, args, why) => this.dispatcher.callGuest(fn, args, why),
      allocate: (n, runtime) => this.pool.allocate(runtime ? EfiRuntimeServicesData : EfiBootServicesData, n, 'firmware'),
    };
    const p = this.platform;

    // 2. Processor state: GDT, IDT (vectors land in firmware traps), identity page tables, the stack.
    const vectors = Array.from({ length: 256 }, (_, v) =>
      this.dispatcher.trap('Cpu', { name: `Vector${v}`, args: [], returns: 'VOID' }, undefined));
    board.setUpProcessor({ pool: (n) => p.allocate(n), pages: (n) => this.firmwarePages(EfiBootServicesData, BigInt(n)) }, vectors);
    this.stackGuard = this.firmwarePages(EfiBootServicesData, STACK_PAGES + 1n);
    board.protect(this.stackGuard, 4096, 'none');
    this.stackTop = this.stackGuard + (STACK_PAGES + 1n) * 4096n;
    board.writeReg('rsp', this.stackTop);

    // 3. Services and their models.
    this.clock = new VirtualClock(opts.epochSeconds);
    // The board's timers (PIT, PM timer, RTC) run on this clock; port I/O time joins it at the next call.
    this.platformClock = board.attachClock?.(this.clock);
    this.log.clock = () => this.clock.nowMicros;
    this.events = new EventSystem(p, this.clock);
    this.events.onGuestError = (m) => this.log.guestError(undefined, undefined, m);
    this.db = new ProtocolDatabase(p, (e) => void this.events.signal(e), (e) => this.events.exists(e));
    this.events.onClose((e) => this.db.unregisterNotify(e));
    this.variables = new VariableStore();
    defineFirmwareVariables(this.variables, { secureBoot: opts.secureBoot });
    this.secureBoot = new SecureBoot(this.variables, { enabled: opts.secureBoot ?? false, keys: opts.secureBootKeys }, () => this.protocols?.tcg2?.measuredBoot);
    seedVariables(this.variables, opts.variables ?? []);
    this.keys = new KeyQueue(opts.keys ?? []);

    // 4. Tables: EFI_SYSTEM_TABLE, EFI_RUNTIME_SERVICES (runtime data), EFI_BOOT_SERVICES (boot data).
    this.systemTable = p.allocate(ST.size, true);
    this.configTables = new ConfigurationTables(this.mem, this.systemTable, (n) => p.allocate(n, true));
    this.images = this.imageServices();
    this.drivers = new DriverModel(p, this.db, {
      allocate: (n) => this.pool.allocate(EfiBootServicesData, n, 'firmware'),
      free: (a) => void this.pool.free(a, 'firmware'),
    }, (h) => this.images.get(h)?.name, (text) => this.log.note(text));
    // Uninstall, reinstall and EXCLUSIVE opens stop the drivers using the interface (edk2
    // CoreDisconnectControllersUsingProtocolInterface).
    this.db.disconnect = (controller, agent) => this.drivers.disconnect(controller, agent, 0n) === EFI_SUCCESS;
    this.db.reconnect = (controller) => void this.drivers.connect(controller, 0n, 0n, true);
    this.bootServices = this.bootServicesTable();
    this.runtimeServices = buildInterface(p, EFI_RUNTIME_SERVICES, {
      ...timeServices(p, this.clock),
      ...variableServices(p, this.variables),
      ...miscRuntimeServices(p, this.misc),
    }, 0, true);
    for (const [table, decl] of [[this.bootServices, EFI_BOOT_SERVICES], [this.runtimeServices, EFI_RUNTIME_SERVICES]] as const) {
      writeTableHeader(this.mem, table, decl.signature!, decl.headerSize + 8 * decl.members.length);
    }

    // 5. Consoles (UEFI 2.10 §12), then the system table that names them.
    const consoles = this.consoles();
    this.conOut = consoles.conOut;
    this.stdErr = consoles.stdErr;
    this.writeSystemTable(consoles.fields);

    // 6. The ESP: a GPT partition on a PCI disk, with EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (UEFI 2.10 §13.4).
    this.esp = opts.esp ?? new MemfsVolume({});
    this.espDevicePath = [
      pciRootNode(0),
      pciNode(1, 1),
      opts.disk ? gptHardDriveNode(opts.disk.layout.esp)
        : hardDriveNode({ partitionNumber: 1, partitionStart: 0x800n, partitionSize: 0x100000n, signature: ESP_PARTITION_GUID }),
    ];
    this.espHandle = this.db.install(0n, GUID.DEVICE_PATH, placeDevicePath(p, this.espDevicePath));
    const installer = { install: (h: bigint, guid: string, iface: bigint) => this.db.install(h, guid, iface), signal: (e: bigint) => void this.events.signal(e) };
    // A raw disk image: its partitions through Block I/O and Disk I/O only (no FAT driver for SimpleFileSystem).
    if (opts.disk) installRawDisk(p, { ...installer, ...opts.disk, diskPath: this.espDevicePath.slice(0, 2), espHandle: this.espHandle });
    else this.db.install(this.espHandle, GUID.SIMPLE_FILE_SYSTEM, simpleFileSystem(p, this.esp).protocol);
    // The same ESP as a GPT disk and partition with Block I/O and Disk I/O, for loaders with their own FAT drivers.
    if (opts.espDisk !== false && !opts.disk) this.espDisk = installEspDisk(p, {
      volume: this.esp, partitionStart: 0x800, partitionSectors: 0x100000, partitionGuid: ESP_PARTITION_GUID,
      diskPath: this.espDevicePath.slice(0, 2), partitionHandle: this.espHandle, ...installer,
    });

    // 7. Platform protocols a boot loader and the Linux EFI stub look for, in platform-protocols.ts's order.
    this.random = new DeterministicRandom(opts.rngSeed ?? 'stubemu');
    this.protocols = installPlatformProtocols(this.installContext(), opts);

    // The serial terminal behind ConOut, as OVMF has it on QEMU with a serial port: its own handle with the console's
    // EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL and the COM1 device path (ConOut itself, like OVMF's ConSplitter, has none).
    // systemd-stub 262 finds it by enumerating the text output handles and appends console=uart,io,0x3f8.
    const terminal = this.db.install(0n, GUID.DEVICE_PATH, placeDevicePath(p, serialTerminalDevicePath()));
    this.db.install(terminal, GUID.SIMPLE_TEXT_OUTPUT, this.conOut.protocol);

    // 8. Calls: the clock moves 1 µs per call; after ExitBootServices only runtime services may be called.
    board.symbolize = (a) => this.symbolize(a);
    // The TSC runs at a nominal 1 GHz on the virtual clock, and moves by 1000 cycles per read so that
    // back-to-back reads differ.
    let tscReads = 0n;
    board.rdtsc = () => (this.platformClock ? this.platformClock.nowNanos() : this.clock.nowMicros * 1000n) + 1000n * ++tscReads;
    this.dispatcher.beforeCall = (_service, runtime) => {
      this.platformClock?.settle(); // time the guest spent on port I/O since the last call
      this.clock.advance(1n);
      if (this.ebs.exited && !runtime) return 'boot service called after ExitBootServices';
      return undefined;
    };
  }

  get memoryAttributes() {
    return this.protocols.memoryAttributes;
  }

  get security() {
    return this.protocols.security;
  }

  get gop() {
    return this.protocols.gop;
  }

  get initrd() {
    return this.protocols.initrd;
  }

  get tcg2() {
    return this.protocols.tcg2;
  }

  get measurements() {
    return this.protocols.measurements;
  }

  private firmwarePages(type: number, pages: bigint): bigint {
    return this.map.allocatePages(AllocateAnyPages, type, pages, undefined, 'firmware');
  }

  private imageServices(): ImageServices {
    const hooks = this.opts.imageHooks;
    return new ImageServices({
      platform: this.platform,
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
          return this.firmwarePages(type, pages);
        } catch {
          return undefined;
        }
      },
      freePages: (a, pages) => this.map.freePages(a, pages, 'firmware'),
      allocationAt: (a) => this.map.allocationAt(a),
      handles: {
        install: (h, guid, iface) => this.db.install(h, guid, iface),
        uninstallAll: (h) => this.db.removeHandle(h),
        protocol: (h, guid) => this.db.find(h, guid)?.interface,
        locateDevicePath: (guid, path) => locateDevicePath(this.db, this.mem, guid, path),
      },
      scratch: {
        allocate: (n) => this.pool.allocate(EfiBootServicesData, n, 'firmware'),
        free: (a) => void this.pool.free(a, 'firmware'),
      },
      hooks: {
        loaded: (img, file, dp, fileAddress) => {
          this.board.trapRdtsc(img.base, rdtscCandidates(img.pe, this.mem.view(img.base, img.size)));
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
          hooks?.loaded?.(img, file, dp, fileAddress);
        },
        // A kernel placed by the guest's own PE loader (GRUB 2.12, systemd-stub 258+) reads the virtual TSC too,
        // from the moment it is found (at its first service call), so such runs stay deterministic.
        adopted: (img) => void this.board.trapRdtsc(img.base, rdtscCandidates(img.pe, this.mem.view(img.base, img.size))),
        starting: (img) => {
          this.measurements?.onStartImage(!this.startedAny);
          this.startedAny = true;
          hooks?.starting?.(img);
        },
      },
      onGuestError: (service, m) => this.log.guestError(service, undefined, m),
      authenticate: (dp, buffer, n, bootPolicy) => securityCheck(this.platform, this.security ?? {}, dp, buffer, n, bootPolicy),
    });
  }

  private bootServicesTable(): bigint {
    const p = this.platform;
    return buildInterface(p, EFI_BOOT_SERVICES, {
      ...memoryServices(p, this.map, this.pool, (m) => this.log.guestError(undefined, undefined, m)),
      ...eventServices(p, this.events),
      ...protocolServices(p, this.db, {
        allocatePool: (n) => this.pool.allocate(EfiBootServicesData, n, 'guest'),
        onMiss: (service, guid, caller) => this.missingProtocols.record(service, guid, this.symbolize(caller)),
      }),
      ...this.images.services(),
      ...miscServices(p, this.clock, this.configTables, this.misc),
      ...this.drivers.services(),
      ...exitBootServicesService(this.map, this.events, this.ebs, (ok) => this.measurements?.onExitBootServices(ok), (h) => {
        this.handOff = h;
        this.variables.exitBootServices();
        return { mapKey: `0x${h.mapKey.toString(16)}`, returnAddress: this.symbolize(h.returnAddress) };
      }),
    });
  }

  /** ConIn/ConInEx on one handle, ConOut and StdErr on their own; the system table fields that name them. */
  private consoles() {
    const p = this.platform;
    const onConsole = this.opts.onConsole ?? (() => {});
    const conOut = simpleTextOutput(p, 'ConOut', (t) => onConsole(t, 'ConOut'));
    const stdErr = simpleTextOutput(p, 'StdErr', (t) => onConsole(t, 'StdErr'));
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
    const conOutHandle = this.db.install(0n, GUID.SIMPLE_TEXT_OUTPUT, conOut.protocol);
    const stdErrHandle = this.db.install(0n, GUID.SIMPLE_TEXT_OUTPUT, stdErr.protocol);
    const fields = {
      ConsoleInHandle: conInHandle, ConIn: conIn.protocol, ConsoleOutHandle: conOutHandle, ConOut: conOut.protocol,
      StandardErrorHandle: stdErrHandle, StdErr: stdErr.protocol,
    };
    return { conOut, stdErr, fields };
  }

  /** EFI_SYSTEM_TABLE (UEFI 2.10 §4.3): vendor, revision, consoles, the services tables, then its header and CRC. */
  private writeSystemTable(consoles: Record<'ConsoleInHandle' | 'ConIn' | 'ConsoleOutHandle' | 'ConOut' | 'StandardErrorHandle' | 'StdErr', bigint>): void {
    const m = this.mem;
    const field = (name: keyof typeof ST) => this.systemTable + BigInt(ST[name]);
    const vendor = this.platform.allocate((FIRMWARE_VENDOR.length + 1) * 2, true);
    m.write(vendor, encodeUtf16z(FIRMWARE_VENDOR));
    m.setU64(field('FirmwareVendor'), vendor);
    m.setU32(field('FirmwareRevision'), FIRMWARE_REVISION);
    for (const [name, value] of Object.entries(consoles) as [keyof typeof consoles, bigint][]) m.setU64(field(name), value);
    m.setU64(field('RuntimeServices'), this.runtimeServices);
    m.setU64(field('BootServices'), this.bootServices);
    writeTableHeader(m, this.systemTable, EFI_SYSTEM_TABLE_SIGNATURE, ST.size);
  }

  private installContext(): InstallContext {
    return {
      platform: this.platform,
      db: this.db,
      pages: (n, type) => this.firmwarePages(type, BigInt(Math.ceil(n / 4096))),
      guestPool: (n) => this.pool.allocate(EfiBootServicesData, n, 'guest'),
      configTables: this.configTables,
      random: this.random,
      variables: this.variables,
      memoryBytes: ramTop(this.board),
      cpuid: (leaf, subleaf) => this.board.cpuid(leaf, subleaf),
      // The Security2 handler of edk2 DxeImageVerificationLib, when keys are enrolled and Secure Boot is on.
      verifyFile: (dp, file) => {
        if (!this.secureBoot.verifying) return undefined;
        const nodes = dp === 0n ? undefined : devicePathAt(this.mem, dp).nodes;
        const origin = imageOrigin(nodes, (guid, path) => this.handleFor(guid, path));
        return this.secureBoot.verify(file, origin, nodes ? devicePathToText(nodes) : '(no device path)').status;
      },
    };
  }

  /** LocateDevicePath finds a handle with `guid` on a prefix of `path`. */
  handleFor(guid: string, path: readonly DevicePathNode[]): boolean {
    return locateDevicePath(this.db, this.mem, guid, path) !== undefined;
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
    return this.dispatcher.isTrapAddress(a) ? 'firmware' : 'outside images';
  }

  /** The device path an image on the ESP at `path` (e.g. \EFI\BOOT\BOOTX64.EFI) has. */
  espFileDevicePath(path: string): DevicePathNode[] {
    return [...this.espDevicePath, filePathNode(path)];
  }
}

/**
 * The whole firmware on `board`: memory map, trap regions, processor state, tables, consoles, the ESP and the
 * platform protocols, in one fixed order. Any Board serves, also one without a CPU (the tests').
 */
export function createFirmware(board: Board, options: FirmwareOptions): Firmware {
  return new Firmware(board, options);
}
