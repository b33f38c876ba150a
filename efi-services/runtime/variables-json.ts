// The `--vars FILE` JSON format that seeds the variable store, and the variables' form in the run report.
import { guidToBytes } from '../../core/guid';
import { attributeProblem, EFI_VARIABLE, VariableStore } from './variable-store';

/** One variable to seed, already validated against the store's rules. */
export interface VariableSeed {
  readonly guid: string;
  readonly name: string;
  readonly attributes: number;
  readonly data: Buffer;
}

export interface VariableReportEntry {
  readonly guid: string;
  readonly name: string;
  readonly attributes: string[];
  readonly size: number;
  /** The data as lowercase hex. */
  readonly data: string;
  /** The data decoded, when it is a plausible NUL-terminated UCS-2 string. */
  readonly utf16?: string;
}

export interface VariableChangeReportEntry {
  readonly op: 'set' | 'append' | 'delete';
  readonly guid: string;
  readonly name: string;
  readonly attributes: string[];
  readonly size: number;
}

/** Short attribute names, in bit order; also accepted spelled as the spec's EFI_VARIABLE_* suffixes. */
const ATTRIBUTE_NAMES: readonly (readonly [string, keyof typeof EFI_VARIABLE])[] = [
  ['NV', 'NON_VOLATILE'], ['BS', 'BOOTSERVICE_ACCESS'], ['RT', 'RUNTIME_ACCESS'], ['HR', 'HARDWARE_ERROR_RECORD'],
  ['AW', 'AUTHENTICATED_WRITE_ACCESS'], ['AT', 'TIME_BASED_AUTHENTICATED_WRITE_ACCESS'], ['AP', 'APPEND_WRITE'],
  ['EA', 'ENHANCED_AUTHENTICATED_ACCESS'],
];

const DATA_FIELDS = ['data', 'utf16', 'ascii', 'u8', 'u32', 'u64'] as const;
const ENTRY_FIELDS = new Set<string>(['guid', 'name', 'attributes', ...DATA_FIELDS]);

export function attributeNames(attributes: number): string[] {
  const names = ATTRIBUTE_NAMES.filter(([, long]) => attributes & EFI_VARIABLE[long]).map(([short]) => short);
  const rest = (attributes & ~0xff) >>> 0;
  return rest ? [...names, `0x${rest.toString(16)}`] : names;
}

function attributeBit(name: string): number | undefined {
  const n = name.toUpperCase().replace(/^EFI_VARIABLE_/, '');
  const hit = ATTRIBUTE_NAMES.find(([short, long]) => short === n || long === n);
  return hit ? EFI_VARIABLE[hit[1]] : undefined;
}

/**
 * Parses and validates a `--vars` file: `{ "variables": [ { "guid", "name", "attributes", <one data field> } ] }`
 * with data given as "data" (hex), "utf16" (stored NUL-terminated UCS-2), "ascii" (stored NUL-terminated, as
 * PlatformLang is), or "u8"/"u32"/"u64" (little-endian). Errors name the source, entry index and field.
 */
export function loadVariablesJson(text: string, source: string): VariableSeed[] {
  const fail = (where: string, why: string): never => {
    throw new Error(`${source}: ${where}${where ? ': ' : ''}${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail('', `not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) return fail('', 'expected an object with a "variables" array');
  for (const k of Object.keys(doc)) if (k !== 'variables') fail(k, 'unknown field');
  const list = doc.variables;
  if (!Array.isArray(list)) return fail('variables', 'expected an array');

  const scratch = new VariableStore();
  const seeds: VariableSeed[] = [];
  const seen = new Set<string>();
  list.forEach((entry: unknown, i: number) => {
    const at = `variables[${i}]`;
    if (!isObject(entry)) fail(at, 'expected an object');
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!ENTRY_FIELDS.has(k)) fail(`${at}.${k}`, 'unknown field');

    if (typeof e.guid !== 'string') fail(`${at}.guid`, 'expected a string');
    const guidText = e.guid as string;
    try {
      guidToBytes(guidText);
    } catch {
      fail(`${at}.guid`, 'not a GUID');
    }
    const guid = guidText.toLowerCase();
    if (typeof e.name !== 'string' || e.name === '') fail(`${at}.name`, 'expected a non-empty string');
    const name = e.name as string;
    if (name.includes('\u0000')) fail(`${at}.name`, 'contains NUL');
    const key = `${guid}:${name}`;
    if (seen.has(key)) fail(at, `duplicate variable ${key}`);
    seen.add(key);

    const attributes = parseAttributes(e.attributes, (why) => fail(`${at}.attributes`, why));
    const problem = attributeProblem(attributes);
    if (problem) fail(`${at}.attributes`, problem);

    const given = DATA_FIELDS.filter((f) => f in e);
    if (given.length !== 1) fail(at, `expected exactly one of ${DATA_FIELDS.join(', ')}`);
    const field = given[0];
    const data = parseData(field, e[field], (why) => fail(`${at}.${field}`, why));

    try {
      scratch.define(guid, name, attributes, data);
    } catch (err) {
      const prefix = `variable ${guid}:${name}: `;
      const message = (err as Error).message;
      fail(at, message.startsWith(prefix) ? message.slice(prefix.length) : message);
    }
    seeds.push({ guid, name, attributes, data });
  });
  return seeds;
}

/** Puts seeds into the store as firmware-owned writes (read-only variables included). */
export function seedVariables(store: VariableStore, seeds: readonly VariableSeed[]): void {
  for (const s of seeds) store.define(s.guid, s.name, s.attributes, s.data);
}

/** Every variable in store order, hidden ones included, for the report. */
export function variablesReport(store: VariableStore): VariableReportEntry[] {
  return store.all().map((v) => {
    const utf16 = plausibleUtf16z(v.data);
    return {
      guid: v.guid,
      name: v.name,
      attributes: attributeNames(v.attributes),
      size: v.data.length,
      data: v.data.toString('hex'),
      ...(utf16 === undefined ? {} : { utf16 }),
    };
  });
}

export function variableChangesReport(store: VariableStore): VariableChangeReportEntry[] {
  return store.changes.map((c) => ({ op: c.op, guid: c.guid, name: c.name, attributes: attributeNames(c.attributes), size: c.size }));
}

/** A NUL-terminated UCS-2 string of printable characters with no earlier NUL, or undefined. */
export function plausibleUtf16z(data: Buffer): string | undefined {
  if (data.length < 2 || data.length % 2 !== 0 || data.readUInt16LE(data.length - 2) !== 0) return undefined;
  let s = '';
  for (let o = 0; o < data.length - 2; o += 2) {
    const c = data.readUInt16LE(o);
    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0xd800 && c < 0xe000) || c === 0xfffe || c === 0xffff) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseAttributes(v: unknown, fail: (why: string) => never): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail('expected a 32-bit unsigned integer');
    return v;
  }
  if (!Array.isArray(v)) return fail('expected an array of names (NV, BS, RT, ...) or a number');
  let bits = 0;
  for (const n of v) {
    const bit = typeof n === 'string' ? attributeBit(n) : undefined;
    if (bit === undefined) fail(`unknown attribute ${JSON.stringify(n)}`);
    bits |= bit as number;
  }
  return bits;
}

function parseData(field: (typeof DATA_FIELDS)[number], v: unknown, fail: (why: string) => never): Buffer {
  switch (field) {
    case 'data': {
      if (typeof v !== 'string') return fail('expected a hex string');
      const hex = v.replace(/\s+/g, '');
      if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return fail('expected an even number of hex digits (at least one byte)');
      return Buffer.from(hex, 'hex');
    }
    case 'utf16': {
      if (typeof v !== 'string') return fail('expected a string');
      if (v.includes('\u0000')) return fail('contains NUL');
      const b = Buffer.alloc(2 * (v.length + 1));
      for (let i = 0; i < v.length; i++) b.writeUInt16LE(v.charCodeAt(i), 2 * i);
      return b;
    }
    case 'ascii': {
      if (typeof v !== 'string') return fail('expected a string');
      if (!/^[\x01-\x7f]*$/.test(v)) return fail('not 7-bit ASCII without NUL');
      return Buffer.from(v + '\u0000', 'latin1');
    }
    case 'u8':
    case 'u32':
    case 'u64': {
      const width = field === 'u8' ? 1 : field === 'u32' ? 4 : 8;
      const n = parseUnsigned(v);
      if (n === undefined) return fail('expected an unsigned integer (number, or decimal or 0x string)');
      if (n >= 1n << BigInt(8 * width)) return fail(`does not fit in ${8 * width} bits`);
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(n, 0);
      return Buffer.from(b.subarray(0, width));
    }
  }
}

function parseUnsigned(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) return BigInt(v);
  return undefined;
}
