/**
 * HellaSwag as lm-eval v0.4.2 runs it (tasks/hellaswag/hellaswag.yaml + utils.py): validation split (10,042),
 * shots from train, `process_docs` text clean-up, reported metric `acc` (not acc_norm).
 */
import type { DatasetAccess, EvalTask } from "../../types.js";
import { readSplit, RowReader } from "./data-files.js";
import { applyLimit, meanScore, multipleChoiceItem } from "./lmeval-items.js";
import { ContextSampler, type LmevalPromptDef } from "./lmeval-prompt.js";
import { pyCapitalize, pyStrip } from "./python-text.js";

export const HELLASWAG_DATASET = "hellaswag";
export const HELLASWAG_FILES = { train: "hellaswag_train.jsonl", validation: "hellaswag_val.jsonl" } as const;

/** utils.preprocess: strip, " [title]" → ". ", drop `[...]` (WikiHow artefacts, non-greedy, no newlines), "  " → " ". */
export function hellaswagPreprocess(text: string): string {
  let t = pyStrip(text);
  t = t.replaceAll(" [title]", ". ");
  t = t.replace(/\[.*?\]/g, "");
  return t.replaceAll("  ", " ");
}

interface HellaswagDoc {
  raw: Record<string, unknown>;
  query: string;
  choices: string[];
  gold: number;
}

const def: LmevalPromptDef<HellaswagDoc> = {
  docToText: (d) => d.query, // "{{query}}" (query is stripped, so Jinja's trailing-newline rule never bites)
  docToTarget: (d) => d.gold, // "{{label}}" renders digits, which lm-eval turns into an int
  docToChoice: (d) => d.choices,
};

async function readDocs(data: DatasetAccess, relPath: string): Promise<HellaswagDoc[]> {
  const { file, rows } = await readSplit(data, HELLASWAG_DATASET, relPath);
  const r = new RowReader(file, HELLASWAG_DATASET);
  return rows.map((row, i) => {
    // process_docs: ctx = ctx_a + " " + ctx_b.capitalize(); query = preprocess(activity_label + ": " + ctx).
    const ctx = r.string(row, i, "ctx_a") + " " + pyCapitalize(r.string(row, i, "ctx_b"));
    const query = hellaswagPreprocess(r.string(row, i, "activity_label") + ": " + ctx);
    const choices = r.stringList(row, i, "endings").map(hellaswagPreprocess);
    // The original JSON lines store label as an int; HF's copy stores the same digits as a string.
    const label = row.label;
    const gold = typeof label === "string" && /^[0-9]+$/.test(label) ? Number(label) : label;
    if (typeof gold !== "number" || !Number.isInteger(gold) || gold < 0 || gold >= choices.length)
      r.invalid(i, "field 'label' must index 'endings'");
    return { raw: row, query, choices, gold: gold as number };
  });
}

export const hellaswag: EvalTask = {
  name: "hellaswag",
  version: "lmeval-0.4.2/hellaswag-v1.0/4shot",
  suite: "en",
  displayName: "HellaSwag",
  metric: "lmeval.acc",
  datasets: [HELLASWAG_DATASET],
  async load(data, options) {
    const train = await readDocs(data, HELLASWAG_FILES.train);
    const validation = applyLimit(await readDocs(data, HELLASWAG_FILES.validation), options.limit);
    // fewshot_split and test_split are both unset (None == None), so lm-eval draws 5 and keeps the first 4.
    const sampler = new ContextSampler(train, def, "default", true);
    return validation.map((doc, i) => multipleChoiceItem(def, sampler, doc, 4, String(i)));
  },
  aggregate: (outcomes) => meanScore(outcomes, "acc"),
};
