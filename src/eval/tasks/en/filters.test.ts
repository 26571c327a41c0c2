/**
 * The card's answer filters and exact_match settings against en-filter-vectors.json, which make_en_golden.py computed
 * with Python's `re` (lm-eval's RegexFilter/WhitespaceFilter code paths) and numpy (HF evaluate's exact_match).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

import { fixturesDir } from "../../../../test/support/paths.js";
import { lmevalExactMatch } from "../../metrics/index.js";
import { regexFilter, removeLeadingSpace } from "./filters.js";
import { GSM8K_EXACT_MATCH } from "./gsm8k.js";

interface Vectors {
  filters: { pattern: string; groupSelect: number; output: string; filtered: string }[];
  exactMatch: { setting: "gsm8k" | "triviaqa" | "bbh"; prediction: string; reference: string; score: number }[];
  removeWhitespace: { output: string; filtered: string }[];
}

const vectors = JSON.parse(readFileSync(path.join(fixturesDir, "eval", "golden", "en-filter-vectors.json"), "utf8")) as Vectors;

test("regexFilter equals lm-eval's RegexFilter (Python re) on every vector", () => {
  assert.ok(vectors.filters.length >= 60);
  for (const v of vectors.filters) {
    assert.equal(
      regexFilter(v.output, v.pattern, { groupSelect: v.groupSelect }),
      v.filtered,
      `${v.pattern} on ${JSON.stringify(v.output)}`,
    );
  }
});

test("removeLeadingSpace equals lm-eval's WhitespaceFilter", () => {
  for (const v of vectors.removeWhitespace) assert.equal(removeLeadingSpace(v.output), v.filtered, JSON.stringify(v.output));
});

test("the tasks' exact_match settings equal HF evaluate's exact_match", () => {
  const settings = { gsm8k: GSM8K_EXACT_MATCH, triviaqa: { ignoreCase: true, ignorePunctuation: true }, bbh: {} };
  for (const v of vectors.exactMatch) {
    assert.equal(lmevalExactMatch(v.prediction, v.reference, settings[v.setting]), v.score, `${v.setting}: ${JSON.stringify(v)}`);
  }
});
