/**
 * JSON schema `pattern` (ECMA-262 with the `u` flag, as ajv runs it) for the common subset: literals, `.`,
 * classes (`[a-z]`, `[^…]`, `\d \w \s` and negations), groups, `|`, `* + ? {m} {m,} {m,n}` (lazy forms too),
 * `^` at the start and `$` at the end. A pattern matches anywhere in the string unless anchored, as in ajv.
 * Anything else (backreferences, lookaround, `\b`, `\p{…}`, anchors elsewhere) is refused with a message.
 *
 * Compiled to a Thompson NFA over code points; the automaton keeps a set of live NFA states per string.
 */

/** A set of NFA states after some input (only states from which a match is still reachable). */
export interface RegexSet {
  ids: readonly number[];
  key: string;
  accepting: boolean;
  /** Fewest more UTF-8 bytes to a match. */
  minBytes: number;
  /** Memo of {@link Regex.step} for ASCII code points. */
  ascii?: (RegexSet | null | undefined)[];
}

type Ast =
  | { t: "chars"; ranges: [number, number][] }
  | { t: "cat"; items: Ast[] }
  | { t: "alt"; items: Ast[] }
  | { t: "rep"; item: Ast; min: number; max: number };

const MAX_CP = 0x10ffff;
const MAX_STATES = 20000;
const DIGIT: [number, number][] = [[0x30, 0x39]];
const WORD: [number, number][] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: [number, number][] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
/** `.` without the `s` flag: anything but line terminators. */
const DOT = complement([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]);

function complement(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Parses the pattern (without its anchors) into an AST. @throws Error with a one-line reason. */
class Parser {
  private i = 0;
  constructor(private readonly cps: number[]) {}

  parse(): Ast {
    const ast = this.alt();
    if (this.i < this.cps.length) this.unsupported(`unexpected ${String.fromCodePoint(this.cps[this.i])}`);
    return ast;
  }

  private unsupported(what: string): never {
    throw new Error(what);
  }

  private peek(): number | undefined {
    return this.cps[this.i];
  }

  private eat(ch: string): boolean {
    if (this.cps[this.i] === ch.codePointAt(0)) {
      this.i++;
      return true;
    }
    return false;
  }

  private alt(): Ast {
    const items = [this.seq()];
    while (this.eat("|")) items.push(this.seq());
    return items.length === 1 ? items[0] : { t: "alt", items };
  }

  private seq(): Ast {
    const items: Ast[] = [];
    for (let c = this.peek(); c !== undefined && c !== 0x7c && c !== 0x29; c = this.peek()) items.push(this.quantified(this.atom()));
    return { t: "cat", items };
  }

  private quantified(item: Ast): Ast {
    let min: number, max: number;
    if (this.eat("*")) [min, max] = [0, Infinity];
    else if (this.eat("+")) [min, max] = [1, Infinity];
    else if (this.eat("?")) [min, max] = [0, 1];
    else if (this.peek() === 0x7b) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...this.cps.slice(this.i, this.i + 16)));
      if (!m) this.unsupported("a `{` that is not a {m,n} quantifier");
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      if (max < min) this.unsupported(`quantifier {${min},${max}} out of order`);
    } else return item;
    this.eat("?"); // a lazy quantifier matches the same strings
    return { t: "rep", item, min, max };
  }

  private atom(): Ast {
    const c = this.cps[this.i++];
    switch (c) {
      case 0x28: {
        // ( … ) or (?: … ); other (? forms are lookaround or named groups
        if (this.eat("?")) {
          if (!this.eat(":")) this.unsupported("lookaround and named groups");
        }
        const inner = this.alt();
        if (!this.eat(")")) this.unsupported("an unclosed group");
        return inner;
      }
      case 0x5b:
        return { t: "chars", ranges: this.charClass() };
      case 0x2e:
        return { t: "chars", ranges: DOT };
      case 0x5c:
        return { t: "chars", ranges: this.escape(false) };
      case 0x5e:
      case 0x24:
        return this.unsupported("`^` or `$` other than at the start or end of the pattern");
      case 0x2a:
      case 0x2b:
      case 0x3f:
      case 0x7b:
      case 0x7d:
      case 0x5d:
        return this.unsupported(`a misplaced ${String.fromCodePoint(c)}`);
      default:
        return { t: "chars", ranges: [[c, c]] };
    }
  }

  private charClass(): [number, number][] {
    const negate = this.eat("^");
    const ranges: [number, number][] = [];
    while (!this.eat("]")) {
      if (this.i >= this.cps.length) this.unsupported("an unclosed [ class");
      const lo = this.classAtom();
      if (this.peek() === 0x2d && this.cps[this.i + 1] !== 0x5d && this.cps[this.i + 1] !== undefined) {
        this.i++;
        const hi = this.classAtom();
        if (lo.length !== 1 || hi.length !== 1 || lo[0][0] !== lo[0][1] || hi[0][0] !== hi[0][1]) this.unsupported("a range of classes");
        if (hi[0][0] < lo[0][0]) this.unsupported("a range out of order");
        ranges.push([lo[0][0], hi[0][0]]);
      } else ranges.push(...lo);
    }
    return negate ? complement(ranges) : ranges;
  }

  private classAtom(): [number, number][] {
    const c = this.cps[this.i++];
    if (c === 0x5c) return this.escape(true);
    return [[c, c]];
  }

  private escape(inClass: boolean): [number, number][] {
    const c = this.cps[this.i++];
    const ch = c === undefined ? "" : String.fromCodePoint(c);
    const single = (v: number): [number, number][] => [[v, v]];
    switch (ch) {
      case "d":
        return DIGIT;
      case "D":
        return complement(DIGIT);
      case "w":
        return WORD;
      case "W":
        return complement(WORD);
      case "s":
        return SPACE;
      case "S":
        return complement(SPACE);
      case "n":
        return single(0x0a);
      case "r":
        return single(0x0d);
      case "t":
        return single(0x09);
      case "f":
        return single(0x0c);
      case "v":
        return single(0x0b);
      case "0":
        return single(0);
      case "x":
      case "u": {
        const rest = String.fromCodePoint(...this.cps.slice(this.i, this.i + 10));
        const m = ch === "x" ? /^[0-9a-fA-F]{2}/.exec(rest) : /^(?:[0-9a-fA-F]{4}|\{[0-9a-fA-F]{1,6}\})/.exec(rest);
        if (!m) this.unsupported(`a malformed \\${ch} escape`);
        this.i += m[0].length;
        const v = parseInt(m[0].replace(/[{}]/g, ""), 16);
        if (v > MAX_CP) this.unsupported("a code point above U+10FFFF");
        return single(v);
      }
      default:
        if (inClass && ch === "-") return single(0x2d);
        if ("^$\\.*+?()[]{}|/".includes(ch) && ch !== "") return single(c);
        return this.unsupported(`the escape \\${ch}`);
    }
  }
}

/** A compiled pattern. */
export class Regex {
  /** Per state: char ranges (flattened lo,hi pairs) or null; `out` edges (two for a split). */
  private readonly ranges: (number[] | null)[] = [];
  private readonly outs: number[][] = [];
  private matchId = -1;
  private live: boolean[] = [];
  /** Per state: fewest UTF-8 bytes of input that reach the match. */
  private minToMatch: number[] = [];
  private readonly memo = new Map<string, RegexSet | null>();
  /** One object per distinct set, so equal sets compare with === and share their ASCII memo. */
  private readonly sets = new Map<string, RegexSet>();
  readonly start: RegexSet;

  /** @throws Error with a one-line reason when the pattern uses an unsupported feature. */
  constructor(readonly source: string) {
    let cps = [...source].map((s) => s.codePointAt(0)!);
    const anchoredStart = cps[0] === 0x5e;
    if (anchoredStart) cps = cps.slice(1);
    let trailingBackslashes = 0;
    for (let k = cps.length - 2; k >= 0 && cps[k] === 0x5c; k--) trailingBackslashes++;
    const anchoredEnd = cps.at(-1) === 0x24 && trailingBackslashes % 2 === 0;
    if (anchoredEnd) cps = cps.slice(0, -1);
    let ast = new Parser(cps).parse();
    if ((anchoredStart || anchoredEnd) && ast.t === "alt") throw new Error("anchors with a top-level `|`; wrap the alternatives in (?:…)");
    const any: Ast = { t: "rep", item: { t: "chars", ranges: [[0, MAX_CP]] }, min: 0, max: Infinity };
    ast = { t: "cat", items: [...(anchoredStart ? [] : [any]), ast, ...(anchoredEnd ? [] : [any])] };
    this.matchId = this.add(null, []);
    const entry = this.build(ast, this.matchId);
    this.analyze();
    this.start = this.closure([entry]);
  }

  private add(ranges: number[] | null, out: number[]): number {
    if (this.outs.length >= MAX_STATES) throw new Error("the pattern is too large (counted repetitions expand it)");
    this.ranges.push(ranges);
    this.outs.push(out);
    return this.outs.length - 1;
  }

  /** Builds `ast` so that it continues to `next`; returns its entry state (Thompson construction, built backwards). */
  private build(ast: Ast, next: number): number {
    switch (ast.t) {
      case "chars":
        return this.add(
          [...ast.ranges].sort((a, b) => a[0] - b[0]).flatMap(([lo, hi]) => [lo, hi]),
          [next],
        );
      case "cat":
        return ast.items.reduceRight((to, item) => this.build(item, to), next);
      case "alt":
        return this.add(
          null,
          ast.items.map((item) => this.build(item, next)),
        );
      case "rep": {
        let to = next;
        if (ast.max === Infinity) {
          const loop = this.add(null, []); // split: into the item or on
          this.outs[loop].push(this.build(ast.item, loop), next);
          to = loop;
        } else {
          for (let k = ast.min; k < ast.max; k++) to = this.add(null, [this.build(ast.item, to), next]);
        }
        for (let k = 0; k < ast.min; k++) to = this.build(ast.item, to);
        return to;
      }
    }
  }

  /** Which states can still reach the match, and with how few bytes (a character costs its shortest UTF-8 length). */
  private analyze(): void {
    const n = this.outs.length;
    this.minToMatch = new Array<number>(n).fill(Infinity);
    this.minToMatch[this.matchId] = 0;
    for (let changed = true; changed;) {
      changed = false;
      for (let s = 0; s < n; s++) {
        const r = this.ranges[s];
        if (s === this.matchId || (r !== null && r.length === 0)) continue;
        const cost = r === null ? 0 : utf8Length(r[0]); // ranges are sorted: the first code point is the shortest
        const best = Math.min(...this.outs[s].map((o) => this.minToMatch[o] + cost));
        if (best < this.minToMatch[s]) {
          this.minToMatch[s] = best;
          changed = true;
        }
      }
    }
    this.live = this.minToMatch.map(Number.isFinite);
  }

  /** The char and match states reachable from `entries` through splits, live ones only. */
  private closure(entries: number[]): RegexSet {
    const seen = new Set<number>();
    const stack = [...entries];
    const ids: number[] = [];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s) || !this.live[s]) continue;
      seen.add(s);
      if (this.ranges[s] === null && s !== this.matchId) stack.push(...this.outs[s]);
      else ids.push(s);
    }
    ids.sort((a, b) => a - b);
    const key = ids.join(",");
    if (this.sets.size > 50_000) this.sets.clear(); // bound the memory of pathological patterns
    const known = this.sets.get(key);
    if (known) return known;
    const set: RegexSet = {
      ids,
      key,
      accepting: ids.includes(this.matchId),
      minBytes: Math.min(Infinity, ...ids.map((s) => this.minToMatch[s])),
    };
    this.sets.set(key, set);
    return set;
  }

  /** The set after code point `cp`, or null when no live state takes it. */
  step(set: RegexSet, cp: number): RegexSet | null {
    // ASCII steps (most of them) are remembered on the set itself: no string key in the trie walk's hot loop.
    if (cp < 0x80) {
      const ascii = (set.ascii ??= new Array(0x80));
      const known = ascii[cp];
      if (known !== undefined) return known;
      return (ascii[cp] = this.stepSlow(set, cp));
    }
    return this.stepSlow(set, cp);
  }

  private stepSlow(set: RegexSet, cp: number): RegexSet | null {
    const memoKey = `${set.key}/${cp}`;
    const hit = this.memo.get(memoKey);
    if (hit !== undefined) return hit;
    const next: number[] = [];
    for (const s of set.ids) {
      const r = this.ranges[s];
      if (r === null) continue;
      for (let k = 0; k < r.length; k += 2) {
        if (cp >= r[k] && cp <= r[k + 1]) {
          next.push(this.outs[s][0]);
          break;
        }
      }
    }
    const result = next.length === 0 ? null : this.closure(next);
    const value = result && result.ids.length > 0 ? result : null;
    if (this.memo.size > 100_000) this.memo.clear();
    this.memo.set(memoKey, value);
    return value;
  }

  /** Fewest bytes to a match after taking some code point in [lo, hi] from `set` (Infinity if none can be taken). */
  minBytesAfter(set: RegexSet, lo: number, hi: number): number {
    let best = Infinity;
    for (const s of set.ids) {
      const r = this.ranges[s];
      if (r === null) continue;
      for (let k = 0; k < r.length; k += 2) if (r[k] <= hi && r[k + 1] >= lo) best = Math.min(best, this.minToMatch[this.outs[s][0]]);
    }
    return best;
  }

  /** Whether some code point in [lo, hi] can be taken from `set`. */
  takesSome(set: RegexSet, lo: number, hi: number): boolean {
    for (const s of set.ids) {
      const r = this.ranges[s];
      if (r === null) continue;
      for (let k = 0; k < r.length; k += 2) if (r[k] <= hi && r[k + 1] >= lo) return true;
    }
    return false;
  }
}
