import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { squadNormalizeAnswer, squadV2Exact } from "./squad.js";

interface SquadVector {
  pred: string;
  answers: string[];
  normalized_pred: string;
  exact: number;
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "squad-v2-vectors.json"), "utf8")) as { cases: SquadVector[] };

test("SQuAD v2 normalize_answer and exact equal the official script's", () => {
  assert.ok(fixture.cases.length >= 20);
  assert.ok(fixture.cases.some((c) => c.exact === 0) && fixture.cases.some((c) => c.exact === 1));
  for (const c of fixture.cases) {
    assert.equal(squadNormalizeAnswer(c.pred), c.normalized_pred, JSON.stringify(c.pred));
    assert.equal(squadV2Exact(c.pred, c.answers), c.exact, JSON.stringify(c));
  }
});

test("an unanswerable question (no gold) credits only an empty answer, not the word the few-shots teach", () => {
  assert.equal(squadV2Exact("unanswerable", []), 0);
  assert.equal(squadV2Exact("", []), 1);
});
