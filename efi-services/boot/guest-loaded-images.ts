// Images a guest loads with its own PE loader (systemd-stub 258+'s kernel, shim's second stage): found from an address
// that runs outside every LoadImage'd image, by the PE headers a loader copies to the start of the image's pages.
import { IMAGE_SCN_CNT_CODE, IMAGE_SCN_MEM_EXECUTE } from '../../pe/pe-format';
import { parsePe, PeFormatError, PeImage, sectionAt } from '../../pe/pe-image';

const PAGE = 0x1000n;
const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
/** PE/COFF §3.4: IMAGE_OPTIONAL_HEADER64 offsets of the fields read here. */
const OPT = { Magic: 0, AddressOfEntryPoint: 16, SizeOfImage: 56, SizeOfHeaders: 60 } as const;
const PE32_PLUS = 0x20b;
/** SizeOfImage beyond this is not an image anyone loads (stubemu's own loader limit is 1 GiB as well). */
const MAX_IMAGE = 1 << 30;

export interface GuestMemoryReader {
  isMapped(address: bigint, length: number): boolean;
  read(address: bigint, length: number): Buffer;
}

/** A host image section whose file bytes a guest-loaded image came from (the UKI's .linux for systemd-stub 258+). */
export interface ImageOrigin {
  /** e.g. "uki.efi:.linux" */
  readonly name: string;
  /** The section's bytes as in the file: the PE file the guest loaded. */
  readonly file: Buffer;
}

export interface FoundGuestImage {
  readonly base: bigint;
  readonly size: number;
  readonly entry: bigint;
  /** The image described as a PE: from its origin file when known, else from its laid-out bytes in memory. */
  readonly pe: PeImage;
  /** The PE file the guest loaded, when an origin was found; undefined: only the relocated memory image is known. */
  readonly origin: ImageOrigin | undefined;
  readonly memoryImage: Buffer;
}

/** The headers of an x86_64 PE32+ at `base`, as a loader copies them; undefined when there is none. */
function headersAt(mem: GuestMemoryReader, base: bigint): { sizeOfImage: number; sizeOfHeaders: number; entry: number } | undefined {
  if (!mem.isMapped(base, 0x40) || mem.read(base, 2).toString('latin1') !== 'MZ') return undefined;
  const lfanew = mem.read(base + 0x3cn, 4).readUInt32LE(0);
  if (lfanew < 0x40 || lfanew > 0x800 || !mem.isMapped(base + BigInt(lfanew), 24 + 240)) return undefined;
  const nt = mem.read(base + BigInt(lfanew), 24 + 240);
  if (nt.toString('latin1', 0, 4) !== 'PE\0\0' || nt.readUInt16LE(4) !== IMAGE_FILE_MACHINE_AMD64) return undefined;
  const opt = 24;
  if (nt.readUInt16LE(opt + OPT.Magic) !== PE32_PLUS) return undefined;
  const sizeOfImage = nt.readUInt32LE(opt + OPT.SizeOfImage);
  const sizeOfHeaders = nt.readUInt32LE(opt + OPT.SizeOfHeaders);
  if (sizeOfImage === 0 || sizeOfImage > MAX_IMAGE || sizeOfHeaders === 0 || sizeOfHeaders > sizeOfImage) return undefined;
  return { sizeOfImage, sizeOfHeaders, entry: nt.readUInt32LE(opt + OPT.AddressOfEntryPoint) };
}

/**
 * The memory image as a PE file whose sections sit at their VirtualAddress (PointerToRawData := VirtualAddress), so
 * the ordinary parser describes a relocated image whose file is gone.
 */
function memoryAsFile(image: Buffer, what: string): PeImage | undefined {
  const copy = Buffer.from(image);
  try {
    const lfanew = copy.readUInt32LE(0x3c);
    const n = copy.readUInt16LE(lfanew + 6);
    const table = lfanew + 24 + copy.readUInt16LE(lfanew + 20);
    for (let i = 0; i < n; i++) {
      const h = table + 40 * i;
      const va = copy.readUInt32LE(h + 12);
      const vsize = copy.readUInt32LE(h + 8);
      copy.writeUInt32LE(va, h + 20);
      copy.writeUInt32LE(Math.max(0, Math.min(vsize, copy.length - va)), h + 16);
    }
    copy.writeUInt32LE(0, lfanew + 12); // no COFF symbol table in memory
    return parsePe(copy, what);
  } catch (e) {
    if (e instanceof PeFormatError || e instanceof RangeError) return undefined;
    throw e;
  }
}

/** Share of equal bytes in two equally long buffers. */
function similarity(a: Buffer, b: Buffer): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length ? same / a.length : 0;
}

const WINDOW = 2048;

/**
 * A loader that copies only the sections (systemd-stub 262 leaves the header page empty): the image base is the start
 * of the allocation, or a page above it when the loader aligned it; an origin PE matches when the bytes around
 * `address` equal its file's bytes at the same RVA of an executable section (≥ 95 %, relocations and data aside).
 */
function matchBySections(mem: GuestMemoryReader, address: bigint, lowest: bigint, highest: bigint, origins: readonly ImageOrigin[]): FoundGuestImage | undefined {
  for (const origin of origins) {
    let pe: PeImage;
    try {
      pe = parsePe(origin.file, origin.name);
    } catch (e) {
      if (e instanceof PeFormatError) continue;
      throw e;
    }
    for (let base = lowest; base < lowest + 0x10000n && base <= address; base += PAGE) {
      if (base + BigInt(pe.sizeOfImage) > highest) break;
      const rva = Number(address - base);
      const sec = sectionAt(pe, rva);
      if (!sec || !(sec.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE))) continue;
      const from = Math.max(sec.virtualAddress, rva - WINDOW);
      const to = Math.min(sec.virtualAddress + Math.min(sec.virtualSize, sec.sizeOfRawData), rva + WINDOW);
      if (to - from < 256 || !mem.isMapped(base + BigInt(from), to - from)) continue;
      const inFile = origin.file.subarray(sec.pointerToRawData + (from - sec.virtualAddress), sec.pointerToRawData + (to - sec.virtualAddress));
      if (inFile.length !== to - from || similarity(mem.read(base + BigInt(from), to - from), inFile) < 0.95) continue;
      const memoryImage = mem.read(base, pe.sizeOfImage);
      return { base, size: pe.sizeOfImage, entry: base + BigInt(pe.addressOfEntryPoint), pe, origin, memoryImage };
    }
  }
  return undefined;
}

/**
 * Looks for the image `address` runs in: page by page from the address down to `lowest` (the start of the page
 * allocation holding it), the first PE32+ x86_64 header whose SizeOfImage covers the address, with the address in an
 * executable section. `origins` are candidate files; one whose first SizeOfHeaders bytes equal the image's is its origin.
 * Without headers in memory, an origin whose code matches the bytes around the address (matchBySections).
 */
export function findGuestLoadedImage(mem: GuestMemoryReader, address: bigint, lowest: bigint, highest: bigint, origins: readonly ImageOrigin[]): FoundGuestImage | undefined {
  return byHeaders(mem, address, lowest, origins) ?? matchBySections(mem, address, lowest, highest, origins);
}

function byHeaders(mem: GuestMemoryReader, address: bigint, lowest: bigint, origins: readonly ImageOrigin[]): FoundGuestImage | undefined {
  for (let base = address & ~(PAGE - 1n); base >= lowest; base -= PAGE) {
    const h = headersAt(mem, base);
    if (!h) continue;
    if (address >= base + BigInt(h.sizeOfImage)) return undefined; // the nearest image below does not cover it
    if (!mem.isMapped(base, h.sizeOfImage)) return undefined;
    const memoryImage = mem.read(base, h.sizeOfImage);
    const headers = memoryImage.subarray(0, h.sizeOfHeaders);
    const origin = origins.find((o) => o.file.length >= h.sizeOfHeaders && o.file.subarray(0, h.sizeOfHeaders).equals(headers));
    let pe: PeImage | undefined;
    if (origin) {
      try {
        pe = parsePe(origin.file, origin.name);
      } catch (e) {
        if (!(e instanceof PeFormatError)) throw e;
      }
    }
    pe ??= memoryAsFile(memoryImage, `image at 0x${base.toString(16)}`);
    if (!pe) return undefined;
    const sec = sectionAt(pe, Number(address - base));
    if (!sec || !(sec.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE))) return undefined;
    return { base, size: h.sizeOfImage, entry: base + BigInt(h.entry), pe, origin, memoryImage };
  }
  return undefined;
}
