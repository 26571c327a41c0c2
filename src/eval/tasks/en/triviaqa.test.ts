/** TriviaQA's per-item score against lm-eval's exact_match run by numpy in scripts/eval/make_en_golden.py. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { SwallowError } from "../../../errors.js";
import { readGolden } from "./fixture-backend.js";
import { triviaqaScore } from "./triviaqa.js";

const cases = readGolden("triviaqa").scoreCases ?? [];

test("triviaqaScore equals lm-eval scoring all aliases in one numpy exact_match call", () => {
  const scored = cases.filter((c) => c.error === undefined);
  assert.ok(scored.length >= 8);
  // The vectors include aliases where one call and alias-by-alias calls disagree (numpy's column width cuts "i̇").
  assert.ok(scored.filter((c) => c.perAlias !== c.exact_match).length >= 2);
  for (const c of scored) assert.deepEqual(triviaqaScore(c.output, c.aliases), { prediction: c.prediction, exactMatch: c.exact_match });
});

test("triviaqaScore refuses an item without aliases, where lm-eval itself fails", () => {
  const failing = cases.filter((c) => c.error !== undefined);
  assert.ok(failing.length >= 1);
  for (const c of failing) assert.throws(() => triviaqaScore(c.output, c.aliases), SwallowError);
});
