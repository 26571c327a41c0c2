// show_result.py `calculate_averages` and `display_result_single` (Swallow's FastChat fork @ 3762f0d):
// one judgment row = one question-turn with one rating per answer run; a group of rows forms S[N_rows, runs].
//   run_mean[j] = Σ_r S[r,j]·[S[r,j] ≠ −1] / count_r(S[r,j] ≠ −1)        (a column with no valid rating gives NaN)
//   score = mean_j(run_mean[j]),  stdev = std(run_mean, ddof=1)
// Groups: each category and "overall", for turn 1, turn 2 and both ("average", the number the card reports / 10).

import { SwallowError } from "../../../errors.js";
import { UNPARSED_RATING } from "../../metrics/mtbench-rating.js";
import { CATEGORY_TITLES, categoryOfQuestionId } from "./settings.js";

/** One question-turn's ratings, one per answer run (-1 = judgment without a rating). */
export interface JudgmentRow {
  questionId: number;
  turn: 1 | 2;
  /** Ratings by run index (FastChat's `score` list). */
  ratings: readonly number[];
}

export interface MeanAndStdev {
  /** Mean over runs of each run's mean rating (1–10 scale); NaN where numpy gives nan. */
  score: number;
  /** Sample standard deviation (ddof=1) of the run means; NaN for a single run. */
  stdev: number;
  /** Only in `average` of summarizeOutcomes: custom_utils' Japanese character ratio of the group's answers. */
  japanese_char_ratio?: number;
}

/** show_result.py's per-group result: `first_turn`, `second_turn`, `average` (both turns); absent when a group has no rows. */
export interface GroupSummary {
  first_turn?: MeanAndStdev;
  second_turn?: MeanAndStdev;
  average?: MeanAndStdev;
}

/**
 * numpy's `add.reduce` over a contiguous float64 vector (pairwise summation, 8 accumulators per 128-block), so
 * means of ≥ 8 runs round exactly as numpy does; below 8 it is a plain left-to-right sum.
 */
export function numpySum(values: readonly number[], start = 0, n = values.length): number {
  if (n < 8) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[start + i];
    return sum;
  }
  if (n <= 128) {
    const r = Array.from({ length: 8 }, (_, j) => values[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += values[start + i + j];
    let sum = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) sum += values[start + i];
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return numpySum(values, start, half) + numpySum(values, start + half, n - half);
}

/** `calculate_averages(scores)` for a [rows][runs] matrix of ratings. */
export function calculateAverages(scores: readonly (readonly number[])[]): MeanAndStdev {
  if (scores.length === 0) throw new Error("calculateAverages needs at least one row");
  const runs = scores[0].length;
  const sums = new Array<number>(runs).fill(0);
  const counts = new Array<number>(runs).fill(0);
  for (const row of scores) {
    if (row.length !== runs) {
      throw new SwallowError(`MT-Bench rows have different numbers of runs (${row.length} vs ${runs}); judge every answer run`);
    }
    // Reduction along axis 0 of a C-ordered array: numpy adds row after row into each column's accumulator.
    row.forEach((rating, j) => {
      if (rating !== UNPARSED_RATING) {
        sums[j] += rating;
        counts[j] += 1;
      }
    });
  }
  const runMeans = sums.map((s, j) => s / counts[j]); // 0/0 = NaN, as numpy's true_divide
  const score = numpySum(runMeans) / runs;
  const deviations = runMeans.map((m) => (m - score) * (m - score));
  const stdev = Math.sqrt(numpySum(deviations) / (runs - 1));
  return { score, stdev };
}

function summarizeGroup(rows: readonly JudgmentRow[]): GroupSummary {
  const pick = (turns: number[]) => rows.filter((r) => turns.includes(r.turn)).map((r) => r.ratings);
  const summary: GroupSummary = {};
  const first = pick([1]);
  const second = pick([2]);
  const both = pick([1, 2]);
  if (first.length) summary.first_turn = calculateAverages(first);
  if (second.length) summary.second_turn = calculateAverages(second);
  if (both.length) summary.average = calculateAverages(both);
  return summary;
}

/**
 * show_result.py's table for one model: "overall" plus each category present (keyed by FastChat's titles, e.g.
 * "Coding", "STEM"), the category taken from the question id as show_result.py does.
 */
export function summarizeJudgments(rows: readonly JudgmentRow[]): Record<string, GroupSummary> {
  const byCategory = new Map<string, JudgmentRow[]>();
  for (const row of rows) {
    const title = CATEGORY_TITLES[categoryOfQuestionId(row.questionId)];
    if (!byCategory.has(title)) byCategory.set(title, []);
    byCategory.get(title)!.push(row);
  }
  const result: Record<string, GroupSummary> = { overall: summarizeGroup(rows) };
  for (const [title, group] of byCategory) result[title] = summarizeGroup(group);
  return result;
}
