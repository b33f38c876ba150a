// The package as others get it: `npm pack`, `npm install <tgz>` into an empty folder, then the CLI and the library
// from there — version, a sample boot through both, the shipped schema, and the typings under node16 resolution.
import test from 'ava';
import Ajv from 'ajv';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const HELLO = join(ROOT, 'samples', 'build', 'hello.efi');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

test('npm pack installs into an empty folder and runs: --version, the CLI, require(...).boot(), the schema, the types', (t) => {
  t.timeout(600_000);
  const tmp = mkdtempSync(join(tmpdir(), 'stubemu-pack-'));
  try {
    const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // prepack builds lib/ from tsconfig.build.json; --json names the tarball and lists its files.
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], ROOT)) as { filename: string; files: { path: string }[] }[];
    const files = packed[0].files.map((f) => f.path);
    t.true(files.includes('lib/src/index.js') && files.includes('lib/src/index.d.ts') && files.includes('lib/src/cli.js'));
    t.true(files.includes('schema/report-v1.schema.json'));
    t.deepEqual(files.filter((f) => /(^|\/)(test|scripts|dist)\//.test(f)), [], 'no tests, scripts or dist in the package');

    const app = join(tmp, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, packed[0].filename)], app);

    // Outside a checkout there is no .cache/: an installed package is told where Unicorn 2.1.1 is, as its README says.
    const env = { ...process.env, STUBEMU_LIBUNICORN: join(ROOT, '.cache', 'fixtures', 'unicorn-2.1.1', 'libunicorn.so.2') };
    const version = spawnSync('npx', ['--no-install', 'stubemu', '--version'], { cwd: app, encoding: 'utf8', env });
    t.is(version.status, 0, version.stderr);
    t.is(version.stdout.split('\n')[0], `stubemu ${pkg.version}`);

    const cli = spawnSync('npx', ['--no-install', 'stubemu', 'run', HELLO, '--quiet', '--json', 'cli.json'], { cwd: app, encoding: 'utf8', env });
    t.is(cli.status, 0, cli.stderr);
    t.regex(cli.stderr, /stubemu: hello\.efi: returned EFI_SUCCESS/);

    const script = `const s = require('stubemu');
      s.boot(${JSON.stringify(HELLO)}).then((r) => require('fs').writeFileSync('lib.json', s.reportJson(r)), (e) => { console.error(e); process.exit(1); });`;
    const lib = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8', env });
    t.is(lib.status, 0, lib.stderr);
    const cliJson = readFileSync(join(app, 'cli.json'), 'utf8');
    t.is(readFileSync(join(app, 'lib.json'), 'utf8'), cliJson, 'boot() and the CLI give the same report');

    // The schema as the package exports it validates the report.
    const schemaPath = execFileSync(process.execPath, ['-p', "require.resolve('stubemu/report-v1.schema.json')"], { cwd: app, encoding: 'utf8' }).trim();
    const validate = new Ajv({ strict: true }).compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
    t.true(validate(JSON.parse(cliJson)), JSON.stringify(validate.errors));

    // The typings: a consumer compiled with node16 resolution sees boot() and Report through "exports".
    writeFileSync(join(app, 'use.ts'), `import { boot, Report, EXIT } from 'stubemu';
      const r: Promise<Report> = boot('x.efi', { timeoutSeconds: 5 });
      r.then((x) => { if (x.outcome.kind === 'budget') console.log(x.outcome.which, EXIT.budget); });
      // @ts-expect-error reportVersion is the literal 1
      const bad: Report['stubemu'] = { reportVersion: 2 };
      void bad;\n`);
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'node16',
      '--moduleResolution', 'node16', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', 'use.ts'], { cwd: app, encoding: 'utf8' });
    t.is(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
