// `stubemu verify UKI`: runs the UKI in the emulated machine and compares the measurements the real stub made
// with the prediction for its version, event by event; exit 0 only when they agree.
import { DEFAULT_PCR_BANKS } from '../efi-services/tcg/pcr-banks';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { HostVolume } from '../efi-services/esp/host-volume';
import { PeFormatError } from '../pe/pe-image';
import { EXIT, runImage } from './api';
import { BadInput } from './bad-input';
import { compareEvents, compareVariables, loaderInfoVariablesSet, loggedEventsOf } from './pcr/compare';
import { PcrPredictError, predictPcrs } from './pcr/predict';
import { reportJson } from './report';
import { MACHINE_ARGS, machineRunOptions } from './run-args';

export const VERIFY_USAGE = `usage: stubemu verify UKI [run options] [--json FILE]

Runs UKI to ExitBootServices with a TPM (banks as --pcr-banks, default sha1,sha256), predicts what its
systemd-stub measures (stubemu pcr predict, with the same --load-options, --secure-boot, --esp, --smbios-oem)
and compares the two event by event: PCR 11, 12, 13, the stub's PCR 1 SMBIOS events (261+), and the firmware's
PCR 4 Authenticode digests of the UKI, its addons and of the kernel when the stub loads it with LoadImage; then
the LoaderInfo variables the stub set (StubPcrKernelParameters and friends only when all that feeds them was measured).
Takes the machine options of \`stubemu run\`: --load-options --vars --keys --time --max-instructions --cpu
--timeout --memory --esp --esp-writable --rng-seed --no-rng --initrd --gop --smbios-oem --secure-boot --pcr-banks.
  --json FILE   write { agree, lines, predicted, emulated, notes } to FILE
exit codes: 0 agree, 1 disagree (a readable diff is printed), 2 bad input, 3 guest fault, 4 budget
`;

export function verifyMain(argv: string[]): number {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(VERIFY_USAGE);
    return EXIT.ok;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...MACHINE_ARGS, json: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new BadInput('verify takes exactly one UKI');
  if (values['no-tpm']) throw new BadInput('verify compares TPM measurements; drop --no-tpm');
  const path = positionals[0];
  const machine = machineRunOptions(values, path);
  const banks = machine.pcrBanks ?? DEFAULT_PCR_BANKS;
  machine.pcrBanks = banks;
  let prediction;
  try {
    prediction = predictPcrs(machine.image, basename(path), {
      banks,
      loadOptions: machine.loadOptions,
      secureBoot: machine.secureBoot,
      smbiosOemStrings: machine.smbiosOemStrings,
      esp: machine.espDir !== undefined && machine.imagePath !== undefined
        ? { volume: new HostVolume(machine.espDir, { writable: false, overlay: false }), imagePath: machine.imagePath } : undefined,
    });
  } catch (e) {
    if (e instanceof PcrPredictError || e instanceof PeFormatError) throw new BadInput(e.message);
    throw e;
  }
  const run = runImage(machine);
  process.stderr.write(`${run.summary}\n`);
  if (run.exitCode === EXIT.fault || run.exitCode === EXIT.budget) return run.exitCode;
  const logged = loggedEventsOf(run.firmware.tcg2!.measuredBoot.events);
  const events = compareEvents(prediction.events, logged, prediction.scope);
  const vars = compareVariables(prediction.variables, loaderInfoVariablesSet(run.report.variableChanges as { guid: string; name: string }[]));
  const cmp = { agree: events.agree && vars.agree, lines: [...events.lines, ...vars.lines] };
  process.stdout.write(`${prediction.stub}: prediction (${prediction.rules}) against the emulated run\n`);
  for (const line of cmp.lines) process.stdout.write(`${line}\n`);
  for (const note of prediction.notes) process.stdout.write(`note: ${note}\n`);
  if (values.json !== undefined) {
    writeFileSync(values.json, reportJson({ agree: cmp.agree, lines: cmp.lines, predicted: prediction.pcrs, emulated: run.report.pcrs, notes: prediction.notes }));
  }
  return cmp.agree ? EXIT.ok : EXIT.imageError;
}
