// Report v1 against its JSON Schema (schema/report-v1.schema.json, shipped in the package): the committed schema is
// what the types generate, real reports of every outcome kind validate, and broken reports do not.
import test from 'ava';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGenerator } from 'ts-json-schema-generator';
import { runImage } from '../src/api';
import { Report, reportJson } from '../src/report';
import { buildUki } from '../src/uki/build';
import { makeTestInitrd } from '../src/initrd/cpio';
import { fixture } from './helpers/fixtures';
import { le32, runCode } from './helpers/guest-code';
import { slotOffset } from '../core/abi';
import { EFI_RUNTIME_SERVICES } from '../efi-services/tables/runtime-services-decl';
import { ST } from '../efi-services/tables/system-table';

const ROOT = join(__dirname, '..', '..');
const SCHEMA_PATH = join(ROOT, 'schema', 'report-v1.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object;
// strict: unknown keywords or formats in the schema are errors too.
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** The report as a consumer reads it back from the JSON file. */
const asJson = (report: Report): unknown => JSON.parse(reportJson(report));

function problems(report: unknown): string {
  return validate(report) ? '' : JSON.stringify(validate.errors?.slice(0, 5), null, 1);
}

const sample = (name: string) => readFileSync(join(ROOT, 'samples', 'build', `${name}.efi`));

test('the committed schema is the one the Report type generates (npm run schema)', (t) => {
  t.timeout(300_000); // the generator type-checks the program: ~25 s alone, over a minute on a busy machine
  const generated = createGenerator({
    path: join(ROOT, 'src', 'report-v1.ts'),
    type: 'Report',
    tsconfig: join(ROOT, 'tsconfig.json'),
    schemaId: 'urn:stubemu:report:v1',
  }).createSchema('Report');
  t.deepEqual(JSON.parse(JSON.stringify(generated)), schema);
});

test('sample reports validate, with and without --trace', (t) => {
  for (const name of ['hello', 'memory', 'child', 'variables']) {
    for (const trace of [false, true]) {
      const r = runImage({ image: sample(name), imageName: `${name}.efi`, trace, memoryBytes: 256 << 20 });
      const json = asJson(r.report);
      t.is(problems(json), '', `${name} trace=${trace}`);
      // runImage's object is exactly the JSON: nothing is lost or changed by writing it out.
      t.deepEqual(r.report, json);
    }
  }
});

test('fault, budget (instructions, time) and reset reports validate', (t) => {
  const fault = runCode([0x0f, 0x0b]); // ud2
  t.is(fault.outcome.kind, 'fault');
  t.truthy(fault.report.fault);
  t.is(problems(asJson(fault.report)), '');
  const budget = runCode([0xeb, 0xfe], { maxInstructions: 1_000_000 }); // jmp $
  t.like(budget.outcome, { kind: 'budget', which: 'instructions' });
  t.is(problems(asJson(budget.report)), '');
  const time = runCode([0xeb, 0xfe], { timeoutSeconds: 0.5 }); // jmp $ until the wall-clock budget ends it
  t.like(time.outcome, { kind: 'budget', which: 'time' });
  t.is(problems(asJson(time.report)), '');
  // sub rsp, 0x28; mov rax, [rdx+RuntimeServices]; mov rax, [rax+ResetSystem]; ResetSystem(EfiResetCold, 0, 0, NULL)
  const reset = runCode([0x48, 0x83, 0xec, 0x28, 0x48, 0x8b, 0x82, ...le32(ST.RuntimeServices), 0x48, 0x8b, 0x80,
    ...le32(slotOffset(EFI_RUNTIME_SERVICES, 'ResetSystem')), 0x31, 0xc9, 0x31, 0xd2, 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9, 0xff, 0xd0]);
  t.like(reset.outcome, { kind: 'reset', status: 'EFI_SUCCESS' });
  t.is(problems(asJson(reset.report)), '');
  const noTpm = runImage({ image: sample('hello'), imageName: 'hello.efi', pcrBanks: null, memoryBytes: 256 << 20 });
  t.is(noTpm.report.eventLog, undefined);
  t.is(problems(asJson(noTpm.report)), '');
});

test('a Debian UKI run to ExitBootServices validates (hand-off, event log, sections)', (t) => {
  t.timeout(300_000);
  const image = buildUki({
    stub: fixture('stub-252', 'linuxx64.efi.stub'),
    stubName: 'linuxx64.efi.stub',
    linux: fixture('kernel-6.1-cloud', 'vmlinuz'),
    linuxName: 'vmlinuz',
    initrds: [{ name: 'initrd', data: makeTestInitrd() }],
    osRelease: Buffer.from('ID=debian\nVERSION_ID=12\n'),
  }).image;
  const r = runImage({ image, imageName: 'uki.efi' });
  t.is(r.outcome.kind, 'exit-boot-services');
  t.truthy(r.report.handoff?.bootParams);
  t.true((r.report.eventLog?.length ?? 0) > 0);
  t.is(problems(asJson(r.report)), '');
});

test('the schema rejects a wrong type, a missing key, an unknown key, a bad hex value and a wrong outcome', (t) => {
  const good = asJson(runImage({ image: sample('hello'), imageName: 'hello.efi', memoryBytes: 256 << 20 }).report) as Record<string, any>;
  t.is(problems(good), '');
  const broken = (change: (r: Record<string, any>) => void): unknown => {
    const r = structuredClone(good);
    change(r);
    return r;
  };
  t.false(validate(broken((r) => (r.image.size = String(r.image.size)))), 'image.size as a string');
  t.false(validate(broken((r) => delete r.console)), 'console missing');
  t.false(validate(broken((r) => delete r.images[0].fileSha256)), 'images[0].fileSha256 missing');
  t.false(validate(broken((r) => (r.calls.extra = 1))), 'an unknown key in calls');
  t.false(validate(broken((r) => (r.images[0].base = '4096'))), 'a hex field without 0x');
  t.false(validate(broken((r) => (r.stubemu.reportVersion = 2))), 'another report version');
  t.false(validate(broken((r) => (r.outcome = { kind: 'returned', status: 'EFI_SUCCESS' }))), 'returned without success');
  t.false(validate(broken((r) => (r.outcome = { kind: 'budget', which: 'time', message: 'x' }))), 'time budget without limit and rip');
  t.false(validate(broken((r) => (r.mapKey = null))), 'mapKey null');
});
