// Real kernels on Unicorn 2.1.1 without an instruction count: a profiled run (RIP sampled while the guest runs)
// computes what a plain run computes, on the generic kernel (XZ payload) and a ZSTD one. Unicorn 2.0.1 with stopped
// and resumed slices failed exactly here ("XZ-compressed data is corrupt", "ZSTD-compressed data is corrupt").
import test from 'ava';
import { runImage } from '../src/api';
import { makeTestInitrd } from '../src/initrd/cpio';
import { reportJson } from '../src/report';
import { fixture, FixtureId } from './helpers/fixtures';

for (const id of ['kernel-6.1', 'kernel-6.12-cloud'] as FixtureId[]) {
  test(`${id}: reaches ExitBootServices, and a --profile run gives the same report apart from "profile"`, (t) => {
    const image = fixture(id, 'vmlinuz');
    const o = { image, imageName: 'vmlinuz', loadOptions: 'console=ttyS0', initrds: [makeTestInitrd()], timeoutSeconds: 300 };
    const plain = runImage(o);
    t.is(plain.outcome.kind, 'exit-boot-services', plain.summary);
    const profiled = runImage({ ...o, profileMs: 2 });
    const p = profiled.report.profile as { samples: number };
    t.true(p.samples > 0);
    const rest = { ...profiled.report };
    delete rest.profile;
    t.is(reportJson(rest), reportJson(plain.report));
  });
}
