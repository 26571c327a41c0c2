import { test } from "node:test";
import assert from "node:assert/strict";

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { NumpyLegacyRandom } from "./numpy-random.js";
import { rouge2Aggregate, rouge2BootstrapMid, rouge2FromTokens, rouge2JpHarness } from "./rouge.js";

// rouge_score is not installable on any machine here, so these cases are computed by hand from its published
// algorithm (rouge_scorer._create_ngrams / _score_ngrams, scoring.fmeasure). Arithmetic in the comments.
const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-15, `${actual} vs ${expected}`);

test("partial overlap: a b c d vs a b c e", () => {
  // ref bigrams {ab, bc, cd}, pred {ab, bc, ce}: overlap 2 → P = 2/3, R = 2/3, F = 2·(4/9)/(4/3) = 2/3
  const s = rouge2FromTokens(["a", "b", "c", "e"], ["a", "b", "c", "d"]);
  close(s.precision, 2 / 3);
  close(s.recall, 2 / 3);
  close(s.fmeasure, 2 / 3);
});

test("repeated bigrams are clipped by the other side's count", () => {
  // pred a a a a → {aa: 3}; ref a a → {aa: 1}: overlap min(3,1) = 1 → P = 1/3, R = 1/1, F = 2·(1/3)/(4/3) = 1/2
  const s = rouge2FromTokens(["a", "a", "a", "a"], ["a", "a"]);
  close(s.precision, 1 / 3);
  close(s.recall, 1);
  close(s.fmeasure, 0.5);
});

test("no bigrams on one side: denominators are max(count, 1) and F is 0", () => {
  // pred has one token → 0 bigrams; P = 0/max(0,1) = 0, R = 0/2 = 0, P+R = 0 → F = 0
  assert.deepEqual(rouge2FromTokens(["x"], ["x", "y", "z"]), { precision: 0, recall: 0, fmeasure: 0 });
  assert.deepEqual(rouge2FromTokens([], []), { precision: 0, recall: 0, fmeasure: 0 });
});

test("asymmetric lengths", () => {
  // pred 東京 に 行っ た (3 bigrams), ref 東京 に 行く (2 bigrams): shared {東京 に} → P = 1/3, R = 1/2, F = 2·(1/6)/(5/6) = 0.4
  const s = rouge2FromTokens(["東京", "に", "行っ", "た"], ["東京", "に", "行く"]);
  close(s.precision, 1 / 3);
  close(s.recall, 1 / 2);
  close(s.fmeasure, (2 * (1 / 3) * (1 / 2)) / (1 / 3 + 1 / 2));
  close(s.fmeasure, 0.4);
});

test("bigrams are token pairs, not joined strings: ('a b','c') ≠ ('a','b c')", () => {
  const s = rouge2FromTokens(["a b", "c"], ["a", "b c"]);
  assert.equal(s.fmeasure, 0);
});

test("uses the supplied tokenizer (the model's subwords), ids or pieces alike", () => {
  // A stand-in "tokenizer" that splits into characters: 今日は晴れ vs 今日は雨 share 今日, 日は → P = 2/4, R = 2/3, F = 4/7
  const chars = (s: string) => [...s];
  close(rouge2JpHarness("今日は晴れ", "今日は雨", chars).fmeasure, 4 / 7);
  const ids = (s: string) => [...s].map((ch) => ch.codePointAt(0)!);
  close(rouge2JpHarness("今日は晴れ", "今日は雨", ids).fmeasure, 4 / 7);
});

test("aggregate is 100 × mean per-document F (the bootstrap median's target)", () => {
  // (2/3 + 0.5 + 0) / 3 × 100 = 38.888…
  close(rouge2Aggregate([2 / 3, 0.5, 0]), (100 * (2 / 3 + 0.5 + 0)) / 3);
  assert.equal(rouge2Aggregate([]), 0);
});

interface BootstrapFixture {
  numpy: string;
  rouge_bootstrap: {
    choice_draws_seed_1234: Record<string, number[]>;
    cases: { fmeasures: number[]; seed: number; mid_fmeasure_x100: number; mean_x100: number }[];
  };
}

const bootstrap = (JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "bleu-vectors.json"), "utf8")) as BootstrapFixture)
  .rouge_bootstrap;

test("numpy legacy np.random.seed(1234) + np.random.choice draws are reproduced", () => {
  assert.ok(Object.keys(bootstrap.choice_draws_seed_1234).length >= 5);
  for (const [n, draws] of Object.entries(bootstrap.choice_draws_seed_1234)) {
    assert.deepEqual([...new NumpyLegacyRandom(1234).choiceIndices(Number(n), draws.length)], draws, `n=${n}`);
  }
});

test("bootstrap mid equals rouge_score's BootstrapAggregator under numpy (the JP harness's XL-Sum value)", () => {
  assert.ok(
    bootstrap.cases.some((c) => c.fmeasures.length === 766),
    "XL-Sum-sized case",
  );
  for (const c of bootstrap.cases) {
    assert.ok(Object.is(rouge2BootstrapMid(c.fmeasures, { seed: c.seed }), c.mid_fmeasure_x100), `n=${c.fmeasures.length}`);
    // The plain mean is numpy's up to summation order (np.mean sums pairwise).
    assert.ok(Math.abs(rouge2Aggregate(c.fmeasures) - c.mean_x100) < 1e-10);
  }
  const big = bootstrap.cases.find((c) => c.fmeasures.length === 766)!;
  assert.notEqual(big.mid_fmeasure_x100, big.mean_x100, "the median of bootstrap means is not the mean");
});
