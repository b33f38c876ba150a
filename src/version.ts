// What `stubemu --version` prints: one line per component, the package first, then the CPU engine; nothing else
// prints versions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo } from '../emulator/cpu/create-cpu';

/** The package's version, from the package.json two levels up (dist/src/ or lib/src/ both sit there). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The lines of `stubemu --version`: the package, then the CPU engine as loaded (and a warning for a slow one). */
export function versionLines(): string[] {
  const lines = [`stubemu ${packageVersion()}`];
  try {
    const e = engineInfo('unicorn');
    lines.push(`cpu engine: ${e.version}${e.source ? ` (${e.source})` : ''}`);
    if (e.warning) lines.push(`warning: ${e.warning}`);
  } catch (err) {
    lines.push(`cpu engine: none (${(err as Error).message})`);
  }
  return lines;
}
