// Untrusted guest text made safe for a terminal and for single-line summaries.

/** Escapes C0/C1 controls (ESC sequences included) except newline and tab; CR is dropped before LF. */
export function terminalSafe(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line: every control character escaped, newlines included. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const OWN_PREFIX = 'stubemu:';

/**
 * Streams guest console text to a terminal: controls escaped (terminalSafe), and a guest line that starts
 * like stubemu's own lines ("stubemu:") marked "[guest] ", so a guest cannot forge a summary. Text is held
 * back only while a line's first characters could still turn into that prefix.
 */
export class GuestConsoleStream {
  private pending = '';
  /** A CR at the end of a chunk: it may be the first half of a CRLF split across two OutputString calls. */
  private cr = false;
  private atLineStart = true;

  constructor(private readonly write: (text: string) => void) {}

  push(text: string): void {
    let raw = (this.cr ? '\r' : '') + text;
    this.cr = raw.endsWith('\r');
    if (this.cr) raw = raw.slice(0, -1);
    let s = this.pending + terminalSafe(raw);
    this.pending = '';
    let out = '';
    while (s.length > 0) {
      if (this.atLineStart) {
        if (s.length < OWN_PREFIX.length && OWN_PREFIX.startsWith(s)) {
          this.pending = s; // undecided: wait for more text
          break;
        }
        if (s.startsWith(OWN_PREFIX)) out += '[guest] ';
        this.atLineStart = false;
      }
      const nl = s.indexOf('\n');
      if (nl < 0) {
        out += s;
        break;
      }
      out += s.slice(0, nl + 1);
      s = s.slice(nl + 1);
      this.atLineStart = true;
    }
    if (out) this.write(out);
  }

  /** Writes what was held back (at the end of the run). */
  flush(): void {
    const rest = this.pending + (this.cr ? terminalSafe('\r') : '');
    if (rest) this.write(rest);
    this.pending = '';
    this.cr = false;
  }
}
