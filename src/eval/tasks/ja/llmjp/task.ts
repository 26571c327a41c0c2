// The llm-jp-eval v1.3.0 task shape shared by JCommonsenseQA, JEMHopQA, NIILC, JSQuAD and JMMLU: preprocess the
// raw files into samples (datasets/*.py), take the first N "train" samples as the fixed few-shots, render one raw
// completion prompt per test sample, generate greedily, extract the answer, and score it.

import { SwallowError } from "../../../../errors.js";
import { PythonRandom } from "../../../random/python-random.js";
import { charF1, llmjpExactMatch } from "../../../metrics/index.js";
import type { DatasetAccess, EvalItem, EvalTask, GenerateRequest, ItemOutcome } from "../../../types.js";
import { type LlmjpSample, llmjpPrompt, llmjpTemplate } from "./prompt.js";
import { llmjpGold, llmjpPrediction } from "./postprocess.js";

/**
 * Whether llm-jp-eval's prompts start with BOS (spec §1.1 leaves it open; §6 says "likely BOS"). The transformers
 * text-generation pipeline tokenizes the prompt itself: up to ~4.44 its `preprocess` passed add_special_tokens=False
 * (no BOS; 4.38.2 is what llm-jp-eval/requirements.txt pins), from ~4.45 it passes nothing "so as to rely on the
 * tokenizer's defaults", and a Llama-3 tokenizer then prepends <|begin_of_text|>. Swallow's README installs with
 * `pip install -e .` (pyproject: transformers>=4.34), i.e. the newest release at install time (late 2024) → BOS.
 */
export const LLMJP_ADD_BOS = true;

/** A test sample plus what the task keeps about it (JMMLU's subject). */
export interface LlmjpTestSample extends LlmjpSample {
  extra?: Record<string, unknown>;
}

/** What a dataset's preprocessing produces (llm-jp-eval's evaluation/{train,test}/<task>.json). */
export interface LlmjpSplits {
  /** The "train" split: few-shots are its first N samples. */
  train: LlmjpSample[];
  test: LlmjpTestSample[];
}

export interface LlmjpTaskDefinition {
  name: string;
  version: string;
  displayName: string;
  /** output_info.metrics[0] as the card reads it: "exact_match" or "char_f1". */
  metric: "exact_match" | "char_f1";
  /** output_info.instruction, verbatim (odd spaces included). */
  instruction: string;
  /** output_info.output_length → max_new_tokens. */
  outputLength: number;
  /** metainfo.num_few_shots in Swallow's driver: 4, or 5 for JMMLU. */
  numFewShots: number;
  datasets: string[];
  /** Replays the dataset's preprocess_evaluation_data. */
  preprocess(data: DatasetAccess): LlmjpSplits;
}

/**
 * llm-jp-eval's train/dev split of the original training data: `random.seed(42)`, `random.shuffle`, first 90% train.
 * (Each dataset processor reseeds the module RNG, so every task starts from the same state.)
 */
export function llmjpTrainSplit<T>(trainDev: readonly T[]): T[] {
  const shuffled = [...trainDev];
  new PythonRandom(42).shuffle(shuffled);
  return shuffled.slice(0, Math.floor(shuffled.length * 0.9));
}

/** The GenerateRequest llm-jp-eval's pipeline amounts to. */
export function llmjpRequest(prompt: string, outputLength: number): GenerateRequest {
  return {
    kind: "generate",
    context: prompt,
    // Only output.split("\n\n")[0] is scored, so stopping at "\n\n" changes nothing but the time spent.
    until: ["\n\n"],
    maxTokens: outputLength,
    addBos: LLMJP_ADD_BOS,
    temperature: 0,
  };
}

/** Builds an EvalTask from a definition. The score is the mean of the per-item metric (accuracy_score / mean). */
export function makeLlmjpTask(def: LlmjpTaskDefinition): EvalTask {
  const metricName = def.metric === "exact_match" ? "llmjp.exact_match" : "char_f1";
  return {
    name: def.name,
    version: def.version,
    suite: "ja",
    displayName: def.displayName,
    metric: metricName,
    datasets: def.datasets,
    async load(data, options) {
      const splits = def.preprocess(data);
      if (splits.train.length < def.numFewShots) {
        throw new SwallowError(
          `${def.name}: the training data gives only ${splits.train.length} few-shot samples, ${def.numFewShots} needed; re-download the dataset`,
        );
      }
      const template = llmjpTemplate(def.instruction, splits.train.slice(0, def.numFewShots));
      const test = options.limit !== undefined && options.limit > 0 ? splits.test.slice(0, options.limit) : splits.test;
      return test.map((sample, index): EvalItem => {
        const prompt = llmjpPrompt(template, sample.input, def.name);
        const request = llmjpRequest(prompt, def.outputLength);
        return {
          itemId: String(index),
          async run(models): Promise<ItemOutcome> {
            const output = await models.model.generateUntil(request);
            const prediction = llmjpPrediction(output);
            const gold = llmjpGold(sample.output);
            const score = def.metric === "exact_match" ? llmjpExactMatch(prediction, gold) : charF1(prediction, gold);
            return { itemId: String(index), scores: { [metricName]: score }, prediction, gold, extra: { output, ...sample.extra } };
          },
        };
      });
    },
    aggregate(outcomes) {
      if (outcomes.length === 0) return 0;
      let sum = 0;
      for (const outcome of outcomes) sum += outcome.scores[metricName] ?? 0;
      return sum / outcomes.length;
    },
  };
}
