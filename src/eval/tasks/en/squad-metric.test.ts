/**
 * SQuAD v2 per-question exact (the registered metric) and F1 (kept here) against the vectors make_en_golden.py
 * computed with the official script's logic; they add F1 and multi-gold cases to the metric's own vectors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";

import { readGolden } from "./fixture-backend.js";
import { squadNormalizeAnswer } from "../../metrics/index.js";
import { squadV2Scores } from "./squad-metric.js";

test("squadV2Scores equals the official SQuAD v2.0 evaluation logic on every vector", () => {
  const vectors = readGolden("squadv2").metricVectors ?? [];
  assert.ok(vectors.length >= 15);
  for (const v of vectors) {
    const s = squadV2Scores(v.prediction, v.golds);
    assert.equal(s.exact, v.exact, `exact ${JSON.stringify(v)}`);
    assert.ok(Math.abs(s.f1 - v.f1) < 1e-12, `f1 ${JSON.stringify(v)}: got ${s.f1}`);
  }
});

test("an unanswerable question credits only an empty prediction (why the card's SQuAD2 is low)", () => {
  assert.deepEqual(squadV2Scores("unanswerable", []), { exact: 0, f1: 0 });
  assert.deepEqual(squadV2Scores("", []), { exact: 1, f1: 1 });
  assert.equal(squadNormalizeAnswer("The  Denver, Broncos!"), "denver broncos");
});
