/**
 * minimum / maximum / exclusiveMinimum / exclusiveMaximum for numbers written digit by digit: after each byte,
 * the values still reachable from the text so far form a few intervals, which must meet the allowed range.
 *
 * Values are exact decimals scaled by 10^20 (BigInt), the automaton's limit on fraction digits, so every value
 * the automaton can write is a grid point. Bounds come from the shortest round-trip decimal of the schema's
 * double (String(x)): because rounding to double is monotonic, a decimal ≥ String(min) parses to a double ≥ min
 * (what ajv checks). An exclusive bound x becomes the inclusive bound nextUp(x) / nextDown(x) on the double line.
 * Bounded numbers are written without an exponent (stricter than JSON, documented).
 */

/** Fraction digits a number may have (also the grid of the scaled values). */
export const MAX_FRAC_DIGITS = 20;
/** Integer-part digits a number may have. */
export const MAX_INT_DIGITS = 20;

const SCALE = 10n ** BigInt(MAX_FRAC_DIGITS);

/** Inclusive bounds on the scaled value; null = unbounded on that side. */
export interface NumberBounds {
  lo: bigint | null;
  hi: bigint | null;
}

const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const ceilDiv = (a: bigint, b: bigint) => -floorDiv(-a, b);

/** The exact decimal of String(x), scaled by 10^20 and rounded up or down onto the grid. */
function scaled(x: number, round: "ceil" | "floor"): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(x));
  if (!match) throw new RangeError(`not a finite number: ${x}`);
  const [, sign, int, frac = "", exp = "0"] = match;
  const digits = BigInt(int + frac) * (sign === "-" ? -1n : 1n);
  const power = Number(exp) - frac.length + MAX_FRAC_DIGITS; // value × 10^20 = digits × 10^power
  if (power >= 0) return digits * 10n ** BigInt(power);
  const divisor = 10n ** BigInt(-power);
  return round === "ceil" ? ceilDiv(digits, divisor) : floorDiv(digits, divisor);
}

/** The next double above (`up`) or below `x`. */
function nextDouble(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] += x > 0 === up ? 1n : -1n;
  return new Float64Array(bits.buffer)[0];
}

/**
 * Bounds from schema keywords (draft 6+ numeric exclusive bounds). Integer bounds are rounded inward to whole numbers.
 * @returns null when no keyword is set; `"empty"` when no value fits.
 */
export function numberBounds(
  keywords: { minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number },
  integer: boolean,
): NumberBounds | null | "empty" {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = keywords;
  if (minimum === undefined && maximum === undefined && exclusiveMinimum === undefined && exclusiveMaximum === undefined) return null;
  const los: bigint[] = [];
  const his: bigint[] = [];
  if (minimum !== undefined) los.push(scaled(minimum, "ceil"));
  if (exclusiveMinimum !== undefined) los.push(scaled(nextDouble(exclusiveMinimum, true), "ceil"));
  if (maximum !== undefined) his.push(scaled(maximum, "floor"));
  if (exclusiveMaximum !== undefined) his.push(scaled(nextDouble(exclusiveMaximum, false), "floor"));
  let lo = los.length > 0 ? los.reduce((a, b) => (a > b ? a : b)) : null;
  let hi = his.length > 0 ? his.reduce((a, b) => (a < b ? a : b)) : null;
  if (integer) {
    if (lo !== null) lo = ceilDiv(lo, SCALE) * SCALE;
    if (hi !== null) hi = floorDiv(hi, SCALE) * SCALE;
  }
  if (lo !== null && hi !== null && lo > hi) return "empty";
  return { lo, hi };
}

const meets = (a: bigint, b: bigint, r: NumberBounds) => (r.hi === null || a <= r.hi) && (r.lo === null || b >= r.lo);

/**
 * Whether some number that starts with `text` (no exponent; at most the automaton's digit counts) lies in `range`.
 * `text` is a valid number prefix: `-`, `12`, `0`, `1.`, `-0.25`.
 */
export function reachable(text: string, integer: boolean, range: NumberBounds): boolean {
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const fracMax = integer ? 0n : SCALE - 1n;
  // Magnitude intervals [a, b] reachable from the text, then mirrored for negative numbers.
  const test = (a: bigint, b: bigint) => (negative ? meets(-b, -a, range) : meets(a, b, range));
  if (body === "") return test(0n, 10n ** BigInt(MAX_INT_DIGITS) * SCALE - 1n);
  const dot = body.indexOf(".");
  if (dot < 0) {
    const v = BigInt(body);
    if (body === "0") return test(0n, fracMax);
    for (let k = 0; k <= MAX_INT_DIGITS - body.length; k++) {
      const p = 10n ** BigInt(k);
      if (test(v * p * SCALE, ((v + 1n) * p - 1n) * SCALE + fracMax)) return true;
    }
    return false;
  }
  const frac = body.slice(dot + 1);
  const step = 10n ** BigInt(MAX_FRAC_DIGITS - frac.length);
  const base = BigInt(body.slice(0, dot)) * SCALE + (frac === "" ? 0n : BigInt(frac) * step);
  return test(base, base + step - 1n);
}

/** Whether the complete number `text` lies in `range`. */
export function inRange(text: string, range: NumberBounds): boolean {
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf(".");
  const int = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? "" : body.slice(dot + 1);
  let value = BigInt(int) * SCALE + (frac === "" ? 0n : BigInt(frac) * 10n ** BigInt(MAX_FRAC_DIGITS - frac.length));
  if (negative) value = -value;
  return (range.lo === null || value >= range.lo) && (range.hi === null || value <= range.hi);
}

/** The length of a shortest number text in `range` (0 or the integer nearest to 0, else a bound's decimal). */
export function shortestInRange(range: NumberBounds, integer: boolean): number {
  if ((range.lo === null || range.lo <= 0n) && (range.hi === null || range.hi >= 0n)) return 1;
  const positive = range.lo !== null && range.lo > 0n;
  const near = positive ? range.lo! : -range.hi!; // magnitude of the bound closest to 0
  const whole = ceilDiv(near, SCALE);
  const far = positive ? range.hi : range.lo === null ? null : -range.lo; // magnitude of the other bound
  const sign = positive ? 0 : 1;
  if (integer || far === null || whole * SCALE <= far) return sign + whole.toString().length;
  // A fraction: the bound itself, written without trailing zeros.
  const int = near / SCALE;
  const frac = (near % SCALE).toString().padStart(MAX_FRAC_DIGITS, "0").replace(/0+$/, "");
  return sign + int.toString().length + 1 + frac.length;
}
