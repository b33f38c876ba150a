// Record of every firmware service call: counts always, full entries under --trace, unimplemented members.

export interface CallEntry {
  seq: number;
  service: string;
  caller: string;
  depth: number;
  /** The virtual clock (µs) when the call was made: the timeline of the HTML report. */
  micros: number;
  args: Record<string, string>;
  notes?: string[];
  /** The virtual clock (µs) when the service returned, or when the run ended inside it (ExitBootServices, a fault). */
  returnMicros?: number;
  status?: string;
}

export class CallLog {
  readonly counts = new Map<string, number>();
  readonly entries: CallEntry[] = [];
  readonly unimplemented = new Map<string, number>();
  readonly guestErrors: { seq: number; service: string; caller: string; message: string }[] = [];
  private seq = 0;
  /** The service being dispatched and its caller, so models can report guest errors without knowing them. */
  private active: { service: string; caller: string; entry?: CallEntry }[] = [];
  /** The entry begun and not yet entered (begin() and enter() bracket the dispatcher's bookkeeping). */
  private pending: CallEntry | undefined;
  /** The virtual clock in µs; set by the firmware once its clock exists. */
  clock: () => bigint = () => 0n;

  constructor(readonly trace: boolean) {}

  begin(service: string, caller: string, depth: number, args: () => Record<string, string>): CallEntry | undefined {
    this.seq++;
    this.counts.set(service, (this.counts.get(service) ?? 0) + 1);
    if (!this.trace) return undefined;
    const e: CallEntry = { seq: this.seq, service, caller, depth, micros: Number(this.clock()), args: args() };
    this.entries.push(e);
    this.pending = e;
    return e;
  }

  get current(): number {
    return this.seq;
  }

  markUnimplemented(service: string): void {
    this.unimplemented.set(service, (this.unimplemented.get(service) ?? 0) + 1);
  }

  enter(service: string, caller: string): void {
    this.active.push({ service, caller, entry: this.pending });
    this.pending = undefined;
  }

  leave(): void {
    const done = this.active.pop();
    if (done?.entry) done.entry.returnMicros = Number(this.clock());
  }

  /** Adds a note to the trace entry of the service being dispatched (what it did on the guest's behalf). */
  note(text: string): void {
    const cur = this.active[this.active.length - 1]?.entry;
    if (cur) (cur.notes ??= []).push(text);
  }

  /** Records guest misuse; service and caller default to the call being dispatched. */
  guestError(service: string | undefined, caller: string | undefined, message: string): void {
    const cur = this.active[this.active.length - 1];
    this.guestErrors.push({ seq: this.seq, service: service ?? cur?.service ?? '', caller: caller ?? cur?.caller ?? '', message });
  }
}
