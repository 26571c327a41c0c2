/**
 * Translates a regular expression written for Oniguruma (what Hugging Face `tokenizers` compiles a
 * pre-tokenizer's `{"Regex": …}` pattern with, Ruby syntax, UTF-8) into an equivalent JavaScript
 * pattern for the `u` flag.
 *
 * The two dialects mostly agree; these are the differences handled here (each was checked against
 * `tokenizers` 0.23.2):
 * - `\s` is Unicode White_Space-ish in both but not the same set: Oniguruma's is U+0009–U+000D, U+0085
 *   and the Z categories (Zs, Zl, Zp); JavaScript's lacks U+0085 and adds U+FEFF. Rewritten to an explicit class.
 * - `\d`, `\w`, `\b`, `\h` are Unicode-aware in Oniguruma (`\d` = Nd, `\w` ≈ Alphabetic, M, Nd, Pc; `\h` = hex digit)
 *   but ASCII-only or absent in JavaScript.
 * - `(?i:…)` and `(?i)` scoped case-insensitivity does not exist in Node 20; letters inside are expanded to
 *   classes of their simple case-fold partners (`s` → `[sSſ]`, `k` → `[kKK]`). Oniguruma also applies
 *   multi-character folds (`(?i:ss)` matches `ß`); that is not reproduced, and does not matter for the
 *   contraction groups of GPT-2/Llama-3/Qwen patterns.
 * - `.` excludes only `\n` in Oniguruma (JavaScript also excludes `\r`, U+2028, U+2029); `^`/`$` are line anchors.
 * - `\A`, `\z`, `\Z`, `\x{…}`, `\e`, `\a`, octal escapes, `{,n}`, literal `{`/`}`/`]`, `\p{^X}`, script
 *   names such as `\p{Han}`.
 * Constructs with no faithful translation (possessive quantifiers, atomic groups, POSIX brackets, class
 * set operations, `\G`, `\K`, `\R`, `\X`, other inline options) are rejected with an error naming them.
 *
 * Not handled: Unicode versions. `\p{L}` etc. use the JavaScript engine's ICU data (Node 20.20: Unicode 17)
 * while tokenizers 0.23.2's Oniguruma knows Unicode 16, so the ~4,600 code points first assigned in
 * Unicode 17 (CJK Extension J, Tolong Siki, …) are letters here and unassigned there. Checked over every
 * code point: those are the only differences for `\p{L}`, `\p{N}`, `\s`, `\d` and `\w`.
 */

/** Thrown for a pattern that cannot be translated; the caller adds which file and field it came from. */
export class RegexTranslationError extends Error {
  override readonly name = "RegexTranslationError";
}

const SPACE_CLASS_BODY = "\\t-\\r\\x85\\p{Z}";
/** Oniguruma's Unicode `\w` (measured against tokenizers 0.23.2): Alphabetic, marks, Nd, Pc and ² ³ ¹ ¼ ½ ¾. */
const WORD_CLASS_BODY = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\xb2\\xb3\\xb9\\xbc-\\xbe";
const HEX_CLASS_BODY = "0-9a-fA-F";
const WORD_BOUNDARY = `(?:(?<=[${WORD_CLASS_BODY}])(?![${WORD_CLASS_BODY}])|(?<![${WORD_CLASS_BODY}])(?=[${WORD_CLASS_BODY}]))`;
const NOT_WORD_BOUNDARY = `(?:(?<=[${WORD_CLASS_BODY}])(?=[${WORD_CLASS_BODY}])|(?<![${WORD_CLASS_BODY}])(?![${WORD_CLASS_BODY}]))`;

/** Characters that must be escaped to stand for themselves in a JavaScript `u` pattern. */
const SYNTAX_CHARS = new Set("^$\\.*+?()[]{}|/".split(""));

/** A code point as a JavaScript `u` pattern atom (also valid inside a character class). */
function literal(codePoint: number): string {
  const ch = String.fromCodePoint(codePoint);
  if (SYNTAX_CHARS.has(ch)) return "\\" + ch;
  if (ch === "-") return "\\x2d";
  if (codePoint < 0x20 || codePoint === 0x7f || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
    return `\\u{${codePoint.toString(16)}}`;
  }
  return ch;
}

// ---------------------------------------------------------------------------------------------
// Simple case folding partners.

/** Non-ASCII characters whose simple case fold is an ASCII letter (U+017F ſ → s, U+212A Kelvin → k). */
const ASCII_FOLD_EXTRAS: Readonly<Record<string, readonly number[]>> = { s: [0x17f], k: [0x212a] };

let foldClasses: Map<string, number[]> | null = null;

/** A rough simple-case-fold key: upper(lower(c)) when both are single code points. */
function foldKey(codePoint: number): string {
  const ch = String.fromCodePoint(codePoint);
  const lower = ch.toLowerCase();
  if ([...lower].length !== 1) return ch;
  const upper = lower.toUpperCase();
  return [...upper].length === 1 ? upper : lower;
}

/** Builds (once) classes of code points that share a fold key, by scanning the planes that have case. */
function nonAsciiFoldClasses(): Map<string, number[]> {
  if (foldClasses) return foldClasses;
  const classes = new Map<string, number[]>();
  for (let cp = 0; cp < 0x20000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    if (ch.toLowerCase() === ch && ch.toUpperCase() === ch) continue;
    const key = foldKey(cp);
    const list = classes.get(key);
    if (list) list.push(cp);
    else classes.set(key, [cp]);
  }
  foldClasses = classes;
  return classes;
}

/** Code points that match `codePoint` case-insensitively (including itself), sorted. */
export function caseFoldPartners(codePoint: number): number[] {
  const ch = String.fromCodePoint(codePoint);
  if (codePoint < 0x80) {
    const lower = ch.toLowerCase();
    if (lower === ch.toUpperCase()) return [codePoint];
    const set = [lower.codePointAt(0)!, ch.toUpperCase().codePointAt(0)!, ...(ASCII_FOLD_EXTRAS[lower] ?? [])];
    return [...new Set(set)].sort((a, b) => a - b);
  }
  const found = nonAsciiFoldClasses().get(foldKey(codePoint));
  const set = new Set<number>([codePoint, ...(found ?? [])]);
  return [...set].sort((a, b) => a - b);
}

function classItemsFor(codePoint: number, caseInsensitive: boolean): string {
  if (!caseInsensitive) return literal(codePoint);
  return caseFoldPartners(codePoint).map(literal).join("");
}

// ---------------------------------------------------------------------------------------------
// Property names.

function propertyEscape(name: string, negated: boolean, where: string): string {
  let n = name;
  let neg = negated;
  if (n.startsWith("^")) {
    n = n.slice(1);
    neg = !neg;
  }
  const letter = neg ? "P" : "p";
  for (const candidate of [n, `Script=${n}`]) {
    try {
      new RegExp(`\\p{${candidate}}`, "u");
      return `\\${letter}{${candidate}}`;
    } catch {
      // try the next spelling
    }
  }
  throw new RegexTranslationError(`unsupported Unicode property \\p{${name}} ${where}`);
}

// ---------------------------------------------------------------------------------------------
// The translator.

interface GroupFrame {
  /** Case-insensitive flag in force inside this group. */
  caseInsensitive: boolean;
  /** Extra `)` to emit when this group closes (for `(?i)` opened mid-group). */
  extraClosers: number;
}

class Translator {
  private i = 0;
  private out = "";
  private readonly groups: GroupFrame[] = [{ caseInsensitive: false, extraClosers: 0 }];

  constructor(private readonly src: string) {}

  translate(): string {
    const src = this.src;
    while (this.i < src.length) {
      const c = src[this.i];
      switch (c) {
        case "\\":
          this.escapeOutsideClass();
          break;
        case "[":
          this.characterClass();
          break;
        case "(":
          this.openGroup();
          break;
        case ")":
          this.closeGroup();
          break;
        case ".":
          this.out += "[^\\n]";
          this.i++;
          break;
        case "^":
          this.out += "(?<![^\\n])";
          this.i++;
          break;
        case "$":
          this.out += "(?![^\\n])";
          this.i++;
          break;
        case "*":
        case "+":
        case "?":
          this.out += c;
          this.i++;
          this.afterQuantifier();
          break;
        case "{":
          this.brace();
          break;
        case "|":
          this.out += "|";
          this.i++;
          break;
        default: {
          const cp = src.codePointAt(this.i)!;
          this.i += cp > 0xffff ? 2 : 1;
          this.emitLiteral(cp);
        }
      }
    }
    if (this.groups.length !== 1) throw new RegexTranslationError("unbalanced parentheses (missing ')')");
    this.out += ")".repeat(this.groups[0].extraClosers);
    return this.out;
  }

  private get caseInsensitive(): boolean {
    return this.groups[this.groups.length - 1].caseInsensitive;
  }

  private emitLiteral(cp: number): void {
    if (this.caseInsensitive) {
      const partners = caseFoldPartners(cp);
      this.out += partners.length > 1 ? `[${partners.map(literal).join("")}]` : literal(cp);
    } else {
      this.out += literal(cp);
    }
  }

  /** After `*`, `+`, `?` or `{n,m}`: allow a lazy `?`, reject possessive `+`. */
  private afterQuantifier(): void {
    const next = this.src[this.i];
    if (next === "+") throw new RegexTranslationError(`possessive quantifier at offset ${this.i} is not supported in JavaScript`);
    if (next === "?") {
      this.out += "?";
      this.i++;
    }
  }

  private brace(): void {
    const rest = this.src.slice(this.i);
    const m = /^\{(\d*)(,(\d*))?\}/.exec(rest);
    if (m && (m[1] !== "" || (m[2] !== undefined && m[3] !== ""))) {
      const min = m[1] === "" ? "0" : m[1];
      this.out += m[2] === undefined ? `{${min}}` : `{${min},${m[3]}}`;
      this.i += m[0].length;
      const next = this.src[this.i];
      if (next === "+") throw new RegexTranslationError(`quantifier '${m[0]}+' at offset ${this.i - m[0].length} is not supported`);
      if (next === "?") {
        this.out += "?";
        this.i++;
      }
      return;
    }
    this.out += "\\{";
    this.i++;
  }

  private openGroup(): void {
    const src = this.src;
    const start = this.i;
    if (src[this.i + 1] !== "?") {
      this.out += "(";
      this.i++;
      this.groups.push({ caseInsensitive: this.caseInsensitive, extraClosers: 0 });
      return;
    }
    const rest = src.slice(this.i + 2);
    if (rest.startsWith("#")) {
      const end = src.indexOf(")", this.i);
      if (end < 0) throw new RegexTranslationError(`unterminated comment group at offset ${start}`);
      this.i = end + 1;
      return;
    }
    for (const prefix of [":", "=", "!", "<=", "<!"]) {
      if (rest.startsWith(prefix)) {
        this.out += "(?" + prefix;
        this.i += 2 + prefix.length;
        this.groups.push({ caseInsensitive: this.caseInsensitive, extraClosers: 0 });
        return;
      }
    }
    const named = /^(?:<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)')/.exec(rest);
    if (named) {
      this.out += `(?<${named[1] ?? named[2]}>`;
      this.i += 2 + named[0].length;
      this.groups.push({ caseInsensitive: this.caseInsensitive, extraClosers: 0 });
      return;
    }
    const options = /^([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(rest);
    if (options) {
      const on = options[1];
      const off = options[2] ?? "";
      for (const flag of on + off) {
        if (flag !== "i") {
          throw new RegexTranslationError(
            `inline option '${flag}' in '(?${options[0]}' at offset ${start} is not supported (only (?i) / (?-i))`,
          );
        }
      }
      const ci = on.includes("i") ? true : off.includes("i") ? false : this.caseInsensitive;
      this.i += 2 + options[0].length;
      if (options[3] === ":") {
        this.out += "(?:";
        this.groups.push({ caseInsensitive: ci, extraClosers: 0 });
      } else {
        // `(?i)` switches the option until the end of the enclosing group, and (as in Ruby) the
        // alternatives after it belong to that scope: `a(?i)b|c` is `a(?i:b|c)`.
        this.out += "(?:";
        const frame = this.groups[this.groups.length - 1];
        frame.extraClosers++;
        frame.caseInsensitive = ci;
      }
      return;
    }
    throw new RegexTranslationError(
      `group syntax '${src.slice(start, start + 4)}…' at offset ${start} is not supported (atomic groups, conditionals and absent operators have no JavaScript equivalent)`,
    );
  }

  private closeGroup(): void {
    if (this.groups.length === 1) throw new RegexTranslationError(`unbalanced ')' at offset ${this.i}`);
    const frame = this.groups.pop()!;
    this.out += ")".repeat(frame.extraClosers) + ")";
    this.i++;
  }

  /** Reads `\x{…}`, `\xHH`, `\uHHHH`, octal, control escapes; returns the code point or -1. */
  private codePointEscape(): number {
    const src = this.src;
    const c = src[this.i + 1];
    let m: RegExpExecArray | null;
    switch (c) {
      case "t":
        this.i += 2;
        return 0x09;
      case "n":
        this.i += 2;
        return 0x0a;
      case "r":
        this.i += 2;
        return 0x0d;
      case "f":
        this.i += 2;
        return 0x0c;
      case "v":
        this.i += 2;
        return 0x0b;
      case "a":
        this.i += 2;
        return 0x07;
      case "e":
        this.i += 2;
        return 0x1b;
      case "x":
        if ((m = /^\\x\{([0-9a-fA-F]{1,8})\}/.exec(src.slice(this.i)))) {
          this.i += m[0].length;
          return this.checkedCodePoint(parseInt(m[1], 16));
        }
        if ((m = /^\\x([0-9a-fA-F]{1,2})/.exec(src.slice(this.i)))) {
          this.i += m[0].length;
          return parseInt(m[1], 16);
        }
        throw new RegexTranslationError(`bad \\x escape at offset ${this.i}`);
      case "u":
        if ((m = /^\\u([0-9a-fA-F]{4})/.exec(src.slice(this.i)))) {
          this.i += m[0].length;
          return parseInt(m[1], 16);
        }
        throw new RegexTranslationError(`bad \\u escape at offset ${this.i}`);
      case "0":
        m = /^\\0([0-7]{0,2})/.exec(src.slice(this.i))!;
        this.i += m[0].length;
        return m[1] === "" ? 0 : parseInt(m[1], 8);
      default:
        return -1;
    }
  }

  private checkedCodePoint(cp: number): number {
    if (cp > 0x10ffff) throw new RegexTranslationError(`code point escape U+${cp.toString(16)} is out of range`);
    return cp;
  }

  private propertyAt(): string {
    const src = this.src;
    const negated = src[this.i + 1] === "P";
    const m = /^\\[pP]\{([^}]*)\}/.exec(src.slice(this.i));
    if (!m) throw new RegexTranslationError(`property escape without braces at offset ${this.i}`);
    this.i += m[0].length;
    return propertyEscape(m[1], negated, `at offset ${this.i - m[0].length}`);
  }

  private escapeOutsideClass(): void {
    const src = this.src;
    const c = src[this.i + 1];
    if (c === undefined) throw new RegexTranslationError("pattern ends with a lone backslash");
    const simple: Record<string, string> = {
      s: `[${SPACE_CLASS_BODY}]`,
      S: `[^${SPACE_CLASS_BODY}]`,
      d: "\\p{Nd}",
      D: "\\P{Nd}",
      w: `[${WORD_CLASS_BODY}]`,
      W: `[^${WORD_CLASS_BODY}]`,
      h: `[${HEX_CLASS_BODY}]`,
      H: `[^${HEX_CLASS_BODY}]`,
      b: WORD_BOUNDARY,
      B: NOT_WORD_BOUNDARY,
      A: "(?<![\\s\\S])",
      z: "(?![\\s\\S])",
      Z: "(?=\\n?(?![\\s\\S]))",
    };
    if (c in simple) {
      this.out += simple[c];
      this.i += 2;
      return;
    }
    if (c === "p" || c === "P") {
      this.out += this.propertyAt();
      return;
    }
    if (c >= "1" && c <= "9") {
      const m = /^\\(\d+)/.exec(src.slice(this.i))!;
      this.out += `\\${m[1]}`;
      this.i += m[0].length;
      return;
    }
    if (c === "k" && src[this.i + 2] === "<") {
      const m = /^\\k<([A-Za-z_][A-Za-z0-9_]*)>/.exec(src.slice(this.i));
      if (!m) throw new RegexTranslationError(`unsupported back-reference at offset ${this.i}`);
      this.out += m[0];
      this.i += m[0].length;
      return;
    }
    const cp = this.codePointEscape();
    if (cp >= 0) {
      this.emitLiteral(cp);
      return;
    }
    if (/[A-Za-z0-9]/.test(c)) throw new RegexTranslationError(`escape '\\${c}' at offset ${this.i} is not supported`);
    const escaped = src.codePointAt(this.i + 1)!;
    this.i += escaped > 0xffff ? 3 : 2;
    this.emitLiteral(escaped);
  }

  private characterClass(): void {
    const src = this.src;
    const start = this.i;
    this.i++;
    let body = "";
    let negated = false;
    if (src[this.i] === "^") {
      negated = true;
      this.i++;
    }
    const ci = this.caseInsensitive;
    let first = true;
    let previousCodePoint = -1; // last single character added, for ranges
    for (;;) {
      if (this.i >= src.length) throw new RegexTranslationError(`unterminated character class starting at offset ${start}`);
      const c = src[this.i];
      if (c === "]" && !first) {
        this.i++;
        break;
      }
      first = false;
      if (c === "[") {
        throw new RegexTranslationError(`nested character class or POSIX bracket at offset ${this.i} is not supported`);
      }
      if (c === "&" && src[this.i + 1] === "&") {
        throw new RegexTranslationError(`character class intersection '&&' at offset ${this.i} is not supported`);
      }
      if (c === "-" && previousCodePoint >= 0 && src[this.i + 1] !== "]" && this.i + 1 < src.length) {
        // A range previousCodePoint-next.
        this.i++;
        const to = this.classSingleCodePoint();
        if (to < 0) throw new RegexTranslationError(`bad range end in character class at offset ${this.i}`);
        if (to < previousCodePoint) throw new RegexTranslationError(`empty range in character class at offset ${this.i}`);
        body += "-" + literal(to);
        if (ci) body += this.caseFoldRange(previousCodePoint, to);
        previousCodePoint = -1;
        continue;
      }
      if (c === "\\") {
        const e = src[this.i + 1];
        const classEscapes: Record<string, string> = {
          s: SPACE_CLASS_BODY,
          d: "\\p{Nd}",
          D: "\\P{Nd}",
          w: WORD_CLASS_BODY,
          h: HEX_CLASS_BODY,
        };
        if (e !== undefined && e in classEscapes) {
          body += classEscapes[e];
          this.i += 2;
          previousCodePoint = -1;
          continue;
        }
        if (e === "S" || e === "W" || e === "H") {
          throw new RegexTranslationError(`'\\${e}' inside a character class at offset ${this.i} is not supported`);
        }
        if (e === "p" || e === "P") {
          body += this.propertyAt();
          previousCodePoint = -1;
          continue;
        }
      }
      const cp = this.classSingleCodePoint();
      body += classItemsFor(cp, ci);
      previousCodePoint = cp;
    }
    this.out += (negated ? "[^" : "[") + body + "]";
  }

  /** One character (possibly escaped) inside a class; advances. */
  private classSingleCodePoint(): number {
    const src = this.src;
    if (src[this.i] === "\\") {
      const e = src[this.i + 1];
      if (e === undefined) throw new RegexTranslationError("pattern ends inside a character class");
      if (e === "b") {
        this.i += 2;
        return 0x08;
      }
      const cp = this.codePointEscape();
      if (cp >= 0) return cp;
      if (/[A-Za-z0-9]/.test(e))
        throw new RegexTranslationError(`escape '\\${e}' inside a character class at offset ${this.i} is not supported`);
      const escaped = src.codePointAt(this.i + 1)!;
      this.i += escaped > 0xffff ? 3 : 2;
      return escaped;
    }
    const cp = src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }

  /** Case-fold partners of a class range under (?i). */
  private caseFoldRange(from: number, to: number): string {
    if (to - from > 0x3000) throw new RegexTranslationError("case-insensitive character class range is too wide to translate");
    const extra = new Set<number>();
    for (let cp = from; cp <= to; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      for (const p of caseFoldPartners(cp)) if (p < from || p > to) extra.add(p);
    }
    return [...extra].map(literal).join("");
  }
}

/**
 * Returns the JavaScript (`u` flag) source equivalent to an Oniguruma pattern, or throws
 * RegexTranslationError. The result is meant to be compiled with flags "gu" (or "yu").
 */
export function translateOnigurumaPattern(pattern: string): string {
  const source = new Translator(pattern).translate();
  try {
    new RegExp(source, "u");
  } catch (error) {
    throw new RegexTranslationError(`JavaScript rejects the translated pattern: ${(error as Error).message}`);
  }
  return source;
}
