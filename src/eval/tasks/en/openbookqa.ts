/**
 * OpenBookQA as lm-eval v0.4.2 runs it (tasks/openbookqa/openbookqa.yaml): test split (500), 4 shots drawn from
 * train, multiple choice over `choices.text`, reported metric `acc` (not acc_norm).
 */
import type { DatasetAccess, EvalItem, EvalTask } from "../../types.js";
import { readSplit, RowReader } from "./data-files.js";
import { applyLimit, meanScore, multipleChoiceItem } from "./lmeval-items.js";
import { ContextSampler, type LmevalPromptDef } from "./lmeval-prompt.js";
import { pyLstrip } from "./python-text.js";

export const OPENBOOKQA_DATASET = "openbookqa";
export const OPENBOOKQA_FILES = { train: "main/train-00000-of-00001.parquet", test: "main/test-00000-of-00001.parquet" } as const;

interface ObqaDoc {
  raw: Record<string, unknown>;
  questionStem: string;
  choices: string[];
  gold: number;
}

const def: LmevalPromptDef<ObqaDoc> = {
  // doc_to_text: question_stem (a feature name, so the raw field); doc_to_choice: "{{choices.text}}".
  docToText: (d) => d.questionStem,
  docToTarget: (d) => d.gold,
  docToChoice: (d) => d.choices,
};

async function readDocs(data: DatasetAccess, relPath: string): Promise<ObqaDoc[]> {
  const { file, rows } = await readSplit(data, OPENBOOKQA_DATASET, relPath);
  const r = new RowReader(file, OPENBOOKQA_DATASET);
  return rows.map((row, i) => {
    const choices = r.object(row, i, "choices");
    const text = r.stringList(choices, i, "text");
    const label = r.stringList(choices, i, "label");
    // doc_to_target: "{{choices.label.index(answerKey.lstrip())}}"
    const gold = label.indexOf(pyLstrip(r.string(row, i, "answerKey")));
    if (gold < 0 || text.length !== label.length) r.invalid(i, "answerKey is not one of choices.label");
    return { raw: row, questionStem: r.string(row, i, "question_stem"), choices: text, gold };
  });
}

export const openbookqa: EvalTask = {
  name: "openbookqa",
  version: "lmeval-0.4.2/openbookqa-v1.0/4shot",
  suite: "en",
  displayName: "OpenBookQA",
  metric: "lmeval.acc",
  datasets: [OPENBOOKQA_DATASET],
  async load(data, options) {
    const train = await readDocs(data, OPENBOOKQA_FILES.train);
    const test = applyLimit(await readDocs(data, OPENBOOKQA_FILES.test), options.limit);
    // fewshot_split unset, test_split "test": not equal, so exactly 4 docs are drawn per test doc.
    const sampler = new ContextSampler(train, def, "default", false);
    return test.map((doc, i): EvalItem => multipleChoiceItem(def, sampler, doc, 4, String(doc.raw.id ?? i)));
  },
  aggregate: (outcomes) => meanScore(outcomes, "acc"),
};
