// Secure Boot end to end: keys and certificates made with openssl, images signed with sbsign, hashes from pesign;
// what runs, what is refused and with which status, and the EV_EFI_VARIABLE_AUTHORITY events of PCR 7, each
// checked against bytes the test builds itself.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { runImage, RunOptions } from '../src/api';
import { reportJson } from '../src/report';
import { SecureBoot, SecureBootKeys } from '../efi-services/security/secure-boot';
import { VariableStore } from '../efi-services/runtime/variable-store';
import { EFI_ACCESS_DENIED, EFI_INVALID_PARAMETER, EFI_SECURITY_VIOLATION, EFI_SUCCESS } from '../core/status';
import { ImageServices } from '../efi-services/boot/images';
import { CallInfo, ServiceFn } from '../core/abi';
import { FakePlatform } from './helpers/fake-platform';
import { signatureListsFromFile } from '../efi-services/security/key-files';
import { appendVariables, msKeysFromVarstore, readVarstore } from '../efi-services/security/ms-keys';
import { handMadeX509List, makeTestKeys, sbsign, TestKeys } from './helpers/secure-boot-keys';
import { pesignHash } from './helpers/tools';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const sample = (name: string) => join(ROOT, 'samples', 'build', `${name}.efi`);

/** Owner GUID 0b5e7f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b in wire form, for the hand-made db list. */
const OWNER = Buffer.from('3a7f5e0b2d1c5f4e8a9b0c1d2e3f4a5b', 'hex');

let keys: TestKeys;
let signedHello: string;
let signedImages: string;
let otherHello: string;
let leafHello: string;
let dbList: string;

test.before(() => {
  keys = makeTestKeys();
  signedHello = sbsign(keys, sample('hello'), keys.db, 'hello.db.efi');
  signedImages = sbsign(keys, sample('images'), keys.db, 'images.db.efi');
  otherHello = sbsign(keys, sample('hello'), keys.other, 'hello.other.efi');
  leafHello = sbsign(keys, sample('hello'), keys.leaf, 'hello.leaf.efi');
  dbList = join(keys.dir, 'db.esl');
  writeFileSync(dbList, handMadeX509List(keys.db.der, OWNER));
});

/** --pk PEM, --kek DER, --db as given (default: the hand-made .esl), --dbx as given, read as the CLI reads them. */
function keysFor(o: { db?: string[]; dbx?: string[] } = {}): SecureBootKeys {
  const read = (name: string, files: string[]) => Buffer.concat(files.map((f) => signatureListsFromFile(readFileSync(f), `${name} ${f}`)));
  return {
    lists: {
      PK: read('--pk', [keys.pk.crt]),
      KEK: read('--kek', [keys.kek.derFile]),
      db: read('--db', o.db ?? [dbList]),
      ...(o.dbx ? { dbx: read('--dbx', o.dbx) } : {}),
    },
    source: 'test',
  };
}

function run(file: string, extra: Partial<RunOptions> & { db?: string[]; dbx?: string[] } = {}) {
  const { db, dbx, ...rest } = extra;
  return runImage({ image: readFileSync(file), imageName: 'BOOTX64.EFI', secureBoot: true, secureBootKeys: keysFor({ db, dbx }), ...rest });
}

interface Ev { pcr: number; type: string; digests: Record<string, string> }
const events = (r: ReturnType<typeof run>) => (r.report.eventLog ?? []) as unknown as Ev[];

/** UEFI_VARIABLE_DATA for db with one EFI_SIGNATURE_DATA (PFP 1.05 §10.4.6), written out with raw offsets. */
function authorityEventData(owner: Buffer, der: Buffer): Buffer {
  const head = Buffer.alloc(32);
  Buffer.from('cbb219d73a3d9645a3bcdad00e67656f', 'hex').copy(head, 0); // EFI_IMAGE_SECURITY_DATABASE_GUID
  head.writeBigUInt64LE(2n, 16);
  head.writeBigUInt64LE(BigInt(16 + der.length), 24);
  return Buffer.concat([head, Buffer.from('db', 'utf16le'), owner, der]);
}

test('a db-signed image runs; PCR 7 gets the db certificate as EV_EFI_VARIABLE_AUTHORITY before the PCR 4 image event', (t) => {
  const r = run(signedHello);
  t.deepEqual(r.outcome, { kind: 'returned', status: 'EFI_SUCCESS', success: true });
  const sb = r.report.secureBoot!;
  t.is(sb.secureBoot, 1);
  t.is(sb.setupMode, 0);
  t.is(sb.images.length, 1);
  t.is(sb.images[0].decision, 'allowed');
  t.is(sb.images[0].authenticodeSha256, pesignHash(signedHello));
  t.is(sb.images[0].authority!.sha256, createHash('sha256').update(keys.db.der).digest('hex'));
  const ev = events(r);
  const authority = ev.filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY');
  t.is(authority.length, 1);
  t.is(authority[0].pcr, 7);
  t.is(authority[0].digests.sha256, createHash('sha256').update(authorityEventData(OWNER, keys.db.der)).digest('hex'));
  const order = ev.map((e) => e.type);
  t.true(order.indexOf('EV_EFI_VARIABLE_AUTHORITY') < order.indexOf('EV_EFI_BOOT_SERVICES_APPLICATION'));
  // The key variables carry NV+BS+RT+time-based authenticated write access, as edk2 stores them.
  const vars = r.report.variables as { name: string; attributes: string[]; data: string }[];
  for (const name of ['PK', 'KEK', 'db']) {
    t.deepEqual(vars.find((v) => v.name === name)!.attributes, ['NV', 'BS', 'RT', 'AT'], name); // 0x27
  }
  t.is(vars.find((v) => v.name === 'db')!.data, readFileSync(dbList).toString('hex'));
});

test('an unsigned image is refused with EFI_ACCESS_DENIED before it is loaded or measured (CLI: exit 1 and the reason)', (t) => {
  const r = run(sample('hello'));
  t.deepEqual(r.outcome, { kind: 'refused', status: 'EFI_ACCESS_DENIED', reason: 'the image is not signed and its hash is not in db' });
  t.is(r.exitCode, 1);
  t.deepEqual(r.report.images, []);
  t.false(events(r).some((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION' || e.type === 'EV_EFI_VARIABLE_AUTHORITY'));
  const c = spawnSync(process.execPath, [CLI, 'run', sample('hello'), '--secure-boot', '--pk', keys.pk.crt, '--db', keys.db.crt, '--quiet'], { encoding: 'utf8' });
  t.is(c.status, 1, c.stderr);
  t.regex(c.stderr + c.stdout, /refused by Secure Boot \(EFI_ACCESS_DENIED\): the image is not signed/);
});

test('reports with Secure Boot (allowed, refused) validate against the shipped JSON Schema', (t) => {
  const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema', 'report-v1.schema.json'), 'utf8')) as object);
  for (const r of [run(signedHello), run(sample('hello'))]) {
    t.true(validate(JSON.parse(reportJson(r.report))), JSON.stringify(validate.errors?.slice(0, 3)));
  }
});

test('a db-signed image whose Authenticode SHA-256 (pesign) is in dbx is refused', (t) => {
  const hashFile = join(keys.dir, 'hello.dbx-hash');
  writeFileSync(hashFile, `sha256:${pesignHash(signedHello)}\n`);
  const r = run(signedHello, { dbx: [hashFile] });
  t.is(r.outcome.kind, 'refused');
  t.is(flatStatus(r), 'EFI_ACCESS_DENIED');
  t.regex(r.report.secureBoot!.images[0].reason, /hash is in dbx/);
  // The same hash in db lets the unsigned image run (edk2: an unsigned image only by its hash in db).
  const unsignedHash = join(keys.dir, 'hello.db-hash');
  writeFileSync(unsignedHash, `sha256:${pesignHash(sample('hello'))}\n`);
  const ok = run(sample('hello'), { db: [dbList, unsignedHash] });
  t.is(ok.outcome.kind, 'returned');
  t.regex(ok.report.secureBoot!.images[0].reason, /not signed and its EFI_CERT_SHA256_GUID hash is in db/);
});

function flatStatus(r: ReturnType<typeof run>): string {
  return (r.outcome as { status: string }).status;
}

test('the signing certificate in dbx refuses the image even though db allows it', (t) => {
  const r = run(signedHello, { dbx: [keys.db.crt] });
  t.is(r.outcome.kind, 'refused');
  t.regex(r.report.secureBoot!.images[0].reason, /forbidden by a dbx certificate \(CN=stubemu test db\)/);
  t.false(events(r).some((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY'));
});

test('a signature by a key outside db is refused; a leaf issued by a CA in db is allowed through the chain', (t) => {
  const r = run(otherHello);
  t.is(r.outcome.kind, 'refused');
  t.regex(r.report.secureBoot!.images[0].reason, /no db certificate verifies the signature/);
  t.deepEqual(r.report.secureBoot!.images[0].signers, ['CN=stubemu test outsider']);
  const chain = run(leafHello, { db: [keys.ca.crt] });
  t.is(chain.outcome.kind, 'returned', JSON.stringify(chain.outcome));
  t.is(chain.report.secureBoot!.images[0].authority!.subject, 'CN=stubemu test CA');
  // A signature whose bytes were changed after signing does not verify.
  const tampered = readFileSync(signedHello);
  tampered[tampered.length - 300] ^= 0xff;
  const tamperedFile = join(keys.dir, 'hello.tampered.efi');
  writeFileSync(tamperedFile, tampered);
  t.is(run(tamperedFile).outcome.kind, 'refused');
});

test('LoadImage in the guest: an unsigned child is refused with EFI_ACCESS_DENIED, a signed one runs; one authority event for both images', (t) => {
  const esp = mkdtempSync(join(tmpdir(), 'stubemu-sb-esp-'));
  mkdirSync(join(esp, 'EFI', 'BOOT'), { recursive: true });
  mkdirSync(join(esp, 'EFI', 'stubemu'), { recursive: true });
  copyFileSync(signedImages, join(esp, 'EFI', 'BOOT', 'BOOTX64.EFI'));
  copyFileSync(sample('child'), join(esp, 'EFI', 'stubemu', 'child.efi'));
  const opts = { espDir: esp, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI' };
  const unsigned = run(join(esp, 'EFI', 'BOOT', 'BOOTX64.EFI'), opts);
  const decisions = unsigned.report.secureBoot!.images;
  const fromPath = decisions.find((d) => d.image.endsWith('\\EFI\\stubemu\\child.efi'))!;
  t.is(fromPath.decision, 'refused');
  t.is(fromPath.status, 'EFI_ACCESS_DENIED');
  // The embedded child is loaded from a buffer with no device path: unknown origin, refused as well.
  t.true(decisions.some((d) => d.image === '(no device path)' && d.status === 'EFI_ACCESS_DENIED'));
  t.regex(unsigned.report.console as string, /load-from-path/);

  copyFileSync(sbsign(keys, sample('child'), keys.db, 'child.db.efi'), join(esp, 'EFI', 'stubemu', 'child.efi'));
  const signed = run(join(esp, 'EFI', 'BOOT', 'BOOTX64.EFI'), opts);
  t.regex(signed.report.console as string, /exit-data-from-path "child exit data"/);
  t.is(signed.report.secureBoot!.images.find((d) => d.image.endsWith('child.efi'))!.decision, 'allowed');
  t.is(events(signed).filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY').length, 1);
});

test('keys without --secure-boot: enrolled (SetupMode 0) but SecureBoot 0, nothing verified; --secure-boot without keys only announces', (t) => {
  const off = runImage({ image: readFileSync(sample('hello')), imageName: 'hello.efi', secureBootKeys: keysFor() });
  t.is(off.outcome.kind, 'returned');
  t.like(off.report.secureBoot!, { secureBoot: 0, setupMode: 0, verification: false, images: [] });
  const announced = runImage({ image: readFileSync(sample('hello')), imageName: 'hello.efi', secureBoot: true });
  t.is(announced.outcome.kind, 'returned');
  t.like(announced.report.secureBoot!, { secureBoot: 1, setupMode: 0, verification: false });
});

test('--ms-keys: db holds the Microsoft UEFI CA 2011 and Windows Production PCA 2011 as enrolled in OVMF_VARS_4M.ms.fd', (t) => {
  const c = spawnSync(process.execPath, [CLI, 'run', sample('hello'), '--secure-boot', '--ms-keys', '--quiet', '--json', '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.is(c.status, 1, c.stderr);
  const report = JSON.parse(c.stdout) as { secureBoot: { keys: Record<string, { certificates: { sha256: string; subject: string }[] }> }; outcome: { kind: string } };
  t.is(report.outcome.kind, 'refused');
  // Certificate thumbprints Microsoft publishes for the two db certificates (SHA-256 of the DER).
  const db = report.secureBoot.keys.db.certificates.map((x) => x.sha256).sort();
  t.deepEqual(db, [
    '48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507', // Microsoft Corporation UEFI CA 2011
    'e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961', // Microsoft Windows Production PCA 2011
  ].sort());
  t.true(report.secureBoot.keys.KEK.certificates.some((x) => /Microsoft Corporation KEK CA 2011/.test(x.subject)));
});

test('bad key files are refused naming the option, the file and the problem', (t) => {
  const bad = join(keys.dir, 'bad.esl');
  writeFileSync(bad, Buffer.alloc(40, 0x11));
  const c = spawnSync(process.execPath, [CLI, 'run', sample('hello'), '--secure-boot', '--pk', keys.pk.crt, '--db', bad, '--quiet'], { encoding: 'utf8' });
  t.is(c.status, 2);
  t.regex(c.stderr, new RegExp(`--db ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EFI_SIGNATURE_LIST at offset 0 has SignatureListSize`));
  const two = join(keys.dir, 'two.pem');
  writeFileSync(two, Buffer.concat([readFileSync(keys.pk.crt), readFileSync(keys.kek.crt)]));
  const p = spawnSync(process.execPath, [CLI, 'run', sample('hello'), '--secure-boot', '--pk', two, '--quiet'], { encoding: 'utf8' });
  t.is(p.status, 2);
  t.regex(p.stderr, /--pk .*two\.pem: PK must be exactly one X\.509 certificate \(got 2 entries/);
});

test('OVMF varstore: the .ms.fd holds PK/KEK/db/dbx with NV+BS+RT+AT; an appended variable reads back; bad files name the problem', (t) => {
  const fd = readFileSync(join(ROOT, '.cache', 'fixtures', 'ovmf', 'OVMF_VARS_4M.ms.fd'));
  const vars = readVarstore(fd, 'ms.fd');
  for (const name of ['PK', 'KEK', 'db', 'dbx']) t.is(vars.find((v) => v.name === name)!.attributes, 0x27, name);
  // The db certificates are in the file byte for byte (the DER of each X.509 entry, found by searching the image).
  const keysFromFd = msKeysFromVarstore(fd, 'ms.fd');
  t.true(fd.includes(keysFromFd.lists.db!));
  const data = Buffer.from('stubemu test data');
  const more = appendVariables(fd, [{ guid: '605dab50-e046-4300-abb6-3dd810dd8b23', name: 'MokList', attributes: 3, data }], 'ms.fd');
  t.is(more.length, fd.length);
  const back = readVarstore(more, 'ms.fd').find((v) => v.name === 'MokList')!;
  t.deepEqual([back.attributes, back.data], [3, data]);
  // The record as VariableFormat.h lays it out: StartId 0x55AA, State VAR_ADDED, then name and data unpadded.
  const at = more.indexOf(Buffer.from('MokList\0', 'utf16le')) - 60;
  t.is(more.readUInt16LE(at), 0x55aa);
  t.is(more[at + 2], 0x3f);
  t.is(more.readUInt32LE(at + 36), 16);
  t.deepEqual(more.subarray(at + 60 + 16, at + 60 + 16 + data.length), data);
  t.throws(() => readVarstore(Buffer.alloc(4096), 'zero.fd'), { message: /^zero\.fd: no _FVH signature at offset 40/ });
  // PK's record marked deleted (State VAR_DELETED & VAR_ADDED = 0x3c): a varstore without keys.
  const noPk = Buffer.from(fd);
  const pkAt = noPk.indexOf(Buffer.from('PK\0', 'utf16le')) - 60;
  t.is(noPk.readUInt16LE(pkAt), 0x55aa);
  noPk[pkAt + 2] = 0x3c;
  t.throws(() => msKeysFromVarstore(noPk, 'no-pk.fd'), { message: /^no-pk\.fd: no PK variable/ });
});

// ---- Time-based authenticated writes (UEFI 2.10 §8.2.2), signed with openssl cms over the serialization ------------

const GLOBAL = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const IMAGE_DB = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f';
const GUID_BYTES: Record<string, Buffer> = {
  [GLOBAL]: Buffer.from('61dfe48bca93d211aa0d00e098032b8c', 'hex'),
  [IMAGE_DB]: Buffer.from('cbb219d73a3d9645a3bcdad00e67656f', 'hex'),
};
const AT_ATTRS = 0x27;

/** EFI_TIME for 2026-12-07 hh:00:00 (Pad1, Nanosecond, TimeZone, Daylight, Pad2 zero unless `nanosecond`). */
function efiTime(hour: number, nanosecond = 0): Buffer {
  const t = Buffer.alloc(16);
  t.writeUInt16LE(2026, 0);
  t[2] = 12; t[3] = 7; t[4] = hour;
  t.writeUInt32LE(nanosecond, 8);
  return t;
}

/**
 * EFI_VARIABLE_AUTHENTICATION_2 ‖ payload: `openssl cms -sign` (detached, DER ContentInfo; `noattr` leaves out the
 * signed attributes as sign-efi-sig-list does) over VariableName ‖ VendorGuid ‖ Attributes ‖ TimeStamp ‖ payload.
 */
function authWrite(name: string, guid: string, attributes: number, time: Buffer, payload: Buffer, signer: { key: string; crt: string }, noattr = true): Buffer {
  const attr = Buffer.alloc(4);
  attr.writeUInt32LE(attributes);
  const serial = Buffer.concat([Buffer.from(name, 'utf16le'), GUID_BYTES[guid], attr, time, payload]);
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-auth-'));
  writeFileSync(join(dir, 'in'), serial);
  execFileSync('openssl', ['cms', '-sign', '-binary', ...(noattr ? ['-noattr'] : []), '-md', 'sha256', '-signer', signer.crt, '-inkey', signer.key,
    '-in', join(dir, 'in'), '-outform', 'DER', '-out', join(dir, 'sig')]);
  const sig = readFileSync(join(dir, 'sig'));
  const win = Buffer.alloc(24);
  win.writeUInt32LE(24 + sig.length, 0);
  win.writeUInt16LE(0x0200, 4); // wRevision
  win.writeUInt16LE(0x0ef1, 6); // WIN_CERT_TYPE_EFI_GUID
  Buffer.from('9dd2af4adf68ee498aa9347d375665a7', 'hex').copy(win, 8); // EFI_CERT_TYPE_PKCS7_GUID
  return Buffer.concat([time, win, sig, payload]);
}

function keyStore(): { store: VariableStore; sb: SecureBoot } {
  const store = new VariableStore();
  const sb = new SecureBoot(store, { enabled: true, keys: keysFor() }, () => undefined);
  return { store, sb };
}

const value = (store: VariableStore, guid: string, name: string) => {
  const v = store.get(guid, name);
  return typeof v === 'bigint' ? undefined : v.data;
};

test('authenticated writes in user mode: db needs a KEK signature, KEK and PK the PK one; replays and tampering are refused', (t) => {
  const { store } = keyStore();
  const newDb = handMadeX509List(keys.other.der, OWNER);
  const byKek = authWrite('db', IMAGE_DB, AT_ATTRS, efiTime(10), newDb, keys.kek);
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS, byKek), EFI_SUCCESS, store.lastRejection);
  t.deepEqual(value(store, IMAGE_DB, 'db'), newDb);
  // The same write again: its TimeStamp is not later than the stored one.
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS, byKek), EFI_SECURITY_VIOLATION);
  t.regex(store.lastRejection!, /replay/);
  // Signed by the db key, or by PK: not a KEK certificate.
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS, authWrite('db', IMAGE_DB, AT_ATTRS, efiTime(11), newDb, keys.db)), EFI_SECURITY_VIOLATION);
  t.is(store.set(IMAGE_DB, 'dbx', AT_ATTRS, authWrite('dbx', IMAGE_DB, AT_ATTRS, efiTime(11), newDb, keys.pk)), EFI_SECURITY_VIOLATION);
  // The payload changed after signing.
  const tampered = authWrite('db', IMAGE_DB, AT_ATTRS, efiTime(12), newDb, keys.kek);
  tampered[tampered.length - 1] ^= 1;
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS, tampered), EFI_SECURITY_VIOLATION);
  // A TimeStamp with a Nanosecond is refused whatever the signature.
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS, authWrite('db', IMAGE_DB, AT_ATTRS, efiTime(13, 5), newDb, keys.kek)), EFI_SECURITY_VIOLATION);
  // Signed attributes (openssl cms default) verify as well; APPEND_WRITE adds to db.
  const extra = handMadeX509List(keys.ca.der, OWNER);
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS | 0x40, authWrite('db', IMAGE_DB, AT_ATTRS | 0x40, efiTime(14), extra, keys.kek, false)), EFI_SUCCESS, store.lastRejection);
  t.deepEqual(value(store, IMAGE_DB, 'db'), Buffer.concat([newDb, extra]));
  // KEK: PK signs, KEK does not.
  const newKek = handMadeX509List(keys.other.der, OWNER);
  t.is(store.set(GLOBAL, 'KEK', AT_ATTRS, authWrite('KEK', GLOBAL, AT_ATTRS, efiTime(10), newKek, keys.kek)), EFI_SECURITY_VIOLATION);
  t.is(store.set(GLOBAL, 'KEK', AT_ATTRS, authWrite('KEK', GLOBAL, AT_ATTRS, efiTime(10), newKek, keys.pk)), EFI_SUCCESS, store.lastRejection);
  // Without an EFI_VARIABLE_AUTHENTICATION_2 descriptor at all.
  t.is(store.set(GLOBAL, 'KEK', AT_ATTRS, newKek), EFI_SECURITY_VIOLATION);
});

test('deleting PK with a PK signature enters setup mode (SetupMode 1, SecureBoot 0), where key writes need no signature', (t) => {
  const { store, sb } = keyStore();
  t.true(sb.verifying);
  t.is(store.set(GLOBAL, 'PK', AT_ATTRS, authWrite('PK', GLOBAL, AT_ATTRS, efiTime(9), Buffer.alloc(0), keys.kek)), EFI_SECURITY_VIOLATION);
  t.is(store.set(GLOBAL, 'PK', AT_ATTRS, authWrite('PK', GLOBAL, AT_ATTRS, efiTime(9), Buffer.alloc(0), keys.pk)), EFI_SUCCESS, store.lastRejection);
  t.is(value(store, GLOBAL, 'PK'), undefined);
  t.deepEqual([value(store, GLOBAL, 'SetupMode')![0], value(store, GLOBAL, 'SecureBoot')![0]], [1, 0]);
  t.false(sb.verifying);
  // Setup mode: signed by a key nobody enrolled, still accepted (edk2 checks only the descriptor and the list).
  const newDb = handMadeX509List(keys.other.der, OWNER);
  t.is(store.set(IMAGE_DB, 'db', AT_ATTRS, authWrite('db', IMAGE_DB, AT_ATTRS, efiTime(1), newDb, keys.other)), EFI_SUCCESS, store.lastRejection);
  // A PK must be exactly one X.509 certificate; enrolling one returns to user mode with Secure Boot on.
  t.is(store.set(GLOBAL, 'PK', AT_ATTRS, authWrite('PK', GLOBAL, AT_ATTRS, efiTime(2), Buffer.concat([newDb, newDb]), keys.other)), EFI_INVALID_PARAMETER);
  t.is(store.set(GLOBAL, 'PK', AT_ATTRS, authWrite('PK', GLOBAL, AT_ATTRS, efiTime(2), handMadeX509List(keys.other.der, OWNER), keys.other)), EFI_SUCCESS);
  t.deepEqual([value(store, GLOBAL, 'SetupMode')![0], value(store, GLOBAL, 'SecureBoot')![0]], [0, 1]);
  t.true(sb.verifying);
});

test('a .auth file given as --db enrolls its payload', (t) => {
  const payload = handMadeX509List(keys.db.der, OWNER);
  const file = join(keys.dir, 'db.auth');
  writeFileSync(file, authWrite('db', IMAGE_DB, AT_ATTRS, efiTime(3), payload, keys.kek));
  t.deepEqual(signatureListsFromFile(readFileSync(file), `--db ${file}`), payload);
});

test('LoadImage refused with EFI_ACCESS_DENIED writes NULL to *ImageHandle (edk2 CoreLoadImageCommon); EFI_SECURITY_VIOLATION loads but StartImage refuses', (t) => {
  for (const verdict of [EFI_ACCESS_DENIED, EFI_SECURITY_VIOLATION]) {
    const p = new FakePlatform(32 << 20, 24 << 20);
    let next = 0x100000n;
    let handles = 0x1000n;
    const images = new ImageServices({
      platform: p,
      systemTable: () => 0n,
      allocatePages: (_type, pages) => { const a = next; next += pages * 0x1000n; return a; },
      freePages: () => undefined,
      handles: { install: (h) => (h === 0n ? (handles += 16n) : h), uninstallAll: () => undefined, protocol: () => undefined, locateDevicePath: () => undefined },
      scratch: { allocate: (n) => p.allocate(n), free: () => undefined },
      hooks: {},
      onGuestError: () => undefined,
      authenticate: () => verdict,
    });
    const parent = images.load(readFileSync(sample('hello')), { name: 'parent', parent: 0n, source: 'test' });
    const child = readFileSync(sample('child'));
    const buffer = 0x800000n;
    p.mem.write(buffer, child);
    const out = 0x7f0000n;
    p.mem.setU64(out, 0xdeadbeefn);
    const notes: string[] = [];
    const call = { name: 'BootServices.LoadImage', note: (m: string) => void notes.push(m) } as unknown as CallInfo;
    const svc = images.services() as Record<string, ServiceFn<'EFI_STATUS'>>;
    const status = svc.LoadImage([0n, parent.handle, 0n, buffer, BigInt(child.length), out], call);
    t.is(status, verdict);
    if (verdict === EFI_ACCESS_DENIED) {
      t.is(p.mem.u64(out), 0n);
      t.is(images.images.length, 1);
    } else {
      t.not(p.mem.u64(out), 0xdeadbeefn);
      t.is(svc.StartImage([p.mem.u64(out), 0n, 0n], call), EFI_SECURITY_VIOLATION);
    }
  }
});
