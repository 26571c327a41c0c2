/**
 * XWinograd (en) as lm-eval v0.4.2 runs it (tasks/xwinograd): test split only (2,325), multiple_input mode: the two
 * contexts are the sentence up to "_" with each option, the shared continuation is the rest of the sentence.
 * There is no train or validation split, so shots come from the test set itself.
 */
import type { DatasetAccess, EvalTask } from "../../types.js";
import { readSplit, RowReader } from "./data-files.js";
import { applyLimit, meanScore, multipleChoiceItem } from "./lmeval-items.js";
import { ContextSampler, type LmevalPromptDef } from "./lmeval-prompt.js";
import { pyStrip } from "./python-text.js";

export const XWINOGRAD_DATASET = "xwinograd";
export const XWINOGRAD_FILES = { test: "test/en.jsonl" } as const;

interface XwinoDoc {
  raw: Record<string, unknown>;
  sentence: string;
  options: [string, string];
  answerIndex: number;
}

const def: LmevalPromptDef<XwinoDoc> = {
  // utils.doc_to_text: the index of the correct option ({"1": 0, "2": 1}), which turns on multiple_input mode.
  docToText: (d) => d.answerIndex,
  // utils.doc_to_target: the text after "_", stripped (Python str.strip).
  docToTarget: (d) => pyStrip(d.sentence.slice(d.sentence.indexOf("_") + 1)),
  // utils.doc_to_choice: sentence[:idx] + option for both options.
  docToChoice: (d) => d.options.map((o) => d.sentence.slice(0, d.sentence.indexOf("_")) + o),
};

async function readDocs(data: DatasetAccess): Promise<XwinoDoc[]> {
  const { file, rows } = await readSplit(data, XWINOGRAD_DATASET, XWINOGRAD_FILES.test);
  const r = new RowReader(file, XWINOGRAD_DATASET);
  return rows.map((row, i) => {
    const sentence = r.string(row, i, "sentence");
    if (!sentence.includes("_")) r.invalid(i, "field 'sentence' has no '_' blank");
    const answer = r.string(row, i, "answer");
    if (answer !== "1" && answer !== "2") r.invalid(i, `field 'answer' must be "1" or "2"`);
    return { raw: row, sentence, options: [r.string(row, i, "option1"), r.string(row, i, "option2")], answerIndex: answer === "1" ? 0 : 1 };
  });
}

export const xwinogradEn: EvalTask = {
  name: "xwinograd_en",
  version: "lmeval-0.4.2/xwinograd-v1.0/4shot",
  suite: "en",
  displayName: "XWINO",
  metric: "lmeval.acc",
  datasets: [XWINOGRAD_DATASET],
  async load(data, options) {
    const docs = await readDocs(data);
    // Shots from the test docs; fewshot_split (unset) != test_split ("test"), so only 4 are drawn and the evaluated
    // doc, when drawn, is removed: such a doc gets 3 shots.
    const sampler = new ContextSampler(docs, def, "default", false);
    return applyLimit(docs, options.limit).map((doc, i) => multipleChoiceItem(def, sampler, doc, 4, String(i)));
  },
  aggregate: (outcomes) => meanScore(outcomes, "acc"),
};
