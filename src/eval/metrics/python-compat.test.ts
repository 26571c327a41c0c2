import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { mean, pythonSplit, pythonStatisticsMean, pythonStrip } from "./python-compat.js";

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "char-f1-vectors.json"), "utf8")) as {
  statistics_means: { values: number[]; statistics_mean: number }[];
};

test("pythonStatisticsMean equals Python's statistics.mean bit for bit", () => {
  assert.ok(fixture.statistics_means.length >= 8);
  for (const { values, statistics_mean } of fixture.statistics_means) {
    assert.ok(
      Object.is(pythonStatisticsMean(values), statistics_mean),
      `${values.length} values: ${pythonStatisticsMean(values)} vs ${statistics_mean}`,
    );
  }
});

test("the naive mean is an ulp off where statistics.mean is exact (ten 0.1s)", () => {
  const tenths = fixture.statistics_means.find((m) => m.values.length === 10 && m.values.every((v) => v === 0.1))!;
  assert.equal(tenths.statistics_mean, 0.1);
  assert.notEqual(mean(tenths.values), 0.1);
});

test("Python whitespace: split()/strip() use str.isspace, not JS's set", () => {
  // Python: "a\x1cb\x85c\ufeffd".split() == ['a', 'b', 'c\ufeffd']; " \u3000x\u00a0".strip() == 'x'
  assert.deepEqual(pythonSplit("a\x1cb\x85c\ufeffd"), ["a", "b", "c\ufeffd"]);
  assert.equal(pythonStrip(" \u3000x\u00a0"), "x");
  assert.equal(pythonStrip("\ufeffx"), "\ufeffx");
  assert.deepEqual(pythonSplit(""), []);
});
