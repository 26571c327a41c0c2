/**
 * XL-Sum ja's task score against scripts/eval/make_ja_golden.py: per-document ROUGE-2 over the model tokenizer (the
 * fixtures' one-token-per-code-point stand-in) and rouge_score's BootstrapAggregator mid computed by numpy itself
 * (seed 1234, items in the harness's shuffled order). Prompts and predictions are checked in ../ja-tasks.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

import { fixturesDir } from "../../../../../test/support/paths.js";
import { rouge2JpHarness } from "../../../metrics/index.js";
import type { ItemOutcome } from "../../../types.js";
import { createXlsumJaTask } from "./xlsum.js";

interface XlsumGolden {
  expected: { itemId: string; prediction: string; gold: string; rouge2: [number, number, number] }[];
  rouge2: number;
  aggregate: number;
  bootstrapCase: {
    pairs: { prediction: string; gold: string }[];
    fmeasures: number[];
    aggregate: number;
    aggregateReversed: number;
    mean: number;
  };
}

const golden = JSON.parse(readFileSync(path.join(fixturesDir, "eval", "golden", "xlsum_ja.json"), "utf8")) as XlsumGolden;

const codePointTokenizer = {
  encode: (text: string) => Array.from(text, (c) => c.codePointAt(0)!),
  decode: (ids: readonly number[]) => String.fromCodePoint(...ids),
};

const outcomesOf = (pairs: readonly { prediction: string; gold: string }[]): ItemOutcome[] =>
  pairs.map((p, i) => ({ itemId: String(i), scores: {}, prediction: p.prediction, gold: p.gold }));

function taskWithTokenizer() {
  const task = createXlsumJaTask();
  task.setTokenizer(codePointTokenizer);
  return task;
}

test("xlsum_ja: per-document ROUGE-2 (P, R, F) over the tokenizer's ids equals rouge_score's algorithm in Python", () => {
  for (const e of golden.expected) {
    const s = rouge2JpHarness(e.prediction, e.gold, codePointTokenizer.encode);
    assert.deepEqual([s.precision, s.recall, s.fmeasure], e.rouge2, `item ${e.itemId}`);
  }
});

test("xlsum_ja: the score is numpy's seeded bootstrap mid / 100 over the items in evaluation order", () => {
  const task = taskWithTokenizer();
  assert.equal(task.aggregate(outcomesOf(golden.expected)), golden.aggregate);
  assert.ok(golden.aggregate > 0 && golden.aggregate < 1);
});

test("xlsum_ja: on a run where the bootstrap mid is not the mean, it still equals numpy's, in either item order", () => {
  const c = golden.bootstrapCase;
  const task = taskWithTokenizer();
  const outcomes = outcomesOf(c.pairs);
  assert.deepEqual(
    outcomes.map((o) => rouge2JpHarness(o.prediction, o.gold as string, codePointTokenizer.encode).fmeasure),
    c.fmeasures,
  );
  // The case must be able to tell the statistics and the orders apart, or the equalities below prove little.
  assert.notEqual(c.aggregate, c.mean);
  assert.notEqual(c.aggregate, c.aggregateReversed);
  assert.equal(task.aggregate(outcomes), c.aggregate);
  assert.equal(task.aggregate([...outcomes].reverse()), c.aggregateReversed);
});

test("xlsum_ja: aggregating before setTokenizer says what to do", () => {
  assert.throws(() => createXlsumJaTask().aggregate(outcomesOf(golden.expected)), /setTokenizer/);
});
