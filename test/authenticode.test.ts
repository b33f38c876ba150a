// Authenticode digests of real and built PE files, checked against an independent computation, pesign, the digest
// sbsign embeds in a signature. What OVMF measures for the same images is checked live by test/conformance.test.ts.
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticodeError, authenticodeDigest, authenticodeDigests, authenticodeLayout } from '../efi-services/tcg/authenticode';
import { fixture, FixtureId, fixturePath } from './helpers/fixtures';
import { pesignHash, tool } from './helpers/tools';
import { buildPe, OPT, SECTION_HEADER_SIZE } from './helpers/pe-builder';

/**
 * The steps of the Authenticode hash written out once more with raw offsets (PE32+ only, as the fixtures are):
 * headers without CheckSum and the Certificate Table entry, sections by PointerToRawData, then the file's tail
 * less the certificate table.
 */
function independentDigest(f: Buffer, algorithm: string): string {
  const pe = f.readUInt32LE(0x3c);
  const sections = f.readUInt16LE(pe + 6);
  const opt = pe + 24;
  const table = opt + f.readUInt16LE(pe + 20);
  const sizeOfHeaders = f.readUInt32LE(opt + 60);
  const checksum = opt + 64;
  const certEntry = opt + 112 + 8 * 4;
  const h = createHash(algorithm);
  h.update(f.subarray(0, checksum));
  h.update(f.subarray(checksum + 4, certEntry));
  h.update(f.subarray(certEntry + 8, sizeOfHeaders));
  const raw = [];
  for (let i = 0; i < sections; i++) {
    const s = table + 40 * i;
    raw.push({ size: f.readUInt32LE(s + 16), at: f.readUInt32LE(s + 20) });
  }
  raw.sort((a, b) => a.at - b.at);
  let hashed = sizeOfHeaders;
  for (const s of raw) {
    h.update(f.subarray(s.at, s.at + s.size));
    hashed += s.size;
  }
  const certSize = f.readUInt32LE(certEntry + 4);
  if (f.length > hashed + certSize) h.update(f.subarray(hashed, f.length - certSize));
  return h.digest('hex');
}

const PE_FIXTURES: [FixtureId, string][] = [
  ...(['stub-252', 'stub-254', 'stub-257', 'stub-262'] as const).flatMap((id): [FixtureId, string][] => [[id, 'linuxx64.efi.stub'], [id, 'systemd-bootx64.efi']]),
  ...(['kernel-6.1-cloud', 'kernel-6.1', 'kernel-6.12-cloud', 'kernel-7-cloud'] as const).map((id): [FixtureId, string] => [id, 'vmlinuz']),
];

for (const [id, name] of PE_FIXTURES) {
  test(`${id} ${name}: digest equals an independent computation and pesign`, (t) => {
    const file = fixture(id, name);
    for (const algorithm of ['sha256', 'sha1'] as const) {
      const ours = authenticodeDigest(file, algorithm).toString('hex');
      t.is(ours, independentDigest(file, algorithm), algorithm);
      t.is(ours, pesignHash(fixturePath(id, name), algorithm), `pesign ${algorithm}`);
    }
    const perBank = authenticodeDigests(file, ['sha384', 'sha512']);
    t.is(perBank.sha384!.toString('hex'), independentDigest(file, 'sha384'));
    t.is(perBank.sha512!.toString('hex'), authenticodeDigest(file, 'sha512').toString('hex'));
  });
}

test('a signed image: the certificate table is left out and the digest is the one sbsign signed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-authenticode-'));
  try {
    const [key, cert, signed] = ['key.pem', 'cert.pem', 'signed.efi'].map((n) => join(dir, n));
    execFileSync(tool('openssl'), ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=stubemu test', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    execFileSync(tool('sbsign'), ['--key', key, '--cert', cert, '--output', signed, fixturePath('stub-252', 'linuxx64.efi.stub')], { stdio: 'ignore' });
    const file = readFileSync(signed);
    const layout = authenticodeLayout(file);
    t.truthy(layout.certificateTable);
    const { offset, length } = layout.certificateTable!;
    t.is(offset + length, file.length);
    t.false(layout.regions.some((r) => r.offset + r.length > offset));
    const digest = authenticodeDigest(file);
    // The PKCS#7 SignedData carries the image digest in its SpcIndirectDataContent.
    const found = file.subarray(offset, offset + length).indexOf(digest);
    t.true(found >= 0, 'digest not found in the signature');
    t.is(digest.toString('hex'), independentDigest(file, 'sha256'));
    t.is(digest.toString('hex'), pesignHash(signed, 'sha256'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function built() {
  return buildPe({
    sections: [
      { name: '.text', data: Buffer.alloc(0x300, 0x90) },
      { name: '.data', data: Buffer.from('some data') },
      { name: '.sbat', data: Buffer.from('sbat,1\n') },
    ],
    certificate: Buffer.from('pretend PKCS#7 WIN_CERTIFICATE'),
  });
}

test('CheckSum, the certificate entry and the certificate table are not hashed; everything else is', (t) => {
  const pe = built();
  const base = authenticodeDigest(pe.file).toString('hex');
  t.is(base, independentDigest(pe.file, 'sha256'));
  const patched = (patch: (f: Buffer) => void) => {
    const f = Buffer.from(pe.file);
    patch(f);
    return authenticodeDigest(f).toString('hex');
  };
  t.is(patched((f) => f.writeUInt32LE(0x12345678, pe.optOffset + OPT.CheckSum)), base);
  t.is(patched((f) => f.fill(0xee, pe.certificateOffset!)), base);
  t.is(patched((f) => f.writeUInt32LE(0x1000, pe.dataDirOffset + 8 * 4)), base, 'certificate entry VirtualAddress');
  t.not(patched((f) => f[pe.sections[1].pointerToRawData] ^= 1), base);
  t.not(patched((f) => f.writeUInt32LE(0x1234, pe.optOffset + OPT.AddressOfEntryPoint)), base);
  // Section headers listed out of file order are still hashed in PointerToRawData order: for a file whose sections
  // follow each other, that is the whole file less the excluded fields.
  const swapped = Buffer.from(pe.file);
  const a = pe.sectionTableOffset;
  const b = a + SECTION_HEADER_SIZE;
  const first = Buffer.from(swapped.subarray(a, b));
  swapped.copy(swapped, a, b, b + SECTION_HEADER_SIZE);
  first.copy(swapped, b);
  const checksum = pe.optOffset + OPT.CheckSum;
  const certEntry = pe.dataDirOffset + 8 * 4;
  const wholeFile = createHash('sha256')
    .update(swapped.subarray(0, checksum))
    .update(swapped.subarray(checksum + 4, certEntry))
    .update(swapped.subarray(certEntry + 8, pe.certificateOffset!))
    .digest('hex');
  t.is(authenticodeDigest(swapped).toString('hex'), wholeFile);
});

test('data after the last section is hashed up to the certificate table', (t) => {
  const pe = buildPe({ sections: [{ name: '.text', data: Buffer.alloc(0x200, 1) }] });
  const withTail = Buffer.concat([pe.file, Buffer.from('appended')]);
  const layout = authenticodeLayout(withTail);
  t.deepEqual(layout.regions[layout.regions.length - 1], { offset: pe.file.length, length: 8 });
  t.not(authenticodeDigest(withTail).toString('hex'), authenticodeDigest(pe.file).toString('hex'));
  t.is(authenticodeDigest(withTail).toString('hex'), independentDigest(withTail, 'sha256'));
});

test('malformed files raise AuthenticodeError', (t) => {
  const pe = built();
  t.throws(() => authenticodeLayout(pe.file.subarray(0, 0x90)), { instanceOf: AuthenticodeError });
  const noSig = Buffer.from(pe.file);
  noSig.write('XX', pe.peOffset, 'latin1');
  t.throws(() => authenticodeLayout(noSig), { message: /no PE signature/ });
  const bigCert = Buffer.from(pe.file);
  bigCert.writeUInt32LE(0x100000, pe.dataDirOffset + 8 * 4 + 4);
  t.throws(() => authenticodeLayout(bigCert), { message: /certificate table/ });
  const pastEnd = Buffer.from(pe.file);
  pastEnd.writeUInt32LE(0x7fff0000, pe.sectionTableOffset + 20);
  t.throws(() => authenticodeLayout(pastEnd), { message: /section data/ });
  const magic = Buffer.from(pe.file);
  magic.writeUInt16LE(0x107, pe.optOffset);
  t.throws(() => authenticodeLayout(magic), { message: /Magic/ });
});
