import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { SwallowError } from "../../errors.js";
import { fixturesDir } from "../../../test/support/paths.js";
import { getMetric, listMetrics, scoreItem, type CorpusMetric, type ItemMetric, type RecordMetric } from "./registry.js";

const charF1Vectors = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "char-f1-vectors.json"), "utf8")).cases as {
  pred: string;
  gold: string;
  expected_0_21: number;
}[];
const bleuVectors = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "bleu-vectors.json"), "utf8")).bleu.corpora as {
  name: string;
  hyps: string[];
  refs: string[];
  score: number;
}[];

test("the registry names each framework's variant and describes it in one line", () => {
  const names = listMetrics().map((m) => m.name);
  for (const name of [
    "llmjp.exact_match",
    "char_f1",
    "lmeval.exact_match",
    "jpharness.rouge2",
    "sacrebleu.bleu",
    "jpharness.bleu_ja",
    "pass@1",
    "lmeval.acc",
  ]) {
    assert.ok(names.includes(name), name);
  }
  assert.equal(new Set(names).size, names.length, "names are unique");
  for (const m of listMetrics()) assert.ok(m.description.length > 20 && !m.description.includes("\n"), m.name);
});

test("unknown names are a SwallowError that lists the known ones", () => {
  assert.throws(
    () => getMetric("rouge"),
    (e: unknown) => e instanceof SwallowError && /char_f1/.test(e.message),
  );
});

test("char_f1 through the registry averages fuzzywuzzy's per-item values", () => {
  const metric = getMetric("char_f1") as ItemMetric;
  const cases = charF1Vectors.slice(0, 20);
  const scores = cases.map((c) => scoreItem(metric, c.pred, c.gold));
  assert.deepEqual(
    scores,
    cases.map((c) => c.expected_0_21 / 100),
  );
  const expectedMean = cases.reduce((sum, c) => sum + c.expected_0_21 / 100, 0) / cases.length;
  assert.ok(Math.abs(metric.aggregate(scores) - expectedMean) < 1e-15);
});

test("a list of golds scores the best match (TriviaQA aliases)", () => {
  const metric = getMetric("lmeval.exact_match_triviaqa") as ItemMetric;
  assert.equal(scoreItem(metric, "The Beatles!", ["Rolling Stones", "the beatles"]), 1);
  assert.equal(scoreItem(metric, "Wings", ["Rolling Stones", "the beatles"]), 0);
  assert.throws(() => scoreItem(metric, "x", []), SwallowError);
});

test("sacrebleu.bleu is the corpus score sacrebleu printed", () => {
  const metric = getMetric("sacrebleu.bleu") as CorpusMetric;
  const c = bleuVectors.find((v) => v.name === "en-numbers-punct")!;
  assert.ok(Math.abs(metric.corpus(c.hyps, c.refs, {}) - c.score) < 1e-12 * c.score);
  assert.equal(metric.maxScore, 100);
});

test("jpharness.rouge2 needs the model tokenizer", () => {
  const metric = getMetric("jpharness.rouge2") as ItemMetric;
  assert.throws(() => metric.score("a b", "a b", {}), SwallowError);
  // whitespace "tokenizer": identical 3-token texts → F = 1
  assert.equal(metric.score("a b c", "a b c", { tokenize: (s) => s.split(" ") }), 1);
  // Every bootstrap resample of identical values has the same mean: mid = 100 × that value.
  assert.equal(metric.aggregate([1, 1, 1]), 100);
  assert.equal(metric.aggregate([0.25]), 25);
});

test("record metrics validate their input shape", () => {
  const pass1 = getMetric("pass@1") as RecordMetric;
  assert.ok(Math.abs(pass1.scoreRecord({ n: 10, c: 3 }) - 0.3) < 1e-15);
  assert.throws(() => pass1.scoreRecord({ n: 10 }), SwallowError);
  const acc = getMetric("lmeval.acc") as RecordMetric;
  assert.equal(acc.scoreRecord({ logprobs: [-2, -1, -1], gold: 1 }), 1);
  assert.throws(() => acc.scoreRecord({ logprobs: [-2, -1], gold: 2 }), SwallowError);
  assert.throws(() => acc.scoreRecord({ logprobs: "x", gold: 0 }), SwallowError);
});
