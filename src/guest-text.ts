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
