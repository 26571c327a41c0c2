import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { SwallowError } from "../../errors.js";
import { fixturesDir } from "../../../test/support/paths.js";
import { accFromLoglikelihoods, argmaxFirst } from "./acc.js";

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "bleu-vectors.json"), "utf8")) as {
  argmax?: { logprobs: string[]; argmax: number }[];
};

/** Python repr of a float → number ("nan", "inf", "-inf" included). */
const fromRepr = (s: string) => (s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s));

test("argmax equals numpy.argmax: first maximum, NaN wins", () => {
  assert.ok(fixture.argmax && fixture.argmax.length >= 8, "argmax vectors from numpy");
  for (const { logprobs, argmax } of fixture.argmax) assert.equal(argmaxFirst(logprobs.map(fromRepr)), argmax, logprobs.join(","));
});

test("acc is 1 only when the argmax is the gold choice", () => {
  assert.equal(accFromLoglikelihoods([-3.2, -1.5, -1.5], 1), 1);
  assert.equal(accFromLoglikelihoods([-3.2, -1.5, -1.5], 2), 0);
  assert.equal(accFromLoglikelihoods([-3.2, -1.5, -0.5], [0, 2]), 1);
  assert.throws(() => argmaxFirst([]), SwallowError);
});
