import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { PythonSandbox } from "./sandbox.js";

// Results of the original harness's `check_correctness` (bigcode-evaluation-harness execute.py, run by
// scripts/eval/make_execution_vectors.py): the sandboxed runner must give the same result strings.
interface Vector {
  name: string;
  program: string;
  result: string;
  passed: boolean;
}
const vectors = JSON.parse(readFileSync(path.join(fixturesDir, "eval", "code", "execution-vectors.json"), "utf8"));

test("the vectors come from the original execute.py under CPython", () => {
  assert.equal(vectors.implementation, "CPython");
  assert.match(vectors.source, /custom_metrics\/execute\.py/);
  assert.ok(vectors.cases.length >= 20);
});

test("sandboxed results equal the original harness's for every edge case", async () => {
  const sandbox = new PythonSandbox({ concurrency: 2 });
  const cases: Vector[] = vectors.cases;
  const results = await Promise.all(cases.map((c) => sandbox.run(c.program)));
  cases.forEach((c, i) => {
    assert.equal(results[i].result, c.result, `${c.name}: ${results[i].diagnostic ?? ""}`);
    assert.equal(results[i].passed, c.passed, c.name);
  });
});
