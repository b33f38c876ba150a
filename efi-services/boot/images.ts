// Image services (UEFI 2.10 §7.4): LoadImage, StartImage, Exit, UnloadImage, and the registry of loaded images.
import { BootServicesImpl } from '../tables/boot-services-decl';
import { digestOfUnchanging } from '../../core/digest-memo';
import { ImageExit } from '../../core/outcomes';
import { layoutImage, parsePe, PeFormatError, PeImage, relocate, sectionAt, sectionCopySize } from '../../pe/pe-image';
import { findGuestLoadedImage, ImageOrigin } from './guest-loaded-images';
import { GUID } from '../../core/guid';
import { Platform } from '../platform';
import { devicePathAt, DevicePathNode, placeDevicePath } from '../protocols/device-path';
import { devicePathToText } from '../protocols/device-path-text';
import { LOADED_IMAGE, readLoadedImage, writeLoadedImage } from '../protocols/loaded-image';
import {
  EFI_ACCESS_DENIED, EFI_INVALID_PARAMETER, EFI_LOAD_ERROR, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EFI_SECURITY_VIOLATION, EFI_SUCCESS,
  EFI_UNSUPPORTED, EfiError, EfiStatus, isError, statusName,
} from '../../core/status';
import { DeviceLocator, readImageFromDevicePath, Scratch } from './image-loader';
import {
  EfiBootServicesCode, EfiBootServicesData, EfiLoaderCode, EfiLoaderData, EfiRuntimeServicesCode, EfiRuntimeServicesData,
} from './memory-types';

export const EFI_IMAGE_SUBSYSTEM_EFI_APPLICATION = 10;
export const EFI_IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER = 11;
export const EFI_IMAGE_SUBSYSTEM_EFI_RUNTIME_DRIVER = 12;

export interface LoadedImage {
  handle: bigint;
  name: string;
  pe: PeImage;
  base: bigint;
  size: number;
  pages: bigint;
  /** Start of the page allocation (below `base` when SectionAlignment forced a higher start). */
  allocation: bigint;
  entry: bigint;
  loadedImage: bigint;
  parent: bigint;
  devicePath?: string;
  filePath?: string;
  source: string;
  fileSha256: string;
  /** The PE file as LoadImage received it (a kernel's bzImage bytes, for the hand-off). */
  file: Buffer;
  started: boolean;
  /** The security check answered EFI_SECURITY_VIOLATION: loaded, but StartImage refuses it. */
  securityViolation?: boolean;
  exitStatus?: string;
  unloaded: boolean;
  /** Found in memory, placed by a guest's own PE loader (no handle; the firmware never saw a LoadImage). */
  guestLoaded?: {
    /** `file` is the relocated memory image, not the PE file the guest loaded (its origin was not found). */
    fileIsMemoryImage: boolean;
  };
}

export interface ImageHooks {
  /**
   * After an image is placed, before its handle is returned (measurement of PCR 4 goes here). `fileAddress` is
   * LoadImage's SourceBuffer when the guest passed one (the file as it lies in guest memory).
   */
  loaded?(image: LoadedImage, file: Buffer, devicePath: readonly DevicePathNode[] | undefined, fileAddress?: bigint): void;
  /** Before an image's entry point runs. */
  starting?(image: LoadedImage): void;
  /** A guest-loaded image was found (containingOrAdopt): its code runs already, the RDTSC stops go in now. */
  adopted?(image: LoadedImage): void;
}

export interface ImageDeps {
  platform: Platform;
  systemTable: () => bigint;
  /** Pages for an image: at `preferred` when it is free, else anywhere; undefined when out of memory. */
  allocatePages(memType: number, pages: bigint, preferred?: bigint): bigint | undefined;
  freePages(address: bigint, pages: bigint): void;
  handles: DeviceLocator & {
    install(handle: bigint, guid: string, iface: bigint): bigint;
    uninstallAll(handle: bigint): void;
  };
  scratch: Scratch;
  hooks: ImageHooks;
  onGuestError(service: string, message: string): void;
  /**
   * The security architecture check LoadImage makes before loading (PI vol. 2 §12.9, edk2 CoreLoadImageCommon):
   * through the Security2/Security protocols' current function pointers, so a guest override runs.
   */
  authenticate?(devicePath: bigint, buffer: bigint, size: bigint, bootPolicy: boolean): EfiStatus;
  /** The page allocation holding an address (for images a guest loads itself); undefined: not allocated. */
  allocationAt?(address: bigint): { start: bigint; pages: bigint } | undefined;
}

export class ImageServices {
  readonly images: LoadedImage[] = [];
  private readonly byHandle = new Map<bigint, LoadedImage>();
  /** Images whose entry point is running, innermost last. */
  readonly running: LoadedImage[] = [];

  constructor(private readonly d: ImageDeps) {}

  get(handle: bigint): LoadedImage | undefined {
    const i = this.byHandle.get(handle);
    return i && !i.unloaded ? i : undefined;
  }

  /** The image containing `address`, for image+offset rendering. */
  containing(address: bigint): LoadedImage | undefined {
    for (let i = this.images.length - 1; i >= 0; i--) {
      const img = this.images[i];
      if (address >= img.base && address < img.base + BigInt(img.size)) return img;
    }
    return undefined;
  }

  /** Pages known to hold no guest-loaded image (cleared when one is adopted); bounded. */
  private readonly noGuestImage = new Set<bigint>();

  /**
   * The image an address runs in, also when a guest placed it with its own PE loader (systemd-stub 258+ loads the
   * kernel itself; shim loads its second stage): such an image is found by its PE headers in the guest's page
   * allocation, named after the section it came from (`uki.efi:.linux`), and recorded with source "guest PE loader".
   */
  containingOrAdopt(address: bigint): LoadedImage | undefined {
    const known = this.containing(address);
    if (known || !this.d.allocationAt) return known;
    const page = address & ~0xfffn;
    if (this.noGuestImage.has(page)) return undefined;
    const alloc = this.d.allocationAt(address);
    const origins: ImageOrigin[] = this.images.flatMap((img) => img.guestLoaded ? [] : img.pe.sections.map((sec) => ({
      name: `${img.name}:${sec.name}`, file: img.file.subarray(sec.pointerToRawData, sec.pointerToRawData + sectionCopySize(sec)),
    })));
    const found = alloc && findGuestLoadedImage(this.d.platform.mem, address, alloc.start, alloc.start + alloc.pages * 0x1000n, origins);
    if (!found) {
      if (this.noGuestImage.size > 4096) this.noGuestImage.clear();
      this.noGuestImage.add(page);
      return undefined;
    }
    this.noGuestImage.clear();
    const hostName = found.origin?.name.slice(0, found.origin.name.lastIndexOf(':'));
    const host = this.images.find((i) => i.name === hostName);
    const file = found.origin?.file ?? found.memoryImage;
    const img: LoadedImage = {
      handle: 0n, name: found.origin?.name ?? `image@0x${found.base.toString(16)}`, pe: found.pe, base: found.base, size: found.size,
      pages: 0n, allocation: alloc.start, entry: found.entry, loadedImage: 0n, parent: host?.handle ?? 0n,
      source: 'guest PE loader', fileSha256: digestOfUnchanging('sha256', file).toString('hex'), file,
      started: true, unloaded: false, guestLoaded: { fileIsMemoryImage: !found.origin },
    };
    this.images.push(img);
    this.d.hooks.adopted?.(img);
    return img;
  }

  /** Loads an image from host bytes (the image the run starts with, or a LoadImage source buffer). */
  load(file: Buffer, o: { name: string; parent: bigint; devicePath?: readonly DevicePathNode[]; deviceHandle?: bigint; filePath?: readonly DevicePathNode[]; source: string; fileAddress?: bigint }): LoadedImage {
    let pe: PeImage;
    try {
      pe = parsePe(file, o.name);
    } catch (e) {
      if (e instanceof PeFormatError) {
        // UEFI 2.10 LoadImage: EFI_UNSUPPORTED for an image type the platform does not support, EFI_LOAD_ERROR otherwise.
        const unsupported = /Machine|Subsystem|Magic/.test(e.field ?? '');
        throw new EfiError(unsupported ? EFI_UNSUPPORTED : EFI_LOAD_ERROR, e.message);
      }
      throw e;
    }
    const [codeType, dataType] =
      pe.subsystem === EFI_IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER ? [EfiBootServicesCode, EfiBootServicesData]
      : pe.subsystem === EFI_IMAGE_SUBSYSTEM_EFI_RUNTIME_DRIVER ? [EfiRuntimeServicesCode, EfiRuntimeServicesData]
      : [EfiLoaderCode, EfiLoaderData];
    const align = BigInt(Math.max(pe.sectionAlignment, 0x1000));
    const extra = align > 0x1000n ? align / 0x1000n - 1n : 0n;
    const pages = BigInt(Math.ceil(pe.sizeOfImage / 0x1000)) + extra;
    const preferred = pe.imageBase % align === 0n ? pe.imageBase : undefined;
    const at = this.d.allocatePages(codeType, pages, preferred);
    if (at === undefined) throw new EfiError(EFI_OUT_OF_RESOURCES, `no room for ${pages} pages for ${o.name}`);
    const base = (at + align - 1n) & ~(align - 1n);
    const mem = this.d.platform.mem;
    try {
      // Laid out and relocated in the allocated pages, as edk2 CoreLoadPeImage does (a bad relocation table
      // leaves the copied bytes in pages that are freed again); no host-side copy of the whole image.
      const image = layoutImage(pe, file, mem.view(base, pe.sizeOfImage));
      relocate(image, pe, base);
    } catch (e) {
      this.d.freePages(at, pages);
      if (e instanceof PeFormatError) throw new EfiError(EFI_LOAD_ERROR, e.message);
      throw e;
    }
    mem.onCodeWrite(base, pe.sizeOfImage);
    const li = this.d.platform.allocate(LOADED_IMAGE.size);
    const filePathAddr = o.filePath ? placeDevicePath(this.d.platform, o.filePath) : 0n;
    writeLoadedImage(mem, li, {
      parentHandle: o.parent,
      systemTable: this.d.systemTable(),
      deviceHandle: o.deviceHandle ?? 0n,
      filePath: filePathAddr,
      loadOptionsSize: 0,
      loadOptions: 0n,
      imageBase: base,
      imageSize: BigInt(pe.sizeOfImage),
      imageCodeType: codeType,
      imageDataType: dataType,
    });
    const handle = this.d.handles.install(0n, GUID.LOADED_IMAGE, li);
    // UEFI 2.10 §9.2: EFI_LOADED_IMAGE_DEVICE_PATH_PROTOCOL carries the full device path given to LoadImage (NULL if none).
    this.d.handles.install(handle, GUID.LOADED_IMAGE_DEVICE_PATH, o.devicePath ? placeDevicePath(this.d.platform, o.devicePath) : 0n);
    const img: LoadedImage = {
      handle,
      name: o.name,
      pe,
      base,
      size: pe.sizeOfImage,
      pages,
      allocation: at,
      entry: base + BigInt(pe.addressOfEntryPoint),
      loadedImage: li,
      parent: o.parent,
      devicePath: o.devicePath ? devicePathToText([...o.devicePath]) : undefined,
      filePath: o.filePath ? devicePathToText([...o.filePath]) : undefined,
      source: o.source,
      fileSha256: digestOfUnchanging('sha256', file).toString('hex'),
      file,
      started: false,
      unloaded: false,
    };
    this.images.push(img);
    this.byHandle.set(handle, img);
    this.d.hooks.loaded?.(img, file, o.devicePath, o.fileAddress);
    return img;
  }

  /** Runs an image's entry point until it returns or calls Exit (StartImage, UEFI 2.10 §7.4.2). */
  start(img: LoadedImage): { status: EfiStatus; exitDataSize: bigint; exitData: bigint; exited: boolean } {
    img.started = true;
    this.d.hooks.starting?.(img);
    this.running.push(img);
    let result: { status: EfiStatus; exitDataSize: bigint; exitData: bigint; exited: boolean };
    try {
      const status = this.d.platform.callGuest(img.entry, [img.handle, this.d.systemTable()], `entry point of ${img.name}`);
      result = { status, exitDataSize: 0n, exitData: 0n, exited: false };
    } catch (e) {
      if (!(e instanceof ImageExit) || e.imageHandle !== img.handle) throw e;
      result = { status: e.status, exitDataSize: e.exitDataSize, exitData: e.exitData, exited: true };
    } finally {
      this.running.pop();
    }
    img.exitStatus = statusName(result.status);
    // An application is unloaded when it returns or exits (UEFI 2.10 §7.4.5 Exit; edk2 does the same on return).
    if (img.pe.subsystem === EFI_IMAGE_SUBSYSTEM_EFI_APPLICATION) this.unload(img);
    return result;
  }

  unload(img: LoadedImage): void {
    if (img.unloaded) return;
    img.unloaded = true;
    this.d.handles.uninstallAll(img.handle);
    this.d.freePages(img.allocation, img.pages);
  }

  /**
   * A readable name for an image LoadImage loads: `uki.efi:.linux` when the source buffer is a section of a
   * loaded image (a UKI's kernel), the file name of a file path, else `image<N>`.
   */
  private nameFor(sourceBuffer: bigint, filePath: readonly DevicePathNode[] | undefined): string {
    if (sourceBuffer !== 0n) {
      const host = this.containing(sourceBuffer);
      if (host) {
        const rva = Number(sourceBuffer - host.base);
        const sec = sectionAt(host.pe, rva);
        if (sec) return rva === sec.virtualAddress ? `${host.name}:${sec.name}` : `${host.name}:${sec.name}+0x${(rva - sec.virtualAddress).toString(16)}`;
      }
    }
    const file = filePath?.filter((n) => n.type === 4 && n.subType === 4);
    if (file && file.length > 0) {
      const last = devicePathToText(file).split('\\').filter(Boolean).pop();
      if (last) return last;
    }
    return `image${this.images.length}`;
  }

  services(): BootServicesImpl {
    const mem = this.d.platform.mem;
    return {
      LoadImage: ([bootPolicy, parent, devicePath, sourceBuffer, sourceSize, imageHandleOut], call) => {
        if (imageHandleOut === 0n) return EFI_INVALID_PARAMETER;
        const parentImg = this.get(parent);
        if (!parentImg) return EFI_INVALID_PARAMETER;
        if (devicePath === 0n && sourceBuffer === 0n) return EFI_NOT_FOUND;
        let nodes: DevicePathNode[] | undefined;
        if (devicePath !== 0n) {
          try {
            nodes = devicePathAt(mem, devicePath).nodes;
          } catch (e) {
            call.note(`bad device path: ${(e as Error).message}`);
            return EFI_INVALID_PARAMETER;
          }
        }
        let file: Buffer;
        let deviceHandle: bigint | undefined;
        let filePath: DevicePathNode[] | undefined = nodes;
        let source = 'buffer';
        if (sourceBuffer !== 0n) {
          if (sourceSize === 0n) return EFI_LOAD_ERROR;
          file = mem.read(sourceBuffer, Number(sourceSize));
        } else {
          const src = readImageFromDevicePath(this.d.platform, this.d.handles, this.d.scratch, nodes!, bootPolicy !== 0n);
          file = src.bytes;
          deviceHandle = src.deviceHandle;
          filePath = src.filePath;
          source = src.via;
        }
        const name = this.nameFor(sourceBuffer, filePath);
        let auth: EfiStatus = EFI_SUCCESS;
        if (this.d.authenticate) {
          const copy = sourceBuffer !== 0n ? 0n : this.d.scratch.allocate(file.length || 1);
          try {
            if (copy !== 0n) mem.write(copy, file);
            auth = this.d.authenticate(devicePath, copy !== 0n ? copy : sourceBuffer, BigInt(file.length), bootPolicy !== 0n);
          } finally {
            if (copy !== 0n) this.d.scratch.free(copy);
          }
          if (isError(auth) && auth !== EFI_SECURITY_VIOLATION) {
            call.note(`refused by the security architecture protocols: ${statusName(auth)}`);
            // edk2 CoreLoadImageCommon: the platform policy prohibits loading; *ImageHandle is set to NULL.
            if (auth === EFI_ACCESS_DENIED) mem.setU64(imageHandleOut, 0n);
            return auth;
          }
        }
        try {
          const fileAddress = sourceBuffer !== 0n ? sourceBuffer : undefined;
          const img = this.load(file, { name, parent, devicePath: nodes, deviceHandle, filePath, source, fileAddress });
          mem.setU64(imageHandleOut, img.handle);
          call.note(`${name} at 0x${img.base.toString(16)} (${img.size} bytes, from ${source})`);
          if (auth === EFI_SECURITY_VIOLATION) {
            // UEFI 2.10 LoadImage: the image is loaded and a handle returned, but it may not be started.
            img.securityViolation = true;
            return EFI_SECURITY_VIOLATION;
          }
          return EFI_SUCCESS;
        } catch (e) {
          if (e instanceof EfiError) call.note(e.message);
          throw e;
        }
      },
      StartImage: ([handle, exitDataSizeOut, exitDataOut]) => {
        const img = this.get(handle);
        if (!img || img.started) return EFI_INVALID_PARAMETER;
        if (img.securityViolation) return EFI_SECURITY_VIOLATION;
        const r = this.start(img);
        if (exitDataSizeOut !== 0n) mem.setU64(exitDataSizeOut, r.exitDataSize);
        if (exitDataOut !== 0n) mem.setU64(exitDataOut, r.exitData);
        return r.status;
      },
      Exit: ([handle, status, exitDataSize, exitData], call) => {
        const img = this.get(handle);
        if (!img) return EFI_INVALID_PARAMETER;
        if (!img.started) {
          // UEFI 2.10 §7.4.5: Exit on an image that was loaded but not started unloads it.
          this.unload(img);
          return EFI_SUCCESS;
        }
        if (this.running[this.running.length - 1] !== img) {
          this.d.onGuestError(call.name, `Exit(${img.name}) called while ${this.running.at(-1)?.name ?? 'no image'} is the running image`);
          return EFI_INVALID_PARAMETER;
        }
        throw new ImageExit(handle, status, exitDataSize, exitData);
      },
      UnloadImage: ([handle]) => {
        const img = this.get(handle);
        if (!img) return EFI_INVALID_PARAMETER;
        if (img.started) {
          const unloadFn = readLoadedImage(mem, img.loadedImage).unload;
          if (unloadFn === 0n) return EFI_UNSUPPORTED;
          const st = this.d.platform.callGuest(unloadFn, [handle], `Unload function of ${img.name}`);
          if (st !== EFI_SUCCESS) return st;
        }
        this.unload(img);
        return EFI_SUCCESS;
      },
    };
  }
}
