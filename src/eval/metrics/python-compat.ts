/**
 * Python `str` semantics the reference metrics depend on and JavaScript spells differently:
 * whitespace for `split()`/`strip()`, code-point (not UTF-16) ordering, and `round()`'s half-to-even.
 */

/** Characters CPython's `str.isspace()` accepts (Unicode 14): `split()`, `strip()` and `re`'s `\s` use this set. */
export const PYTHON_WHITESPACE_CLASS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const whitespaceRun = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+`, "u");
const leadingWhitespace = new RegExp(`^[${PYTHON_WHITESPACE_CLASS}]+`, "u");
const trailingWhitespace = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+$`, "u");

/** Python `s.split()` (no argument): splits on runs of Python whitespace and drops empty pieces. */
export function pythonSplit(s: string): string[] {
  return s.split(whitespaceRun).filter((piece) => piece !== "");
}

/** Python `s.strip()`. (JS `trim()` differs: it strips U+FEFF and keeps U+001C–U+001F and U+0085.) */
export function pythonStrip(s: string): string {
  return s.replace(leadingWhitespace, "").replace(trailingWhitespace, "");
}

/** Python `s.rstrip()`. */
export function pythonRstrip(s: string): string {
  return s.replace(trailingWhitespace, "");
}

/** Compares two strings by Unicode code points, as Python orders `str` (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** Python 3 `round(x)` for a float: nearest integer, ties to even (JS `Math.round` sends ties up). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact for |x| < 2**52
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The string as an array of code points (Python indexes `str` by code point; emoji are one element, not two). */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/** Naive arithmetic mean (left-to-right sum, then divide); callers guard against an empty list. */
export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

const bitLength = (x: bigint): number => (x === 0n ? 0 : x.toString(2).length);

/** A finite double as an exact integer multiple of 2^-1074 (every double is one). */
function toScaledInteger(x: number): bigint {
  if (!Number.isFinite(x)) throw new RangeError(`mean of a non-finite value (${x})`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exponent = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exponent !== 0) mantissa |= 1n << 52n;
  const scaled = mantissa << BigInt(Math.max(exponent - 1, 0));
  return hi >>> 31 ? -scaled : scaled;
}

/** The double nearest to a/b (ties to even), as CPython's int / int true division gives for normal results. */
function divideToDouble(a: bigint, b: bigint): number {
  if (a === 0n) return 0;
  const negative = a < 0n;
  const num = negative ? -a : a;
  // Scale so the quotient has 55 or 56 bits: 53 kept, the rest plus the remainder decide the rounding.
  const shift = 55 - (bitLength(num) - bitLength(b));
  const scaledNum = shift >= 0 ? num << BigInt(shift) : num;
  const scaledDen = shift >= 0 ? b : b << BigInt(-shift);
  const quotient = scaledNum / scaledDen;
  const sticky = scaledNum % scaledDen !== 0n;
  const drop = BigInt(bitLength(quotient) - 53);
  let kept = quotient >> drop;
  const rest = quotient & ((1n << drop) - 1n);
  const half = 1n << (drop - 1n);
  if (rest > half || (rest === half && (sticky || (kept & 1n) === 1n))) kept += 1n;
  const value = Number(kept) * 2 ** (Number(drop) - shift);
  return negative ? -value : value;
}

/**
 * Python `statistics.mean` of floats: the exact sum of the values (as fractions), divided by n, rounded once to the
 * nearest double. llm-jp-eval averages char_f1 with it; a naive sum can be an ulp off (mean of ten 0.1s).
 */
export function pythonStatisticsMean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("mean requires at least one data point");
  let sum = 0n;
  for (const v of values) sum += toScaledInteger(v);
  return divideToDouble(sum, BigInt(values.length) << 1074n);
}
