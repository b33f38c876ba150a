// Authenticode digest of a PE/COFF file (Microsoft "Windows Authenticode Portable Executable Signature Format"
// §"Calculating the PE Image Hash"), with the steps and edge cases of edk2 Tcg2Dxe MeasurePeImageAndExtend.
import { createHash } from 'node:crypto';
import {
  IMAGE_DATA_DIRECTORY, IMAGE_DOS_HEADER, IMAGE_DOS_SIGNATURE, IMAGE_FILE_HEADER, IMAGE_NT_OPTIONAL_HDR32_MAGIC,
  IMAGE_NT_OPTIONAL_HDR64_MAGIC, IMAGE_NT_SIGNATURE, IMAGE_OPTIONAL_HEADER64, IMAGE_SECTION_HEADER,
} from '../../pe/pe-format';
import { Digests, HashAlgorithmName } from './pcr-banks';

/** IMAGE_DIRECTORY_ENTRY_SECURITY: the Certificate Table entry, whose VirtualAddress is a file offset (PE/COFF §3.4.3). */
const IMAGE_DIRECTORY_ENTRY_SECURITY = 4;

/**
 * Optional-header offsets that differ between PE32 and PE32+ (PE/COFF §3.4): CheckSum and SizeOfHeaders sit at
 * the same place in both; NumberOfRvaAndSizes and the data directories move by the 4 bytes of BaseOfData and
 * the four wider stack/heap fields.
 */
const OPTIONAL = {
  SizeOfHeaders: IMAGE_OPTIONAL_HEADER64.offsetOf('SizeOfHeaders'),
  CheckSum: IMAGE_OPTIONAL_HEADER64.offsetOf('CheckSum'),
  [IMAGE_NT_OPTIONAL_HDR64_MAGIC]: { NumberOfRvaAndSizes: IMAGE_OPTIONAL_HEADER64.offsetOf('NumberOfRvaAndSizes'), DataDirectory: IMAGE_OPTIONAL_HEADER64.size },
  [IMAGE_NT_OPTIONAL_HDR32_MAGIC]: { NumberOfRvaAndSizes: 92, DataDirectory: 96 },
} as const;

export class AuthenticodeError extends Error {
  constructor(reason: string) {
    super(`Authenticode: ${reason}`);
  }
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface AuthenticodeLayout {
  /** The file ranges hashed, in hashing order. */
  regions: ByteRange[];
  /** The Certificate Table (attribute certificates), when the directory entry names one. */
  certificateTable?: ByteRange;
  /** SizeOfHeaders plus the raw size of every section: where the trailing data starts. */
  sumOfBytesHashed: number;
}

/**
 * The ranges Authenticode hashes: the headers up to SizeOfHeaders without CheckSum and the Certificate Table
 * directory entry; every section with raw data, ordered by PointerToRawData; then the data after
 * SUM_OF_BYTES_HASHED up to the file size less the certificate table size. Every offset is checked against the file.
 */
export function authenticodeLayout(file: Uint8Array): AuthenticodeLayout {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const need = (end: number, what: string) => {
    if (end > b.length) throw new AuthenticodeError(`${what} ends at ${end}, past the ${b.length}-byte file`);
  };
  need(2, 'DOS header');
  // edk2 PeCoffLoaderGetImageInfo: without "MZ" the PE header is at offset 0.
  let pe = 0;
  if (b.readUInt16LE(0) === IMAGE_DOS_SIGNATURE) {
    need(IMAGE_DOS_HEADER.size, 'DOS header');
    pe = b.readUInt32LE(IMAGE_DOS_HEADER.offsetOf('e_lfanew'));
  }
  const fileHeader = pe + 4;
  const optional = fileHeader + IMAGE_FILE_HEADER.size;
  need(optional + 2, 'PE headers');
  if (b.readUInt32LE(pe) !== IMAGE_NT_SIGNATURE) throw new AuthenticodeError('no PE signature');
  const magic = b.readUInt16LE(optional);
  if (magic !== IMAGE_NT_OPTIONAL_HDR64_MAGIC && magic !== IMAGE_NT_OPTIONAL_HDR32_MAGIC) {
    throw new AuthenticodeError(`optional header Magic 0x${magic.toString(16)} is neither PE32 nor PE32+`);
  }
  const layout = OPTIONAL[magic];
  const sizeOfOptional = b.readUInt16LE(fileHeader + IMAGE_FILE_HEADER.offsetOf('SizeOfOptionalHeader'));
  if (sizeOfOptional < layout.DataDirectory) throw new AuthenticodeError(`SizeOfOptionalHeader ${sizeOfOptional} is too small`);
  need(optional + layout.DataDirectory, 'optional header');
  const rvaCount = b.readUInt32LE(optional + layout.NumberOfRvaAndSizes);
  if (layout.DataDirectory + IMAGE_DATA_DIRECTORY.size * rvaCount > sizeOfOptional) {
    throw new AuthenticodeError(`${rvaCount} data directories do not fit SizeOfOptionalHeader ${sizeOfOptional}`);
  }
  const sizeOfHeaders = b.readUInt32LE(optional + OPTIONAL.SizeOfHeaders);
  need(sizeOfHeaders, 'SizeOfHeaders');
  const checksum = optional + OPTIONAL.CheckSum;
  const hasCertEntry = rvaCount > IMAGE_DIRECTORY_ENTRY_SECURITY;
  const certEntry = optional + layout.DataDirectory + IMAGE_DATA_DIRECTORY.size * IMAGE_DIRECTORY_ENTRY_SECURITY;
  const headerEnd = hasCertEntry ? certEntry + IMAGE_DATA_DIRECTORY.size : checksum + 4;
  if (sizeOfHeaders < headerEnd) throw new AuthenticodeError(`SizeOfHeaders ${sizeOfHeaders} ends inside the optional header`);

  const regions: ByteRange[] = [{ offset: 0, length: checksum }];
  if (hasCertEntry) {
    regions.push({ offset: checksum + 4, length: certEntry - (checksum + 4) });
    regions.push({ offset: certEntry + IMAGE_DATA_DIRECTORY.size, length: sizeOfHeaders - (certEntry + IMAGE_DATA_DIRECTORY.size) });
  } else {
    regions.push({ offset: checksum + 4, length: sizeOfHeaders - (checksum + 4) });
  }

  const count = b.readUInt16LE(fileHeader + IMAGE_FILE_HEADER.offsetOf('NumberOfSections'));
  const table = optional + sizeOfOptional;
  need(table + IMAGE_SECTION_HEADER.size * count, 'section table');
  const sections = Array.from({ length: count }, (_, i) => {
    const s = table + IMAGE_SECTION_HEADER.size * i;
    return {
      pointer: b.readUInt32LE(s + IMAGE_SECTION_HEADER.offsetOf('PointerToRawData')),
      size: b.readUInt32LE(s + IMAGE_SECTION_HEADER.offsetOf('SizeOfRawData')),
    };
  });
  // A stable sort keeps equal PointerToRawData in table order, as edk2's insertion sort does.
  sections.sort((x, y) => x.pointer - y.pointer);
  let sum = sizeOfHeaders;
  for (const s of sections) {
    if (s.size === 0) continue;
    need(s.pointer + s.size, `section data at ${s.pointer}`);
    regions.push({ offset: s.pointer, length: s.size });
    sum += s.size;
  }

  let certificateTable: ByteRange | undefined;
  const certSize = hasCertEntry ? b.readUInt32LE(certEntry + IMAGE_DATA_DIRECTORY.offsetOf('Size')) : 0;
  if (hasCertEntry && certSize > 0) {
    certificateTable = { offset: b.readUInt32LE(certEntry + IMAGE_DATA_DIRECTORY.offsetOf('VirtualAddress')), length: certSize };
  }
  if (b.length > sum) {
    if (b.length > sum + certSize) regions.push({ offset: sum, length: b.length - certSize - sum });
    else if (b.length < sum + certSize) throw new AuthenticodeError(`certificate table of ${certSize} bytes does not fit after the ${sum} hashed bytes`);
  }
  return { regions: regions.filter((r) => r.length > 0), ...(certificateTable ? { certificateTable } : {}), sumOfBytesHashed: sum };
}

/**
 * The Authenticode digest of a PE file with any node:crypto hash. An image handed over as bytes in memory (the
 * PE_COFF_IMAGE flag of HashLogExtendEvent) is hashed the same way: edk2 and U-Boot both read it in file layout.
 */
export function authenticodeDigest(file: Uint8Array, algorithm: string = 'sha256', layout: AuthenticodeLayout = authenticodeLayout(file)): Buffer {
  const h = createHash(algorithm);
  for (const r of layout.regions) h.update(file.subarray(r.offset, r.offset + r.length));
  return h.digest();
}

/** One Authenticode digest per PCR bank, for an EV_EFI_BOOT_SERVICES_APPLICATION measurement. */
export function authenticodeDigests(file: Uint8Array, banks: readonly HashAlgorithmName[]): Digests {
  const layout = authenticodeLayout(file);
  const out: Digests = {};
  for (const bank of banks) out[bank] = authenticodeDigest(file, bank, layout);
  return out;
}
