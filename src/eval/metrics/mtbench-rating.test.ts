import { test } from "node:test";
import assert from "node:assert/strict";

import { UNPARSED_RATING, parseRating } from "./mtbench-rating.js";
import { golden } from "../tasks/mtbench/golden.testkit.js";

// Each case's expected rating is what FastChat's run_judge_single returned for that judgment (golden file).

test("ratings equal FastChat's run_judge_single on every golden case", () => {
  const parsed = golden.ratingCases.filter((c) => c.error === undefined);
  assert.ok(parsed.length >= 15);
  for (const c of parsed) assert.equal(parseRating(c.judgment), c.rating, JSON.stringify(c.judgment));
});

test("judgments FastChat cannot literal_eval (it stops the run) count as unparsed here", () => {
  const failing = golden.ratingCases.filter((c) => c.error !== undefined);
  // "[[07]]" (leading zero), full-width and Arabic-Indic digits: Python's \d matches them, literal_eval raises.
  assert.deepEqual(
    failing.map((c) => c.judgment),
    ["[[07]]", "[[\uff17]]", "[[\u0663]]", "[[８]]点"],
  );
  for (const c of failing) {
    assert.equal(c.error, "SyntaxError");
    assert.equal(parseRating(c.judgment), UNPARSED_RATING);
  }
});

test("hand-checked: [[x]] wins over an earlier [x]; the first [[x]] wins; spaces or a sign defeat both patterns", () => {
  assert.equal(parseRating("参考[1]。評価: [[8]]"), 8);
  assert.equal(parseRating("[[4]] ... [[9]]"), 4);
  assert.equal(parseRating("Rating: [[ 8 ]]"), UNPARSED_RATING);
  assert.equal(parseRating("[[-2]]"), UNPARSED_RATING);
  assert.equal(parseRating("[[6.5]]"), 6.5);
});
