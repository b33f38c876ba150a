// Variable store semantics (UEFI 2.10 §8.2), the runtime-service wrappers over guest memory, and the --vars JSON.
import test from 'ava';
import { buildInterface } from '../efi-services/interface';
import { EFI_RUNTIME_SERVICES } from '../efi-services/tables/runtime-services-decl';
import {
  EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_NOT_FOUND, EFI_OUT_OF_RESOURCES, EFI_SECURITY_VIOLATION,
  EFI_SUCCESS, EFI_UNSUPPORTED, EFI_WRITE_PROTECTED, EfiStatus,
} from '../core/status';
import {
  EFI_HARDWARE_ERROR_VARIABLE_GUID, OVMF_VARIABLE_LIMITS, Variable, VariableStorageInfo, VariableStore,
} from '../efi-services/runtime/variable-store';
import { variableServices } from '../efi-services/runtime/variable-services';
import { loadVariablesJson, seedVariables, variableChangesReport, variablesReport } from '../efi-services/runtime/variables-json';
import { FakePlatform } from './helpers/fake-platform';

const GLOBAL = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
/** The same GUID in its mixed-endian wire form, written out by hand. */
const GLOBAL_BYTES = Buffer.from('61dfe48bca93d211aa0d00e098032b8c', 'hex');
const VENDOR = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'; // systemd's LoaderInfo vendor GUID
const NV = 1, BS = 2, RT = 4, HR = 8, AW = 0x10, AT = 0x20, AP = 0x40, EA = 0x80;
const NV_BS_RT = NV | BS | RT;

const bytes = (...b: number[]) => Buffer.from(b);
const ucs2z = (s: string) => Buffer.from(s + '\u0000', 'utf16le');

function found(r: Variable | EfiStatus): Variable {
  if (typeof r === 'bigint') throw new Error(`expected a variable, got status 0x${r.toString(16)}`);
  return r;
}

function info(r: VariableStorageInfo | EfiStatus): VariableStorageInfo {
  if (typeof r === 'bigint') throw new Error(`expected storage info, got status 0x${r.toString(16)}`);
  return r;
}

// ---- store: set / get / delete ----

test('set then get returns the data and attributes; APPEND_WRITE is never stored', (t) => {
  const s = new VariableStore();
  t.is(s.set(VENDOR, 'LoaderInfo', BS | RT, ucs2z('stubemu')), EFI_SUCCESS);
  const v = found(s.get(VENDOR, 'LoaderInfo'));
  t.is(v.attributes, BS | RT);
  t.deepEqual(v.data, ucs2z('stubemu'));
  t.is(s.get(VENDOR.toUpperCase(), 'LoaderInfo'), v, 'GUIDs compare case-insensitively');
  t.is(s.get(VENDOR, 'loaderinfo'), EFI_NOT_FOUND, 'names are case-sensitive');
  t.is(s.set(VENDOR, 'Fresh', BS | AP, bytes(7)), EFI_SUCCESS, 'APPEND_WRITE on a new variable creates it');
  t.is(found(s.get(VENDOR, 'Fresh')).attributes, BS);
});

test('DataSize 0 without APPEND_WRITE, or attributes 0, deletes; a missing variable gives EFI_NOT_FOUND', (t) => {
  const s = new VariableStore();
  s.set(VENDOR, 'A', BS, bytes(1));
  s.set(VENDOR, 'B', NV | BS, bytes(2));
  t.is(s.set(VENDOR, 'A', BS, Buffer.alloc(0)), EFI_SUCCESS);
  t.is(s.get(VENDOR, 'A'), EFI_NOT_FOUND);
  t.is(s.set(VENDOR, 'B', 0, bytes(9, 9)), EFI_SUCCESS, 'attributes 0 deletes whatever the data');
  t.is(s.get(VENDOR, 'B'), EFI_NOT_FOUND);
  t.is(s.set(VENDOR, 'A', 0, Buffer.alloc(0)), EFI_NOT_FOUND);
  t.is(s.set(VENDOR, 'Never', BS, Buffer.alloc(0)), EFI_NOT_FOUND);
});

test('RUNTIME_ACCESS without BOOTSERVICE_ACCESS, or no access bit at all, is EFI_INVALID_PARAMETER', (t) => {
  const s = new VariableStore();
  t.is(s.set(VENDOR, 'X', RT, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'X', NV | RT, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'X', NV, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'X', 0x100 | BS, bytes(1)), EFI_INVALID_PARAMETER, 'reserved bit');
  t.is(s.all().length, 0);
});

test('rewriting an existing variable with other attributes is EFI_INVALID_PARAMETER and changes nothing', (t) => {
  const s = new VariableStore();
  s.set(VENDOR, 'V', NV | BS, bytes(1, 2));
  t.is(s.set(VENDOR, 'V', NV_BS_RT, bytes(3)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'V', BS, bytes(3)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'V', BS, Buffer.alloc(0)), EFI_INVALID_PARAMETER, 'a DataSize-0 delete also needs matching attributes');
  t.deepEqual(found(s.get(VENDOR, 'V')).data, bytes(1, 2));
  t.is(s.set(VENDOR, 'V', NV | BS, bytes(4)), EFI_SUCCESS);
  t.deepEqual(found(s.get(VENDOR, 'V')).data, bytes(4));
});

test('APPEND_WRITE appends; with DataSize 0 it succeeds and changes nothing', (t) => {
  const s = new VariableStore();
  s.set(VENDOR, 'Log', NV | BS, bytes(1, 2));
  t.is(s.set(VENDOR, 'Log', NV | BS | AP, bytes(3, 4, 5)), EFI_SUCCESS);
  t.deepEqual(found(s.get(VENDOR, 'Log')).data, bytes(1, 2, 3, 4, 5));
  t.is(s.set(VENDOR, 'Log', NV | BS | AP, Buffer.alloc(0)), EFI_SUCCESS);
  t.deepEqual(found(s.get(VENDOR, 'Log')).data, bytes(1, 2, 3, 4, 5));
  t.is(s.set(VENDOR, 'Nothing', NV | BS | AP, Buffer.alloc(0)), EFI_SUCCESS);
  t.is(s.get(VENDOR, 'Nothing'), EFI_NOT_FOUND, 'an empty append does not create a variable');
  t.is(s.set(VENDOR, 'Log', BS | AP, bytes(6)), EFI_INVALID_PARAMETER, 'attributes other than APPEND must match');
});

test('AUTHENTICATED_WRITE_ACCESS is EFI_UNSUPPORTED; ENHANCED_AUTHENTICATED_ACCESS too', (t) => {
  const s = new VariableStore();
  t.is(s.set(VENDOR, 'X', NV_BS_RT | AW, bytes(1)), EFI_UNSUPPORTED);
  t.is(s.set(VENDOR, 'X', RT | AW, bytes(1)), EFI_UNSUPPORTED, 'checked before the RT-without-BS rule, as edk2 does');
  t.is(s.set(VENDOR, 'X', NV_BS_RT | EA, bytes(1)), EFI_UNSUPPORTED);
  t.is(s.all().length, 0);
});

test('TIME_BASED_AUTHENTICATED_WRITE_ACCESS writes are refused with EFI_SECURITY_VIOLATION: no keys', (t) => {
  const s = new VariableStore();
  t.is(s.set(GLOBAL, 'PK', NV_BS_RT | AT, bytes(1, 2, 3)), EFI_SECURITY_VIOLATION);
  t.regex(s.lastRejection ?? '', /not a well-formed/);
  // A structurally valid EFI_VARIABLE_AUTHENTICATION_2: EFI_TIME, dwLength 24 (header only), revision, type, GUID.
  const auth = Buffer.alloc(40 + 4);
  auth.writeUInt32LE(24, 16);
  auth.writeUInt16LE(0x0200, 20);
  auth.writeUInt16LE(0x0ef1, 22);
  t.is(s.set(VENDOR, 'Private', NV_BS_RT | AT, auth), EFI_SECURITY_VIOLATION);
  t.regex(s.lastRejection ?? '', /cannot be verified/);
  s.define(GLOBAL, 'db', NV_BS_RT | AT, bytes(0xaa));
  t.is(s.set(GLOBAL, 'db', 0, Buffer.alloc(0)), EFI_SECURITY_VIOLATION, 'no unauthenticated delete');
  t.deepEqual(found(s.get(GLOBAL, 'db')).data, bytes(0xaa));
});

test('HARDWARE_ERROR_RECORD only for HwErrRec#### in the hardware error namespace with NV+BS+RT', (t) => {
  const s = new VariableStore();
  const hr = NV_BS_RT | HR;
  t.is(s.set(EFI_HARDWARE_ERROR_VARIABLE_GUID, 'HwErrRec000A', hr, bytes(1)), EFI_SUCCESS);
  t.is(s.set(EFI_HARDWARE_ERROR_VARIABLE_GUID, 'HwErrRec01', hr, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.set(EFI_HARDWARE_ERROR_VARIABLE_GUID, 'Other', hr, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'HwErrRec0001', hr, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.set(EFI_HARDWARE_ERROR_VARIABLE_GUID, 'HwErrRec0002', NV | BS | HR, bytes(1)), EFI_INVALID_PARAMETER);
  t.deepEqual(s.all().map((v) => v.name), ['HwErrRec000A']);
});

test('size limits: name+data above MaximumVariableSize is EFI_INVALID_PARAMETER; a full store EFI_OUT_OF_RESOURCES', (t) => {
  const s = new VariableStore();
  // OVMF: PcdMaxVariableSize 0x8400 includes the 60-byte header; the name "Big" takes 8 bytes with its NUL.
  const fits = 0x8400 - 60 - 8;
  t.is(s.set(VENDOR, 'Big', NV | BS, Buffer.alloc(fits + 1)), EFI_INVALID_PARAMETER);
  t.is(s.set(VENDOR, 'Big', NV | BS, Buffer.alloc(fits)), EFI_SUCCESS);
  t.is(s.set(VENDOR, 'Big', NV | BS | AP, bytes(1)), EFI_INVALID_PARAMETER, 'an append past the limit');

  // A 256-byte store: each entry is 60 + 4 (name "A\0") + data rounded to 4.
  const small = new VariableStore({ ...OVMF_VARIABLE_LIMITS, nonVolatileStorageSize: 256 });
  t.is(small.set(VENDOR, 'A', NV | BS, Buffer.alloc(100)), EFI_SUCCESS); // 164 bytes
  t.is(small.set(VENDOR, 'B', NV | BS, Buffer.alloc(29)), EFI_OUT_OF_RESOURCES); // 164 + 96 > 256
  t.is(small.set(VENDOR, 'B', NV | BS, Buffer.alloc(28)), EFI_SUCCESS); // 164 + 92 = 256
  t.is(small.set(VENDOR, 'C', BS, Buffer.alloc(28)), EFI_SUCCESS, 'volatile variables use their own store');
  t.is(small.set(VENDOR, 'A', NV | BS, Buffer.alloc(101)), EFI_OUT_OF_RESOURCES, 'growing in place counts the old size once');
  t.is(small.set(VENDOR, 'A', NV | BS, Buffer.alloc(99)), EFI_SUCCESS);
});

test('an empty name is EFI_INVALID_PARAMETER for SetVariable and EFI_NOT_FOUND for GetVariable', (t) => {
  const s = new VariableStore();
  t.is(s.set(VENDOR, '', BS, bytes(1)), EFI_INVALID_PARAMETER);
  t.is(s.get(VENDOR, ''), EFI_NOT_FOUND);
});

test('firmware-owned global variables are EFI_WRITE_PROTECTED to the guest but seeded by define()', (t) => {
  const s = new VariableStore();
  s.define(GLOBAL, 'SecureBoot', BS | RT, bytes(0));
  for (const name of ['SecureBoot', 'SetupMode', 'SignatureSupport', 'OsIndicationsSupported', 'BootOptionSupport', 'VendorKeys', 'PKDefault']) {
    t.is(s.set(GLOBAL, name, BS | RT, bytes(1)), EFI_WRITE_PROTECTED, name);
  }
  t.is(s.set(GLOBAL, 'SecureBoot', 0, Buffer.alloc(0)), EFI_WRITE_PROTECTED, 'nor deleted');
  t.deepEqual(found(s.get(GLOBAL, 'SecureBoot')).data, bytes(0));
  t.is(s.set(VENDOR, 'SecureBoot', BS | RT, bytes(1)), EFI_SUCCESS, 'the same name in another namespace is ordinary');
  t.is(s.set(GLOBAL, 'BootOrder', NV_BS_RT, bytes(1, 0)), EFI_SUCCESS);
  t.throws(() => s.define(GLOBAL, 'Bad', RT, bytes(1)), { message: /RUNTIME_ACCESS requires BOOTSERVICE_ACCESS/ });
});

test('after exitBootServices: only RUNTIME_ACCESS variables are visible and writable', (t) => {
  const s = new VariableStore();
  s.set(VENDOR, 'BootOnly', NV | BS, bytes(1));
  s.set(VENDOR, 'Volatile', BS | RT, bytes(2));
  s.set(VENDOR, 'Persistent', NV_BS_RT, bytes(3));
  s.exitBootServices();
  t.true(s.atRuntime);
  t.is(s.get(VENDOR, 'BootOnly'), EFI_NOT_FOUND);
  t.deepEqual(found(s.get(VENDOR, 'Volatile')).data, bytes(2));
  t.is(found(s.getNext('', '')).name, 'Volatile', 'hidden variables are skipped by GetNextVariableName');
  t.is(s.getNext(VENDOR, 'BootOnly'), EFI_INVALID_PARAMETER);

  t.is(s.set(VENDOR, 'New', NV | BS, bytes(1)), EFI_INVALID_PARAMETER, 'SetVariable needs RUNTIME_ACCESS');
  t.is(s.set(VENDOR, 'NewVolatile', BS | RT, bytes(1)), EFI_INVALID_PARAMETER, 'new variables must be NV');
  t.is(s.set(VENDOR, 'BootOnly', NV_BS_RT, bytes(9)), EFI_WRITE_PROTECTED, 'a hidden variable cannot be replaced');
  t.is(s.set(VENDOR, 'Volatile', BS | RT, bytes(9)), EFI_WRITE_PROTECTED, 'volatile variables are read-only data');
  t.is(s.set(VENDOR, 'Persistent', NV_BS_RT, bytes(9)), EFI_SUCCESS);
  t.is(s.set(VENDOR, 'Created', NV_BS_RT, bytes(4)), EFI_SUCCESS);
  t.is(s.set(VENDOR, 'Persistent', 0, Buffer.alloc(0)), EFI_SUCCESS);
  t.deepEqual(s.all().map((v) => v.name), ['BootOnly', 'Volatile', 'Created'], 'hidden variables are kept');
});

test('getNext walks insertion order, keeps an updated variable in place, and ends with EFI_NOT_FOUND', (t) => {
  const s = new VariableStore();
  s.set(VENDOR, 'One', BS, bytes(1));
  s.set(GLOBAL, 'Two', BS, bytes(2));
  s.set(VENDOR, 'Three', BS, bytes(3));
  s.set(VENDOR, 'One', BS, bytes(4, 4));
  const names: string[] = [];
  let guid = '';
  let name = '';
  for (;;) {
    const r = s.getNext(guid, name);
    if (typeof r === 'bigint') {
      t.is(r, EFI_NOT_FOUND);
      break;
    }
    names.push(r.name);
    ({ guid, name } = r);
  }
  t.deepEqual(names, ['One', 'Two', 'Three']);
  t.is(s.getNext(GLOBAL, 'One'), EFI_INVALID_PARAMETER, 'name exists, but not under this GUID');
});

test('query reports OVMF sizes, subtracts what is stored, and rejects invalid combinations', (t) => {
  const s = new VariableStore();
  s.set(VENDOR, 'A', NV | BS, Buffer.alloc(10)); // 60 + 4 + 12 = 76 bytes of NV storage
  const nv = info(s.query(NV_BS_RT));
  t.is(nv.maximumVariableStorageSize, 0x40000n);
  t.is(nv.remainingVariableStorageSize, 0x40000n - 76n);
  t.is(nv.maximumVariableSize, 0x8400n - 60n);
  t.is(info(s.query(BS)).remainingVariableStorageSize, 0x40000n, 'the volatile store is separate');
  t.is(info(s.query(NV_BS_RT | HR)).maximumVariableStorageSize, 0x10000n);
  t.is(info(s.query(NV_BS_RT | HR)).maximumVariableSize, 0x8000n - 60n);

  t.is(s.query(0), EFI_INVALID_PARAMETER);
  t.is(s.query(NV), EFI_INVALID_PARAMETER);
  t.is(s.query(RT), EFI_INVALID_PARAMETER);
  t.is(s.query(BS | RT | HR), EFI_INVALID_PARAMETER, 'HR without NV');
  t.is(s.query(NV_BS_RT | AW), EFI_UNSUPPORTED);
  t.is(s.query(EA), EFI_UNSUPPORTED);
  t.is(s.query(AP), EFI_UNSUPPORTED, 'no storage class given');
  s.exitBootServices();
  t.is(s.query(NV | BS), EFI_INVALID_PARAMETER, 'RT is required after ExitBootServices');
  t.is(info(s.query(NV_BS_RT)).remainingVariableStorageSize, 0x40000n - 76n, 'hidden variables still use space');

  const tight = new VariableStore({ ...OVMF_VARIABLE_LIMITS, volatileStorageSize: 200 });
  tight.set(VENDOR, 'A', BS, Buffer.alloc(40)); // 104 bytes
  t.is(info(tight.query(BS)).maximumVariableSize, 200n - 104n - 60n, 'limited by the space left');
});

test('the change log records set, append and delete with the resulting size', (t) => {
  const s = new VariableStore();
  s.define(GLOBAL, 'SecureBoot', BS | RT, bytes(0));
  s.set(VENDOR, 'L', BS, bytes(1, 2));
  s.set(VENDOR, 'L', BS | AP, bytes(3));
  s.set(VENDOR, 'L', BS, Buffer.alloc(0));
  s.set(VENDOR, 'L', BS, Buffer.alloc(0)); // EFI_NOT_FOUND: not logged
  t.deepEqual(s.changes, [
    { op: 'set', guid: VENDOR, name: 'L', attributes: BS, size: 2 },
    { op: 'append', guid: VENDOR, name: 'L', attributes: BS, size: 3 },
    { op: 'delete', guid: VENDOR, name: 'L', attributes: BS, size: 0 },
  ]);
  t.deepEqual(variableChangesReport(s)[1], { op: 'append', guid: VENDOR, name: 'L', attributes: ['BS'], size: 3 });
});

// ---- runtime-service wrappers over guest memory ----

const NAME = 0x10000n, GUIDP = 0x10100n, ATTR = 0x10200n, SIZE = 0x10208n, DATA = 0x11000n;
const OUT1 = 0x10210n, OUT2 = 0x10218n, OUT3 = 0x10220n;

function services(store = new VariableStore()) {
  const p = new FakePlatform();
  const table = buildInterface(p, EFI_RUNTIME_SERVICES, variableServices(p, store));
  const call = (member: string, args: bigint[]) =>
    p.callMember(table, EFI_RUNTIME_SERVICES.headerSize, EFI_RUNTIME_SERVICES.members.findIndex((m) => m.name === member), args);
  return { p, store, call, mem: p.mem };
}

test('GetVariable: NULL checks, EFI_BUFFER_TOO_SMALL with size and attributes, then the data', (t) => {
  const { call, mem, store } = services();
  store.set(GLOBAL, 'BootOrder', NV_BS_RT, bytes(1, 0, 3, 0));
  mem.write(NAME, ucs2z('BootOrder'));
  mem.write(GUIDP, GLOBAL_BYTES);

  t.is(call('GetVariable', [0n, GUIDP, ATTR, SIZE, DATA]), EFI_INVALID_PARAMETER);
  t.is(call('GetVariable', [NAME, 0n, ATTR, SIZE, DATA]), EFI_INVALID_PARAMETER);
  t.is(call('GetVariable', [NAME, GUIDP, ATTR, 0n, DATA]), EFI_INVALID_PARAMETER);

  mem.setU64(SIZE, 3n);
  mem.setU32(ATTR, 0xdead);
  t.is(call('GetVariable', [NAME, GUIDP, ATTR, SIZE, DATA]), EFI_BUFFER_TOO_SMALL);
  t.is(mem.u64(SIZE), 4n);
  t.is(mem.u32(ATTR), NV_BS_RT, 'Attributes is returned with EFI_BUFFER_TOO_SMALL too');
  t.is(call('GetVariable', [NAME, GUIDP, 0n, SIZE, 0n]), EFI_INVALID_PARAMETER, 'big enough DataSize but Data NULL');

  mem.setU64(SIZE, 100n);
  mem.fill(DATA, 8, 0xee);
  mem.setU32(ATTR, 0);
  t.is(call('GetVariable', [NAME, GUIDP, ATTR, SIZE, DATA]), EFI_SUCCESS);
  t.is(mem.u64(SIZE), 4n);
  t.deepEqual(mem.read(DATA, 6), bytes(1, 0, 3, 0, 0xee, 0xee));
  t.is(mem.u32(ATTR), NV_BS_RT);
  t.is(call('GetVariable', [NAME, GUIDP, 0n, SIZE, DATA]), EFI_SUCCESS, 'Attributes is optional');

  mem.write(NAME, ucs2z('BootNext'));
  t.is(call('GetVariable', [NAME, GUIDP, ATTR, SIZE, DATA]), EFI_NOT_FOUND);
});

test('GetNextVariableName enumerates every variable with its GUID, in bytes, and checks its input', (t) => {
  const { call, mem, store } = services();
  store.set(GLOBAL, 'BootOrder', NV_BS_RT, bytes(1, 0));
  store.set(VENDOR, 'LoaderTimeInitUSec', BS | RT, ucs2z('1'));
  const seen: [string, string][] = [];
  mem.write(NAME, ucs2z(''));
  for (;;) {
    mem.setU64(SIZE, 256n);
    const st = call('GetNextVariableName', [SIZE, NAME, GUIDP]);
    if (st === EFI_NOT_FOUND) break;
    t.is(st, EFI_SUCCESS);
    const size = Number(mem.u64(SIZE));
    const name = mem.read(NAME, size).toString('utf16le');
    t.true(name.endsWith('\u0000'));
    seen.push([mem.read(GUIDP, 16).toString('hex'), name.slice(0, -1)]);
  }
  t.deepEqual(seen, [
    [GLOBAL_BYTES.toString('hex'), 'BootOrder'],
    ['82b0674a4c0acf41b6c7440b29bb8c4f', 'LoaderTimeInitUSec'],
  ]);

  mem.write(NAME, ucs2z('BootOrder'));
  mem.write(GUIDP, GLOBAL_BYTES);
  mem.setU64(SIZE, 20n); // "BootOrder\0" fits in 20 bytes; "LoaderTimeInitUSec\0" needs 38
  t.is(call('GetNextVariableName', [SIZE, NAME, GUIDP]), EFI_BUFFER_TOO_SMALL);
  t.is(mem.u64(SIZE), 38n);
  t.is(mem.read(NAME, 20).toString('utf16le'), 'BootOrder\u0000', 'input left alone');

  mem.setU64(SIZE, 18n); // the terminator of "BootOrder" is at bytes 18-19
  t.is(call('GetNextVariableName', [SIZE, NAME, GUIDP]), EFI_INVALID_PARAMETER, 'no NUL within VariableNameSize');
  mem.setU64(SIZE, 0n);
  t.is(call('GetNextVariableName', [SIZE, NAME, GUIDP]), EFI_INVALID_PARAMETER);
  mem.write(NAME, ucs2z('Missing'));
  mem.setU64(SIZE, 256n);
  t.is(call('GetNextVariableName', [SIZE, NAME, GUIDP]), EFI_INVALID_PARAMETER, 'not an existing variable');
  t.is(call('GetNextVariableName', [0n, NAME, GUIDP]), EFI_INVALID_PARAMETER);
  t.is(call('GetNextVariableName', [SIZE, 0n, GUIDP]), EFI_INVALID_PARAMETER);
  t.is(call('GetNextVariableName', [SIZE, NAME, 0n]), EFI_INVALID_PARAMETER);
});

test('SetVariable reads name, GUID and data from the guest and applies the store rules', (t) => {
  const { call, mem, store } = services();
  mem.write(NAME, ucs2z('LoaderEntrySelected'));
  mem.write(GUIDP, Buffer.from('82b0674a4c0acf41b6c7440b29bb8c4f', 'hex'));
  mem.write(DATA, ucs2z('linux.conf'));
  t.is(call('SetVariable', [NAME, GUIDP, BigInt(BS | RT), 22n, 0n]), EFI_INVALID_PARAMETER, 'Data NULL with DataSize > 0');
  t.is(call('SetVariable', [NAME, 0n, BigInt(BS | RT), 22n, DATA]), EFI_INVALID_PARAMETER);
  t.is(call('SetVariable', [0n, GUIDP, BigInt(BS | RT), 22n, DATA]), EFI_INVALID_PARAMETER);
  t.is(call('SetVariable', [NAME, GUIDP, BigInt(BS | RT), 1n << 40n, DATA]), EFI_INVALID_PARAMETER, 'absurd DataSize');
  t.is(call('SetVariable', [NAME, GUIDP, BigInt(BS | RT), 22n, DATA]), EFI_SUCCESS);
  const v = found(store.get(VENDOR, 'LoaderEntrySelected'));
  t.is(v.data.toString('utf16le'), 'linux.conf\u0000');
  t.is(v.attributes, BS | RT);

  mem.write(NAME, ucs2z('SecureBoot'));
  mem.write(GUIDP, GLOBAL_BYTES);
  t.is(call('SetVariable', [NAME, GUIDP, BigInt(BS | RT), 1n, DATA]), EFI_WRITE_PROTECTED);
  mem.write(NAME, ucs2z(''));
  t.is(call('SetVariable', [NAME, GUIDP, BigInt(BS | RT), 1n, DATA]), EFI_INVALID_PARAMETER);
});

test('QueryVariableInfo writes the three sizes and checks its pointers', (t) => {
  const { call, mem, store } = services();
  store.set(VENDOR, 'A', NV | BS, Buffer.alloc(10));
  t.is(call('QueryVariableInfo', [BigInt(NV_BS_RT), OUT1, OUT2, OUT3]), EFI_SUCCESS);
  t.deepEqual([mem.u64(OUT1), mem.u64(OUT2), mem.u64(OUT3)], [0x40000n, 0x40000n - 76n, 0x8400n - 60n]);
  t.is(call('QueryVariableInfo', [BigInt(NV_BS_RT), 0n, OUT2, OUT3]), EFI_INVALID_PARAMETER);
  t.is(call('QueryVariableInfo', [BigInt(NV_BS_RT), OUT1, 0n, OUT3]), EFI_INVALID_PARAMETER);
  t.is(call('QueryVariableInfo', [BigInt(NV_BS_RT), OUT1, OUT2, 0n]), EFI_INVALID_PARAMETER);
  t.is(call('QueryVariableInfo', [BigInt(RT), OUT1, OUT2, OUT3]), EFI_INVALID_PARAMETER);
});

// ---- --vars JSON ----

function loadError(t: { throws: (fn: () => unknown) => Error | undefined }, text: string): string {
  return t.throws(() => loadVariablesJson(text, 'vars.json'))?.message ?? '';
}

test('loadVariablesJson names the entry and field of each error', (t) => {
  const ok = { guid: GLOBAL, name: 'BootOrder', attributes: ['NV', 'BS', 'RT'], data: '0100' };
  const doc = (...variables: unknown[]) => JSON.stringify({ variables });
  t.regex(loadError(t, '{'), /^vars\.json: not JSON/);
  t.is(loadError(t, '[]'), 'vars.json: expected an object with a "variables" array');
  t.is(loadError(t, doc(ok, { ...ok, guid: 'nope' })), 'vars.json: variables[1].guid: not a GUID');
  t.is(loadError(t, doc({ ...ok, name: '' })), 'vars.json: variables[0].name: expected a non-empty string');
  t.is(loadError(t, doc({ ...ok, attributes: ['NV', 'XX'] })), 'vars.json: variables[0].attributes: unknown attribute "XX"');
  t.is(loadError(t, doc({ ...ok, attributes: ['RT'] })), 'vars.json: variables[0].attributes: RUNTIME_ACCESS requires BOOTSERVICE_ACCESS');
  t.is(loadError(t, doc({ ...ok, utf16: 'x' })), 'vars.json: variables[0]: expected exactly one of data, utf16, ascii, u8, u32, u64');
  t.is(loadError(t, doc({ guid: GLOBAL, name: 'X', attributes: 2 })), 'vars.json: variables[0]: expected exactly one of data, utf16, ascii, u8, u32, u64');
  t.is(loadError(t, doc({ ...ok, data: '123' })), 'vars.json: variables[0].data: expected an even number of hex digits (at least one byte)');
  t.is(loadError(t, doc({ ...ok, data: undefined, u8: 256 })), 'vars.json: variables[0].u8: does not fit in 8 bits');
  t.is(loadError(t, doc({ ...ok, colour: 'red' })), 'vars.json: variables[0].colour: unknown field');
  t.is(loadError(t, doc(ok, ok)), `vars.json: variables[1]: duplicate variable ${GLOBAL}:BootOrder`);
  t.is(loadError(t, doc({ ...ok, data: 'ff'.repeat(0x8400) })), 'vars.json: variables[0]: 33792 bytes exceed the maximum variable size');
});

test('--vars round trip: encodings, seeding and the report', (t) => {
  const text = JSON.stringify({
    variables: [
      { guid: GLOBAL.toUpperCase(), name: 'BootOrder', attributes: ['NV', 'BS', 'RT'], data: '0100 0300' },
      { guid: VENDOR, name: 'LoaderEntryDefault', attributes: 0x7, utf16: 'arch.conf' },
      { guid: GLOBAL, name: 'PlatformLang', attributes: ['EFI_VARIABLE_NON_VOLATILE', 'bs', 'RT'], ascii: 'en-US' },
      { guid: GLOBAL, name: 'SecureBoot', attributes: ['BS', 'RT'], u8: 1 },
      { guid: VENDOR, name: 'Timeout', attributes: ['BS'], u32: 0x01020304 },
      { guid: VENDOR, name: 'Big', attributes: ['BS'], u64: '0x1122334455667788' },
    ],
  });
  const store = new VariableStore();
  seedVariables(store, loadVariablesJson(text, 'vars.json'));
  t.is(store.changes.length, 0, 'seeding is not a guest change');
  const report = variablesReport(store);
  t.deepEqual(report, [
    { guid: GLOBAL, name: 'BootOrder', attributes: ['NV', 'BS', 'RT'], size: 4, data: '01000300' },
    {
      guid: VENDOR, name: 'LoaderEntryDefault', attributes: ['NV', 'BS', 'RT'], size: 20,
      data: Buffer.from('arch.conf\u0000', 'utf16le').toString('hex'), utf16: 'arch.conf',
    },
    { guid: GLOBAL, name: 'PlatformLang', attributes: ['NV', 'BS', 'RT'], size: 6, data: '656e2d555300' },
    { guid: GLOBAL, name: 'SecureBoot', attributes: ['BS', 'RT'], size: 1, data: '01' },
    { guid: VENDOR, name: 'Timeout', attributes: ['BS'], size: 4, data: '04030201' },
    { guid: VENDOR, name: 'Big', attributes: ['BS'], size: 8, data: '8877665544332211' },
  ]);
  t.is(store.set(GLOBAL, 'SecureBoot', BS | RT, bytes(0)), EFI_WRITE_PROTECTED, 'seeded read-only variables stay read-only');

  // The report's form loads back to the same store.
  const again = new VariableStore();
  const back = report.map((r) => ({ guid: r.guid, name: r.name, attributes: r.attributes, data: r.data }));
  seedVariables(again, loadVariablesJson(JSON.stringify({ variables: back }), 'report.json'));
  t.deepEqual(variablesReport(again), report);
});
