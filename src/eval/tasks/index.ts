/**
 * The task registry: every task of the model card in the card's column order, and the selection syntax of
 * `swallow eval --tasks` (suite names `ja`, `en`, `mtbench`, `code`, or task names, comma-separated).
 */
import { SwallowError } from "../../errors.js";
import type { DatasetSpec, EvalTask, Suite } from "../types.js";
import { codeDatasets, codeTasks } from "./code/index.js";
import { enDatasets, enTasks } from "./en/index.js";
import { jaDatasets, jaTasks } from "./ja/index.js";
import { createMtbenchTasks, mtbenchDatasets, mtbenchTasks, type MtbenchTaskOptions } from "./mtbench/index.js";

/** Column order of the card's three tables (spec §0); tasks not listed go last in registration order. */
export const CARD_ORDER: Record<Suite, readonly string[]> = {
  ja: ["jcommonsenseqa", "jemhopqa", "niilc", "jsquad", "xlsum_ja", "mgsm", "wmt20-en-ja", "wmt20-ja-en", "jmmlu", "jhumaneval"],
  en: ["openbookqa", "triviaqa", "hellaswag", "squadv2", "xwinograd_en", "mmlu", "gsm8k", "bbh_cot_fewshot", "humaneval"],
  mtbench: [
    "jmtbench_coding",
    "jmtbench_extraction",
    "jmtbench_humanities",
    "jmtbench_math",
    "jmtbench_reasoning",
    "jmtbench_roleplay",
    "jmtbench_stem",
    "jmtbench_writing",
  ],
};

/** Every registered task, in card order within each suite (ja, en, mtbench); `mtbench` options rebuild the MT-Bench tasks. */
export function allTasks(options: { mtbench?: MtbenchTaskOptions } = {}): EvalTask[] {
  const tasks = [...jaTasks, ...enTasks, ...codeTasks, ...(options.mtbench ? createMtbenchTasks(options.mtbench) : mtbenchTasks)];
  const rank = (t: EvalTask): number => {
    const suites: Suite[] = ["ja", "en", "mtbench"];
    const at = CARD_ORDER[t.suite].indexOf(t.name);
    return suites.indexOf(t.suite) * 1000 + (at < 0 ? 999 : at);
  };
  return tasks
    .map((t, i) => ({ t, i }))
    .sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i)
    .map(({ t }) => t);
}

/** Every dataset any task reads, deduplicated by name (the first declaration wins). */
export function allDatasets(): DatasetSpec[] {
  const byName = new Map<string, DatasetSpec>();
  for (const spec of [...jaDatasets, ...enDatasets, ...codeDatasets, ...mtbenchDatasets])
    if (!byName.has(spec.name)) byName.set(spec.name, spec);
  return [...byName.values()];
}

const CODE_TASKS = new Set(["humaneval", "jhumaneval"]);

/**
 * Resolves `--tasks`: `ja`, `en` and `mtbench` select a suite (the card's table, code tasks included), `code` the
 * two HumanEvals, anything else a task name. Order follows the card; duplicates are dropped.
 */
export function selectTasks(selection: string, tasks: EvalTask[] = allTasks()): EvalTask[] {
  const wanted = new Set<EvalTask>();
  const parts = selection
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new SwallowError("--tasks is empty; give suites (ja, en, mtbench, code) or task names, comma-separated");
  for (const part of parts) {
    const matched =
      part === "ja" || part === "en" || part === "mtbench"
        ? tasks.filter((t) => t.suite === part)
        : part === "code"
          ? tasks.filter((t) => CODE_TASKS.has(t.name))
          : tasks.filter((t) => t.name === part);
    if (matched.length === 0) {
      throw new SwallowError(`unknown task "${part}"; choose from ja, en, mtbench, code or: ${tasks.map((t) => t.name).join(", ")}`);
    }
    for (const t of matched) wanted.add(t);
  }
  return tasks.filter((t) => wanted.has(t));
}
