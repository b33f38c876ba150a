// `stubemu report RUN.json -o RUN.html`: the self-contained HTML page of a run report.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EXIT } from './api';
import { BadInput, readInputFile } from './bad-input';
import { parseReport } from './report-html/model';
import { renderReportHtml } from './report-html/page';

const USAGE = `usage: stubemu report RUN.json -o RUN.html

Writes one self-contained HTML page (no network; opens from file://) for a run report made with
'stubemu run IMAGE --json RUN.json' (add --trace for the call timeline): summary, timeline of service calls,
memory map to scale, section usage, TCG events with a PCR replay, variables and the kernel hand-off.
`;

export function reportMain(argv: string[]): number {
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (positionals.length !== 1 || values.output === undefined) throw new BadInput(`report takes one RUN.json and -o FILE\n${USAGE}`);
    const report = parseReportFile(positionals[0]);
    writeFileSync(values.output, renderReportHtml(report));
    process.stderr.write(`stubemu: wrote ${values.output}\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof BadInput || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`stubemu report: ${e.message}\n`);
      return EXIT.badInput;
    }
    throw e;
  }
}

export function parseReportFile(path: string) {
  try {
    return parseReport(readInputFile(path).toString('utf8'), path);
  } catch (e) {
    if (e instanceof BadInput) throw e;
    throw new BadInput((e as Error).message);
  }
}
