import { SwallowError } from "../errors.js";

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;
const MASK_64 = (1n << 64n) - 1n;

/**
 * A seeded pseudo-random generator: xoshiro128** 1.1 (Blackman & Vigna, 128-bit state, 32-bit outputs),
 * its state filled by SplitMix64 from the seed as the authors recommend.
 *
 * Every request owns one, so a request's output depends only on its own seed, never on which other
 * requests share the batch or in which order they are sampled. The generator is all 32-bit integer
 * arithmetic (`Math.imul`, shifts), so it is fast in JavaScript; BigInt is used only once, for seeding.
 *
 * Seeding: SplitMix64 starts from the seed taken as an unsigned 64-bit integer (a negative seed wraps
 * around, as in two's complement); its first output gives state words s0 (low half) and s1 (high half),
 * its second output s2 and s3. SplitMix64 never yields the all-zero state xoshiro cannot leave.
 */
export class Rng {
  /** The seed this generator was built from (log it to reproduce an unseeded request). */
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** @param seed any safe integer (|seed| < 2^53). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new SwallowError(`seed must be an integer between -(2^53-1) and 2^53-1, got ${seed}`);
    }
    this.seed = seed;
    const mixer = new SplitMix64(BigInt.asUintN(64, BigInt(seed)));
    const a = mixer.next();
    const b = mixer.next();
    this.s0 = Number(a & 0xffffffffn);
    this.s1 = Number(a >> 32n);
    this.s2 = Number(b & 0xffffffffn);
    this.s3 = Number(b >> 32n);
  }

  /** A generator with a fresh random seed (for requests that give none). */
  static unseeded(): Rng {
    return new Rng(randomSeed());
  }

  /** A generator that starts from an explicit 128-bit state (four unsigned 32-bit words, not all zero); for tests. */
  static fromState(state: readonly [number, number, number, number]): Rng {
    if (state.every((word) => word >>> 0 === 0)) throw new RangeError("xoshiro128** state must not be all zero");
    const rng = new Rng(0);
    rng.s0 = state[0] >>> 0;
    rng.s1 = state[1] >>> 0;
    rng.s2 = state[2] >>> 0;
    rng.s3 = state[3] >>> 0;
    return rng;
  }

  /** The current state words [s0, s1, s2, s3] as unsigned 32-bit integers. */
  get state(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** The next output of xoshiro128**, an unsigned 32-bit integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /**
   * A uniform double in [0, 1) with 53 random bits: the top 27 bits of one output and the top 26 of the
   * next, (a·2^26 + b) / 2^53 — every multiple of 2^-53 in [0, 1) is equally likely. Uses two outputs.
   */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }
}

/** A random seed in [0, 2^53) from the operating system's CSPRNG. */
export function randomSeed(): number {
  // Web Crypto (a global in Node ≥ 19 and in browsers), so the engine needs no node:* import.
  const words = globalThis.crypto.getRandomValues(new Uint32Array(2));
  return (words[0] & 0x1fffff) * 0x100000000 + words[1];
}

/** SplitMix64 (Steele, Lea & Flood), used only to expand a seed into xoshiro state. */
class SplitMix64 {
  constructor(private x: bigint) {}

  next(): bigint {
    this.x = (this.x + 0x9e3779b97f4a7c15n) & MASK_64;
    let z = this.x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
    return z ^ (z >> 31n);
  }
}
