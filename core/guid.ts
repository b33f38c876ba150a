// EFI_GUID in its mixed-endian wire form (UEFI 2.10 Appendix A) and the GUIDs stubemu names.

export function guidToBytes(text: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(text);
  if (!m) throw new Error(`not a GUID: ${JSON.stringify(text)}`);
  const b = Buffer.alloc(16);
  b.writeUInt32LE(parseInt(m[1], 16), 0);
  b.writeUInt16LE(parseInt(m[2], 16), 4);
  b.writeUInt16LE(parseInt(m[3], 16), 6);
  Buffer.from(m[4] + m[5], 'hex').copy(b, 8);
  return b;
}

export function guidFromBytes(b: Uint8Array, offset = 0): string {
  const v = Buffer.from(b.buffer, b.byteOffset + offset, 16);
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return [
    hex(v.readUInt32LE(0), 8), hex(v.readUInt16LE(4), 4), hex(v.readUInt16LE(6), 4),
    v.subarray(8, 10).toString('hex'), v.subarray(10, 16).toString('hex'),
  ].join('-');
}

export const GUID = {
  LOADED_IMAGE: '5b1b31a1-9562-11d2-8e3f-00a0c969723b',
  LOADED_IMAGE_DEVICE_PATH: 'bc62157e-3e33-4fec-9920-2d3b36d750df',
  DEVICE_PATH: '09576e91-6d3f-11d2-8e39-00a0c969723b',
  SIMPLE_TEXT_OUTPUT: '387477c2-69c7-11d2-8e39-00a0c969723b',
  SIMPLE_TEXT_INPUT: '387477c1-69c7-11d2-8e39-00a0c969723b',
  SIMPLE_TEXT_INPUT_EX: 'dd9e7534-7762-4698-8c14-f58517a625aa',
  SIMPLE_FILE_SYSTEM: '964e5b22-6459-11d2-8e39-00a0c969723b',
  FILE_INFO: '09576e92-6d3f-11d2-8e39-00a0c969723b',
  FILE_SYSTEM_INFO: '09576e93-6d3f-11d2-8e39-00a0c969723b',
  FILE_SYSTEM_VOLUME_LABEL: 'db47d7d3-fe81-11d3-9a35-0090273fc14d',
  LOAD_FILE: '56ec3091-954c-11d2-8e3f-00a0c969723b',
  LOAD_FILE2: '4006c0c1-fcb3-403e-996d-4a6c8724e06d',
  LINUX_INITRD_MEDIA: '5568e427-68fc-4f3d-ac74-ca555231cc68',
  GLOBAL_VARIABLE: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  EVENT_GROUP_EXIT_BOOT_SERVICES: '27abf055-b1b8-4c26-8048-748f37baa2df',
  EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES: '8be0e274-3970-4b44-80c5-1ab9502f3bfc',
  EVENT_GROUP_VIRTUAL_ADDRESS_CHANGE: '13fa7698-c831-49c7-87ea-8f43fcc25196',
  EVENT_GROUP_MEMORY_MAP_CHANGE: '78bee926-692f-48fd-9edb-01422ef0d7ab',
  EVENT_GROUP_READY_TO_BOOT: '7ce88fb3-4bd7-4679-87a8-a8d8dee50d2b',
  ACPI_20_TABLE: '8868e871-e4f1-11d3-bc22-0080c73c8881',
  SMBIOS3_TABLE: 'f2fd1544-9794-4a2c-992e-e5bbcf20e394',
  VENDOR_MEDIA_STUBEMU_ESP: 'a2c9ebd0-5b5a-4f73-9e8f-2a1a0c1e5f11',
  RNG_PROTOCOL: '3152bca5-eade-433d-862e-c01cdc291f44',
  MEMORY_ATTRIBUTE: 'f4560cf6-40ec-4b4a-a192-bf1d57d0b189',
  TCG2_PROTOCOL: '607f766c-7455-42be-930b-e4d76db2720f',
  CC_MEASUREMENT_PROTOCOL: '96751a3d-72f4-41a6-a794-ed5d0e67ae6b',
  CC_MEASUREMENT_PROTOCOL_LEGACY: 'f541796d-a62e-4954-a775-9584f61b9cdd',
  GRAPHICS_OUTPUT: '9042a9de-23dc-4a38-96fb-7aded080516a',
  UGA_DRAW: '982c298b-f4fa-41cb-b838-77aa688fb839',
  PCI_IO: '4cf5b200-68b8-4ca5-9eec-b23e3f50029a',
  UNICODE_COLLATION2: 'a4c751fc-23ae-4c3e-92e9-4964cf63f349',
  UNICODE_COLLATION: '1d85cd7f-f43d-11d2-9a0c-0090273fc14d',
  DEVICE_PATH_TO_TEXT: '8b843e20-8132-4852-90cc-551a4e4a7f1c',
  DEVICE_PATH_FROM_TEXT: '05c99a21-c70f-4ad2-8a5f-35df3343f51e',
  DEVICE_PATH_UTILITIES: '0379be4e-d706-437d-b037-edb82fb772a4',
  HII_DATABASE: 'ef9fc172-a1b2-4693-b327-6d32fc416042',
  HII_STRING: '0fd96974-23aa-4cdc-b9cb-98d17750322a',
  HII_FONT: 'e9ca4775-8657-47fc-97e7-7ed65a084324',
  SECURITY_ARCH: 'a46423e3-4617-49f1-b9ff-d1bfa9115839',
  SECURITY2_ARCH: '94ab2f58-1438-4ef1-9152-18941a3a0e68',
  LINUX_EFI_RANDOM_SEED_TABLE: '1ce1e5bc-7ceb-42f2-81e5-8aadf180f57b',
  LINUX_EFI_BOOT_MEMMAP: '800f683f-d08b-423a-a293-965c3c6fe2b4',
  LINUX_EFI_TPM_EVENT_LOG: 'b7799cb0-eca2-4943-9667-1fae07b747fa',
  LOADER_VENDOR: '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f',
  MEMORY_OVERWRITE_CONTROL: 'e20939be-32d4-41be-a150-897f85d49829',
  EFI_SHELL_PARAMETERS: '752f3136-4e16-4fdc-a22a-e5f46812f4ca',
  BLOCK_IO: '964e5b21-6459-11d2-8e39-00a0c969723b',
  BLOCK_IO2: 'a77b2472-e282-4e9f-a245-c2c0e27bbcc1',
  DISK_IO: 'ce345171-ba0b-11d2-8e4f-00a0c969723b',
  DISK_IO2: '151c8eae-7f2c-472c-9e54-9828194f6a88',
  DRIVER_BINDING: '18a031ab-b443-4d1a-a5c0-0c09261e9f71',
  IMAGE_SECURITY_DATABASE: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  /** DEVICE_PATH_MESSAGING_PC_ANSI, the PC-ANSI terminal type of a Messaging Vendor node (UEFI 2.10 §10.3.4.4). */
  PC_ANSI_TERMINAL: 'e0c14753-f9be-11d2-9a0c-0090273fc14d',
} as const;
