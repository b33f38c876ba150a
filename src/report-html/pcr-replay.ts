// Replays the TCG event log of a report (TCG PC Client PFP §10.2: PCR[i] = H(PCR[i] || digest), from zeros) and
// compares each bank's result with the PCR values the report gives, so the page shows whether log and PCRs agree.
import { createHash } from 'node:crypto';
import { TcgEvent } from './model';

export interface ReplayRow {
  bank: string;
  pcr: number;
  events: number;
  replayed: string;
  reported: string | undefined;
  matches: boolean;
}

const NODE_HASH: Record<string, string> = { sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

/** One row per bank and PCR that has events or a reported value other than its reset value. */
export function replayPcrs(events: readonly TcgEvent[], reported: Record<string, Record<string, string>> = {}): ReplayRow[] {
  const banks = new Set<string>(Object.keys(reported));
  for (const e of events) if (e.type !== 'EV_NO_ACTION') for (const b of Object.keys(e.digests)) banks.add(b);
  const rows: ReplayRow[] = [];
  for (const bank of [...banks].filter((b) => NODE_HASH[b]).sort()) {
    const size = createHash(NODE_HASH[bank]).digest().length;
    // PC Client Platform TPM Profile: the DRTM PCRs 17-22 start at all ones, the others at zeros.
    const initial = (pcr: number) => Buffer.alloc(size, pcr >= 17 && pcr <= 22 ? 0xff : 0);
    const pcrs = new Map<number, { value: Buffer; events: number }>();
    for (const e of events) {
      // EV_NO_ACTION events are logged but never extended (PFP §10.4.5).
      if (e.type === 'EV_NO_ACTION' || e.digests[bank] === undefined) continue;
      const cur = pcrs.get(e.pcr) ?? { value: initial(e.pcr), events: 0 };
      cur.value = createHash(NODE_HASH[bank]).update(cur.value).update(Buffer.from(e.digests[bank], 'hex')).digest();
      cur.events++;
      pcrs.set(e.pcr, cur);
    }
    const indices = new Set<number>([...pcrs.keys()]);
    for (const [i, v] of Object.entries(reported[bank] ?? {})) if (v !== initial(Number(i)).toString('hex')) indices.add(Number(i));
    for (const pcr of [...indices].sort((a, b) => a - b)) {
      const replayed = (pcrs.get(pcr)?.value ?? initial(pcr)).toString('hex');
      const rep = reported[bank]?.[String(pcr)];
      rows.push({ bank, pcr, events: pcrs.get(pcr)?.events ?? 0, replayed, reported: rep, matches: rep === replayed });
    }
  }
  return rows;
}
