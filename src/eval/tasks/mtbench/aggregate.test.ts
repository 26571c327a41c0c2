import { test } from "node:test";
import assert from "node:assert/strict";

import { SwallowError } from "../../../errors.js";
import { type GroupSummary, calculateAverages, numpySum, summarizeJudgments } from "./aggregate.js";
import { japaneseCharRatio } from "./japanese-ratio.js";
import { categoryOfQuestionId } from "./settings.js";
import { type GoldenSummary, golden, goldenNumber } from "./golden.testkit.js";

// Expected values: show_result.py's calculate_averages (numpy) on the same rows, from the golden file.

function assertSummary(actual: Record<string, GroupSummary>, expected: GoldenSummary, label: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), label);
  for (const [group, turns] of Object.entries(expected)) {
    for (const [turn, want] of Object.entries(turns)) {
      const got = actual[group][turn as keyof GroupSummary];
      assert.ok(got, `${label} ${group} ${turn} missing`);
      assert.ok(Object.is(got.score, goldenNumber(want.score)), `${label} ${group} ${turn} score ${got.score} vs ${want.score}`);
      assert.ok(Object.is(got.stdev, goldenNumber(want.stdev)), `${label} ${group} ${turn} stdev ${got.stdev} vs ${want.stdev}`);
    }
    const absent = (["first_turn", "second_turn", "average"] as const).filter((t) => !(t in turns));
    for (const t of absent) assert.equal(actual[group][t], undefined);
  }
}

test("hand-made rating matrices aggregate exactly as show_result.py (incl. −1 and an all-failed run)", () => {
  assert.equal(golden.aggregationCases.length, 3);
  for (const c of golden.aggregationCases) {
    const rows = c.rows.map(([questionId, turn, ratings]) => ({ questionId, turn, ratings }));
    assertSummary(summarizeJudgments(rows), c.summary, c.name);
  }
});

test("hand-checked: a −1 is left out of its run's mean only", () => {
  // run means: (8+6)/2=7, 9/1=9, 5, 5, 5 → mean 31/5 = 6.2
  const { score } = calculateAverages([
    [8, 9, 5, 5, 5],
    [6, -1, 5, 5, 5],
  ]);
  assert.equal(score, 6.2);
});

test("the fixture run's judgments aggregate as show_result.py", () => {
  const rows = golden.judgments.map((j) => ({ questionId: j.questionId, turn: j.turn, ratings: j.scores }));
  assertSummary(summarizeJudgments(rows), golden.fixtureSummary, "fixture");
});

test("numpySum rounds as numpy's pairwise float64 sum", () => {
  for (const c of golden.numpySumCases) assert.equal(numpySum(c.values), c.sum, `n=${c.values.length}`);
});

test("question ids map to categories as show_result.py's CATEGORIES[(qid-81)//10]", () => {
  const expected = golden.categories.map((c) => c.toLowerCase());
  for (let id = 1; id <= 160; id++) assert.equal(categoryOfQuestionId(id), expected[Math.floor(((id - 1) % 80) / 10)]);
  assert.throws(() => categoryOfQuestionId(0), SwallowError);
  assert.throws(() => categoryOfQuestionId(161), SwallowError);
});

test("rows with different run counts are refused", () => {
  assert.throws(
    () =>
      calculateAverages([
        [1, 2, 3],
        [1, 2],
      ]),
    SwallowError,
  );
});

test("Japanese character ratio equals custom_utils.calculate_japanese_character_ratio", () => {
  assert.equal(golden.japaneseCharRatioCases.length, 2);
  for (const c of golden.japaneseCharRatioCases) assert.deepEqual(japaneseCharRatio(c.answers), c.ratios);
});
