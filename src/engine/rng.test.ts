import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, randomSeed } from "./rng.js";
import { SwallowError } from "../errors.js";

const MASK_32 = 0xffffffffn;
const MASK_64 = (1n << 64n) - 1n;

/** Independent BigInt transcription of splitmix64.c and xoshiro128starstar.c (prng.di.unimi.it). */
function referenceOutputs(seed: number, count: number): number[] {
  let x = BigInt.asUintN(64, BigInt(seed));
  const splitmix = (): bigint => {
    x = (x + 0x9e3779b97f4a7c15n) & MASK_64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
    return z ^ (z >> 31n);
  };
  const a = splitmix();
  const b = splitmix();
  const s = [a & MASK_32, a >> 32n, b & MASK_32, b >> 32n];
  const rotl = (v: bigint, k: bigint): bigint => ((v << k) | (v >> (32n - k))) & MASK_32;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s[1] * 5n) & MASK_32, 7n) * 9n) & MASK_32));
    const t = (s[1] << 9n) & MASK_32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
  return out;
}

test("xoshiro128** matches reference outputs and state transitions from the C implementation", () => {
  // State and outputs produced by the reference C code (test data of edorfaus/xoshiro-6502).
  const rng = Rng.fromState([0x964d4a0c, 0xd40ab895, 0xad7fdecb, 0x3006f0f0]);
  const expected = [
    { out: 0xf1391922, state: [0x72410269, 0xef382c52, 0x2e43bec7, 0x62432f20] },
    { out: 0x6fe53806, state: [0xff3a011b, 0xb33a90fc, 0x2c5a18ae, 0xd81b946b] },
    { out: 0xa5be2840, state: [0x941b058c, 0x605a8949, 0xa641e1b5, 0x0824bb59] },
    { out: 0xf510ee70, state: [0xfc65379c, 0x52006d70, 0x87487639, 0xf1908343] },
  ];
  for (const step of expected) {
    assert.equal(rng.nextUint32(), step.out);
    assert.deepEqual(rng.state, step.state);
  }
  const small = Rng.fromState([0, 1, 2, 3]);
  const outputs = Array.from({ length: 12 }, () => small.nextUint32());
  assert.deepEqual(
    outputs,
    [5760, 17280, 2966400, 32451840, 2604340873, 3891234569, 1254043636, 216095511, 3291724652, 2070429911, 3403762308, 371730125],
  );
});

test("seeding uses SplitMix64 (its first output from 0 is 0xe220a8397b1dcdaf) and matches a BigInt re-implementation", () => {
  assert.deepEqual(new Rng(0).state, [0x7b1dcdaf, 0xe220a839, 0xa1b965f4, 0x6e789e6a]);
  for (const seed of [0, 1, 42, 1234567, -1, -987654321, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    const rng = new Rng(seed);
    const got = Array.from({ length: 2000 }, () => rng.nextUint32());
    assert.deepEqual(got, referenceOutputs(seed, 2000), `seed ${seed}`);
  }
});

test("nextFloat is (a>>>5 · 2^26 + b>>>6) / 2^53 over two consecutive outputs, in [0, 1)", () => {
  const words = referenceOutputs(7, 2000);
  const rng = new Rng(7);
  let sum = 0;
  for (let i = 0; i < 1000; i++) {
    const f = rng.nextFloat();
    assert.equal(f, ((words[2 * i] >>> 5) * 2 ** 26 + (words[2 * i + 1] >>> 6)) / 2 ** 53);
    assert.ok(f >= 0 && f < 1);
    sum += f;
  }
  assert.ok(Math.abs(sum / 1000 - 0.5) < 0.05);
  const extreme = Rng.fromState([0, 0, 0, 1]);
  assert.ok(extreme.nextFloat() < 1);
});

test("same seed gives the same stream; different seeds and unseeded generators differ", () => {
  const a = new Rng(2024);
  const b = new Rng(2024);
  const c = new Rng(2025);
  const sa = Array.from({ length: 64 }, () => a.nextFloat());
  const sb = Array.from({ length: 64 }, () => b.nextFloat());
  const sc = Array.from({ length: 64 }, () => c.nextFloat());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  const u1 = Rng.unseeded();
  const u2 = Rng.unseeded();
  assert.notEqual(u1.seed, u2.seed);
  assert.ok(Number.isSafeInteger(u1.seed) && u1.seed >= 0);
  for (let i = 0; i < 100; i++) {
    const seed = randomSeed();
    assert.ok(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 53);
  }
});

test("seeds that are not safe integers are user errors", () => {
  assert.throws(() => new Rng(1.5), SwallowError);
  assert.throws(() => new Rng(2 ** 53), /seed/);
  assert.throws(() => new Rng(Number.NaN), SwallowError);
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), RangeError);
});
