// The real inputs fetched by scripts/fetch-fixtures.sh (run by scripts/setup.sh): never silently skipped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', '..', '..', '.cache', 'fixtures');

export function fixture(name: string): Buffer {
  const p = join(FIXTURES, name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/fetch-fixtures.sh (npm test runs it through scripts/setup.sh)`);
  return readFileSync(p);
}

export function fixturePath(name: string): string {
  fixture(name);
  return join(FIXTURES, name);
}
