/** Stepping a string that has a `pattern`: the byte DFA of string-bytes.ts plus the pattern's NFA over code points. */

import { type Frame, PSTR, type Stack } from "./frames.js";
import type { Regex, RegexSet } from "./regex.js";
import { ESCAPED, partialRange, Q_BODY, Q_ESC, Q_HEX0, S_CLOSE, S_DEAD, STRING_NEXT, STRING_PENDING } from "./string-bytes.js";

/**
 * A string whose decoded characters must match a pattern: each completed code point steps the NFA; inside a
 * multi-byte character, the range of code points it can still become must meet some NFA transition.
 */
export function stepPatternString(f: Extract<Frame, { t: typeof PSTR }>, s: Stack, b: number, out: Stack[]): void {
  const up = s.up!;
  const q = STRING_NEXT[f.q * 256 + b];
  if (q === S_CLOSE) {
    if (f.set.accepting) out.push(up);
    return;
  }
  if (q === S_DEAD || q === Q_HEX0) return; // no \u escapes in pattern strings (documented)
  const to = (set: RegexSet | null, nq: number, acc: number, len: number): void => {
    if (set === null) return;
    // A character that leaves the NFA set as it was (`.*` loops) keeps the state: no allocation.
    if (set === f.set && nq === f.q && acc === f.acc && len === f.len) out.push(s);
    else out.push({ f: { t: PSTR, rx: f.rx, id: f.id, set, q: nq, acc, len }, up });
  };
  if (f.q === Q_BODY && b === 0x5c) return escapable(f.rx, f.set) ? to(f.set, q, 0, 0) : undefined;
  if (f.q === Q_ESC) return to(f.rx.step(f.set, ESCAPED[b]), q, 0, 0);
  if (f.q === Q_BODY && b < 0x80) return to(f.rx.step(f.set, b), q, 0, 0);
  // UTF-8: a lead byte starts the bits, continuation bytes add six each.
  const len = f.q === Q_BODY ? (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) : f.len;
  const acc = f.q === Q_BODY ? b & (0xff >> (len + 1)) : (f.acc << 6) | (b & 0x3f);
  if (q === Q_BODY) return to(f.rx.step(f.set, acc), q, 0, 0);
  const [lo, hi] = partialRange(acc, len, STRING_PENDING[q]);
  // Surrogates are never encoded (the byte DFA refuses them), so only the ranges around them count.
  const takes = f.rx.takesSome(f.set, lo, Math.min(hi, 0xd7ff)) || f.rx.takesSome(f.set, Math.max(lo, 0xe000), hi);
  if (takes) to(f.set, q, acc, len);
}

/** Whether some JSON escape's character keeps the pattern matchable (else a backslash would be a dead end). */
function escapable(rx: Regex, set: RegexSet): boolean {
  for (const key in ESCAPED) if (rx.step(set, ESCAPED[key]) !== null) return true;
  return false;
}
