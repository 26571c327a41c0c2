/**
 * Cross-module consistency of the task registry: every task of every suite module reports a metric the metric
 * registry knows (so `swallow eval` can describe and rescale it), task names are unique across suites, and every
 * dataset a task reads is declared by its own module (so `swallow eval data download` fetches it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";

import { getMetric } from "../metrics/index.js";
import type { DatasetSpec, EvalTask } from "../types.js";
import { codeDatasets, codeTasks } from "./code/index.js";
import { enDatasets, enTasks } from "./en/index.js";
import { jaDatasets, jaTasks } from "./ja/index.js";
import { mtbenchDatasets, mtbenchTasks } from "./mtbench/index.js";

const modules: { module: string; tasks: EvalTask[]; datasets: DatasetSpec[] }[] = [
  { module: "ja", tasks: jaTasks, datasets: jaDatasets },
  { module: "en", tasks: enTasks, datasets: enDatasets },
  { module: "code", tasks: codeTasks, datasets: codeDatasets },
  { module: "mtbench", tasks: mtbenchTasks, datasets: mtbenchDatasets },
];

test("every task's metric is a registered metric name", () => {
  const unknown: string[] = [];
  for (const { module, tasks } of modules) {
    assert.ok(tasks.length > 0, `${module} registers tasks`);
    for (const task of tasks) {
      try {
        getMetric(task.metric);
      } catch {
        unknown.push(`${module}/${task.name}: "${task.metric}"`);
      }
    }
  }
  assert.deepEqual(unknown, [], "tasks whose metric getMetric() does not know");
});

test("task names are unique across all suite modules", () => {
  const names = modules.flatMap(({ tasks }) => tasks.map((t) => t.name));
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  assert.deepEqual(repeated, []);
  // The card's columns: 9 ja (JHumanEval is a code task), 8 en (HumanEval too), 2 code, 8 MT-Bench categories.
  assert.ok(names.length >= 27, `${names.length} tasks`);
});

test("every dataset a task reads is declared by the same module's datasets list", () => {
  const undeclared: string[] = [];
  for (const { module, tasks, datasets } of modules) {
    const declared = new Set(datasets.map((d) => d.name));
    for (const task of tasks) {
      assert.ok(task.datasets.length > 0, `${module}/${task.name} reads a dataset`);
      for (const name of task.datasets) if (!declared.has(name)) undeclared.push(`${module}/${task.name}: ${name}`);
    }
  }
  assert.deepEqual(undeclared, []);
});
