import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { SwallowError } from "../../../errors.js";
import { MTBENCH_DATASET_NAME, loadMtbenchData } from "./dataset.js";
import { fixtureData } from "./golden.testkit.js";

test("fixture dataset loads in file order with references for the reference categories", () => {
  const data = loadMtbenchData(fixtureData);
  assert.deepEqual(
    data.questions.map((q) => [q.questionId, q.category]),
    [
      [2, "coding"],
      [13, "extraction"],
      [31, "math"],
      [51, "roleplay"],
      [64, "stem"],
    ],
  );
  assert.ok(data.questions.every((q) => q.turns.length === 2));
  assert.equal(data.references.get(31)!.length, 2);
  assert.equal(data.judgePrompts.get("single-v1")!.systemPrompt, "You are a helpful assistant.");
});

/** A copy of the fixture dataset with one file replaced, loaded; returns the error message. */
function loadBroken(file: string, content: string | Buffer): string {
  const root = mkdtempSync(path.join(tmpdir(), "mtbench-"));
  try {
    const dir = path.join(root, MTBENCH_DATASET_NAME);
    cpSync(fixtureData.dir(MTBENCH_DATASET_NAME), dir, { recursive: true });
    writeFileSync(path.join(dir, file), content);
    try {
      loadMtbenchData({ dir: () => dir });
    } catch (error) {
      assert.ok(error instanceof SwallowError, String(error));
      assert.ok(!error.message.includes("\n"));
      return error.message;
    }
    assert.fail("expected an error");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test("bad files get one-line errors naming file and line and saying how to fix", () => {
  const questions = readFileSync(path.join(fixtureData.dir(MTBENCH_DATASET_NAME), "question.jsonl"), "utf8").split("\n");
  const second = JSON.parse(questions[1]);
  let msg = loadBroken("question.jsonl", [questions[0], "{not json", ""].join("\n"));
  assert.match(msg, /question\.jsonl:2: not a JSON object; run `swallow eval data download japanese-mt-bench-3762f0d`/);
  msg = loadBroken("question.jsonl", [questions[0], JSON.stringify({ ...second, turns: "x" })].join("\n"));
  assert.match(msg, /question\.jsonl:2: turns must be a list/);
  msg = loadBroken("question.jsonl", JSON.stringify({ ...second, category: "math" }));
  assert.match(msg, /question\.jsonl:1: question 13 has category "math"/);
  msg = loadBroken("question.jsonl", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  assert.match(msg, /question\.jsonl: not valid UTF-8/);
  msg = loadBroken("reference_answer/gpt-4o-2024-08-06.jsonl", "");
  assert.match(msg, /no reference answer with 2 turns for question 2/);
  msg = loadBroken("judge_prompts.jsonl", "");
  assert.match(msg, /judge_prompts\.jsonl: no single-grading prompt "single-v1"/);
});
