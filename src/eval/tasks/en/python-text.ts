/**
 * Python `str` and Jinja2 behaviours that lm-evaluation-harness v0.4.2 prompts depend on, reproduced exactly
 * (JS `trim`, `toUpperCase` and template literals differ from them in small ways that change prompt bytes).
 */

/** Characters for which CPython's `str.isspace()` is true (what `str.strip()` removes). JS `trim` differs: it strips U+FEFF but not U+001C–U+001F or U+0085. */
const PY_WHITESPACE = new Set([
  "\t",
  "\n",
  "\v",
  "\f",
  "\r",
  "\x1c",
  "\x1d",
  "\x1e",
  "\x1f",
  " ",
  "\x85",
  "\xa0",
  "\u1680",
  "\u2000",
  "\u2001",
  "\u2002",
  "\u2003",
  "\u2004",
  "\u2005",
  "\u2006",
  "\u2007",
  "\u2008",
  "\u2009",
  "\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
]);

/** Python `s.strip()` with no argument. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_WHITESPACE.has(s[start])) start++;
  while (end > start && PY_WHITESPACE.has(s[end - 1])) end--;
  return s.slice(start, end);
}

/** Python `s.lstrip()` with no argument. */
export function pyLstrip(s: string): string {
  let start = 0;
  while (start < s.length && PY_WHITESPACE.has(s[start])) start++;
  return s.slice(start);
}

/** Python 3.8+ `s.capitalize()`: first character upper-cased, every other character lower-cased. */
export function pyCapitalize(s: string): string {
  const first = s.codePointAt(0);
  if (first === undefined) return s;
  const head = String.fromCodePoint(first);
  return head.toUpperCase() + s.slice(head.length).toLowerCase();
}

/**
 * Renders a template made only of literal text and `{{name}}` fields the way lm-eval's Jinja2 environment does.
 * lm-eval v0.4.2 builds `Environment(loader=BaseLoader, undefined=StrictUndefined)` without `keep_trailing_newline`,
 * so Jinja drops ONE trailing newline of the template source: the MMLU description "…algebra.\n\n" renders as
 * "…algebra.\n" and BBH's "…A: Let's think step by step.\n" loses its final "\n". Field values are inserted as is.
 */
export function renderJinjaFields(template: string, fields: Record<string, string>): string {
  // Jinja's lexer normalises the template's own newlines to "\n" and drops the last line end.
  let source = template.replace(/\r\n|\r/g, "\n");
  if (source.endsWith("\n")) source = source.slice(0, -1);
  return source.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_match, name: string) => {
    const value = fields[name];
    if (value === undefined) throw new Error(`template field '${name}' is undefined (Jinja StrictUndefined)`);
    return value;
  });
}

/** Python `==` on JSON-like documents (dicts compare by keys and values, lists element-wise). lm-eval drops the evaluated doc from its shots with `x != doc`. */
export function pyEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    // Python compares int 1 and float 1.0 as equal; bigint vs number likewise.
    if ((typeof a === "number" || typeof a === "bigint") && (typeof b === "number" || typeof b === "bigint"))
      return Number(a) === Number(b);
    return false;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => pyEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && pyEqual(ra[k], rb[k]));
}
