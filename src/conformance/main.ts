// `npm run conformance`: the matrix of UKIs booted in QEMU + OVMF + swtpm and in stubemu, compared event by event.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQemuTools, qemuVersions } from '../bench/qemu';
import { CASES, selectCases } from './cases';
import { MACHINE } from './machine';
import { CaseResult, runCase } from './run-case';
import { allIdentical, conformanceTable } from './table';

export const CONFORMANCE_USAGE = `usage: npm run conformance -- [--case ID]... [--slice] [--json FILE] [--out DIR]
                               [--qemu-timeout S] [--stubemu-timeout S] [--list]

Boots each case's UKI in QEMU (TCG, q35) + OVMF + swtpm and in stubemu on the same machine settings and
compares: every event of PCRs 1, 5, 7, 9, 11, 12, 13, the PCR 4 application digests, and the command line and
initrd the kernel received (read inside the booted kernel by a tiny /init). The sb-* row boots under Secure Boot
with the Microsoft keys of OVMF_VARS_4M.ms.fd (shim signed by Microsoft, then the UKI through MokList; OVMF's
Secure Boot build OVMF_CODE_4M.secboot.fd from the pinned ovmf fixture). Prints a table (case x check),
writes JSON (default out/conformance/conformance.json), keeps each case's serial output and both event logs
under --out (default out/conformance). Exit codes: 0 all identical, 1 any difference or missing check, 2 bad
usage or missing tools.
`;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        case: { type: 'string', multiple: true }, slice: { type: 'boolean' }, json: { type: 'string' }, out: { type: 'string' },
        'qemu-timeout': { type: 'string' }, 'stubemu-timeout': { type: 'string' }, list: { type: 'boolean' }, help: { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n${CONFORMANCE_USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(CONFORMANCE_USAGE);
    return 0;
  }
  if (values.list) {
    for (const c of CASES) process.stdout.write(`${c.id}${c.inTestSlice ? ' (npm test slice)' : ''}\n`);
    return 0;
  }
  const seconds = (v: string | undefined, d: number, what: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${what} wants a positive number of seconds, not ${v}`);
    return n;
  };
  let cases;
  let qemuTimeoutSeconds: number;
  let stubemuTimeoutSeconds: number;
  try {
    cases = selectCases(values.case, values.slice ?? false);
    qemuTimeoutSeconds = seconds(values['qemu-timeout'], 300, 'qemu-timeout');
    stubemuTimeoutSeconds = seconds(values['stubemu-timeout'], 900, 'stubemu-timeout');
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n`);
    return 2;
  }
  const tools = ensureQemuTools(log);
  if (typeof tools === 'string') {
    process.stderr.write(`conformance: cannot run the reference: ${tools}\n`);
    return 2;
  }
  const outDir = resolve(values.out ?? 'out/conformance');
  const jsonPath = resolve(values.json ?? `${outDir}/conformance.json`);
  const versions = qemuVersions(tools);
  log(`conformance: ${cases.length} case(s); ${versions.qemu}; ovmf ${versions.ovmf}; ${versions.swtpm}`);
  const results: CaseResult[] = [];
  for (const c of cases) {
    log(`conformance: ${c.id}`);
    results.push(await runCase(c, tools, { qemuTimeoutSeconds, stubemuTimeoutSeconds, outDir, log }));
  }
  process.stdout.write(conformanceTable(results));
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify({ date: new Date().toISOString(), machine: MACHINE, versions, cases: results }, null, 2)}\n`);
  log(`conformance: JSON in ${jsonPath}, serial output and event logs in ${outDir}`);
  return allIdentical(results) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
    process.stderr.write(`conformance: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 2;
  });
}
