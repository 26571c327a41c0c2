/**
 * BBH as lm-eval v0.4.2 runs `bbh_cot_fewshot` (tasks/bbh/cot_fewshot): 27 subtasks, test (6,511 in all). The YAMLs
 * set num_fewshot 0, so the card's `--num_fewshot 3` is ignored; the 3 CoT exemplars are baked into `doc_to_text`.
 * Those YAMLs were generated from BIG-Bench-Hard's `cot-prompts/<task>.txt` (lm-eval's bbh/_generate_configs.py):
 * text after the "\n-----\n" canary line, split on "\n\n", first paragraph = description, the rest = exemplars.
 * We rebuild them from the same files, which the dataset spec downloads. Generation until "</s>", "Q", "\n\n"
 * (+ EOS), max 1024 tokens; filter `get-answer` = first match of `(?<=the answer is )(.*)(?=.)`; exact_match as is.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";

import { SwallowError } from "../../../errors.js";
import type { DatasetAccess, EvalItem, EvalTask } from "../../types.js";
import { lmevalExactMatch } from "../../metrics/index.js";
import { readSplit, RowReader } from "./data-files.js";
import { regexFilter } from "./filters.js";
import { generateItem, generateRequest, meanScore } from "./lmeval-items.js";
import { renderJinjaFields } from "./python-text.js";

export const BBH_DATASET = "bbh";
export const BBH_UNTIL = ["</s>", "Q", "\n\n"];
export const BBH_MAX_GEN_TOKS = 1024;
export const BBH_ANSWER_PATTERN = "(?<=the answer is )(.*)(?=.)";

export const BBH_SUBTASKS = [
  "boolean_expressions",
  "causal_judgement",
  "date_understanding",
  "disambiguation_qa",
  "dyck_languages",
  "formal_fallacies",
  "geometric_shapes",
  "hyperbaton",
  "logical_deduction_five_objects",
  "logical_deduction_seven_objects",
  "logical_deduction_three_objects",
  "movie_recommendation",
  "multistep_arithmetic_two",
  "navigate",
  "object_counting",
  "penguins_in_a_table",
  "reasoning_about_colored_objects",
  "ruin_names",
  "salient_translation_error_detection",
  "snarks",
  "sports_understanding",
  "temporal_sequences",
  "tracking_shuffled_objects_five_objects",
  "tracking_shuffled_objects_seven_objects",
  "tracking_shuffled_objects_three_objects",
  "web_of_lies",
  "word_sorting",
] as const;

/**
 * Paragraphs of the prompt file that went into `description`. One everywhere except snarks, whose committed YAML
 * was edited by hand to also move its second paragraph (the definition of sarcasm) into the description
 * (checked against all 27 lm-eval v0.4.2 YAMLs).
 */
const DESCRIPTION_PARAGRAPHS: Record<string, number> = { snarks: 2 };

/** A subtask's YAML `description` and `doc_to_text` template (with its `{{input}}` field). */
export interface BbhTemplates {
  description: string;
  docToText: string;
}

export function bbhFiles(subtask: string): { examples: string; cotPrompt: string } {
  return { examples: `bbh/${subtask}.json`, cotPrompt: `cot-prompts/${subtask}.txt` };
}

/** The YAML's `description` and `doc_to_text` template, rebuilt from a cot-prompts file's text. */
export function bbhTemplates(subtask: string, cotPromptText: string): BbhTemplates {
  const prompt = cotPromptText.split("\n-----\n").at(-1)!;
  const paragraphs = prompt.split("\n\n");
  const n = DESCRIPTION_PARAGRAPHS[subtask] ?? 1;
  if (paragraphs.length <= n)
    throw new SwallowError(`cot-prompts/${subtask}.txt has no exemplars; re-download with \`swallow eval data download ${BBH_DATASET}\``);
  return {
    description: paragraphs.slice(0, n).join("\n\n") + "\n\n",
    docToText: paragraphs.slice(n).join("\n\n") + "\n\n" + "Q: {{input}}\nA: Let's think step by step.\n",
  };
}

/** The context lm-eval builds for one doc: both templates rendered by Jinja (each loses one trailing newline). */
export function bbhContext(templates: BbhTemplates, input: string): string {
  return renderJinjaFields(templates.description, {}) + renderJinjaFields(templates.docToText, { input });
}

/** The card's BBH score for one output: `get-answer` filter, then exact_match with no normalisation. */
export function bbhScore(output: string, target: string): { prediction: string; exactMatch: number } {
  const prediction = regexFilter(output, BBH_ANSWER_PATTERN);
  return { prediction, exactMatch: lmevalExactMatch(prediction, target) };
}

async function readSubtask(
  data: DatasetAccess,
  subtask: string,
): Promise<{ templates: BbhTemplates; docs: { input: string; target: string }[] }> {
  const files = bbhFiles(subtask);
  const promptPath = path.join(data.dir(BBH_DATASET), files.cotPrompt);
  if (!existsSync(promptPath)) throw new SwallowError(`${promptPath}: missing; run \`swallow eval data download ${BBH_DATASET}\``);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await readFile(promptPath));
  } catch {
    throw new SwallowError(`${promptPath}: not valid UTF-8; re-download with \`swallow eval data download ${BBH_DATASET}\``);
  }
  const { file, rows } = await readSplit(data, BBH_DATASET, files.examples);
  const r = new RowReader(file, BBH_DATASET);
  const examples = (rows[0] as { examples?: unknown }).examples;
  if (!Array.isArray(examples))
    throw new SwallowError(`${file}: no 'examples' list; re-download with \`swallow eval data download ${BBH_DATASET}\``);
  const docs = examples.map((row, i) => ({ input: r.string(row, i, "input"), target: r.string(row, i, "target") }));
  return { templates: bbhTemplates(subtask, text), docs };
}

/** The BBH CoT few-shot group over some subtasks (the card: all 27); its score is the micro average over items. */
export function makeBbhTask(subtasks: readonly string[] = BBH_SUBTASKS): EvalTask {
  return {
    name: "bbh_cot_fewshot",
    version: "lmeval-0.4.2/bbh-cot-fewshot-v2.0/3shot-embedded",
    suite: "en",
    displayName: "BBH",
    metric: "lmeval.exact_match",
    datasets: [BBH_DATASET],
    async load(data, options) {
      const items: EvalItem[] = [];
      for (const subtask of subtasks) {
        const { templates, docs } = await readSubtask(data, subtask);
        const n = options.limit === undefined ? docs.length : Math.min(options.limit, docs.length);
        for (let i = 0; i < n; i++) {
          const doc = docs[i];
          const request = generateRequest(bbhContext(templates, doc.input), BBH_UNTIL, BBH_MAX_GEN_TOKS);
          items.push(
            generateItem(`${subtask}/${i}`, request, (output) => {
              const s = bbhScore(output, doc.target);
              return { prediction: s.prediction, gold: doc.target, scores: { exact_match: s.exactMatch }, extra: { subtask } };
            }),
          );
        }
      }
      return items;
    },
    aggregate: (outcomes) => meanScore(outcomes, "exact_match"),
  };
}

export const bbhCotFewshot: EvalTask = makeBbhTask();
