/**
 * SQuAD v2 per-question scores for squadv2's outcomes: `exact` is the registered `squad_v2.exact` (src/eval/metrics,
 * what the card reports); `f1` — the official evaluate-v2.0.py `compute_f1`, which the registry does not carry — is
 * kept beside it for reports, over the same `normalize_answer`. With lm-eval's `no_answer_probability =
 * exp(loglik) <= 1.0` and the default threshold 1.0 the no-answer branch never fires.
 */
import { getMetric, pythonSplit, scoreItem, squadNormalizeAnswer, type ItemMetric } from "../../metrics/index.js";

const EXACT = getMetric("squad_v2.exact") as ItemMetric;

/** `compute_f1`: token-multiset F1 of the normalised strings; two empty answers score 1. */
export function squadF1(gold: string, pred: string): number {
  const goldToks = pythonSplit(squadNormalizeAnswer(gold));
  const predToks = pythonSplit(squadNormalizeAnswer(pred));
  if (goldToks.length === 0 || predToks.length === 0) return goldToks.length === predToks.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of goldToks) counts.set(t, (counts.get(t) ?? 0) + 1);
  let numSame = 0;
  for (const t of predToks) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      numSame++;
      counts.set(t, c - 1);
    }
  }
  if (numSame === 0) return 0;
  const precision = numSame / predToks.length;
  const recall = numSame / goldToks.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Per-question `exact` and `f1` (0 or 1, and 0..1; the official script reports ×100): golds whose normalised form is
 * empty are dropped and an unanswerable question's only gold is "" — so only an empty prediction scores there.
 */
export function squadV2Scores(prediction: string, golds: readonly string[]): { exact: number; f1: number } {
  let answers = golds.filter((a) => squadNormalizeAnswer(a) !== "");
  if (answers.length === 0) answers = [""];
  return { exact: scoreItem(EXACT, prediction, golds), f1: Math.max(...answers.map((a) => squadF1(a, prediction))) };
}
