/**
 * Translates a Python `re` pattern (str pattern, Python 3.11 semantics) into an equivalent JavaScript RegExp.
 * lm-eval's YAML configs carry Python regexes (`regexes_to_ignore`, filters); JS differs in ways that change results:
 * Python's `$` also matches before a final "\n", `.` excludes only "\n", `\d`/`\w`/`\s`/`\b` are Unicode-aware,
 * `(?s)` flags are inline, `(?P<name>…)` names groups, and a lone `{`, `}` or `]` is a literal.
 * Unsupported constructs (verbose mode, scoped flags, conditionals, atomic groups, possessive quantifiers, `\N{…}`)
 * raise a SwallowError rather than silently matching something else.
 */
import { SwallowError } from "../../errors.js";
import { PYTHON_WHITESPACE_CLASS } from "./python-compat.js";

interface Flags {
  ignoreCase: boolean;
  multiline: boolean;
  dotAll: boolean;
  ascii: boolean;
}

const SYNTAX_CHARS = new Set([..."^$\\.*+?()[]{}|/"]);

/**
 * Translates `pattern` and compiles it with the `u` flag (Python indexes code points) and, unless `global` is false,
 * `g` (Python's `sub`/`findall` act on every match; use `global: false` for `re.search`-style `exec`).
 */
export function pythonRegex(pattern: string, options: { global?: boolean } = {}): RegExp {
  const { source, flags } = translatePythonRegex(pattern);
  try {
    return new RegExp(source, options.global === false ? flags.replace("g", "") : flags);
  } catch (error) {
    throw new SwallowError(
      `Python regex ${JSON.stringify(pattern)} has no JavaScript equivalent (${(error as Error).message}); simplify it`,
    );
  }
}

/** Python `re.sub(pattern, "", s)`. */
export function pythonSubEmpty(pattern: string, s: string): string {
  return s.replace(pythonRegex(pattern), "");
}

/**
 * Python `re.findall(pattern, s)`: whole matches when the pattern has no groups, group 1 with one group, a tuple
 * (here an array) of all groups with several; a group that did not take part is "".
 */
export function pythonFindAll(pattern: string, s: string): (string | string[])[] {
  return [...s.matchAll(pythonRegex(pattern))].map((m) =>
    m.length === 1 ? m[0] : m.length === 2 ? (m[1] ?? "") : m.slice(1).map((g) => g ?? ""),
  );
}

/** Python `re.search(pattern, s)`: the first match (groups of a non-participating group are undefined), or null. */
export function pythonSearch(pattern: string, s: string): RegExpExecArray | null {
  return pythonRegex(pattern, { global: false }).exec(s);
}

/** Returns the JavaScript source and flags equivalent to a Python `re` pattern. */
export function translatePythonRegex(pattern: string): { source: string; flags: string } {
  const flags: Flags = { ignoreCase: false, multiline: false, dotAll: false, ascii: false };
  let i = 0;
  // Python 3.11 only allows global inline flags at the very start.
  for (let m = /^\(\?([aiLmsux]+)\)/.exec(pattern); m; m = /^\(\?([aiLmsux]+)\)/.exec(pattern.slice(i))) {
    for (const f of m[1]) {
      if (f === "i") flags.ignoreCase = true;
      else if (f === "m") flags.multiline = true;
      else if (f === "s") flags.dotAll = true;
      else if (f === "a") flags.ascii = true;
      else if (f !== "u") unsupported(pattern, `inline flag (?${f})`);
    }
    i += m[0].length;
  }
  const word = flags.ascii ? "A-Za-z0-9_" : "\\p{L}\\p{N}_";
  const digit = flags.ascii ? "0-9" : "\\p{Nd}";
  const space = flags.ascii ? " \\t\\n\\r\\f\\v" : PYTHON_WHITESPACE_CLASS;
  const boundary = `(?:(?<=[${word}])(?![${word}])|(?<![${word}])(?=[${word}]))`;
  const nonBoundary = `(?:(?<=[${word}])(?=[${word}])|(?<![${word}])(?![${word}]))`;

  let out = "";
  let inClass = false;
  let classStart = false; // just after "[" or "[^": a "]" here is a literal in Python
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === "\\") {
      const [text, length] = escape(pattern, i, inClass, { word, digit, space, boundary, nonBoundary });
      out += text;
      i += length;
      classStart = false;
      continue;
    }
    if (inClass) {
      if (ch === "]" && !classStart) inClass = false;
      out += ch === "]" && classStart ? "\\]" : ch === "[" ? "\\[" : ch;
      classStart = false;
      i++;
      continue;
    }
    if (ch === "[") {
      inClass = true;
      classStart = true;
      if (pattern[i + 1] === "^") {
        out += "[^";
        i += 2;
      } else {
        out += "[";
        i++;
      }
      continue;
    }
    if (ch === "(" && pattern[i + 1] === "?") {
      const [text, length] = groupOpening(pattern, i);
      out += text;
      i += length;
      continue;
    }
    if (ch === "{") {
      // sre_parse: "{" digits ["," digits] "}" is a repeat ("{,n}" = "{0,n}", "{,}" = "*"); anything else is a literal "{".
      const quantifier = /^\{(\d*)(,?)(\d*)\}/.exec(pattern.slice(i));
      if (quantifier && quantifier[0] !== "{}") {
        if (pattern[i + quantifier[0].length] === "+") unsupported(pattern, "a possessive quantifier");
        out += `{${quantifier[1] || "0"}${quantifier[2]}${quantifier[3]}}`;
        i += quantifier[0].length;
      } else {
        out += "\\{";
        i++;
      }
      continue;
    }
    if ((ch === "*" || ch === "+" || ch === "?") && pattern[i + 1] === "+") unsupported(pattern, "a possessive quantifier");
    if (ch === "}" || ch === "]") out += `\\${ch}`;
    else if (ch === ".") out += flags.dotAll ? "[\\s\\S]" : "[^\\n]";
    else if (ch === "^") out += flags.multiline ? "(?:^|(?<=\\n))" : "^";
    else if (ch === "$") out += flags.multiline ? "(?=\\n|$)" : "(?=\\n?$)";
    else out += ch;
    i++;
  }
  if (inClass) throw new SwallowError(`Python regex ${JSON.stringify(pattern)}: unterminated character set; close it with "]"`);
  return { source: out, flags: `gu${flags.ignoreCase ? "i" : ""}` };
}

function unsupported(pattern: string, what: string): never {
  throw new SwallowError(
    `Python regex ${JSON.stringify(pattern)} uses ${what}, which this translator does not support; rewrite it without`,
  );
}

/** `(?…` openings: non-capturing, lookarounds, named groups and back-references, comments. */
function groupOpening(pattern: string, i: number): [string, number] {
  const rest = pattern.slice(i);
  for (const plain of ["(?:", "(?=", "(?!", "(?<=", "(?<!"]) if (rest.startsWith(plain)) return [plain, plain.length];
  const named = /^\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest) ?? /^\(\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
  if (named) return [`(?<${named[1]}>`, named[0].length];
  const backref = /^\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
  if (backref) return [`\\k<${backref[1]}>`, backref[0].length];
  const comment = /^\(\?#[^)]*\)/.exec(rest);
  if (comment) return ["", comment[0].length];
  if (rest.startsWith("(?>")) unsupported(pattern, "an atomic group (?>…)");
  if (rest.startsWith("(?(")) unsupported(pattern, "a conditional group (?(…)…)");
  return unsupported(pattern, `the group syntax ${JSON.stringify(rest.slice(0, 6))} (flags are only supported at the start)`);
}

interface Classes {
  word: string;
  digit: string;
  space: string;
  boundary: string;
  nonBoundary: string;
}

/** One backslash escape at `pattern[i]`; returns its JS text and how many pattern characters it used. */
function escape(pattern: string, i: number, inClass: boolean, c: Classes): [string, number] {
  const next = pattern[i + 1];
  if (next === undefined) throw new SwallowError(`Python regex ${JSON.stringify(pattern)} ends with a lone backslash; escape it as \\\\`);
  const set = (inner: string, negated: boolean): string => {
    if (!inClass) return `[${negated ? "^" : ""}${inner}]`;
    if (negated) unsupported(pattern, `\\${next} inside a character set`);
    return inner;
  };
  switch (next) {
    case "d":
      return [set(c.digit, false), 2];
    case "D":
      return [inClass ? unsupported(pattern, "\\D inside a character set") : `[^${c.digit}]`, 2];
    case "w":
      return [set(c.word, false), 2];
    case "W":
      return [set(c.word, true), 2];
    case "s":
      return [set(c.space, false), 2];
    case "S":
      return [set(c.space, true), 2];
    case "b":
      return [inClass ? "\\x08" : c.boundary, 2];
    case "B":
      return [inClass ? unsupported(pattern, "\\B inside a character set") : c.nonBoundary, 2];
    case "A":
      return [inClass ? unsupported(pattern, "\\A inside a character set") : "(?<![\\s\\S])", 2];
    case "Z":
      return [inClass ? unsupported(pattern, "\\Z inside a character set") : "(?![\\s\\S])", 2];
    case "a":
      return ["\\x07", 2];
    case "N":
      return unsupported(pattern, "\\N{…}");
    case "U": {
      const hex = /^[0-9a-fA-F]{8}/.exec(pattern.slice(i + 2));
      if (!hex) unsupported(pattern, "a malformed \\U escape");
      return [`\\u{${hex[0].replace(/^0+(?=.)/, "")}}`, 10];
    }
    case "u": {
      const hex = /^[0-9a-fA-F]{4}/.exec(pattern.slice(i + 2));
      if (!hex) unsupported(pattern, "a malformed \\u escape");
      return [`\\u${hex[0]}`, 6];
    }
    case "x": {
      const hex = /^[0-9a-fA-F]{2}/.exec(pattern.slice(i + 2));
      if (!hex) unsupported(pattern, "a malformed \\x escape");
      return [`\\x${hex[0]}`, 4];
    }
  }
  if (next === "0") {
    const octal = /^0[0-7]{0,2}/.exec(pattern.slice(i + 1))![0];
    return [`\\u{${parseInt(octal, 8).toString(16)}}`, 1 + octal.length];
  }
  // sre_parse: three octal digits are a character (\101 = "A"); otherwise one or two digits are a group reference.
  const octal3 = /^[0-7]{3}/.exec(pattern.slice(i + 1));
  if (octal3) return [`\\u{${parseInt(octal3[0], 8).toString(16)}}`, 4];
  if (/[1-9]/.test(next)) {
    if (inClass) unsupported(pattern, "an octal escape inside a character set");
    const digits = /^[1-9][0-9]?/.exec(pattern.slice(i + 1))![0];
    return [`\\${digits}`, 1 + digits.length];
  }
  if ("nrtfv".includes(next)) return [`\\${next}`, 2];
  if (/[A-Za-z]/.test(next)) unsupported(pattern, `the escape \\${next}`);
  // Python lets any other character be escaped; JS's u mode only allows syntax characters (and "-" in sets).
  const codePoint = pattern.codePointAt(i + 1)!;
  const length = codePoint > 0xffff ? 3 : 2;
  if (SYNTAX_CHARS.has(next) || (inClass && next === "-")) return [`\\${next}`, 2];
  return [`\\u{${codePoint.toString(16)}}`, length];
}
