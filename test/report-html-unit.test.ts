// The report page's parts without a browser: escaping, the PCR replay against a hand computation, a report with no
// trace/TPM/hand-off (a sample run), and the caller-to-image mapping the timeline and the diff use.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { reportJson } from '../src/report';
import { html } from '../src/report-html/html';
import { callerImage, RunReport } from '../src/report-html/model';
import { renderReportHtml } from '../src/report-html/page';
import { replayPcrs } from '../src/report-html/pcr-replay';

const HELLO = join(__dirname, '..', '..', 'samples', 'build', 'hello.efi');

test('report text is escaped, markup is not', (t) => {
  const name = '<script>alert("x")</script>&';
  t.is(html`<td>${name}</td>${html`<b>ok</b>`}`.text, '<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;</td><b>ok</b>');
});

test('PCR replay: extends from zeros (from ones for PCRs 17-22), EV_NO_ACTION not extended, mismatches flagged', (t) => {
  const d1 = createHash('sha256').update('one').digest();
  const d2 = createHash('sha256').update('two').digest();
  // Written out: PCR 8 = H(H(0^32 || d1) || d2).
  const step1 = createHash('sha256').update(Buffer.alloc(32)).update(d1).digest();
  const pcr8 = createHash('sha256').update(step1).update(d2).digest('hex');
  const pcr17 = createHash('sha256').update(Buffer.alloc(32, 0xff)).update(d1).digest('hex');
  const rows = replayPcrs(
    [
      { pcr: 0, type: 'EV_NO_ACTION', digests: { sha256: d2.toString('hex') } },
      { pcr: 8, type: 'EV_IPL', digests: { sha256: d1.toString('hex') } },
      { pcr: 8, type: 'EV_IPL', digests: { sha256: d2.toString('hex') } },
      { pcr: 17, type: 'EV_IPL', digests: { sha256: d1.toString('hex') } },
    ],
    { sha256: { 0: '00'.repeat(32), 8: pcr8, 17: '11'.repeat(32), 18: 'ff'.repeat(32) } },
  );
  t.deepEqual(rows.map((r) => [r.pcr, r.events, r.replayed, r.matches]), [[8, 2, pcr8, true], [17, 1, pcr17, false]]);
});

test('a run without --trace, TPM events of its own or a hand-off still renders, and says what is missing', (t) => {
  const r = runImage({ image: readFileSync(HELLO), imageName: 'hello <1>.efi', pcrBanks: null });
  const report = JSON.parse(reportJson(r.report)) as RunReport;
  const page = renderReportHtml(report);
  t.true(page.includes('id="no-trace"'));
  t.true(page.includes('No TPM in this run.'));
  t.true(page.includes('did not reach ExitBootServices'));
  t.true(page.includes('hello &lt;1&gt;.efi'));
  t.false(page.includes('hello <1>.efi'));
  t.is((page.match(/<tr><td><span class="legend">/g) ?? []).length, report.memoryMap!.length);
});

test('protocols asked for and not found get a table: name, GUID, misses and who asked', (t) => {
  const r = runImage({ image: readFileSync(HELLO), imageName: 'hello.efi', pcrBanks: null });
  const report = JSON.parse(reportJson(r.report)) as RunReport;
  report.missingProtocols = [{
    guid: '31a6406a-6bdf-4e46-b2a2-ebaa89c40920', name: 'EFI_HII_IMAGE_PROTOCOL', calls: 2, installed: false,
    callers: [{ service: 'BootServices.LocateProtocol', caller: 'hello.efi+0x1234', calls: 2 }],
  }];
  const page = renderReportHtml(report);
  t.true(page.includes('<table id="missing-protocols">'));
  t.true(page.includes('<td>EFI_HII_IMAGE_PROTOCOL</td><td class="mono">31a6406a-6bdf-4e46-b2a2-ebaa89c40920</td><td class="num">2</td><td>no</td><td class="mono">BootServices.LocateProtocol from hello.efi+0x1234 ×2</td>'));
  report.missingProtocols = [];
  t.false(renderReportHtml(report).includes('missing-protocols'));
});

test('callers map to the longest image name they start with', (t) => {
  const images = ['uki.efi', 'uki.efi:.linux'];
  t.is(callerImage('uki.efi+0x1324', images), 'uki.efi');
  t.is(callerImage('uki.efi:.linux+0xd78aaf', images), 'uki.efi:.linux');
  t.is(callerImage('0x3ffc0000', images), 'firmware');
});
