// Debian's Secure Boot chain under the Microsoft keys (--ms-keys): the firmware verifies shim (shim-signed) against
// the Microsoft UEFI CA 2011 in db, shim verifies GRUB (grub-efi-amd64-signed) against the Debian CA built into it,
// and GRUB has shim verify the kernel through the shim_lock protocol. The signed kernel (linux-image-*-cloud-amd64,
// the same build as the unsigned fixture) reaches ExitBootServices; the unsigned one is refused by GRUB.
// Expected bytes come from the inputs, not from stubemu: the Microsoft certificate found in OVMF_VARS_4M.ms.fd by
// its published thumbprint, the vendor certificate out of shim's .vendor_cert section (objcopy), signatures checked
// with sbverify, Authenticode digests from pesign.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../src/api';
import { reportJson } from '../src/report';
import { debianMsKeys } from '../src/ms-keys-fixture';
import { fixture, fixturePath } from './helpers/fixtures';
import { pesignHash, tool } from './helpers/tools';

const ROOT = join(__dirname, '..', '..');

/** SHA-256 thumbprint Microsoft publishes for "Microsoft Corporation UEFI CA 2011". */
const MS_UEFI_CA_2011 = '48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507';
/** EFI_IMAGE_SECURITY_DATABASE_GUID d719b2cb-3d3a-4596-a3bc-dad00e67656f and SHIM_LOCK_GUID 605dab50-e046-4300-abb6-3dd810dd8b23, wire form. */
const IMAGE_SECURITY_DATABASE = Buffer.from('cbb219d73a3d9645a3bcdad00e67656f', 'hex');
const SHIM_LOCK = Buffer.from('50ab5d6046e00043abb63dd810dd8b23', 'hex');

/** UEFI_VARIABLE_DATA (TCG PC Client PFP §10.4.6): GUID, name length in characters, data length, name, data. */
function variableData(guid: Buffer, name: string, data: Buffer): Buffer {
  const head = Buffer.alloc(32);
  guid.copy(head, 0);
  head.writeBigUInt64LE(BigInt(name.length), 16);
  head.writeBigUInt64LE(BigInt(data.length), 24);
  return Buffer.concat([head, Buffer.from(name, 'utf16le'), data]);
}
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The Microsoft UEFI CA 2011 db entry of OVMF_VARS_4M.ms.fd: the DER with the thumbprint and the owner GUID before it. */
function microsoftDbEntry(): { owner: Buffer; der: Buffer } {
  const fd = readFileSync(join(ROOT, '.cache', 'fixtures', 'ovmf', 'OVMF_VARS_4M.ms.fd'));
  for (let i = 16; i + 4 < fd.length; i++) {
    if (fd[i] !== 0x30 || fd[i + 1] !== 0x82) continue;
    const der = fd.subarray(i, i + 4 + fd.readUInt16BE(i + 2));
    if (sha256(der) === MS_UEFI_CA_2011) return { owner: fd.subarray(i - 16, i), der };
  }
  throw new Error('OVMF_VARS_4M.ms.fd has no certificate with the thumbprint of the Microsoft UEFI CA 2011');
}

/** objcopy's copy of one PE section. */
function section(file: string, name: string, dir: string): Buffer {
  const out = join(dir, `section${name}`);
  execFileSync(tool('objcopy'), ['-O', 'binary', `--only-section=${name}`, file, out]);
  return readFileSync(out);
}

/** shim's vendor certificate: .vendor_cert is {authorized size, deauthorized size, authorized offset, deauthorized offset} then the data. */
function shimVendorCert(shim: string, dir: string): Buffer {
  const s = section(shim, '.vendor_cert', dir);
  return s.subarray(s.readUInt32LE(8), s.readUInt32LE(8) + s.readUInt32LE(0));
}

/** shim's "previous" SBAT level, the string its .sbatlevel section points at first (shim's default policy). */
function shimPreviousSbatLevel(shim: string, dir: string): Buffer {
  const s = section(shim, '.sbatlevel', dir);
  const at = 4 + s.readUInt32LE(4);
  return s.subarray(at, s.indexOf(0, at));
}

function sbverify(cert: string, file: string): boolean {
  return spawnSync(tool('sbverify'), ['--cert', cert, file], { encoding: 'utf8' }).status === 0;
}

interface Ev { pcr: number; type: string; digests: Record<string, string>; data?: { devicePath?: string; text?: string } }

function chain(kernel: Buffer, args: string, initrd: Buffer) {
  const dir = mkdtempSync(join(tmpdir(), 'stubemu-sb-chain-'));
  try {
    mkdirSync(join(dir, 'EFI', 'BOOT'), { recursive: true });
    mkdirSync(join(dir, 'boot'));
    writeFileSync(join(dir, 'EFI', 'BOOT', 'BOOTX64.EFI'), fixture('shim', 'shimx64.efi'));
    writeFileSync(join(dir, 'EFI', 'BOOT', 'grubx64.efi'), fixture('grub-signed', 'grubx64.efi'));
    writeFileSync(join(dir, 'boot', 'vmlinuz'), kernel);
    writeFileSync(join(dir, 'boot', 'initrd.img'), initrd);
    // After a refused `boot` GRUB carries on with the script: `halt` ends the run with ResetSystem.
    writeFileSync(join(dir, 'EFI', 'BOOT', 'grub.cfg'),
      `set timeout=0\nlinux /boot/vmlinuz ${args}\ninitrd /boot/initrd.img\nboot\necho 'stubemu: boot returned'\nhalt\n`);
    return runImage({
      image: fixture('shim', 'shimx64.efi'), imageName: 'BOOTX64.EFI', espDir: dir, imagePath: '\\EFI\\BOOT\\BOOTX64.EFI',
      secureBoot: true, secureBootKeys: debianMsKeys(), timeoutSeconds: 240,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let work: string;
let vendorPem: string;
let vendorDer: Buffer;
let sbatLevel: Buffer;

test.before(() => {
  work = mkdtempSync(join(tmpdir(), 'stubemu-sb-inputs-'));
  const shim = fixturePath('shim', 'shimx64.efi');
  vendorDer = shimVendorCert(shim, work);
  vendorPem = join(work, 'vendor.pem');
  writeFileSync(vendorPem, new X509Certificate(vendorDer).toString());
  sbatLevel = shimPreviousSbatLevel(shim, work);
  const ms = join(work, 'ms-uefi-ca-2011.pem');
  writeFileSync(ms, new X509Certificate(microsoftDbEntry().der).toString());
  // The inputs are what the test says they are: shim signed under the Microsoft CA, GRUB and the signed kernel
  // under shim's vendor certificate, the unsigned kernel not.
  if (!sbverify(ms, shim)) throw new Error('sbverify: shimx64.efi does not verify against the Microsoft UEFI CA 2011');
  for (const f of [fixturePath('grub-signed', 'grubx64.efi'), fixturePath('kernel-6.1-cloud-signed', 'vmlinuz')]) {
    if (!sbverify(vendorPem, f)) throw new Error(`sbverify: ${f} does not verify against shim's vendor certificate`);
  }
  if (sbverify(vendorPem, fixturePath('kernel-6.1-cloud', 'vmlinuz'))) throw new Error('the unsigned kernel verifies against the vendor certificate');
});

test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('Secure Boot (--ms-keys): shim → GRUB → signed kernel + initrd to ExitBootServices; PCR 7 holds the db entry for shim and shim\'s own authorities', (t) => {
  const kernel = fixture('kernel-6.1-cloud-signed', 'vmlinuz');
  const initrd = createHash('sha512').update('stubemu secure boot chain initrd').digest();
  const args = 'console=ttyS0 stubemu.chain=shim-grub-sb';
  const r = chain(kernel, args, initrd);
  t.is(r.outcome.kind, 'exit-boot-services', JSON.stringify(r.outcome));
  t.is(r.report.handoff?.cmdline, `BOOT_IMAGE=/boot/vmlinuz ${args}`);
  t.is(r.report.handoff?.initrd?.sha256, sha256(initrd));
  // The kernel's EFI stub read SecureBoot = 1 from the firmware.
  t.true(r.report.console.includes('EFI stub: UEFI Secure Boot is enabled.'), r.report.console);

  // The firmware verified shim: the db entry that allowed it is the Microsoft UEFI CA 2011.
  const sb = r.report.secureBoot!;
  t.is(sb.images.length, 1);
  t.is(sb.images[0].decision, 'allowed');
  t.is(sb.images[0].authenticodeSha256, pesignHash(fixturePath('shim', 'shimx64.efi')));

  const ev = (r.report.eventLog ?? []) as unknown as Ev[];
  const authorities = ev.filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY');
  t.true(authorities.every((e) => e.pcr === 7));
  const ms = microsoftDbEntry();
  const expected = [
    // the firmware's, for shim: db's EFI_SIGNATURE_DATA (owner ‖ certificate)
    variableData(IMAGE_SECURITY_DATABASE, 'db', Buffer.concat([ms.owner, ms.der])),
    // shim's: the SBAT level it applied, then the MokListRT entry (its vendor certificate under SHIM_LOCK_GUID) that
    // verified GRUB and then the kernel; shim logs each distinct variable entry once.
    variableData(SHIM_LOCK, 'SbatLevel', sbatLevel),
    variableData(SHIM_LOCK, 'MokListRT', Buffer.concat([SHIM_LOCK, vendorDer])),
  ];
  t.deepEqual(authorities.map((e) => e.digests.sha256), expected.map(sha256));

  // PCR 4: shim, GRUB, the kernel, each with its Authenticode digest (pesign); shim logs the image it verifies for
  // GRUB's shim_lock call without a device path. Each authority comes before the image it allowed.
  const apps = ev.filter((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION');
  t.deepEqual(apps.map((e) => e.digests.sha256), [
    pesignHash(fixturePath('shim', 'shimx64.efi')),
    pesignHash(fixturePath('grub-signed', 'grubx64.efi')),
    pesignHash(fixturePath('kernel-6.1-cloud-signed', 'vmlinuz')),
  ]);
  // The report reads shim's SbatLevel as its text, and the kernel's event as having no device path.
  t.is((authorities[1].data as { sbatLevel?: string }).sbatLevel, sbatLevel.toString('latin1'));
  t.is(apps[2].data?.devicePath, '');
  t.true(ev.indexOf(authorities[0]) < ev.indexOf(apps[0]));
  t.true(ev.indexOf(authorities[2]) < ev.indexOf(apps[1]));
  // Deterministic under Secure Boot too: a second run gives the same report byte for byte.
  t.is(reportJson(chain(kernel, args, initrd).report), reportJson(r.report));
});

test('Secure Boot (--ms-keys): shim → GRUB → the unsigned kernel is refused by shim_lock; GRUB says so and goes on with grub.cfg', (t) => {
  const kernel = fixture('kernel-6.1-cloud', 'vmlinuz');
  const r = chain(kernel, 'console=ttyS0', Buffer.from('initrd'));
  // grub.cfg's `halt` after the failed `boot`.
  t.is(r.outcome.kind, 'reset', JSON.stringify(r.outcome));
  t.is(r.report.handoff, undefined);
  const lines = r.report.console.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l !== '');
  // GRUB's linux command fails on shim's verdict, and initrd and boot then have no kernel.
  t.deepEqual(lines, [
    'error: bad shim signature.',
    'error: you need to load the kernel first.',
    'error: you need to load the kernel first.',
    'stubemu: boot returned',
  ]);
  // shim logs the image GRUB hands to shim_lock before verifying it, so the unsigned kernel is in PCR 4; no
  // authority allowed it: PCR 7 has only the entries for shim and GRUB.
  const ev = (r.report.eventLog ?? []) as unknown as Ev[];
  const apps = ev.filter((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION').map((e) => e.digests.sha256);
  t.deepEqual(apps, [
    pesignHash(fixturePath('shim', 'shimx64.efi')),
    pesignHash(fixturePath('grub-signed', 'grubx64.efi')),
    pesignHash(fixturePath('kernel-6.1-cloud', 'vmlinuz')),
  ]);
  const ms = microsoftDbEntry();
  t.deepEqual(ev.filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY').map((e) => e.digests.sha256), [
    variableData(IMAGE_SECURITY_DATABASE, 'db', Buffer.concat([ms.owner, ms.der])),
    variableData(SHIM_LOCK, 'SbatLevel', sbatLevel),
    variableData(SHIM_LOCK, 'MokListRT', Buffer.concat([SHIM_LOCK, vendorDer])),
  ].map(sha256));
});
