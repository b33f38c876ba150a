// The layering of the source tree, read from every file's imports: each arrow runs one way (README "Layers").
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');

/** Top folder → the top folders its files may import (besides node: modules and npm packages). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  // Guest memory, ABI declarations, status, GUIDs, outcomes, the board interface.
  core: ['core'],
  // PE/COFF parsing and layout: stands on its own.
  pe: ['pe'],
  // The board: CPU engines, RAM, trap slots, descriptor tables; no EFI.
  emulator: ['emulator', 'core'],
  // The firmware: services, protocols, tables, the dispatcher; reaches the board through core/board.ts.
  'efi-services': ['efi-services', 'core', 'pe'],
  // The CLI and library; the bench and the conformance run read the fixture manifest.
  src: ['src', 'efi-services', 'emulator', 'pe', 'core', 'scripts'],
  // The fixture tool.
  scripts: ['scripts'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Project files (relative to the root) that `file` imports, with the specifier as written. */
function projectImports(file: string): { spec: string; target: string }[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ spec, target: path.normalize(path.join(path.dirname(file), spec)) }));
}

const topFolder = (file: string): string => file.split(path.sep)[0];

test('every import runs down the layers: core ← pe, emulator ← efi-services ← src', (t) => {
  const wrong: string[] = [];
  let edges = 0;
  for (const folder of Object.keys(MAY_IMPORT)) {
    for (const file of sourceFiles(folder)) {
      for (const { spec, target } of projectImports(file)) {
        edges++;
        const to = topFolder(target);
        if (!MAY_IMPORT[folder].includes(to)) wrong.push(`${file} imports '${spec}' (${to}/ is not below ${folder}/)`);
      }
    }
  }
  t.deepEqual(wrong, []);
  t.true(edges > 300, `only ${edges} imports read: the reader misses imports`);
});

test('the layer table names every top folder with TypeScript sources', (t) => {
  const ignored = new Set(['node_modules', 'dist', 'lib', 'test', 'samples', 'out', 'docs', 'schema', 'fixtures']);
  const folders = readdirSync(ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !ignored.has(e.name))
    .filter((e) => sourceFiles(e.name).length > 0)
    .map((e) => e.name)
    .sort();
  t.deepEqual(folders, Object.keys(MAY_IMPORT).sort());
});

test('the import reader sees the forms the tree uses', (t) => {
  // A wrong rule table must not pass because the reader skipped a kind of import.
  const info = ts.preProcessFile(
    "import { a } from './x';\nimport type { B } from '../y';\nexport { c } from './z';\nconst d = require('./w');\nconst e = import('./v');\n",
    true,
    true,
  );
  t.deepEqual(info.importedFiles.map((f) => f.fileName).sort(), ['../y', './v', './w', './x', './z']);
});
