// A faithful port of CPython 3's `random.Random` (MT19937 core + the pure-Python layer of Lib/random.py),
// written from the published algorithms (Matsumoto & Nishimura's MT19937 with init_by_array) and CPython's
// documented behaviour. Every method below makes exactly the same draws from the generator as CPython 3.11
// (and 3.2+ for the methods it shares), so seeded few-shot selection reproduces lm-evaluation-harness,
// llm-jp-eval and the JP LM Evaluation Harness. Verified against fixtures/eval/python-random-vectors.json.
//
// Browser-friendly: no Node imports. str/bytes seeds need SHA-512, done by a small pure-TS implementation
// (overridable through `options.sha512`).

import { sha512 as defaultSha512 } from "./sha512.js";

/** A seed accepted by `PythonRandom`: Python int (number or bigint), str, or bytes. `None` is not supported. */
export type PythonSeed = number | bigint | string | Uint8Array;

export interface PythonRandomOptions {
  /** SHA-512 implementation for str/bytes seeds (defaults to the bundled pure-TS one). */
  sha512?: (data: Uint8Array) => Uint8Array;
}

export interface ChoicesOptions {
  weights?: readonly number[];
  cumWeights?: readonly number[];
  k?: number;
}

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_POW_32 = 4294967296;

/** Number of bits needed to represent the non-negative safe integer n (Python's int.bit_length()). */
function bitLength(n: number): number {
  if (n < TWO_POW_32) return 32 - Math.clz32(n);
  return 32 + (32 - Math.clz32(Math.floor(n / TWO_POW_32)));
}

function bitLengthBig(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function toIntegerBig(x: number | bigint, what: string): bigint {
  if (typeof x === "bigint") return x;
  if (!Number.isInteger(x)) throw new TypeError(`${what} must be an integer, got ${x}`);
  if (!Number.isSafeInteger(x)) throw new RangeError(`${what} ${x} is not a safe integer; pass a bigint`);
  return BigInt(x);
}

export class PythonRandom {
  private readonly mt = new Uint32Array(N);
  private mti = N + 1;
  private readonly sha512: (data: Uint8Array) => Uint8Array;

  constructor(seed: PythonSeed, options: PythonRandomOptions = {}) {
    this.sha512 = options.sha512 ?? defaultSha512;
    this.seed(seed);
  }

  /** `random.seed(a, version=2)` for int, str and bytes seeds. */
  seed(a: PythonSeed): void {
    let n: bigint;
    if (typeof a === "string" || a instanceof Uint8Array) {
      const bytes = typeof a === "string" ? new TextEncoder().encode(a) : a;
      const digest = this.sha512(bytes);
      if (digest.length !== 64) throw new Error("sha512 must return 64 bytes");
      n = 0n;
      for (const b of bytes) n = (n << 8n) | BigInt(b);
      for (const b of digest) n = (n << 8n) | BigInt(b);
    } else if (typeof a === "bigint") {
      n = a;
    } else {
      if (!Number.isInteger(a)) throw new TypeError(`only integer seeds are supported, got ${a}`);
      if (!Number.isSafeInteger(a)) throw new RangeError(`seed ${a} is not a safe integer; pass a bigint`);
      n = BigInt(a);
    }
    if (n < 0n) n = -n;
    // Absolute value split into 32-bit words, least significant first; zero becomes the single word [0].
    const key: number[] = [];
    while (n > 0n) {
      key.push(Number(n & 0xffffffffn));
      n >>= 32n;
    }
    if (key.length === 0) key.push(0);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1];
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
    this.mti = N;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1];
      mt[i] = ((mt[i] ^ Math.imul(prev ^ (prev >>> 30), 1664525)) + key[j] + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1];
      mt[i] = ((mt[i] ^ Math.imul(prev ^ (prev >>> 30), 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
    }
    mt[0] = 0x80000000;
    this.mti = N;
  }

  /** Next raw 32-bit output of MT19937 (CPython's genrand_uint32). */
  genrandUint32(): number {
    const mt = this.mt;
    if (this.mti >= N) {
      let kk = 0;
      let y: number;
      for (; kk < N - M; kk++) {
        y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      for (; kk < N - 1; kk++) {
        y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
      mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      this.mti = 0;
    }
    let y = mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random()`: float in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.genrandUint32() >>> 5;
    const b = this.genrandUint32() >>> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  /** `getrandbits(k)` for 0 <= k <= 32, as a number. */
  getrandbits32(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k > 32) throw new RangeError(`getrandbits32 needs 0 <= k <= 32, got ${k}`);
    if (k === 0) return 0;
    return this.genrandUint32() >>> (32 - k);
  }

  /** `getrandbits(k)` for any k >= 0, as a bigint. Words are drawn least significant first, as CPython. */
  getrandbitsBig(k: number): bigint {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`number of bits must be a non-negative integer, got ${k}`);
    if (k <= 32) return BigInt(this.getrandbits32(k));
    let result = 0n;
    let shift = 0n;
    for (let left = k; left > 0; left -= 32) {
      let r = this.genrandUint32();
      if (left < 32) r >>>= 32 - left;
      result |= BigInt(r) << shift;
      shift += 32n;
    }
    return result;
  }

  /** `getrandbits(k)`: a number for k <= 32, a bigint for k > 32. */
  getrandbits(k: number): number | bigint {
    return k <= 32 ? this.getrandbits32(k) : this.getrandbitsBig(k);
  }

  /**
   * CPython's `_randbelow_with_getrandbits(n)`: uniform integer in [0, n) for a positive safe integer n,
   * by rejection sampling on getrandbits(n.bit_length()). CPython 3.11 never returns for n = 0 (it loops on
   * getrandbits(0)); no public method reaches that, and here n = 0 returns 0 without drawing.
   */
  randbelow(n: number): number {
    if (n <= 0x7fffffff && n >= 0 && (n | 0) === n) {
      if (n === 0) return 0;
      const shift = 32 - (32 - Math.clz32(n));
      let r = this.genrandUint32() >>> shift;
      while (r >= n) r = this.genrandUint32() >>> shift;
      return r;
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`randbelow needs a non-negative safe integer, got ${n}`);
    const k = bitLength(n);
    if (k <= 32) {
      const shift = 32 - k;
      let r = this.genrandUint32() >>> shift;
      while (r >= n) r = this.genrandUint32() >>> shift;
      return r;
    }
    // 33..53 bits: two words, low word first; the high word keeps its top (k - 32) bits. Exact in a double.
    const shift = 64 - k;
    for (;;) {
      const lo = this.genrandUint32();
      const hi = this.genrandUint32() >>> shift;
      const r = hi * TWO_POW_32 + lo;
      if (r < n) return r;
    }
  }

  /** Alias of `randbelow`, under CPython's name. */
  _randbelow(n: number): number {
    return this.randbelow(n);
  }

  /** `_randbelow(n)` for any non-negative bigint n. */
  randbelowBig(n: bigint): bigint {
    if (n < 0n) throw new RangeError("randbelow needs n >= 0");
    if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return BigInt(this.randbelow(Number(n)));
    if (n === 0n) return 0n;
    const k = bitLengthBig(n);
    let r = this.getrandbitsBig(k);
    while (r >= n) r = this.getrandbitsBig(k);
    return r;
  }

  /** `randrange(start, stop?, step?)` on bigints (same draws as the number version). */
  randrangeBig(start: bigint, stop?: bigint, step: bigint = 1n): bigint {
    if (stop === undefined) {
      if (step !== 1n) throw new TypeError("Missing a non-None stop argument");
      if (start > 0n) return this.randbelowBig(start);
      throw new RangeError("empty range for randrange()");
    }
    const width = stop - start;
    if (step === 1n) {
      if (width > 0n) return start + this.randbelowBig(width);
      throw new RangeError(`empty range for randrange (${start}, ${stop}, ${width})`);
    }
    let n: bigint;
    // Python floor division; width + step -/+ 1 and step have the signs handled as in Lib/random.py.
    const floorDiv = (a: bigint, b: bigint): bigint => {
      const q = a / b;
      return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
    };
    if (step > 0n) n = floorDiv(width + step - 1n, step);
    else if (step < 0n) n = floorDiv(width + step + 1n, step);
    else throw new RangeError("zero step for randrange()");
    if (n <= 0n) throw new RangeError("empty range for randrange()");
    return start + step * this.randbelowBig(n);
  }

  /**
   * `randrange(start, stop?, step?)`. Number arguments give a number (must stay a safe integer);
   * any bigint argument gives a bigint.
   */
  randrange(start: number, stop?: number, step?: number): number;
  randrange(start: number | bigint, stop?: number | bigint, step?: number | bigint): number | bigint;
  randrange(start: number | bigint, stop?: number | bigint, step?: number | bigint): number | bigint {
    const big = typeof start === "bigint" || typeof stop === "bigint" || typeof step === "bigint";
    // Fast path for the common small cases (exactly the same draws as the general path).
    if (!big && stop === undefined && step === undefined && Number.isSafeInteger(start) && (start as number) > 0) {
      return this.randbelow(start as number);
    }
    const r = this.randrangeBig(
      toIntegerBig(start, "start"),
      stop === undefined ? undefined : toIntegerBig(stop, "stop"),
      step === undefined ? 1n : toIntegerBig(step, "step"),
    );
    if (big) return r;
    const out = Number(r);
    if (!Number.isSafeInteger(out)) throw new RangeError(`randrange result ${r} is not a safe integer; use bigint arguments`);
    return out;
  }

  /** `randint(a, b)`: integer in [a, b], i.e. randrange(a, b + 1). */
  randint(a: number, b: number): number;
  randint(a: number | bigint, b: number | bigint): number | bigint;
  randint(a: number | bigint, b: number | bigint): number | bigint {
    if (typeof a === "bigint" || typeof b === "bigint") return this.randrangeBig(toIntegerBig(a, "a"), toIntegerBig(b, "b") + 1n);
    return this.randrange(a, b + 1);
  }

  /** `choice(seq)`: one element; throws on an empty sequence (Python's IndexError). */
  choice<T>(seq: ArrayLike<T>): T {
    if (seq.length === 0) throw new RangeError("Cannot choose from an empty sequence");
    return seq[this.randbelow(seq.length)];
  }

  /** `shuffle(x)` in place (Fisher-Yates from the end: j = _randbelow(i + 1)). Returns the same array. */
  shuffle<T>(x: T[]): T[] {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    return x;
  }

  /**
   * The indices `sample(range(n), k)` would return, with CPython's two strategies:
   * a shrinking pool when n <= setsize, otherwise rejection against a set of chosen indices.
   */
  sampleIndices(n: number, k: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`population size must be a non-negative integer, got ${n}`);
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError("Sample larger than population or is negative");
    const result = new Array<number>(k);
    // setsize = 21 + 4 ** ceil(log(3k, 4)) for k > 5. For k > 5, 3k is never a power of 4, so the
    // ceiling is the least m with 4**m > 3k; computed exactly with integers.
    let setsize = 21;
    if (k > 5) {
      let p = 1;
      while (p < 3 * k) p *= 4;
      setsize += p;
    }
    if (n <= setsize) {
      const pool = new Array<number>(n);
      for (let i = 0; i < n; i++) pool[i] = i;
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result[i] = pool[j];
        pool[j] = pool[n - i - 1];
      }
    } else {
      const selected = new Set<number>();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (selected.has(j)) j = this.randbelow(n);
        selected.add(j);
        result[i] = j;
      }
    }
    return result;
  }

  /** `sample(population, k)`: k unique elements, in selection order. (`counts=` is not supported.) */
  sample<T>(population: ArrayLike<T>, k: number): T[] {
    return this.sampleIndices(population.length, k).map((i) => population[i]);
  }

  /** `choices(population, weights=None, *, cum_weights=None, k=1)`. */
  choices<T>(population: ArrayLike<T>, options: ChoicesOptions = {}): T[] {
    const k = options.k ?? 1;
    const n = population.length;
    let cum = options.cumWeights;
    if (cum === undefined) {
      if (options.weights === undefined) {
        const out: T[] = [];
        for (let i = 0; i < k; i++) out.push(population[Math.floor(this.random() * n)]);
        return out;
      }
      const acc: number[] = [];
      let s = 0;
      for (let i = 0; i < options.weights.length; i++) acc.push((s = i === 0 ? options.weights[0] : s + options.weights[i]));
      cum = acc;
    } else if (options.weights !== undefined) {
      throw new TypeError("Cannot specify both weights and cumulative weights");
    }
    if (cum.length !== n) throw new RangeError("The number of weights does not match the population");
    const total = cum[n - 1] + 0.0;
    if (!(total > 0.0)) throw new RangeError("Total of weights must be greater than zero");
    if (!Number.isFinite(total)) throw new RangeError("Total of weights must be finite");
    const hi = n - 1;
    const out: T[] = [];
    for (let i = 0; i < k; i++) {
      const x = this.random() * total;
      // bisect_right(cum, x, 0, hi)
      let lo = 0;
      let h = hi;
      while (lo < h) {
        const mid = (lo + h) >>> 1;
        if (x < cum[mid]) h = mid;
        else lo = mid + 1;
      }
      out.push(population[lo]);
    }
    return out;
  }

  /** `uniform(a, b)`: a + (b - a) * random(). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random();
  }
}
