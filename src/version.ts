// What `stubemu --version` prints: one line per component, the package first. The CPU engine's name and version
// belong here too (one more line from emulator/cpu when the engine can say it); nothing else prints versions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package's version, from the package.json two levels up (dist/src/ or lib/src/ both sit there). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The lines of `stubemu --version`, e.g. ["stubemu 0.1.0"]. */
export function versionLines(): string[] {
  return [`stubemu ${packageVersion()}`];
}
