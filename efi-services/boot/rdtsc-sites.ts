// Where RDTSC (0F 31) may execute in a loaded image, so the machine can answer it from its virtual clock.
// Every candidate costs a code hook, and Unicorn 2.0.1 slows down with each one, so only code is scanned:
// executable sections, and Linux bzImages (an image, or a UKI's .linux section) without their compressed
// payload (Linux boot protocol: payload_offset/payload_length in the setup header).
import { PeImage } from '../../pe/pe-image';

const RDTSC = Buffer.from([0x0f, 0x31]);
const IMAGE_SCN_MEM_EXECUTE = 0x2000_0000;
const IMAGE_SCN_CNT_CODE = 0x20;

/** [start, end) ranges of a bzImage laid out from `at` that are not its compressed payload. */
function bzImageCodeRanges(bytes: Buffer, at: number, length: number): [number, number][] {
  const isBz = length > 0x270 && bytes.readUInt16LE(at) === 0x5a4d && bytes.readUInt32LE(at + 0x202) === 0x53726448;
  if (!isBz) return [[at, at + length]];
  const setupSects = bytes[at + 0x1f1] || 4;
  const pm = at + (setupSects + 1) * 512;
  const start = pm + bytes.readUInt32LE(at + 0x248);
  const end = start + bytes.readUInt32LE(at + 0x24c);
  if (start <= at || end > at + length || end <= start) return [[at, at + length]];
  return [[at, start], [end, at + length]];
}

/** Offsets (from the image base) of 0F 31 byte pairs in the image's code. */
export function rdtscCandidates(pe: PeImage, image: Buffer): number[] {
  const out: number[] = [];
  for (const s of pe.sections) {
    const size = Math.min(Math.max(s.virtualSize, s.sizeOfRawData), image.length - s.virtualAddress);
    if (size <= 0) continue;
    const code = (s.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE)) !== 0;
    const bz = image.readUInt16LE(s.virtualAddress) === 0x5a4d;
    if (!code && !bz) continue;
    let ranges = bzImageCodeRanges(image, s.virtualAddress, size);
    // The image itself may be a bzImage (file offsets equal RVAs there): cut its payload out of the section.
    if (code && image.readUInt32LE(0x202) === 0x53726448) {
      const whole = bzImageCodeRanges(image, 0, image.length);
      ranges = ranges.flatMap(([a, b]) => whole.map(([c, d]) => [Math.max(a, c), Math.min(b, d)] as [number, number]).filter(([x, y]) => y > x));
    }
    for (const [a, b] of ranges) {
      const view = image.subarray(a, b);
      for (let i = view.indexOf(RDTSC); i >= 0; i = view.indexOf(RDTSC, i + 1)) out.push(a + i);
    }
  }
  return out;
}
