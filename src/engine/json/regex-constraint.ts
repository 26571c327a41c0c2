/**
 * vLLM's `regex` / `guided_regex` structured output: the whole output must match the pattern, anchored at both
 * ends as in vLLM's backends (xgrammar, outlines), and ends with a stop token only when it does.
 *
 * The pattern compiles with regex.ts (the ECMA-262 subset of JSON-schema `pattern`, over code points); this module
 * turns its NFA-set states into a deterministic automaton over UTF-8 bytes: a state is an NFA set plus the part of
 * a multi-byte character read so far, and a byte is allowed only when some code point it can still become is taken.
 */

import type { TokenConstraint } from "../constraint.js";
import {
  type AutomatonConstraintOptions,
  automatonGrammarFor,
  type ByteAutomaton,
  createAutomatonConstraint,
} from "./automaton-constraint.js";
import { Regex, type RegexSet } from "./regex.js";
import { partialRange } from "./string-bytes.js";
import type { VocabSource } from "./vocab-trie.js";

/** Not yet computed, in a state's transition table. */
const UNKNOWN = -2;

interface ByteState {
  set: RegexSet;
  /** Bits of the character in progress, its UTF-8 length and the continuation bytes still to come (0: none in progress). */
  acc: number;
  len: number;
  pending: number;
  distanceBytes: number;
}

/**
 * The pattern for a whole-output match: a leading `^` and a trailing unescaped `$` are dropped (they mean nothing
 * more when the match is anchored anyway) and the rest is wrapped as `^(?:…)$`.
 */
export function fullMatchPattern(pattern: string): string {
  let inner = pattern.startsWith("^") ? pattern.slice(1) : pattern;
  let backslashes = 0;
  for (let k = inner.length - 2; k >= 0 && inner[k] === "\\"; k--) backslashes++;
  if (inner.endsWith("$") && backslashes % 2 === 0) inner = inner.slice(0, -1);
  return `^(?:${inner})$`;
}

/** The code points in [lo, hi] that UTF-8 can encode (surrogates cannot be), as one or two ranges. */
function encodable(lo: number, hi: number): [number, number][] {
  const out: [number, number][] = [];
  if (lo <= Math.min(hi, 0xd7ff)) out.push([lo, Math.min(hi, 0xd7ff)]);
  if (Math.max(lo, 0xe000) <= hi) out.push([Math.max(lo, 0xe000), hi]);
  return out;
}

export class RegexByteAutomaton implements ByteAutomaton {
  readonly regex: Regex;
  readonly start: number;
  private readonly states: ByteState[] = [];
  private readonly ids = new Map<string, number>();
  /** Per state: the next state for each byte, filled in on first use. */
  private readonly transitions: (Int32Array | undefined)[] = [];

  /** @throws Error with the compiler's one-line reason when the pattern uses unsupported syntax. */
  constructor(pattern: string) {
    this.regex = new Regex(fullMatchPattern(pattern));
    this.start = this.intern(this.regex.start, 0, 0, 0);
  }

  private intern(set: RegexSet, acc: number, len: number, pending: number): number {
    const key = `${set.key}|${acc}|${len}|${pending}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.states.length;
      let distanceBytes = set.minBytes;
      if (pending > 0) {
        const [lo, hi] = partialRange(acc, len, pending);
        distanceBytes = pending + Math.min(Infinity, ...encodable(lo, hi).map(([a, b]) => this.regex.minBytesAfter(set, a, b)));
      }
      this.states.push({ set, acc, len, pending, distanceBytes });
      this.ids.set(key, id);
    }
    return id;
  }

  step(state: number, byte: number): number {
    const table = (this.transitions[state] ??= new Int32Array(256).fill(UNKNOWN));
    let next = table[byte];
    if (next === UNKNOWN) next = table[byte] = this.compute(this.states[state], byte);
    return next;
  }

  private compute(s: ByteState, b: number): number {
    let acc: number, len: number, pending: number;
    if (s.pending === 0) {
      if (b < 0x80) return this.after(s.set, b);
      // A lead byte: C2–DF, E0–EF, F0–F4 (C0, C1 and F5–FF never appear in UTF-8).
      if (b < 0xc2 || b > 0xf4) return -1;
      len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      acc = b & (0xff >> (len + 1));
      pending = len - 1;
    } else {
      if (b < 0x80 || b > 0xbf) return -1;
      ({ len } = s);
      acc = (s.acc << 6) | (b & 0x3f);
      pending = s.pending - 1;
    }
    // partialRange rules out overlong forms and code points above U+10FFFF; encodable rules out surrogates.
    const [lo, hi] = partialRange(acc, len, pending);
    const ranges = encodable(lo, hi);
    if (pending === 0) return ranges.length === 0 ? -1 : this.after(s.set, acc);
    if (!ranges.some(([a, z]) => this.regex.takesSome(s.set, a, z))) return -1;
    return this.intern(s.set, acc, len, pending);
  }

  /** The state after a whole code point, or -1. */
  private after(set: RegexSet, cp: number): number {
    const next = this.regex.step(set, cp);
    return next === null ? -1 : this.intern(next, 0, 0, 0);
  }

  isAccepting(state: number): boolean {
    const s = this.states[state];
    return s.pending === 0 && s.set.accepting;
  }

  distanceBytes(state: number): number {
    return this.states[state].distanceBytes;
  }
}

/**
 * A constraint whose whole output matches `pattern`, then a stop token. The compiled automaton and its masks are
 * cached per tokenizer object, so creating one per request is cheap.
 * @throws Error (the compiler's reason) when the pattern uses unsupported syntax; SwallowError without stop tokens.
 */
export function createRegexConstraint(tokenizer: VocabSource, pattern: string, options: AutomatonConstraintOptions): TokenConstraint {
  const grammar = automatonGrammarFor(tokenizer, `regex:${pattern}`, () => new RegexByteAutomaton(pattern));
  return createAutomatonConstraint(tokenizer, grammar, options);
}
