// `stubemu verify UKI`: runs the UKI in the emulated machine and compares the measurements the real stub made
// with the prediction for its version, event by event; exit 0 only when they agree.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { HashAlgorithmName } from '../efi-services/tcg/pcr-banks';
import { BadInput, EXIT, readInputFile, runImage } from './api';
import { compareEvents, loggedEventsOf } from './pcr/compare';
import { reportJson } from './report';
import { PcrPredictError, predictPcrs } from './pcr/predict';
import { PeFormatError } from '../emulator/pe/pe-image';

export const VERIFY_USAGE = `usage: stubemu verify UKI [--load-options STR] [--pcr-banks LIST] [--secure-boot] [--json FILE]

Runs UKI to ExitBootServices with a TPM (banks as --pcr-banks, default sha1,sha256), predicts what its
systemd-stub measures (stubemu pcr predict) and compares the two event by event: PCR 11 (and 12, 13), and the
firmware's PCR 4 Authenticode digests of the UKI and of the kernel it loads.
exit codes: 0 agree, 1 disagree (a readable diff is printed), 2 bad input, 3 guest fault, 4 budget
`;

export function verifyMain(argv: string[], parseBanks: (s: string) => HashAlgorithmName[]): number {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(VERIFY_USAGE);
    return EXIT.ok;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'load-options': { type: 'string' },
      'pcr-banks': { type: 'string' },
      'secure-boot': { type: 'boolean' },
      json: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new BadInput('verify takes exactly one UKI');
  const path = positionals[0];
  const image = readInputFile(path);
  const banks = values['pcr-banks'] !== undefined ? parseBanks(values['pcr-banks']) : (['sha1', 'sha256'] as HashAlgorithmName[]);
  let prediction;
  try {
    prediction = predictPcrs(image, basename(path), { banks, loadOptions: values['load-options'], secureBoot: values['secure-boot'] });
  } catch (e) {
    if (e instanceof PcrPredictError || e instanceof PeFormatError) throw new BadInput(e.message);
    throw e;
  }
  const run = runImage({
    image,
    imageName: basename(path),
    loadOptions: values['load-options'],
    secureBoot: values['secure-boot'],
    pcrBanks: banks,
  });
  process.stderr.write(`${run.summary}\n`);
  if (run.exitCode === EXIT.fault || run.exitCode === EXIT.budget) return run.exitCode;
  const logged = loggedEventsOf(run.firmware.tcg2!.measuredBoot.events);
  const cmp = compareEvents(prediction.events, logged, prediction.scope);
  process.stdout.write(`${prediction.stub}: prediction (${prediction.rules}) against the emulated run\n`);
  for (const line of cmp.lines) process.stdout.write(`${line}\n`);
  if (values.json !== undefined) {
    writeFileSync(values.json, reportJson({ agree: cmp.agree, lines: cmp.lines, predicted: prediction.pcrs, emulated: run.report.pcrs }));
  }
  return cmp.agree ? EXIT.ok : EXIT.imageError;
}
