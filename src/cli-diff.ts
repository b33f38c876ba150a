// `stubemu diff A B`: compares two run reports, or runs two images with the same options (after `--`) and compares
// their reports. Exit 0 when identical, 1 when different, 2 on bad input or a run that wrote no report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT } from './api';
import { BadInput, readInputFile } from './bad-input';
import { compareReports } from './diff/compare';
import { renderDiffHtml } from './diff/html';
import { diffText } from './diff/text';
import { parseReport, RunReport } from './report-html/model';

const USAGE = `usage: stubemu diff A B [--json] [--html FILE] [--addresses] [-- RUN OPTIONS...]

A and B are run reports (stubemu run IMAGE --trace --json FILE) or EFI images; images are run here with
--trace and the RUN OPTIONS given after '--' (the same for both), e.g.
  stubemu diff uki-254.efi uki-257.efi -- --load-options "console=ttyS0"

Compares the outcome, images, the service-call sequences (aligned on image, service and the arguments that
are not addresses), the TCG events one by one and the final PCRs, variables, section usage and the hand-off.

  --json         the diff as JSON on stdout instead of text
  --html FILE    also write the diff as a self-contained HTML page
  --addresses    also compare addresses (pointer arguments, where things were loaded or allocated)

exit codes: 0 identical, 1 different, 2 bad input (or a run that wrote no report)
`;

/** The report of A or B: the file itself, or the report of running the image in a child stubemu. */
function reportOf(path: string, runOptions: string[]): RunReport {
  const bytes = readInputFile(path);
  if (bytes.length >= 2 && bytes[0] === 0x4d && bytes[1] === 0x5a) {
    const dir = mkdtempSync(join(tmpdir(), 'stubemu-diff-'));
    try {
      const out = join(dir, 'report.json');
      const cli = join(__dirname, 'cli.js');
      const r = spawnSync(process.execPath, [cli, 'run', path, ...runOptions, '--trace', '--quiet', '--json', out], { stdio: ['ignore', 'ignore', 'inherit'] });
      let text: string;
      try {
        text = readFileSync(out, 'utf8');
      } catch {
        throw new BadInput(`running ${path} wrote no report (exit ${r.status ?? r.signal})`);
      }
      return parseReport(text, `the run of ${path}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  try {
    return parseReport(bytes.toString('utf8'), path);
  } catch (e) {
    throw new BadInput(`${(e as Error).message} (and not an EFI image either: no MZ header)`);
  }
}

export function diffMain(argv: string[]): number {
  const sep = argv.indexOf('--');
  const own = sep >= 0 ? argv.slice(0, sep) : argv;
  const runOptions = sep >= 0 ? argv.slice(sep + 1) : [];
  try {
    const { values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, html: { type: 'string' }, addresses: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (positionals.length !== 2) throw new BadInput(`diff takes two reports or images\n${USAGE}`);
    if (runOptions.some((o) => o === '--json' || o.startsWith('--json=') || o === '--html')) throw new BadInput('the run options after -- must not name --json or --html (diff writes its own)');
    const [pa, pb] = positionals;
    const a = reportOf(pa, runOptions);
    const b = reportOf(pb, runOptions);
    const d = compareReports(a, b, { a: pa, b: pb }, { addresses: values.addresses });
    if (values.json) process.stdout.write(JSON.stringify(d, null, 2) + '\n');
    else process.stdout.write(diffText(d));
    if (values.html !== undefined) {
      writeFileSync(values.html, renderDiffHtml(d));
      process.stderr.write(`stubemu: wrote ${values.html}\n`);
    }
    return d.identical ? 0 : 1;
  } catch (e) {
    if (e instanceof BadInput || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`stubemu diff: ${e.message}\n`);
      return EXIT.badInput;
    }
    throw e;
  }
}

