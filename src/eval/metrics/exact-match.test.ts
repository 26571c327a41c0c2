import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { SwallowError } from "../../errors.js";
import { llmjpExactMatch, lmevalExactMatch, lmevalExactMatchAny, type LmevalExactMatchOptions } from "./exact-match.js";

interface EmVector {
  pred: string;
  ref: string;
  options: { regexes_to_ignore?: string[]; ignore_case?: boolean; ignore_punctuation?: boolean };
  exact_match: number;
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "exact-match-vectors.json"), "utf8")) as {
  numpy: string | null;
  cases: EmVector[];
};

const toOptions = (o: EmVector["options"]): LmevalExactMatchOptions => ({
  regexesToIgnore: o.regexes_to_ignore,
  ignoreCase: o.ignore_case,
  ignorePunctuation: o.ignore_punctuation,
});

test("lm-eval exact_match equals HF evaluate's computation on every vector", () => {
  assert.ok(fixture.cases.length >= 25);
  const ones = fixture.cases.filter((c) => c.exact_match === 1).length;
  assert.ok(ones > 5 && ones < fixture.cases.length - 5, "the vectors hold both matches and mismatches");
  for (const v of fixture.cases) {
    assert.equal(lmevalExactMatch(v.pred, v.ref, toOptions(v.options)), v.exact_match, `${JSON.stringify(v)}`);
  }
});

test("llm-jp-eval exact_match is strict equality: no strip, no case folding, no NFKC", () => {
  // sklearn accuracy_score compares the strings as given.
  assert.equal(llmjpExactMatch("3", "3"), 1);
  assert.equal(llmjpExactMatch("3 ", "3"), 0);
  assert.equal(llmjpExactMatch("A", "a"), 0);
  assert.equal(llmjpExactMatch("３", "3"), 0);
  assert.equal(llmjpExactMatch("", ""), 1);
});

test("several golds: any match counts; one numpy column means the longest gold sets the width", () => {
  const triviaqa = { ignoreCase: true, ignorePunctuation: true };
  assert.equal(lmevalExactMatchAny("The Beatles!", ["Wings", "the beatles"], triviaqa), 1);
  assert.equal(lmevalExactMatchAny("Wings!", ["The Beatles", "Paul"], triviaqa), 0);
  // Reasoned from numpy's dtype rule (not run: no numpy here): alone, "İstanbul" (<U8) lowercases to "i̇stanbu"
  // (cut at 8 code points, see the İstanbul vector above); beside a longer gold the column is wider and keeps "i̇stanbul".
  assert.equal(lmevalExactMatch("i̇stanbul", "İstanbul", { ignoreCase: true }), 0);
  assert.equal(lmevalExactMatchAny("i̇stanbul", ["İstanbul", "Constantinople"], { ignoreCase: true }), 1);
  assert.throws(() => lmevalExactMatchAny("x", []), SwallowError);
});

test("regexes_to_ignore=[] (a list, not None) leaves Python lists: golds must all equal the prediction", () => {
  // [p, p] == [g1, g2] is one bool in Python, so one differing gold makes the mean 0.
  assert.equal(lmevalExactMatchAny("a", ["a", "a"], { regexesToIgnore: [] }), 1);
  assert.equal(lmevalExactMatchAny("a", ["a", "b"], { regexesToIgnore: [] }), 0);
  assert.equal(lmevalExactMatchAny("a", ["a", "b"], {}), 1);
});
