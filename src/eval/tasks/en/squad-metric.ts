/**
 * The official SQuAD v2.0 evaluation logic (evaluate-v2.0.py, which HF `evaluate`'s `squad_v2` wraps) for one
 * question: `exact` and `f1` against the gold answers, best over golds. The task module averages them; with lm-eval's
 * `no_answer_probability = exp(loglik) <= 1.0` and the default threshold 1.0 the no-answer branch never fires.
 */
import { pyStrip } from "./python-text.js";

/** Python's `string.punctuation` (ASCII only). */
const PUNCTUATION = new Set([..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]);
/** `re.compile(r"\b(a|an|the)\b", re.UNICODE)`: word boundaries over Unicode letters, digits and "_". */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
/** CPython `str.split()` separators. */
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** Python `s.split()` with no argument. */
function pySplit(s: string): string[] {
  const t = pyStrip(s);
  return t === "" ? [] : t.split(PY_SPACE);
}

/** `normalize_answer`: lower, drop punctuation, drop articles, collapse whitespace. */
export function squadNormalize(s: string): string {
  const lower = s.toLowerCase();
  const noPunc = Array.from(lower)
    .filter((ch) => !PUNCTUATION.has(ch))
    .join("");
  return pySplit(noPunc.replace(ARTICLES, " ")).join(" ");
}

/** `compute_exact`: 1 if the normalised strings are equal. */
export function squadExact(gold: string, pred: string): number {
  return squadNormalize(gold) === squadNormalize(pred) ? 1 : 0;
}

/** `compute_f1`: token-multiset F1 of the normalised strings; two empty answers score 1. */
export function squadF1(gold: string, pred: string): number {
  const goldToks = pySplit(squadNormalize(gold));
  const predToks = pySplit(squadNormalize(pred));
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
  let answers = golds.filter((a) => squadNormalize(a) !== "");
  if (answers.length === 0) answers = [""];
  return {
    exact: Math.max(...answers.map((a) => squadExact(a, prediction))),
    f1: Math.max(...answers.map((a) => squadF1(a, prediction))),
  };
}
