// Bad input from the user (a file, an option): the CLI exits 2 with the message, naming what and where.
import { readFileSync } from 'node:fs';

export class BadInput extends Error {}

/** A file the user named, or BadInput saying which and why it cannot be read. */
export function readInputFile(path: string, what = ''): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new BadInput(`cannot read ${what ? `${what} ` : ''}${path}: ${(e as Error).message}`);
  }
}
