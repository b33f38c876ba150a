// Finding an image a guest placed with its own PE loader (efi-services/boot/guest-loaded-images.ts), on guest memory
// without a CPU: the sample hello.efi is laid out by hand here, section by section, at a page in RAM.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findGuestLoadedImage } from '../efi-services/boot/guest-loaded-images';
import { GuestMemory } from '../core/guest-memory';

const FILE = readFileSync(join(resolve(__dirname, '../..'), 'samples/build/hello.efi'));
const BASE = 0x200000n;

/** The section table read directly (PE/COFF §3, §4). */
function sections(file: Buffer): { name: string; va: number; vsize: number; raw: number; rawSize: number; flags: number }[] {
  const pe = file.readUInt32LE(0x3c);
  const n = file.readUInt16LE(pe + 6);
  const table = pe + 24 + file.readUInt16LE(pe + 20);
  return Array.from({ length: n }, (_, i) => {
    const h = table + 40 * i;
    return {
      name: file.toString('latin1', h, h + 8).replace(/\0+$/, ''), vsize: file.readUInt32LE(h + 8), va: file.readUInt32LE(h + 12),
      rawSize: file.readUInt32LE(h + 16), raw: file.readUInt32LE(h + 20), flags: file.readUInt32LE(h + 36),
    };
  });
}

const sizeOfImage = FILE.readUInt32LE(FILE.readUInt32LE(0x3c) + 24 + 56);
const sizeOfHeaders = FILE.readUInt32LE(FILE.readUInt32LE(0x3c) + 24 + 60);
const text = sections(FILE).find((s) => s.flags & 0x20000000)!;
const data = sections(FILE).find((s) => !(s.flags & 0x20000000) && s.rawSize > 0)!;

function loaded(withHeaders: boolean): GuestMemory {
  const mem = new GuestMemory(Buffer.alloc(4 << 20), [{ start: 0x1000n, end: BigInt(4 << 20) }]);
  if (withHeaders) mem.write(BASE, FILE.subarray(0, sizeOfHeaders));
  for (const s of sections(FILE)) mem.write(BASE + BigInt(s.va), FILE.subarray(s.raw, s.raw + Math.min(s.rawSize, s.vsize)));
  return mem;
}

const origins = [{ name: 'other.efi:.data', file: Buffer.alloc(8192, 0x90) }, { name: 'uki.efi:.linux', file: FILE }];
const inText = BASE + BigInt(text.va) + 0x40n;

test('a loader that copies the headers: found by them, named after the section whose bytes it came from', (t) => {
  const found = findGuestLoadedImage(loaded(true), inText, BASE - 0x10000n, BASE + 0x400000n, origins);
  t.truthy(found);
  t.is(found!.base, BASE);
  t.is(found!.size, sizeOfImage);
  t.is(found!.origin?.name, 'uki.efi:.linux');
  t.is(found!.entry, BASE + BigInt(FILE.readUInt32LE(FILE.readUInt32LE(0x3c) + 24 + 16)));
});

test('a loader that copies only the sections (systemd-stub 262): found by its code at the allocation start', (t) => {
  const found = findGuestLoadedImage(loaded(false), inText, BASE, BASE + BigInt(sizeOfImage), origins);
  t.is(found?.base, BASE);
  t.is(found?.origin?.name, 'uki.efi:.linux');
});

test('no image: an address in a data section, code that matches no origin, or no origin at all', (t) => {
  t.is(findGuestLoadedImage(loaded(false), BASE + BigInt(data.va) + 8n, BASE, BASE + BigInt(sizeOfImage), origins), undefined);
  const mem = loaded(false);
  mem.write(BASE + BigInt(text.va), Buffer.alloc(text.vsize, 0xcc));
  t.is(findGuestLoadedImage(mem, inText, BASE, BASE + BigInt(sizeOfImage), origins), undefined);
  t.is(findGuestLoadedImage(loaded(false), inText, BASE, BASE + BigInt(sizeOfImage), []), undefined);
});
