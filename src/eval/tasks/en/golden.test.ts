/**
 * Every English task against the golden files of scripts/eval/make_en_golden.py (lm-eval v0.4.2's request building
 * re-implemented in Python with the real Jinja2 and CPython's random.Random(1234)): the requests must match byte for
 * byte, and, run end to end against a fake backend with the canned outputs, the per-item scores and the aggregate
 * must equal what the Python filters and metrics (numpy HF exact_match, official SQuAD v2 logic) computed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";

import type { EvalTask } from "../../types.js";
import { bbhCotFewshot, makeBbhTask } from "./bbh.js";
import { gsm8k } from "./gsm8k.js";
import { hellaswag } from "./hellaswag.js";
import { makeMmluTask } from "./mmlu.js";
import { openbookqa } from "./openbookqa.js";
import { squadv2 } from "./squadv2.js";
import { CannedBackend, fixtureData, readGolden } from "./fixture-backend.js";
import { triviaqa } from "./triviaqa.js";
import { xwinogradEn } from "./xwinograd.js";

const cases: [string, EvalTask][] = [
  ["openbookqa", openbookqa],
  ["triviaqa", triviaqa],
  ["hellaswag", hellaswag],
  ["squadv2", squadv2],
  ["xwinograd_en", xwinogradEn],
  ["mmlu", makeMmluTask(["abstract_algebra", "high_school_us_history"])],
  ["gsm8k", gsm8k],
  ["bbh_cot_fewshot", makeBbhTask(["boolean_expressions", "snarks"])],
];

for (const [name, task] of cases) {
  test(`${name}: requests equal the golden file and scores equal Python's`, async () => {
    const golden = readGolden(name);
    assert.equal(golden.task, task.name);
    const items = await task.load(fixtureData, {});
    assert.deepEqual(
      items.map((i) => i.itemId),
      golden.items.map((i) => i.itemId),
    );
    const outcomes = [];
    for (const [k, item] of items.entries()) {
      const g = golden.items[k];
      const backend = new CannedBackend(g.canned);
      const outcome = await item.run({ model: backend });
      // Requests run concurrently within an item; compare as a multiset in request order per kind.
      const byKind = (rs: typeof backend.requests, kind: string) => rs.filter((r) => r.kind === kind);
      for (const kind of ["loglikelihood", "generate"]) {
        assert.deepEqual(byKind(backend.requests, kind), byKind(g.requests, kind), `${g.itemId} ${kind} requests`);
      }
      for (const [key, value] of Object.entries(g.expected.scores)) assert.equal(outcome.scores[key], value, `${g.itemId} ${key}`);
      if (g.expected.prediction !== undefined) assert.equal(outcome.prediction, g.expected.prediction, `${g.itemId} prediction`);
      outcomes.push(outcome);
    }
    assert.equal(task.aggregate(outcomes), golden.aggregate);
  });
}

test("--limit keeps the first N items with the same prompts", async () => {
  const golden = readGolden("triviaqa");
  const items = await triviaqa.load(fixtureData, { limit: 2 });
  assert.equal(items.length, 2);
  const backend = new CannedBackend(golden.items[1].canned);
  await items[1].run({ model: backend });
  assert.deepEqual(backend.requests, golden.items[1].requests);
});

test("every task names a registered metric and a unique name", async () => {
  const { enTasks } = await import("./index.js");
  const { getMetric } = await import("../../metrics/index.js");
  for (const task of enTasks) assert.doesNotThrow(() => getMetric(task.metric), task.name);
  assert.equal(new Set(enTasks.map((t) => t.name)).size, 8);
});

test("the registered BBH and MMLU tasks cover 27 subtasks and 57 subjects", async () => {
  const { BBH_SUBTASKS } = await import("./bbh.js");
  const { MMLU_SUBJECTS } = await import("./mmlu-subjects.js");
  assert.equal(BBH_SUBTASKS.length, 27);
  assert.equal(new Set(MMLU_SUBJECTS.map(([s]) => s)).size, 57);
  assert.equal(bbhCotFewshot.name, "bbh_cot_fewshot");
});
