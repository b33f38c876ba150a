// EFI_GRAPHICS_OUTPUT_PROTOCOL (UEFI 2.10 §12.9) for `--gop WxH`: one 32-bit BGRX mode over a linear
// framebuffer in guest RAM. The Linux EFI stub reads Mode/Info/FrameBufferBase into screen_info.
import { field, fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { buildInterface, memberAddress } from '../interface';
import { FirmwareOptions } from '../firmware-options';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS, EFI_UNSUPPORTED } from '../../core/status';
import { EfiReservedMemoryType } from '../boot/memory-types';
import { pciNode, pciRootNode, placeDevicePath } from './device-path';

export const EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID = GUID.GRAPHICS_OUTPUT;

export const EFI_GRAPHICS_OUTPUT_PROTOCOL = tableDecl({
  name: 'EFI_GRAPHICS_OUTPUT_PROTOCOL',
  traceName: 'GraphicsOutput',
  headerSize: 0,
  members: [
    fn('QueryMode', 'This:PTR', 'ModeNumber:UINT32', 'SizeOfInfo:PTR', 'Info:PTR'),
    fn('SetMode', 'This:PTR', 'ModeNumber:UINT32'),
    fn('Blt', 'This:PTR', 'BltBuffer:PTR', 'BltOperation:ENUM', 'SourceX:UINTN', 'SourceY:UINTN',
      'DestinationX:UINTN', 'DestinationY:UINTN', 'Width:UINTN', 'Height:UINTN', 'Delta:UINTN'),
    field('Mode'),
  ],
});

/** EFI_GRAPHICS_OUTPUT_PROTOCOL_MODE (UEFI 2.10 §12.9.1): 40 bytes. */
export const GOP_MODE = { MaxMode: 0, Mode: 4, Info: 8, SizeOfInfo: 16, FrameBufferBase: 24, FrameBufferSize: 32, size: 40 } as const;
/** EFI_GRAPHICS_OUTPUT_MODE_INFORMATION (§12.9.1): Version, resolution, PixelFormat, PixelInformation, PixelsPerScanLine. */
export const GOP_MODE_INFO = { Version: 0, HorizontalResolution: 4, VerticalResolution: 8, PixelFormat: 12, PixelInformation: 16, PixelsPerScanLine: 32, size: 36 } as const;

/** EFI_GRAPHICS_PIXEL_FORMAT. */
export const PixelRedGreenBlueReserved8BitPerColor = 0;
export const PixelBlueGreenRedReserved8BitPerColor = 1;
/** EFI_GRAPHICS_OUTPUT_BLT_OPERATION. */
export const EfiBltVideoFill = 0;
export const EfiBltVideoToBltBuffer = 1;
export const EfiBltBufferToVideo = 2;
export const EfiBltVideoToVideo = 3;

/** EFI_GRAPHICS_OUTPUT_BLT_PIXEL {Blue, Green, Red, Reserved}: the framebuffer's own pixel layout. */
const PIXEL_BYTES = 4;

/**
 * Type of the framebuffer pages. OVMF's framebuffer is a PCI BAR, outside RAM and outside the UEFI memory map.
 * Ours is guest RAM, so it must be kept out of EfiConventionalMemory or the OS would hand it out as RAM; it is
 * described as EfiReservedMemoryType, as firmware describes graphics memory stolen from DRAM. Linux turns it
 * into an E820 reserved range and maps it with ioremap for efifb/simpledrm.
 */
export const FRAMEBUFFER_MEMORY_TYPE = EfiReservedMemoryType;

export interface GraphicsOutputOptions {
  width: number;
  height: number;
  /** Page allocation of `size` bytes of memory type `memType` (the framebuffer). */
  allocate: (size: number, memType: number) => bigint;
  /** Boot services pool the guest frees with FreePool (QueryMode's Info). */
  allocatePool: (size: number) => bigint;
}

export interface GraphicsOutput {
  handle: bigint;
  protocol: bigint;
  mode: bigint;
  frameBufferBase: bigint;
  frameBufferSize: number;
  /** A copy of the visible pixels (BGRX rows of `width` pixels). */
  snapshot(): Buffer;
}

/** Writes EFI_GRAPHICS_OUTPUT_MODE_INFORMATION for a BGRX mode at `a`. */
function writeInfo(platform: Platform, a: bigint, width: number, height: number): void {
  const m = platform.mem;
  m.setU32(a + BigInt(GOP_MODE_INFO.Version), 0);
  m.setU32(a + BigInt(GOP_MODE_INFO.HorizontalResolution), width);
  m.setU32(a + BigInt(GOP_MODE_INFO.VerticalResolution), height);
  m.setU32(a + BigInt(GOP_MODE_INFO.PixelFormat), PixelBlueGreenRedReserved8BitPerColor);
  m.fill(a + BigInt(GOP_MODE_INFO.PixelInformation), 16, 0); // used only by PixelBitMask
  m.setU32(a + BigInt(GOP_MODE_INFO.PixelsPerScanLine), width);
}

/**
 * Installs GOP on a new handle with device path PciRoot(0x0)/Pci(0x2,0x0), where QEMU puts its display. Mode 0 is
 * set and the screen black at start.
 */
export function installGraphicsOutput(
  platform: Platform,
  db: { install(handle: bigint, guid: string, iface: bigint): bigint },
  opts: GraphicsOutputOptions,
): GraphicsOutput {
  const { width, height } = opts;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 8192 || height > 8192) {
    throw new Error(`GOP resolution ${width}x${height} is out of range`);
  }
  const mem = platform.mem;
  const pitch = width * PIXEL_BYTES;
  const frameBufferSize = pitch * height;
  const fb = opts.allocate(frameBufferSize, FRAMEBUFFER_MEMORY_TYPE);
  const mode = platform.allocate(GOP_MODE.size + GOP_MODE_INFO.size);
  const info = mode + BigInt(GOP_MODE.size);
  writeInfo(platform, info, width, height);
  mem.setU32(mode + BigInt(GOP_MODE.MaxMode), 1);
  mem.setU32(mode + BigInt(GOP_MODE.Mode), 0);
  mem.setU64(mode + BigInt(GOP_MODE.Info), info);
  mem.setU64(mode + BigInt(GOP_MODE.SizeOfInfo), BigInt(GOP_MODE_INFO.size));
  mem.setU64(mode + BigInt(GOP_MODE.FrameBufferBase), fb);
  mem.setU64(mode + BigInt(GOP_MODE.FrameBufferSize), BigInt(frameBufferSize));
  mem.fill(fb, frameBufferSize, 0);

  const pixel = (x: bigint, y: bigint) => fb + y * BigInt(pitch) + x * BigInt(PIXEL_BYTES);
  const inScreen = (x: bigint, y: bigint, w: bigint, h: bigint) => x + w <= BigInt(width) && y + h <= BigInt(height);

  const protocol = buildInterface(platform, EFI_GRAPHICS_OUTPUT_PROTOCOL, {
    // §12.9.2 QueryMode: Info is pool memory the caller frees.
    QueryMode: ([, modeNumber, sizeOfInfo, infoOut]) => {
      if (modeNumber >= 1n || sizeOfInfo === 0n || infoOut === 0n) return EFI_INVALID_PARAMETER;
      const copy = opts.allocatePool(GOP_MODE_INFO.size);
      writeInfo(platform, copy, width, height);
      mem.setU64(sizeOfInfo, BigInt(GOP_MODE_INFO.size));
      mem.setU64(infoOut, copy);
      return EFI_SUCCESS;
    },
    // §12.9.2 SetMode: the only mode; setting it clears the screen to black.
    SetMode: ([, modeNumber]) => {
      if (modeNumber >= 1n) return EFI_UNSUPPORTED;
      mem.fill(fb, frameBufferSize, 0);
      return EFI_SUCCESS;
    },
    // §12.9.2 Blt. Width or Height 0 and rectangles off the screen are EFI_INVALID_PARAMETER, as edk2
    // FrameBufferBltLib; Delta 0 means Width pixels per BltBuffer row.
    Blt: ([, buffer, op, sx, sy, dx, dy, w, h, delta]) => {
      if (op > BigInt(EfiBltVideoToVideo)) return EFI_INVALID_PARAMETER;
      if (w === 0n || h === 0n) return EFI_INVALID_PARAMETER;
      const rowBytes = Number(w) * PIXEL_BYTES;
      const stride = delta === 0n ? BigInt(rowBytes) : delta;
      if (Number(op) !== EfiBltVideoToVideo && buffer === 0n) return EFI_INVALID_PARAMETER;
      switch (Number(op)) {
        case EfiBltVideoFill: {
          if (!inScreen(dx, dy, w, h)) return EFI_INVALID_PARAMETER;
          const row = Buffer.alloc(rowBytes);
          const color = mem.read(buffer, PIXEL_BYTES);
          for (let i = 0; i < rowBytes; i += PIXEL_BYTES) color.copy(row, i);
          for (let y = 0n; y < h; y++) mem.write(pixel(dx, dy + y), row);
          return EFI_SUCCESS;
        }
        case EfiBltVideoToBltBuffer:
          if (!inScreen(sx, sy, w, h)) return EFI_INVALID_PARAMETER;
          for (let y = 0n; y < h; y++) {
            mem.write(buffer + (dy + y) * stride + dx * BigInt(PIXEL_BYTES), mem.read(pixel(sx, sy + y), rowBytes));
          }
          return EFI_SUCCESS;
        case EfiBltBufferToVideo:
          if (!inScreen(dx, dy, w, h)) return EFI_INVALID_PARAMETER;
          for (let y = 0n; y < h; y++) {
            mem.write(pixel(dx, dy + y), mem.read(buffer + (sy + y) * stride + sx * BigInt(PIXEL_BYTES), rowBytes));
          }
          return EFI_SUCCESS;
        default: {
          if (!inScreen(sx, sy, w, h) || !inScreen(dx, dy, w, h)) return EFI_INVALID_PARAMETER;
          // Overlapping rectangles: copy rows in the direction that does not overwrite unread source rows.
          const rows = [...Array(Number(h)).keys()].map(BigInt);
          if (dy > sy) rows.reverse();
          for (const y of rows) mem.copy(pixel(dx, dy + y), pixel(sx, sy + y), rowBytes);
          return EFI_SUCCESS;
        }
      }
    },
  });
  mem.setU64(memberAddress(protocol, EFI_GRAPHICS_OUTPUT_PROTOCOL, 'Mode'), mode);

  const handle = db.install(0n, EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID, protocol);
  db.install(handle, GUID.DEVICE_PATH, placeDevicePath(platform, [pciRootNode(0), pciNode(2, 0)]));
  return { handle, protocol, mode, frameBufferBase: fb, frameBufferSize, snapshot: () => mem.read(fb, frameBufferSize) };
}

/** Module entry (platform-protocols.ts): a framebuffer of `options.gop`'s size. */
export function install(ctx: InstallContext, options: FirmwareOptions): GraphicsOutput {
  if (!options.gop) throw new Error('GOP installed without a resolution');
  return installGraphicsOutput(ctx.platform, ctx.db, { ...options.gop, allocate: ctx.pages, allocatePool: ctx.guestPool });
}
