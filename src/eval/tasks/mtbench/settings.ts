// Fixed settings of Japanese MT-Bench as Swallow ran it (FastChat fork in swallow-llm/swallow-evaluation @ 3762f0d,
// `fastchat/llm_judge/common.py`, `gen_model_answer.py`, `custom_utils.py`, `scripts/evaluate_ja_mt_bench.sh`).

import { SwallowError } from "../../../errors.js";

/** The eight categories in FastChat's alphabetical `CATEGORIES` order (custom_utils.py), lower-case as in question.jsonl. */
export const MTBENCH_CATEGORIES = ["coding", "extraction", "humanities", "math", "reasoning", "roleplay", "stem", "writing"] as const;
export type MtbenchCategory = (typeof MTBENCH_CATEGORIES)[number];

/** show_result.py's spelling of the categories (custom_utils.CATEGORIES), used as keys of the summary. */
export const CATEGORY_TITLES: Record<MtbenchCategory, string> = {
  coding: "Coding",
  extraction: "Extraction",
  humanities: "Humanities",
  math: "Math",
  reasoning: "Reasoning",
  roleplay: "Roleplay",
  stem: "STEM",
  writing: "Writing",
};

/** common.py `temperature_config`: sampling temperature per category. */
export const TEMPERATURE_CONFIG: Readonly<Record<string, number>> = {
  writing: 0.7,
  roleplay: 0.7,
  extraction: 0.0,
  math: 0.0,
  coding: 0.0,
  reasoning: 0.0,
  stem: 0.1,
  humanities: 0.1,
  "arena-hard-200": 0.0,
};

/** gen_model_answer.py: a category missing from `temperature_config` samples at 0.7. */
export const DEFAULT_TEMPERATURE = 0.7;
/** gen_model_answer.py: `temperature < 1e-4` means `do_sample=False` (greedy). */
export const GREEDY_BELOW_TEMPERATURE = 1e-4;
/** gen_model_answer.py `--max-new-token` default. */
export const MAX_NEW_TOKENS = 1024;
/** evaluate_ja_mt_bench.sh `--num-choices 5`: five answers per question, `torch.manual_seed(i)` for answer i. */
export const NUM_CHOICES = 5;
/** common.py `NEED_REF_CATS`: categories judged against a reference answer. */
export const NEED_REF_CATS: readonly string[] = ["math", "reasoning", "coding", "arena-hard-200"];
/** run_judge_single → chat_completion_openai(..., temperature=0, max_tokens=2048). */
export const JUDGE_TEMPERATURE = 0;
export const JUDGE_MAX_TOKENS = 2048;
/** The judge the card used; the reference answers file is named after it (`reference_answer/gpt-4o-2024-08-06.jsonl`). */
export const CARD_JUDGE_MODEL = "gpt-4o-2024-08-06";
/** show_result.py writes `score / 10` for the table: ratings are 1–10, the card is 0–1. */
export const RATING_SCALE = 10;

/** The sampling temperature FastChat uses for a question's category (0 = greedy). */
export function temperatureFor(category: string): number {
  const t = TEMPERATURE_CONFIG[category] ?? DEFAULT_TEMPERATURE;
  return t < GREEDY_BELOW_TEMPERATURE ? 0 : t;
}

export function isMtbenchCategory(name: string): name is MtbenchCategory {
  return (MTBENCH_CATEGORIES as readonly string[]).includes(name);
}

/**
 * show_result.py's category of a judgment row: `CATEGORIES[(question_id - 81) // 10]`. Python's floor division and
 * negative indexing make ids 1..80 map to coding..writing (and 81..160 map again); anything else is an IndexError there.
 */
export function categoryOfQuestionId(questionId: number): MtbenchCategory {
  const index = Math.floor((questionId - 81) / 10);
  const n = MTBENCH_CATEGORIES.length;
  if (!Number.isInteger(questionId) || index < -n || index >= n) {
    throw new SwallowError(`MT-Bench question_id ${questionId} is outside 1..160, which show_result.py cannot map to a category`);
  }
  return MTBENCH_CATEGORIES[index < 0 ? index + n : index];
}
