/**
 * TriviaQA as lm-eval v0.4.2 runs it (tasks/triviaqa/default.yaml): `rc.nocontext` validation (17,944), shots from
 * train with the first alias as target, greedy generation stopped at "\n", "." or ",", filter `remove_whitespace`
 * (one leading space) + take_first, exact_match (ignore_case, ignore_punctuation) scoring 1 if ANY alias matches.
 */
import type { DatasetAccess, EvalTask } from "../../types.js";
import { LMEVAL_EXACT_MATCH_PRESETS, lmevalExactMatchAny } from "../../metrics/index.js";
import { readSplit, RowReader } from "./data-files.js";
import { removeLeadingSpace } from "./filters.js";
import { applyLimit, generateItem, generateRequest, meanScore } from "./lmeval-items.js";
import { ContextSampler, fewshotContext, type LmevalPromptDef } from "./lmeval-prompt.js";
import { renderJinjaFields } from "./python-text.js";

export const TRIVIAQA_DATASET = "triviaqa";
export const TRIVIAQA_FILES = {
  train: "rc.nocontext/train-00000-of-00001.parquet",
  validation: "rc.nocontext/validation-00000-of-00001.parquet",
} as const;
export const TRIVIAQA_UNTIL = ["\n", ".", ","];

interface TriviaDoc {
  raw: Record<string, unknown>;
  question: string;
  aliases: string[];
}

const def: LmevalPromptDef<TriviaDoc> = {
  docToText: (d) => renderJinjaFields("Question: {{question}}?\nAnswer:", { question: d.question }),
  // "{{answer.aliases}}" renders a Python list literal that lm-eval parses back: the alias list itself.
  docToTarget: (d) => d.aliases,
};

async function readDocs(data: DatasetAccess, relPath: string): Promise<TriviaDoc[]> {
  const { file, rows } = await readSplit(data, TRIVIAQA_DATASET, relPath);
  const r = new RowReader(file, TRIVIAQA_DATASET);
  return rows.map((row, i) => ({
    raw: row,
    question: r.string(row, i, "question"),
    aliases: r.stringList(r.object(row, i, "answer"), i, "aliases"),
  }));
}

/**
 * The card's per-item TriviaQA score: 1 if the filtered output matches any alias after case and punctuation folding.
 * All aliases go through one exact_match call as in lm-eval (one numpy column, so case folding is cut at the longest
 * alias's width): scoring alias by alias gives other answers for aliases such as "İstanbul". No alias at all is a
 * SwallowError, as lm-eval itself fails there (numpy cannot lowercase an empty, float-typed column).
 */
export function triviaqaScore(output: string, aliases: readonly string[]): { prediction: string; exactMatch: number } {
  const prediction = removeLeadingSpace(output);
  return { prediction, exactMatch: lmevalExactMatchAny(prediction, aliases, LMEVAL_EXACT_MATCH_PRESETS.triviaqa) };
}

export const triviaqa: EvalTask = {
  name: "triviaqa",
  version: "lmeval-0.4.2/triviaqa-v3.0/4shot",
  suite: "en",
  displayName: "TriviaQA",
  metric: "lmeval.exact_match_triviaqa",
  datasets: [TRIVIAQA_DATASET],
  async load(data, options) {
    const train = await readDocs(data, TRIVIAQA_FILES.train);
    const validation = applyLimit(await readDocs(data, TRIVIAQA_FILES.validation), options.limit);
    // fewshot_split and test_split both unset (None == None): 5 drawn, first 4 kept.
    const sampler = new ContextSampler(train, def, "default", true);
    return validation.map((doc, i) => {
      const request = generateRequest(fewshotContext(def, sampler, doc, 4), TRIVIAQA_UNTIL);
      return generateItem(String(i), request, (output) => {
        const s = triviaqaScore(output, doc.aliases);
        return { prediction: s.prediction, gold: doc.aliases, scores: { exact_match: s.exactMatch } };
      });
    });
  },
  aggregate: (outcomes) => meanScore(outcomes, "exact_match"),
};
