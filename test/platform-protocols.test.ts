// Memory attribute, GOP, initrd LoadFile2 and security arch protocols driven through their guest tables.
import test from 'ava';
import { EfiReservedMemoryType, EFI_MEMORY_RO, EFI_MEMORY_RP, EFI_MEMORY_WB, EFI_MEMORY_XP } from '../efi-services/boot/memory-types';
import { ProtocolDatabase } from '../efi-services/boot/protocol-db';
import { GUID, guidToBytes } from '../core/guid';
import {
  EfiBltBufferToVideo, EfiBltVideoFill, EfiBltVideoToBltBuffer, EfiBltVideoToVideo, EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID,
  installGraphicsOutput,
} from '../efi-services/protocols/graphics-output';
import { installInitrdLoadFile2 } from '../efi-services/protocols/initrd-load-file2';
import { EFI_MEMORY_ATTRIBUTE_PROTOCOL_GUID, installMemoryAttributeProtocol } from '../efi-services/protocols/memory-attribute';
import { filePathNode, serializeDevicePath } from '../efi-services/protocols/device-path';
import {
  EFI_SECURITY2_ARCH_PROTOCOL_GUID, EFI_SECURITY_ARCH_PROTOCOL_GUID, installSecurityArchProtocols, securityCheck,
} from '../efi-services/protocols/security-arch';
import { EFI_ACCESS_DENIED, EFI_SECURITY_VIOLATION, EFI_SUCCESS, statusName } from '../core/status';
import { FakePlatform } from './helpers/fake-platform';

const s = statusName;
const PAGE = 0x1000n;

function setup() {
  const fake = new FakePlatform();
  const db = new ProtocolDatabase(fake, () => {}, () => false);
  let next = 0x10000n;
  /** Guest scratch memory below the platform heap. */
  const scratch = (n: number) => {
    const a = next;
    next += BigInt((n + 15) & ~15);
    return a;
  };
  return { fake, db, mem: fake.mem, scratch };
}

// --- EFI_MEMORY_ATTRIBUTE_PROTOCOL ---

function memattr(protect?: (a: bigint, n: bigint, attrs: bigint) => void) {
  const env = setup();
  const ma = installMemoryAttributeProtocol(env.fake, env.db, { protect });
  const out = env.scratch(8);
  const call = (i: number, ...args: bigint[]) => env.fake.callMember(ma.protocol, 0, i, [ma.protocol, ...args]);
  const get = (base: bigint, len: bigint) => {
    env.mem.setU64(out, 0xdeadn);
    const st = call(0, base, len, out);
    return { st: s(st), attrs: env.mem.u64(out) };
  };
  const set = (base: bigint, len: bigint, a: bigint) => s(call(1, base, len, a));
  const clear = (base: bigint, len: bigint, a: bigint) => s(call(2, base, len, a));
  return { ...env, ma, out, call, get, set, clear };
}

test('memory attributes: installed; fresh pages have none; set/clear round trips per page', (t) => {
  const m = memattr();
  t.is(m.db.interfaceOf(m.ma.handle, EFI_MEMORY_ATTRIBUTE_PROTOCOL_GUID), m.ma.protocol);
  const base = 0x200000n;
  t.deepEqual(m.get(base, 4n * PAGE), { st: 'EFI_SUCCESS', attrs: 0n });
  t.is(m.clear(base, 4n * PAGE, EFI_MEMORY_XP), 'EFI_SUCCESS', 'the Linux stub clears XP on already-executable memory');
  t.is(m.set(base, 2n * PAGE, EFI_MEMORY_XP | EFI_MEMORY_RO), 'EFI_SUCCESS');
  t.deepEqual(m.get(base, 2n * PAGE), { st: 'EFI_SUCCESS', attrs: EFI_MEMORY_XP | EFI_MEMORY_RO });
  t.is(m.get(base, 3n * PAGE).st, 'EFI_NO_MAPPING', 'inconsistent across the range');
  t.is(m.clear(base + PAGE, PAGE, EFI_MEMORY_XP), 'EFI_SUCCESS');
  t.deepEqual(m.get(base + PAGE, PAGE), { st: 'EFI_SUCCESS', attrs: EFI_MEMORY_RO });
  t.deepEqual(m.get(base, PAGE), { st: 'EFI_SUCCESS', attrs: EFI_MEMORY_XP | EFI_MEMORY_RO });
  t.deepEqual(m.ma.state.ranges(), [
    { base, length: PAGE, attributes: EFI_MEMORY_XP | EFI_MEMORY_RO },
    { base: base + PAGE, length: PAGE, attributes: EFI_MEMORY_RO },
  ]);
  t.is(m.clear(base, 2n * PAGE, EFI_MEMORY_XP | EFI_MEMORY_RO), 'EFI_SUCCESS');
  t.deepEqual(m.ma.state.ranges(), []);
  t.deepEqual(m.ma.state.changes.map((c) => [c.operation, c.length, c.enforced]), [
    ['clear', 4n * PAGE, false], ['set', 2n * PAGE, false], ['clear', PAGE, false], ['clear', 2n * PAGE, false],
  ]);
});

test('memory attributes: parameter errors in spec order', (t) => {
  const m = memattr();
  const base = 0x200000n;
  t.is(m.get(base, 0n).st, 'EFI_INVALID_PARAMETER', 'Length 0');
  t.is(s(m.call(0, base, PAGE, 0n)), 'EFI_INVALID_PARAMETER', 'Attributes NULL');
  t.is(m.set(base, 0n, EFI_MEMORY_XP), 'EFI_INVALID_PARAMETER');
  t.is(m.clear(base, 0n, EFI_MEMORY_XP), 'EFI_INVALID_PARAMETER');
  t.is(m.set(base, PAGE, EFI_MEMORY_WB), 'EFI_INVALID_PARAMETER', 'only RP|XP|RO');
  t.is(m.clear(base, PAGE, EFI_MEMORY_XP | EFI_MEMORY_WB), 'EFI_INVALID_PARAMETER');
  t.is(m.set(base + 0x10n, PAGE, EFI_MEMORY_XP), 'EFI_INVALID_PARAMETER', 'unaligned base');
  t.is(m.get(base, 0x800n).st, 'EFI_INVALID_PARAMETER', 'unaligned length');
  t.is(m.set(0x2000000n, PAGE, EFI_MEMORY_XP), 'EFI_UNSUPPORTED', 'beyond RAM');
  t.is(m.get(0n, PAGE).st, 'EFI_UNSUPPORTED', 'unmapped page 0');
  t.is(m.set(0xffff_ffff_ffff_f000n, 2n * PAGE, EFI_MEMORY_XP), 'EFI_UNSUPPORTED', 'wraps past 2^64');
  t.is(m.set(base, PAGE, 0n), 'EFI_SUCCESS', 'no attributes: nothing to do');
  t.deepEqual(m.ma.state.ranges(), []);
});

test('memory attributes: protect receives each changed run with its resulting attributes', (t) => {
  const calls: [bigint, bigint, bigint][] = [];
  const m = memattr((a, n, attrs) => calls.push([a, n, attrs]));
  const base = 0x300000n;
  t.is(m.set(base + PAGE, PAGE, EFI_MEMORY_RP), 'EFI_SUCCESS');
  calls.length = 0;
  t.is(m.set(base, 4n * PAGE, EFI_MEMORY_RO), 'EFI_SUCCESS');
  t.deepEqual(calls, [
    [base, PAGE, EFI_MEMORY_RO],
    [base + PAGE, PAGE, EFI_MEMORY_RO | EFI_MEMORY_RP],
    [base + 2n * PAGE, 2n * PAGE, EFI_MEMORY_RO],
  ]);
  calls.length = 0;
  t.is(m.set(base, 4n * PAGE, EFI_MEMORY_RO), 'EFI_SUCCESS');
  t.deepEqual(calls, [], 'unchanged pages are not re-protected');
  t.true(m.ma.state.changes.every((c) => c.enforced));
});

// --- EFI_GRAPHICS_OUTPUT_PROTOCOL ---

const W = 16;
const H = 8;

function gop() {
  const env = setup();
  const allocs: { size: number; memType: number; address: bigint }[] = [];
  const pool: bigint[] = [];
  const g = installGraphicsOutput(env.fake, env.db, {
    width: W,
    height: H,
    allocate: (size, memType) => {
      const address = env.fake.allocate(size);
      allocs.push({ size, memType, address });
      return address;
    },
    allocatePool: (n) => {
      const a = env.fake.allocate(n);
      pool.push(a);
      return a;
    },
  });
  const blt = (buffer: bigint, op: number, sx: number, sy: number, dx: number, dy: number, w: number, h: number, delta = 0) =>
    s(env.fake.callMember(g.protocol, 0, 2, [g.protocol, buffer, BigInt(op), ...[sx, sy, dx, dy, w, h, delta].map(BigInt)]));
  const px = (x: number, y: number) => env.mem.u32(g.frameBufferBase + BigInt((y * W + x) * 4));
  return { ...env, g, allocs, pool, blt, px };
}

test('GOP: Mode and Info describe one BGRX mode over the reserved-memory framebuffer', (t) => {
  const { g, mem, allocs, db } = gop();
  t.is(db.interfaceOf(g.handle, EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID), g.protocol);
  t.truthy(db.interfaceOf(g.handle, GUID.DEVICE_PATH));
  t.is(mem.u64(g.protocol + 24n), g.mode, 'Mode member after the three functions');
  t.is(mem.u32(g.mode), 1, 'MaxMode');
  t.is(mem.u32(g.mode + 4n), 0, 'Mode');
  const info = mem.u64(g.mode + 8n);
  t.is(mem.u64(g.mode + 16n), 36n, 'SizeOfInfo');
  t.is(mem.u64(g.mode + 24n), allocs[0].address, 'FrameBufferBase');
  t.is(mem.u64(g.mode + 32n), BigInt(W * H * 4), 'FrameBufferSize');
  t.deepEqual([0, 4, 8, 12, 32].map((o) => mem.u32(info + BigInt(o))), [0, W, H, 1, W], 'Version, H, V, PixelBlueGreenRedReserved8BitPerColor, PixelsPerScanLine');
  t.deepEqual(allocs.map((a) => [a.size, a.memType]), [[W * H * 4, EfiReservedMemoryType]]);
});

test('GOP: QueryMode returns pool Info; bad mode numbers and pointers are refused', (t) => {
  const { g, fake, mem, scratch, pool } = gop();
  const size = scratch(8);
  const out = scratch(8);
  t.is(s(fake.callMember(g.protocol, 0, 0, [g.protocol, 0n, size, out])), 'EFI_SUCCESS');
  t.is(mem.u64(size), 36n);
  t.is(mem.u64(out), pool[0]);
  t.deepEqual(mem.read(pool[0], 36), mem.read(mem.u64(g.mode + 8n), 36));
  t.is(s(fake.callMember(g.protocol, 0, 0, [g.protocol, 1n, size, out])), 'EFI_INVALID_PARAMETER');
  t.is(s(fake.callMember(g.protocol, 0, 0, [g.protocol, 0n, 0n, out])), 'EFI_INVALID_PARAMETER');
  t.is(s(fake.callMember(g.protocol, 0, 0, [g.protocol, 0n, size, 0n])), 'EFI_INVALID_PARAMETER');
  t.is(s(fake.callMember(g.protocol, 0, 1, [g.protocol, 1n])), 'EFI_UNSUPPORTED');
});

test('GOP Blt: video fill, buffer to video with a sub-rectangle Delta, video to buffer, SetMode clears', (t) => {
  const { g, fake, mem, scratch, blt, px } = gop();
  const color = scratch(4);
  mem.setU32(color, 0x00336699);
  t.is(blt(color, EfiBltVideoFill, 0, 0, 2, 1, 3, 2), 'EFI_SUCCESS');
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = x >= 2 && x < 5 && y >= 1 && y < 3;
      if (px(x, y) !== (inside ? 0x00336699 : 0)) t.fail(`pixel ${x},${y} = ${px(x, y).toString(16)}`);
    }
  }
  // A 6x4-pixel BltBuffer; copy its 2x2 sub-rectangle at (3,1) to the screen at (10,5).
  const bw = 6;
  const src = scratch(bw * 4 * 4);
  const value = (x: number, y: number) => (0xa0000000 | (y << 8) | x) >>> 0;
  for (let y = 0; y < 4; y++) for (let x = 0; x < bw; x++) mem.setU32(src + BigInt((y * bw + x) * 4), value(x, y));
  t.is(blt(src, EfiBltBufferToVideo, 3, 1, 10, 5, 2, 2, bw * 4), 'EFI_SUCCESS');
  t.deepEqual([px(10, 5), px(11, 5), px(10, 6), px(11, 6)], [value(3, 1), value(4, 1), value(3, 2), value(4, 2)]);
  t.is(px(12, 5), 0);
  // Read the whole screen back with Delta 0 and compare with the framebuffer bytes.
  const back = scratch(W * H * 4);
  t.is(blt(back, EfiBltVideoToBltBuffer, 0, 0, 0, 0, W, H), 'EFI_SUCCESS');
  t.deepEqual(mem.read(back, W * H * 4), g.snapshot());
  // Into a sub-rectangle of a wider buffer: the 2x2 block lands at (1,1) of an 8-pixel-wide buffer.
  const wide = scratch(8 * 4 * 3);
  t.is(blt(wide, EfiBltVideoToBltBuffer, 10, 5, 1, 1, 2, 2, 8 * 4), 'EFI_SUCCESS');
  t.deepEqual([mem.u32(wide + BigInt((8 + 1) * 4)), mem.u32(wide + BigInt((8 + 2) * 4)), mem.u32(wide + BigInt((16 + 1) * 4))],
    [value(3, 1), value(4, 1), value(3, 2)]);
  t.is(mem.u32(wide), 0);
  t.is(s(fake.callMember(g.protocol, 0, 1, [g.protocol, 0n])), 'EFI_SUCCESS');
  t.true(g.snapshot().every((b) => b === 0), 'SetMode clears to black');
});

test('GOP Blt: overlapping video to video matches a row-by-row model', (t) => {
  const { g, mem, blt, px } = gop();
  const model: number[][] = [];
  for (let y = 0; y < H; y++) {
    model.push([]);
    for (let x = 0; x < W; x++) {
      const v = (y * 100 + x) >>> 0;
      model[y].push(v);
      mem.setU32(g.frameBufferBase + BigInt((y * W + x) * 4), v);
    }
  }
  // Move the 4x4 block at (1,1) one pixel right and one row down (overlapping source and destination).
  const copy = model.map((r) => [...r]);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) model[2 + y][2 + x] = copy[1 + y][1 + x];
  t.is(blt(0n, EfiBltVideoToVideo, 1, 1, 2, 2, 4, 4), 'EFI_SUCCESS');
  // And back up: destination above the source.
  const copy2 = model.map((r) => [...r]);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 5; x++) model[0 + y][0 + x] = copy2[1 + y][1 + x];
  t.is(blt(0n, EfiBltVideoToVideo, 1, 1, 0, 0, 5, 3), 'EFI_SUCCESS');
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (px(x, y) !== model[y][x]) t.fail(`pixel ${x},${y}`);
  t.pass();
});

test('GOP Blt: bounds, zero sizes, bad operations and NULL buffers are EFI_INVALID_PARAMETER', (t) => {
  const { g, scratch, blt } = gop();
  const b = scratch(W * H * 4);
  t.is(blt(b, EfiBltVideoFill, 0, 0, W - 1, 0, 2, 1), 'EFI_INVALID_PARAMETER');
  t.is(blt(b, EfiBltBufferToVideo, 0, 0, 0, H - 1, 1, 2), 'EFI_INVALID_PARAMETER');
  t.is(blt(b, EfiBltVideoToBltBuffer, W, 0, 0, 0, 1, 1), 'EFI_INVALID_PARAMETER');
  t.is(blt(0n, EfiBltVideoToVideo, 0, 0, W - 2, 0, 3, 1), 'EFI_INVALID_PARAMETER');
  t.is(blt(b, EfiBltVideoFill, 0, 0, 0, 0, 0, 1), 'EFI_INVALID_PARAMETER');
  t.is(blt(b, 4, 0, 0, 0, 0, 1, 1), 'EFI_INVALID_PARAMETER');
  t.is(blt(0n, EfiBltVideoFill, 0, 0, 0, 0, 1, 1), 'EFI_INVALID_PARAMETER');
  t.true(g.snapshot().every((x) => x === 0), 'nothing was drawn');
});

// --- initrd LoadFile2 ---

function initrd(size = 10000) {
  const env = setup();
  const bytes = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff));
  const lf = installInitrdLoadFile2(env.fake, env.db, bytes);
  const end = env.scratch(4);
  env.mem.write(end, Buffer.from([0x7f, 0xff, 4, 0]));
  const sizeP = env.scratch(8);
  const load = (path: bigint, bootPolicy: bigint, sizePtr: bigint, buffer: bigint) =>
    s(env.fake.callMember(lf.protocol, 0, 0, [lf.protocol, path, bootPolicy, sizePtr, buffer]));
  return { ...env, bytes, lf, end, sizeP, load };
}

test('initrd: handle carries VenMedia(LINUX_EFI_INITRD_MEDIA)/End and LoadFile2', (t) => {
  const { lf, db, mem } = initrd();
  t.is(db.interfaceOf(lf.handle, GUID.LOAD_FILE2), lf.protocol);
  const dp = db.interfaceOf(lf.handle, GUID.DEVICE_PATH)!;
  const expected = Buffer.concat([Buffer.from([4, 3, 20, 0]), guidToBytes('5568e427-68fc-4f3d-ac74-ca555231cc68'), Buffer.from([0x7f, 0xff, 4, 0])]);
  t.deepEqual(mem.read(dp, 24), expected);
});

test('initrd: size query, short buffer, then the bytes copied', (t) => {
  const { mem, end, sizeP, load, bytes, scratch, lf } = initrd();
  mem.setU64(sizeP, 0n);
  t.is(load(end, 0n, sizeP, 0n), 'EFI_BUFFER_TOO_SMALL');
  t.is(mem.u64(sizeP), BigInt(bytes.length));
  const buf = scratch(bytes.length + 16);
  mem.fill(buf, bytes.length + 16, 0xee);
  mem.setU64(sizeP, BigInt(bytes.length - 1));
  t.is(load(end, 0n, sizeP, buf), 'EFI_BUFFER_TOO_SMALL');
  t.is(mem.u8(buf), 0xee, 'nothing copied into a short buffer');
  mem.setU64(sizeP, BigInt(bytes.length + 16));
  t.is(load(end, 0n, sizeP, buf), 'EFI_SUCCESS');
  t.deepEqual(mem.read(buf, bytes.length), bytes);
  t.is(mem.u8(buf + BigInt(bytes.length)), 0xee, 'no byte past the initrd');
  t.is(mem.u64(sizeP), BigInt(bytes.length));
  t.deepEqual(lf.deliveries, [{ buffer: buf, size: bytes.length }]);
});

test('initrd: BootPolicy, NULL BufferSize, malformed and foreign file paths', (t) => {
  const { mem, end, sizeP, load, scratch } = initrd();
  mem.setU64(sizeP, 0n);
  t.is(load(end, 1n, sizeP, 0n), 'EFI_UNSUPPORTED');
  t.is(load(end, 0n, 0n, 0n), 'EFI_INVALID_PARAMETER');
  t.is(load(0n, 0n, sizeP, 0n), 'EFI_INVALID_PARAMETER');
  const bad = scratch(4);
  mem.write(bad, Buffer.from([0x04, 0x04, 2, 0]));
  t.is(load(bad, 0n, sizeP, 0n), 'EFI_INVALID_PARAMETER', 'node Length below 4');
  const file = scratch(64);
  mem.write(file, serializeDevicePath([filePathNode('\\initrd')]));
  t.is(load(file, 0n, sizeP, 0n), 'EFI_NOT_FOUND');
  t.is(mem.u64(sizeP), 0n, 'size untouched on errors');
});

// --- Security arch protocols ---

function security() {
  const env = setup();
  const sec = installSecurityArchProtocols(env.fake, env.db);
  // The guest-visible function pointers are trap addresses: "calling" them dispatches to the firmware model.
  for (const iface of [sec.security, sec.security2]) {
    const trap = env.mem.u64(iface);
    env.fake.guestFunctions.set(trap, (args) => env.fake.call(trap, args));
  }
  const path = env.scratch(64);
  env.mem.write(path, serializeDevicePath([filePathNode('\\EFI\\Linux\\uki.efi')]));
  return { ...env, sec, path };
}

test('security: both protocols on one handle; calls are recorded; FileAuthenticationState needs File', (t) => {
  const { sec, db, fake, path } = security();
  t.is(db.interfaceOf(sec.handle, EFI_SECURITY2_ARCH_PROTOCOL_GUID), sec.security2);
  t.is(db.interfaceOf(sec.handle, EFI_SECURITY_ARCH_PROTOCOL_GUID), sec.security);
  t.is(s(fake.callMember(sec.security, 0, 0, [sec.security, 0n, 0n])), 'EFI_INVALID_PARAMETER');
  t.is(s(fake.callMember(sec.security2, 0, 0, [sec.security2, 0n, 0n, 0n, 0n])), 'EFI_SUCCESS', 'NULL path and buffer are legal');
  t.is(s(fake.callMember(sec.security, 0, 0, [sec.security, 2n, path])), 'EFI_SUCCESS');
  t.is(sec.calls.length, 2);
  t.is(sec.calls[1].service, 'FileAuthenticationState');
  t.is(sec.calls[1].authenticationStatus, 2);
  t.regex(sec.calls[1].file, /uki\.efi/);
});

test('securityCheck: Security2 only for images not from a firmware volume, through the current pointer', (t) => {
  const { sec, fake, path } = security();
  t.is(s(securityCheck(fake, sec, path, 0x400000n, 0x1234n, false)), 'EFI_SUCCESS');
  t.deepEqual(fake.guestCalls.map((c) => c.why), ['Security2.FileAuthentication']);
  t.deepEqual(fake.guestCalls[0].args, [sec.security2, path, 0x400000n, 0x1234n, 0n]);
  t.is(sec.calls.length, 1);
  t.like(sec.calls[0], { service: 'FileAuthentication', fileBuffer: 0x400000n, fileSize: 0x1234n, bootPolicy: false });
});

test('securityCheck: from a firmware volume, Security2 then Security; a Security2 error stops there', (t) => {
  const { sec, fake, path, mem } = security();
  t.is(s(securityCheck(fake, sec, path, 0x400000n, 16n, true, { fromFirmwareVolume: true, authenticationStatus: 5 })), 'EFI_SUCCESS');
  t.deepEqual(fake.guestCalls.map((c) => c.why), ['Security2.FileAuthentication', 'Security.FileAuthenticationState']);
  t.deepEqual(fake.guestCalls[1].args, [sec.security, 5n, path]);
  t.deepEqual(sec.calls.map((c) => c.service), ['FileAuthentication', 'FileAuthenticationState']);

  // A guest override that denies: Security is not consulted.
  fake.guestCalls.length = 0;
  fake.guestFunctions.set(0x7000_0000n, () => EFI_ACCESS_DENIED);
  mem.setU64(sec.security2, 0x7000_0000n);
  t.is(s(securityCheck(fake, sec, path, 0x400000n, 16n, false, { fromFirmwareVolume: true })), 'EFI_ACCESS_DENIED');
  t.deepEqual(fake.guestCalls.map((c) => c.fn), [0x7000_0000n]);
});

test('securityCheck: a systemd-stub-style override runs instead of the firmware function and may chain to it', (t) => {
  const { sec, fake, path, mem } = security();
  const original = mem.u64(sec.security2);
  const kernel = { buffer: 0x500000n, size: 0x2000n };
  const seen: (readonly bigint[])[] = [];
  // security_override: accept the embedded kernel, hand everything else to the original hook.
  fake.guestFunctions.set(0x7100_0000n, (args) => {
    seen.push(args);
    if (args[2] === kernel.buffer && args[3] === kernel.size) return EFI_SUCCESS;
    return fake.callGuest(original, args, 'original Security2 hook');
  });
  mem.setU64(sec.security2, 0x7100_0000n);
  // Make the original refuse unsigned images, as a Secure Boot firmware would.
  fake.guestFunctions.set(original, () => EFI_SECURITY_VIOLATION);
  t.is(securityCheck(fake, sec, path, kernel.buffer, kernel.size, false), EFI_SUCCESS);
  t.is(securityCheck(fake, sec, path, 0x600000n, 0x10n, false), EFI_SECURITY_VIOLATION);
  t.deepEqual(seen.map((a) => a[2]), [kernel.buffer, 0x600000n]);
  t.is(sec.calls.length, 0, 'the firmware function itself was replaced');
});

test('securityCheck: Security alone is called when Security2 is absent and the path is not NULL', (t) => {
  const { sec, fake, path } = security();
  t.is(securityCheck(fake, { security: sec.security }, path, 0n, 0n, false), EFI_SUCCESS);
  t.deepEqual(fake.guestCalls.map((c) => c.why), ['Security.FileAuthenticationState']);
  t.is(securityCheck(fake, { security: sec.security }, 0n, 0n, 0n, false), EFI_SUCCESS);
  t.is(fake.guestCalls.length, 1, 'no call without a file path');
  t.is(securityCheck(fake, {}, path, 0n, 0n, false), EFI_SUCCESS);
  t.is(fake.guestCalls.length, 1);
});
