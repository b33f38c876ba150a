// `stubemu diff`: what differs between two run reports — the outcome, the service-call sequences aligned (Myers
// diff from the `diff` package over service, caller image and the arguments that are not addresses), the TCG
// measurements event by event and the final PCRs, variables, section usage, and the kernel hand-off.
import { diffArrays } from 'diff';
import { eventDataText, outcomeText } from '../report-html/page';
import { callerImage, RunReport, TcgEvent, TraceCall } from '../report-html/model';
import { isAddressArg } from './arg-kinds';

export interface DiffOptions {
  /** Compare address arguments and addresses in the hand-off too (they differ with any allocation change). */
  addresses?: boolean;
}

/** One row of an aligned sequence: in both (with the differences found), only in A, or only in B. */
export type Aligned<T> =
  | { op: 'same'; a: T; b: T; changes: FieldChange[] }
  | { op: 'only-a'; a: T }
  | { op: 'only-b'; b: T };

export interface FieldChange {
  field: string;
  a: string | undefined;
  b: string | undefined;
}

export interface CallRef {
  seq: number;
  service: string;
  image: string;
  args: string;
  status?: string;
}

export interface EventRef {
  index: number;
  pcr: number;
  type: string;
  data: string;
  digests: Record<string, string>;
}

export interface ReportDiff {
  a: { name: string; image: string; sha256: string };
  b: { name: string; image: string; sha256: string };
  identical: boolean;
  outcome: FieldChange[];
  images: FieldChange[];
  callCounts: { service: string; a: number; b: number }[];
  /** null when a report has no trace (run without --trace): only the counts can be compared. */
  calls: { total: { a: number; b: number }; aligned: Aligned<CallRef>[] | null; onlyA: number; onlyB: number; changed: number };
  measurements: { aligned: Aligned<EventRef>[] | null; pcrs: { bank: string; pcr: number; a: string | undefined; b: string | undefined }[] };
  variables: { final: FieldChange[]; changes: Aligned<string>[] };
  sections: { name: string; changes: FieldChange[] }[];
  handoff: FieldChange[];
}

/** "A ×3, B" in first-seen order: how often each service received a pointer into a section. */
function countedList(items: readonly string[]): string {
  const n = new Map<string, number>();
  for (const i of items) n.set(i, (n.get(i) ?? 0) + 1);
  return [...n].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(', ');
}

const str = (v: unknown): string | undefined => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

function fieldChanges(a: Record<string, unknown>, b: Record<string, unknown>, prefix = '', skip: (k: string) => boolean = () => false): FieldChange[] {
  const out: FieldChange[] = [];
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])]) {
    if (skip(k)) continue;
    const va = str(a[k]);
    const vb = str(b[k]);
    if (va !== vb) out.push({ field: prefix + k, a: va, b: vb });
  }
  return out;
}

/** Aligns two sequences on their keys (Myers LCS); pairs in both get `compare`'s differences; rows hold `view`s. */
export function align<T, U = T>(a: readonly T[], b: readonly T[], key: (x: T) => string, compare: (x: T, y: T) => FieldChange[], view: (x: T) => U = (x) => x as unknown as U): Aligned<U>[] {
  const parts = diffArrays(a.map(key), b.map(key));
  const out: Aligned<U>[] = [];
  let i = 0;
  let j = 0;
  for (const p of parts) {
    const n = p.count ?? p.value.length;
    for (let k = 0; k < n; k++) {
      if (p.removed) out.push({ op: 'only-a', a: view(a[i++]) });
      else if (p.added) out.push({ op: 'only-b', b: view(b[j++]) });
      else {
        const x = a[i++];
        const y = b[j++];
        out.push({ op: 'same', a: view(x), b: view(y), changes: compare(x, y) });
      }
    }
  }
  return out;
}

/** The image a call came from, with the report's own image renamed IMAGE so two builds' names compare equal. */
function roleOf(r: RunReport, caller: string): string {
  const img = callerImage(caller, (r.images ?? []).map((i) => i.name));
  return img === r.image.name ? 'IMAGE' : img.startsWith(`${r.image.name}:`) ? `IMAGE${img.slice(r.image.name.length)}` : img;
}

interface KeyedCall {
  ref: CallRef;
  key: string;
  values: Record<string, string>;
}

function callRef(r: RunReport, c: TraceCall, addresses: boolean): KeyedCall {
  const values: Record<string, string> = {};
  const keyArgs: string[] = [];
  for (const [k, v] of Object.entries(c.args)) {
    if (isAddressArg(c.service, k)) {
      if (addresses) values[k] = v;
      continue;
    }
    // Non-address values that are not hex (GUIDs, strings, enums, booleans) identify the call; hex values
    // (sizes, counts) are compared once aligned.
    if (/^0x[0-9a-f]+$/.test(v)) values[k] = v;
    else keyArgs.push(`${k}=${v}`);
  }
  const image = roleOf(r, c.caller);
  return {
    ref: { seq: c.seq, service: c.service, image, args: Object.entries(c.args).map(([k, v]) => `${k}=${v}`).join(' '), ...(c.status !== undefined ? { status: c.status } : {}) },
    key: `${image} ${c.service}(${keyArgs.join(', ')})`,
    values,
  };
}

function eventRef(e: TcgEvent, index: number, addresses: boolean): EventRef {
  let data = eventDataText(e);
  // An image load event names where the image was loaded: an address, not what was measured.
  if (!addresses && e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION') data = data.replace(/^image at 0x[0-9a-f]+ /, 'image ');
  return { index, pcr: e.pcr, type: e.type, data, digests: e.digests };
}

export function compareReports(a: RunReport, b: RunReport, names: { a: string; b: string }, o: DiffOptions = {}): ReportDiff {
  const addresses = o.addresses ?? false;
  const strip = (x: Record<string, unknown>) => {
    const { returnAddress, ...rest } = x;
    return { ...rest, ...(returnAddress !== undefined ? { returnAddress: String(returnAddress).replace(a.image.name, 'IMAGE').replace(b.image.name, 'IMAGE') } : {}) };
  };
  const outcome = fieldChanges(strip(a.outcome), strip(b.outcome), '', (k) => !addresses && k === 'mapKey');

  const imgKey = (r: RunReport) => (r.images ?? []).map((i) => `${i.name === r.image.name ? 'IMAGE' : i.name.replace(`${r.image.name}:`, 'IMAGE:')} from ${i.source}${i.started ? ', started' : ''}${i.exitStatus ? `, ${i.exitStatus}` : ''}`);
  const ia = imgKey(a);
  const ib = imgKey(b);
  const images: FieldChange[] = [];
  for (let k = 0; k < Math.max(ia.length, ib.length); k++) if (ia[k] !== ib[k]) images.push({ field: `image ${k + 1}`, a: ia[k], b: ib[k] });

  const services = [...new Set([...Object.keys(a.calls.counts), ...Object.keys(b.calls.counts)])].sort();
  const callCounts = services.map((s) => ({ service: s, a: a.calls.counts[s] ?? 0, b: b.calls.counts[s] ?? 0 })).filter((x) => x.a !== x.b);

  let aligned: Aligned<CallRef>[] | null = null;
  if (a.calls.trace && b.calls.trace) {
    const ca = a.calls.trace.map((c) => callRef(a, c, addresses));
    const cb = b.calls.trace.map((c) => callRef(b, c, addresses));
    aligned = align(ca, cb, (c) => c.key, (x, y) => [
      ...fieldChanges(x.values, y.values),
      ...(x.ref.status !== y.ref.status ? [{ field: 'status', a: x.ref.status, b: y.ref.status }] : []),
    ], (c) => c.ref);
  }
  const count = (op: string) => (aligned ?? []).filter((r) => r.op === op).length;

  let events: Aligned<EventRef>[] | null = null;
  if (a.eventLog || b.eventLog) {
    const ea = (a.eventLog ?? []).map((e, i) => eventRef(e, i, addresses));
    const eb = (b.eventLog ?? []).map((e, i) => eventRef(e, i, addresses));
    // An image load event is the same event when the same path was loaded; its size shows in the digest.
    const eventKey = (e: EventRef) => `PCR ${e.pcr} ${e.type} ${e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION' ? e.data.replace(/^image \(\d+ bytes\) /, 'image ') : e.data}`;
    events = align(ea, eb, eventKey, (x, y) =>
      [...new Set([...Object.keys(x.digests), ...Object.keys(y.digests)])].sort().filter((k) => x.digests[k] !== y.digests[k]).map((k) => ({ field: k, a: x.digests[k], b: y.digests[k] })));
  }
  const pcrs: ReportDiff['measurements']['pcrs'] = [];
  for (const bank of [...new Set([...Object.keys(a.pcrs ?? {}), ...Object.keys(b.pcrs ?? {})])].sort()) {
    const pa = a.pcrs?.[bank] ?? {};
    const pb = b.pcrs?.[bank] ?? {};
    for (const i of [...new Set([...Object.keys(pa), ...Object.keys(pb)])].sort((x, y) => Number(x) - Number(y))) {
      if (pa[i] !== pb[i]) pcrs.push({ bank, pcr: Number(i), a: pa[i], b: pb[i] });
    }
  }

  const varKey = (v: { guid: string; name: string }) => `${v.guid}:${v.name}`;
  const varText = (v: { attributes: string[]; size: number; utf16?: string; data?: string }) => `${v.attributes.join(' ')} ${v.size} bytes ${v.utf16 !== undefined ? JSON.stringify(v.utf16) : (v.data ?? '')}`;
  const va = new Map((a.variables ?? []).map((v) => [varKey(v), varText(v)]));
  const vb = new Map((b.variables ?? []).map((v) => [varKey(v), varText(v)]));
  const finalVars: FieldChange[] = [];
  for (const k of [...new Set([...va.keys(), ...vb.keys()])].sort()) if (va.get(k) !== vb.get(k)) finalVars.push({ field: k, a: va.get(k), b: vb.get(k) });
  const changeText = (c: { op: string; guid: string; name: string; attributes?: string[]; size?: number }) => `${c.op} ${c.guid}:${c.name} ${(c.attributes ?? []).join(' ')} ${c.size ?? ''}`.trim();
  const varChanges = align((a.variableChanges ?? []).map(changeText), (b.variableChanges ?? []).map(changeText), (x) => x, () => []);

  const sections: ReportDiff['sections'] = [];
  const sa = new Map((a.imageSections ?? []).map((s) => [s.name, s]));
  const sb = new Map((b.imageSections ?? []).map((s) => [s.name, s]));
  for (const name of [...new Set([...sa.keys(), ...sb.keys()])]) {
    const x = sa.get(name);
    const y = sb.get(name);
    const facts = (s: typeof x) => s === undefined ? {} : {
      present: 'yes',
      size: s.size,
      sha256: s.sha256,
      firstAccess: s.firstAccess === null ? 'never' : typeof s.firstAccess === 'string' ? s.firstAccess : `${s.firstAccess.access} of ${s.firstAccess.at}${addresses ? ` by ${s.firstAccess.by}` : ''}`,
      passedTo: countedList(s.passedTo.map((p) => `${p.service}(${p.argument})`)),
      copies: s.copies.map((c) => `${addresses ? `${c.address} ` : ''}${c.memoryType} ${c.length} bytes`).join('; '),
    };
    const changes = fieldChanges(facts(x), facts(y));
    if (changes.length) sections.push({ name, changes });
  }

  const ADDRESS_FIELDS = new Set(['address', 'ramdisk_image', 'cmd_line_ptr', 'efi_systab', 'efi_memmap', 'rsp', 'acpiRsdpAddr', 'returnAddress', 'lfb_base', 'setup_data', 'code32_start']);
  const flat = (r: RunReport): Record<string, unknown> => {
    const h = r.handoff;
    if (!h) return { reached: 'no' };
    const bp = h.bootParams;
    const o: Record<string, unknown> = {
      reached: 'yes',
      cmdline: h.cmdline,
      'initrd.size': h.initrd?.size,
      'initrd.sha256': h.initrd?.sha256,
      'kernel.image': h.kernel?.image.replace(r.image.name, 'IMAGE'),
      'kernel.size': h.kernel?.size,
      'kernel.fileSha256': h.kernel?.fileSha256,
      'kernel.source': h.kernel?.source,
      'e820 entries': bp?.e820?.length,
      'memory map descriptors': h.memoryMap?.length,
    };
    if (addresses) Object.assign(o, { 'initrd.address': h.initrd?.address, 'kernel.address': h.kernel?.address, 'bootParams.address': bp?.address });
    for (const [k, v] of Object.entries(bp?.setupHeader ?? {})) if (addresses || !ADDRESS_FIELDS.has(k)) o[`hdr.${k}`] = v;
    for (const [k, v] of Object.entries(bp?.efiInfo ?? {})) if (addresses || !ADDRESS_FIELDS.has(k)) o[`efi_info.${k}`] = v;
    if (h.memoryMap) o['memory map types'] = h.memoryMap.map((d) => d.type).join(',');
    return o;
  };
  const handoff = fieldChanges(flat(a), flat(b));

  const d: ReportDiff = {
    a: { name: names.a, image: a.image.name, sha256: a.image.sha256 },
    b: { name: names.b, image: b.image.name, sha256: b.image.sha256 },
    identical: false,
    outcome,
    images,
    callCounts,
    calls: { total: { a: a.calls.total, b: b.calls.total }, aligned, onlyA: count('only-a'), onlyB: count('only-b'), changed: (aligned ?? []).filter((r) => r.op === 'same' && r.changes.length > 0).length },
    measurements: { aligned: events, pcrs },
    variables: { final: finalVars, changes: varChanges },
    sections,
    handoff,
  };
  const alignedDiffers = (x: Aligned<unknown>[] | null) => (x ?? []).some((r) => r.op !== 'same' || r.changes.length > 0);
  d.identical = outcome.length === 0 && images.length === 0 && callCounts.length === 0 && a.calls.total === b.calls.total && !alignedDiffers(aligned)
    && !alignedDiffers(events) && pcrs.length === 0 && finalVars.length === 0 && !alignedDiffers(varChanges) && sections.length === 0 && handoff.length === 0;
  return d;
}

export { outcomeText };
