// Japanese MT-Bench as EvalTasks: one task per category (the card's MT-Bench table has one column per category;
// JMT Avg is the mean of the eight, as the Swallow site computes it), plus an "overall" task over all 80 questions.

import type { EvalItem, EvalTask, ItemOutcome } from "../../types.js";
import { SwallowError } from "../../../errors.js";
import { type GroupSummary, type JudgmentRow, summarizeJudgments } from "./aggregate.js";
import type { AnswerFormat } from "./answers.js";
import { MTBENCH_DATASET_NAME, loadMtbenchData } from "./dataset.js";
import { type MtbenchItemExtra, runQuestion } from "./item.js";
import { japaneseCharRatio } from "./japanese-ratio.js";
import { CATEGORY_TITLES, MTBENCH_CATEGORIES, type MtbenchCategory, NUM_CHOICES, RATING_SCALE } from "./settings.js";

export interface MtbenchTaskOptions {
  /** How answers are requested (default "fastchat": FastChat's llama-3 prompt string, as the card). */
  answerFormat?: AnswerFormat;
  /** Answer runs per question (default 5, as the card). */
  numChoices?: number;
  /** Strings removed from answers (the model tokenizer's special_tokens_map values; default Swallow's). */
  specialTokens?: readonly string[];
  /** Top-p for sampled categories (default: not sent, i.e. 1 as FastChat's vLLM path). */
  topP?: number;
}

/** Bump when prompts, settings, parsing or aggregation change (stored results are keyed by it). */
const TASK_VERSION = "1";

/** The judgment rows (one per question-turn) kept in the outcomes' `extra`. */
export function judgmentRows(outcomes: readonly ItemOutcome[]): JudgmentRow[] {
  const rows: JudgmentRow[] = [];
  for (const outcome of outcomes) {
    const extra = outcome.extra as Partial<MtbenchItemExtra> | undefined;
    if (!extra || typeof extra.questionId !== "number" || !Array.isArray(extra.ratings)) {
      throw new SwallowError(`MT-Bench outcome ${outcome.itemId} has no judge ratings; re-run the task so it is judged`);
    }
    extra.ratings.forEach((ratings, t) => rows.push({ questionId: extra.questionId!, turn: (t + 1) as 1 | 2, ratings }));
  }
  return rows;
}

/**
 * show_result.py's judge.json for one model: per group ("overall" and each category title) first_turn, second_turn
 * and average {score, stdev} on the 1–10 scale, with `average.japanese_char_ratio` as show_result.py adds it.
 */
export function summarizeOutcomes(outcomes: readonly ItemOutcome[]): Record<string, GroupSummary> {
  const summary = summarizeJudgments(judgmentRows(outcomes));
  const ratios = japaneseCharRatio(
    outcomes.map((o) => {
      const extra = o.extra as unknown as MtbenchItemExtra;
      return { questionId: extra.questionId, turns: extra.answers ?? [] };
    }),
  );
  for (const [group, ratio] of Object.entries(ratios)) {
    const average = summary[group]?.average;
    if (average) summary[group].average = { ...average, japanese_char_ratio: ratio };
  }
  return summary;
}

/** One category's (or "overall") MT-Bench task. */
export function createMtbenchTask(scope: MtbenchCategory | "overall", options: MtbenchTaskOptions = {}): EvalTask {
  const format = options.answerFormat ?? "fastchat";
  const numChoices = options.numChoices ?? NUM_CHOICES;
  const title = scope === "overall" ? "overall" : CATEGORY_TITLES[scope];
  return {
    name: scope === "overall" ? "jmtbench" : `jmtbench_${scope}`,
    version: `${TASK_VERSION}-${format}-n${numChoices}`,
    suite: "mtbench",
    displayName: scope === "overall" ? "JMT Avg" : title,
    metric: "mtbench.rating",
    datasets: [MTBENCH_DATASET_NAME],
    async load(data, { limit }): Promise<EvalItem[]> {
      const all = loadMtbenchData(data);
      const questions = all.questions.filter((q) => scope === "overall" || q.category === scope).slice(0, limit);
      const runOptions = { format, numChoices, specialTokens: options.specialTokens, topP: options.topP };
      return questions.map((question) => ({
        itemId: String(question.questionId),
        run: (models) => runQuestion(question, all, models, runOptions),
      }));
    },
    /** show_result.py's "average" (both turns, mean of per-run means, −1 left out) of this group, divided by 10. */
    aggregate(outcomes) {
      if (outcomes.length === 0) return NaN;
      const summary = summarizeJudgments(judgmentRows(outcomes))[title];
      if (!summary?.average) throw new SwallowError(`MT-Bench outcomes hold no ${title} questions`);
      return summary.average.score / RATING_SCALE;
    },
  };
}

/** The card's MT-Bench columns: one task per category, in FastChat's category order. */
export function createMtbenchTasks(options: MtbenchTaskOptions = {}): EvalTask[] {
  return MTBENCH_CATEGORIES.map((category) => createMtbenchTask(category, options));
}
