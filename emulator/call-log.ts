// Record of every firmware service call: counts always, full entries under --trace, unimplemented members.

export interface CallEntry {
  seq: number;
  service: string;
  caller: string;
  depth: number;
  args: Record<string, string>;
  status?: string;
  notes?: string[];
}

export class CallLog {
  readonly counts = new Map<string, number>();
  readonly entries: CallEntry[] = [];
  readonly unimplemented = new Map<string, number>();
  readonly guestErrors: { seq: number; service: string; caller: string; message: string }[] = [];
  private seq = 0;
  /** The service being dispatched and its caller, so models can report guest errors without knowing them. */
  private active: { service: string; caller: string }[] = [];

  constructor(readonly trace: boolean) {}

  begin(service: string, caller: string, depth: number, args: () => Record<string, string>): CallEntry | undefined {
    this.seq++;
    this.counts.set(service, (this.counts.get(service) ?? 0) + 1);
    if (!this.trace) return undefined;
    const e: CallEntry = { seq: this.seq, service, caller, depth, args: args() };
    this.entries.push(e);
    return e;
  }

  get current(): number {
    return this.seq;
  }

  markUnimplemented(service: string): void {
    this.unimplemented.set(service, (this.unimplemented.get(service) ?? 0) + 1);
  }

  enter(service: string, caller: string): void {
    this.active.push({ service, caller });
  }

  leave(): void {
    this.active.pop();
  }

  /** Records guest misuse; service and caller default to the call being dispatched. */
  guestError(service: string | undefined, caller: string | undefined, message: string): void {
    const cur = this.active[this.active.length - 1];
    this.guestErrors.push({ seq: this.seq, service: service ?? cur?.service ?? '', caller: caller ?? cur?.caller ?? '', message });
  }
}
