import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixturesDir } from "../../test/support/paths.js";
import { cleanUpTokenizationSpaces } from "./clean-up.js";

// Produced by scripts/tokenizer/make_cleanup_vectors.py with transformers' own clean_up_tokenization.
const vectors = JSON.parse(readFileSync(join(fixturesDir, "tokenizer", "clean-up-vectors.json"), "utf8")) as {
  transformers: string;
  cases: { input: string; output: string }[];
};

test(`cleanUpTokenizationSpaces equals transformers ${vectors.transformers} clean_up_tokenization on ${vectors.cases.length} strings`, () => {
  for (const { input, output } of vectors.cases) assert.equal(cleanUpTokenizationSpaces(input), output, JSON.stringify(input));
});
