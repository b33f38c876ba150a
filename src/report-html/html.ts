// A tagged template for HTML that escapes every interpolated value unless it is already markup (Html), so report
// text (guest strings, variable names, console output) can never become markup in the page.

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | bigint | boolean | null | undefined | readonly Value[];

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** html`<td>${text}</td>`: values are escaped, Html values and arrays of them are inserted as they are. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}

/** Trusted markup written by this program (CSS, the page's script); never pass report text here. */
export const trusted = (s: string): Html => new Html(s);

export const join = (parts: readonly Html[], sep = ''): Html => new Html(parts.map((p) => p.text).join(sep));
