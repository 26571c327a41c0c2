/**
 * GSM8K as lm-eval v0.4.2 runs it (tasks/gsm8k/gsm8k.yaml) with the card's `--num_fewshot 4`: test (1,319), shots
 * from train with the full CoT answer as target, generation stopped at "Question:", "</s>", "<|im_end|>" (+ EOS),
 * the reported `strict-match` filter `#### (\-?[0-9\.\,]+)` (first match, else "[invalid]"), exact_match with
 * ignore_case and regexes_to_ignore applied to prediction and reference.
 */
import type { DatasetAccess, EvalTask } from "../../types.js";
import { lmevalExactMatch } from "../../metrics/index.js";
import { readSplit, RowReader } from "./data-files.js";
import { regexFilter } from "./filters.js";
import { applyLimit, generateItem, generateRequest, meanScore } from "./lmeval-items.js";
import { ContextSampler, fewshotContext, type LmevalPromptDef } from "./lmeval-prompt.js";
import { renderJinjaFields } from "./python-text.js";

export const GSM8K_DATASET = "gsm8k";
export const GSM8K_FILES = { train: "train.jsonl", test: "test.jsonl" } as const;
export const GSM8K_UNTIL = ["Question:", "</s>", "<|im_end|>"];
export const GSM8K_STRICT_PATTERN = "#### (\\-?[0-9\\.\\,]+)";
/** The `flexible-extract` filter (reported by lm-eval, not by the card). */
export const GSM8K_FLEXIBLE_PATTERN = "(-?[$0-9.,]{2,})|(-?[0-9]+)";
export const GSM8K_EXACT_MATCH = { ignoreCase: true, ignorePunctuation: false, regexesToIgnore: [",", "\\$", "(?s).*#### ", "\\.$"] };

interface Gsm8kDoc {
  raw: Record<string, unknown>;
  question: string;
  answer: string;
}

const def: LmevalPromptDef<Gsm8kDoc> = {
  docToText: (d) => renderJinjaFields("Question: {{question}}\nAnswer:", { question: d.question }),
  docToTarget: (d) => renderJinjaFields("{{answer}}", { answer: d.answer }),
};

async function readDocs(data: DatasetAccess, relPath: string): Promise<Gsm8kDoc[]> {
  const { file, rows } = await readSplit(data, GSM8K_DATASET, relPath);
  const r = new RowReader(file, GSM8K_DATASET);
  return rows.map((row, i) => ({ raw: row, question: r.string(row, i, "question"), answer: r.string(row, i, "answer") }));
}

/** Both lm-eval GSM8K scores for one output; the card reports `strict`. */
export function gsm8kScore(
  output: string,
  answer: string,
): { strict: string; flexible: string; strictMatch: number; flexibleMatch: number } {
  const strict = regexFilter(output, GSM8K_STRICT_PATTERN);
  const flexible = regexFilter(output, GSM8K_FLEXIBLE_PATTERN, { groupSelect: -1 });
  return {
    strict,
    flexible,
    strictMatch: lmevalExactMatch(strict, answer, GSM8K_EXACT_MATCH),
    flexibleMatch: lmevalExactMatch(flexible, answer, GSM8K_EXACT_MATCH),
  };
}

export const gsm8k: EvalTask = {
  name: "gsm8k",
  version: "lmeval-0.4.2/gsm8k-v3.0/4shot-strict-match",
  suite: "en",
  displayName: "GSM8K",
  metric: "lmeval.exact_match_gsm8k",
  datasets: [GSM8K_DATASET],
  async load(data, options) {
    const train = await readDocs(data, GSM8K_FILES.train);
    const test = applyLimit(await readDocs(data, GSM8K_FILES.test), options.limit);
    // fewshot_split "train" != test_split "test": exactly 4 drawn.
    const sampler = new ContextSampler(train, def, "default", false);
    return test.map((doc, i) => {
      const request = generateRequest(fewshotContext(def, sampler, doc, 4), GSM8K_UNTIL);
      return generateItem(String(i), request, (output) => {
        const s = gsm8kScore(output, doc.answer);
        return {
          prediction: s.strict,
          gold: doc.answer,
          scores: { exact_match: s.strictMatch, exact_match_flexible: s.flexibleMatch },
          extra: { flexible: s.flexible },
        };
      });
    });
  },
  aggregate: (outcomes) => meanScore(outcomes, "exact_match"),
};
