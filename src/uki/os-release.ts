// os-release(5) text as systemd reads it (src/basic/env-file.c parse_env_file): KEY=VALUE lines, quotes, escapes, comments.

/** Characters a backslash escapes inside double quotes; before any other character the backslash stays (shell rule). */
const SHELL_NEED_ESCAPE = '"\\`$';
const WHITESPACE = ' \t\n\r';
const NEWLINE = '\n\r';

type State = 'preKey' | 'key' | 'preValue' | 'value' | 'valueEscape' | 'single' | 'double' | 'doubleEscape' | 'comment' | 'commentEscape';

/**
 * Assignments in file order; a key assigned twice keeps its first position and its last value, as systemd's
 * load_env_file_pairs does. A line with a key and no "=" is dropped; "#" or ";" at the start of a line opens a comment.
 */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let state: State = 'preKey';
  let key = '';
  let value = '';
  /** Where trailing whitespace of the key / an unquoted value starts, or -1 while the last character is not space. */
  let keyWs = -1;
  let valueWs = -1;

  const push = (chompValue: boolean): void => {
    const k = keyWs >= 0 ? key.slice(0, keyWs) : key;
    const v = chompValue && valueWs >= 0 ? value.slice(0, valueWs) : value;
    out.set(k, v);
    key = ''; value = ''; keyWs = -1; valueWs = -1;
  };

  for (const c of text) {
    switch (state) {
      case 'preKey':
        if (c === '#' || c === ';') state = 'comment';
        else if (!WHITESPACE.includes(c)) { state = 'key'; key = c; keyWs = -1; }
        break;
      case 'key':
        if (NEWLINE.includes(c)) { state = 'preKey'; key = ''; keyWs = -1; }
        else if (c === '=') { state = 'preValue'; value = ''; valueWs = -1; }
        else {
          if (!WHITESPACE.includes(c)) keyWs = -1;
          else if (keyWs < 0) keyWs = key.length;
          key += c;
        }
        break;
      case 'preValue':
        if (NEWLINE.includes(c)) { state = 'preKey'; push(false); }
        else if (c === "'") state = 'single';
        else if (c === '"') state = 'double';
        else if (c === '\\') state = 'valueEscape';
        else if (!WHITESPACE.includes(c)) { state = 'value'; value += c; }
        break;
      case 'value':
        if (NEWLINE.includes(c)) { state = 'preKey'; push(true); }
        else if (c === '\\') { state = 'valueEscape'; valueWs = -1; }
        else {
          if (!WHITESPACE.includes(c)) valueWs = -1;
          else if (valueWs < 0) valueWs = value.length;
          value += c;
        }
        break;
      case 'valueEscape':
        // An escaped newline continues the line and is dropped.
        state = 'value';
        if (!NEWLINE.includes(c)) value += c;
        break;
      case 'single':
        if (c === "'") state = 'preValue';
        else value += c;
        break;
      case 'double':
        if (c === '"') state = 'preValue';
        else if (c === '\\') state = 'doubleEscape';
        else value += c;
        break;
      case 'doubleEscape':
        state = 'double';
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== '\n') value += `\\${c}`;
        break;
      case 'comment':
        if (c === '\\') state = 'commentEscape';
        else if (NEWLINE.includes(c)) state = 'preKey';
        break;
      case 'commentEscape':
        state = NEWLINE.includes(c) ? 'preKey' : 'comment';
        break;
    }
  }
  // A last line without a newline still counts.
  if (state === 'preValue' || state === 'valueEscape' || state === 'single' || state === 'double' || state === 'doubleEscape') push(false);
  else if (state === 'value') push(true);
  return out;
}

/** A display name: PRETTY_NAME, else NAME (or ID) with VERSION (or VERSION_ID), as os-release(5) suggests for presentation. */
export function osReleaseTitle(fields: ReadonlyMap<string, string>): string | undefined {
  const pretty = fields.get('PRETTY_NAME');
  if (pretty) return pretty;
  const name = fields.get('NAME') ?? fields.get('ID');
  if (!name) return undefined;
  const version = fields.get('VERSION') ?? fields.get('VERSION_ID');
  return version ? `${name} ${version}` : name;
}
