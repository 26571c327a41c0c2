import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { charF1, fuzzProcessAndSort, levenshteinRatio, tokenSortRatio } from "./char-f1.js";
import { compareCodePoints, roundHalfEven } from "./python-compat.js";

interface Vector {
  pred: string;
  gold: string;
  processed_pred: string;
  processed_gold: string;
  /** fuzz.token_sort_ratio as Debian's fuzzywuzzy 0.18 + python-Levenshtein 0.12.2 returned it. */
  library: number;
  /** The same with python-Levenshtein 0.21.1's ratio formula (what llm-jp-eval pinned). */
  expected_0_21: number;
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "char-f1-vectors.json"), "utf8")) as {
  fuzzywuzzy: string;
  cases: Vector[];
  sweep: Vector[];
  formula_disagreements: Vector[];
};

test("fixture came from fuzzywuzzy 0.18 and covers the adversarial cases", () => {
  assert.equal(fixture.fuzzywuzzy, "0.18.0");
  assert.ok(fixture.cases.length >= 60 && fixture.sweep.length >= 400);
});

for (const [group, vectors] of [
  ["cases", fixture.cases],
  ["random sweep", fixture.sweep],
] as const) {
  test(`token_sort_ratio equals fuzzywuzzy on the ${group}`, () => {
    let agreeWithLibrary = 0;
    for (const v of vectors) {
      const label = `${JSON.stringify(v.pred)} vs ${JSON.stringify(v.gold)}`;
      assert.equal(fuzzProcessAndSort(v.pred), v.processed_pred, `processed pred of ${label}`);
      assert.equal(fuzzProcessAndSort(v.gold), v.processed_gold, `processed gold of ${label}`);
      assert.equal(tokenSortRatio(v.pred, v.gold), v.expected_0_21, label);
      assert.equal(charF1(v.pred, v.gold), v.expected_0_21 / 100, label);
      if (v.library === v.expected_0_21) agreeWithLibrary++;
    }
    // Only the .5 ties of the lensum-80 case differ between Levenshtein 0.12 and 0.21 here.
    assert.ok(agreeWithLibrary >= vectors.length - 1, `${agreeWithLibrary}/${vectors.length} agree with the library`);
  });
}

test("at a .5 tie the score follows python-Levenshtein 0.21.1 (1 - d/lensum), not Debian's 0.12.2 ((lensum-d)/lensum)", () => {
  assert.ok(fixture.formula_disagreements.length >= 4);
  for (const v of fixture.formula_disagreements) {
    assert.notEqual(v.library, v.expected_0_21, "the fixture holds only cases where the two formulas round apart");
    assert.equal(tokenSortRatio(v.pred, v.gold), v.expected_0_21);
  }
  // lensum 80, LCS 1, dist 78: 1 - 78/80 = 0.025000000000000022 → 2.5000000000000022 → 3 (0.12.2: 2/80*100 = 2.5 → 2).
  assert.equal(levenshteinRatio("a", "a".padEnd(79, "b")), 1 - 78 / 80);
  assert.equal(tokenSortRatio("a", "a".padEnd(79, "b")), 3);
});

test("Python round(): half to even", () => {
  // Python: round(0.5)=0, round(1.5)=2, round(2.5)=2, round(12.5)=12, round(-0.5)=0, round(-1.5)=-2, round(2.4999999)=2
  assert.deepEqual([0.5, 1.5, 2.5, 12.5, 13.5, 2.4999999, 2.5000001].map(roundHalfEven), [0, 2, 2, 12, 14, 2, 3]);
  assert.equal(roundHalfEven(-1.5), -2);
  assert.equal(Math.abs(roundHalfEven(-0.5)), 0);
});

test("code-point order puts astral letters after U+FFxx, unlike UTF-16 order", () => {
  // U+20BB7 (𠮷) > U+FF71 (ｱ) as code points; as UTF-16 units "\uD842" < "\uFF71".
  assert.ok(compareCodePoints("𠮷", "ｱ") > 0);
  assert.ok("𠮷" < "ｱ");
  assert.equal(compareCodePoints("ab", "ab"), 0);
  assert.ok(compareCodePoints("a", "ab") < 0);
});
