// Keys, certificates and signed images made at test time with openssl and sbsign (nothing stored, nothing taken
// from stubemu): a PK, a KEK, a db certificate, a CA in db with a leaf it issued, and a key outside every database.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from './tools';

export interface TestKey {
  key: string;
  /** PEM certificate file. */
  crt: string;
  /** DER file and bytes, from `openssl x509 -outform DER`. */
  derFile: string;
  der: Buffer;
}

export interface TestKeys {
  dir: string;
  pk: TestKey;
  kek: TestKey;
  db: TestKey;
  ca: TestKey;
  leaf: TestKey;
  other: TestKey;
}

function openssl(args: string[]): void {
  execFileSync(tool('openssl'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function finish(dir: string, name: string): TestKey {
  const crt = join(dir, `${name}.crt`);
  const derFile = join(dir, `${name}.der`);
  openssl(['x509', '-in', crt, '-outform', 'DER', '-out', derFile]);
  return { key: join(dir, `${name}.key`), crt, derFile, der: readFileSync(derFile) };
}

function selfSigned(dir: string, name: string, cn: string): TestKey {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650', '-subj', `/CN=${cn}/`,
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)]);
  return finish(dir, name);
}

export function makeTestKeys(): TestKeys {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-sb-'));
  const ca = selfSigned(dir, 'ca', 'stubemu test CA');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=stubemu test leaf/', '-keyout', join(dir, 'leaf.key'), '-out', join(dir, 'leaf.csr')]);
  writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=codeSigning\n');
  openssl(['x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-sha256', '-days', '3650',
    '-extfile', join(dir, 'leaf.ext'), '-out', join(dir, 'leaf.crt')]);
  return {
    dir, ca, leaf: finish(dir, 'leaf'),
    pk: selfSigned(dir, 'pk', 'stubemu test PK'),
    kek: selfSigned(dir, 'kek', 'stubemu test KEK'),
    db: selfSigned(dir, 'db', 'stubemu test db'),
    other: selfSigned(dir, 'other', 'stubemu test outsider'),
  };
}

/** sbsign's signature of `input` with `k`, written next to the keys; returns the path. */
export function sbsign(keys: TestKeys, input: string, k: TestKey, name: string): string {
  const out = join(keys.dir, name);
  execFileSync(tool('sbsign'), ['--key', k.key, '--cert', k.crt, '--output', out, input], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/** An EFI_SIGNATURE_LIST of one X.509 certificate, laid out by hand (UEFI 2.10 §32.4.1), with `owner` as raw GUID bytes. */
export function handMadeX509List(der: Buffer, owner: Buffer): Buffer {
  const head = Buffer.alloc(28);
  // EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072 in its mixed-endian wire form.
  Buffer.from('a159c0a5e494a74a87b5ab155c2bf072', 'hex').copy(head, 0);
  head.writeUInt32LE(28 + 16 + der.length, 16);
  head.writeUInt32LE(0, 20);
  head.writeUInt32LE(16 + der.length, 24);
  return Buffer.concat([head, owner, der]);
}
