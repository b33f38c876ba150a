// The sampling profiler: aggregation, and a profiled run that sees the same machine as an unprofiled one.
import test from 'ava';
import { GuestProfile } from '../emulator/guest-profile';
import { reportJson } from '../src/report';
import { runCode } from './helpers/guest-code';

test('samples are aggregated per address and per region, most first, with shares', (t) => {
  const p = new GuestProfile(2);
  for (const [a, n] of [[0x1000n, 3], [0x1004n, 5], [0x9000n, 2]] as const) for (let i = 0; i < n; i++) p.sample(a);
  const r = p.report((a) => `img+0x${a.toString(16)}`, (a) => (a < 0x8000n ? 'img:.text' : 'outside images'));
  t.is(r.samples, 10);
  t.deepEqual(r.byRegion, [{ region: 'img:.text', samples: 8, share: 0.8 }, { region: 'outside images', samples: 2, share: 0.2 }]);
  t.deepEqual(r.topAddresses.map((x) => [x.at, x.samples]), [['img+0x1004', 5], ['img+0x1000', 3], ['img+0x9000', 2]]);
});

test('a profiled run samples a busy loop and reports the same run as without the profiler', (t) => {
  // A loop of 30M iterations calling a service (Stall would change the clock; use none): mov ecx, N; dec ecx; jnz; ret
  const code = [0xb9, 0x80, 0xc3, 0xc9, 0x01, 0xff, 0xc9, 0x75, 0xfc, 0x31, 0xc0, 0xc3];
  const plain = runCode(code);
  const profiled = runCode(code, { profileMs: 1 });
  t.is(plain.outcome.kind, 'returned');
  const p = profiled.report.profile as { samples: number; topAddresses: { at: string }[] };
  t.true(p.samples > 0);
  // The loop body (dec ecx / jnz at +5..+8 of the code) is where the samples fall.
  t.regex(p.topAddresses[0].at, /^code\.efi\+0x100[5-8]$/);
  const rest = { ...profiled.report };
  delete rest.profile;
  t.is(reportJson(rest), reportJson(plain.report));
});
