/** The dataset declarations agree with what the tasks read and with the fixture layout. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";

import { BBH_SUBTASKS } from "./bbh.js";
import { fixtureData } from "./fixture-backend.js";
import { enDatasets, enTasks } from "./index.js";
import { MMLU_SUBJECTS } from "./mmlu-subjects.js";

test("every dataset a task reads is declared once, with a licence and https URLs", () => {
  const names = enDatasets.map((d) => d.name);
  assert.equal(new Set(names).size, names.length);
  for (const task of enTasks) for (const d of task.datasets) assert.ok(names.includes(d), `${task.name} reads undeclared ${d}`);
  for (const d of enDatasets) {
    assert.ok(d.license.length > 0 && d.files.length > 0, d.name);
    for (const f of d.files) assert.match(f.url, /^https:\/\//, f.url);
    assert.equal(new Set(d.files.map((f) => f.path)).size, d.files.length, `${d.name}: duplicate paths`);
  }
  const byName = new Map(enDatasets.map((d) => [d.name, d]));
  assert.equal(byName.get("mmlu")!.files.length, 2 * MMLU_SUBJECTS.length);
  assert.equal(byName.get("bbh")!.files.length, 2 * BBH_SUBTASKS.length);
});

test("the fixtures use the declared paths (all files of the small datasets, some of MMLU and BBH)", () => {
  for (const d of enDatasets) {
    const present = d.files.filter((f) => existsSync(path.join(fixtureData.dir(d.name), f.path)));
    if (d.name === "mmlu" || d.name === "bbh") assert.equal(present.length, 4, d.name);
    else assert.equal(present.length, d.files.length, d.name);
  }
});
