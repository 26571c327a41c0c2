import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { SwallowError } from "../../errors.js";
import { fixturesDir } from "../../../test/support/paths.js";
import { passAtK } from "./pass-at-k.js";

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "bleu-vectors.json"), "utf8")) as {
  numpy: string;
  pass_at_k: { n: number; c: number; k: number; value: number }[];
};

test("pass@k equals bigcode's numpy estimator bit for bit", () => {
  assert.ok(fixture.numpy && fixture.pass_at_k.length >= 20);
  for (const { n, c, k, value } of fixture.pass_at_k) {
    assert.ok(Object.is(passAtK(n, c, k), value), `n=${n} c=${c} k=${k}: ${passAtK(n, c, k)} vs numpy ${value}`);
  }
});

test("pass@1 with n=10 is c/10 up to rounding (spec §4)", () => {
  for (let c = 0; c <= 10; c++) assert.ok(Math.abs(passAtK(10, c, 1) - c / 10) < 1e-15);
});

test("impossible counts are a SwallowError", () => {
  for (const [n, c, k] of [
    [10, 11, 1],
    [10, -1, 1],
    [10, 1, 0],
    [10, 1, 11],
    [2.5, 1, 1],
  ]) {
    assert.throws(() => passAtK(n, c, k), SwallowError, `${n} ${c} ${k}`);
  }
});
