// PeFormatError: a malformed PE/COFF image, naming the offending field and where it sits in the file or the loaded image.

export type PeLocation = { readonly fileOffset: number } | { readonly rva: number };

export class PeFormatError extends Error {
  override readonly name = 'PeFormatError';
  /** Offset of the field in the file, when the fault was found in the file. */
  readonly fileOffset: number | undefined;
  /** RVA of the field in the laid-out image, when the fault was found there (base relocations). */
  readonly rva: number | undefined;

  constructor(readonly what: string, readonly field: string, at: PeLocation, readonly detail: string) {
    const where = 'fileOffset' in at ? `file offset ${hex(at.fileOffset)}` : `RVA ${hex(at.rva)}`;
    super(`${what}: ${field} at ${where}: ${detail}`);
    this.fileOffset = 'fileOffset' in at ? at.fileOffset : undefined;
    this.rva = 'rva' in at ? at.rva : undefined;
  }
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
