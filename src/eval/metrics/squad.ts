/**
 * SQuAD 2.0 `exact` as lm-eval v0.4.2 reports it for squadv2 (HF evaluate `squad_v2`, i.e. the official evaluation
 * script; spec §3.2): answers are compared after `normalize_answer` (lowercase, delete `string.punctuation`, replace
 * the words a/an/the with a space, collapse whitespace). Golds that normalise to "" are dropped; with none left the only
 * gold is "" — so an unanswerable question scores 1 only for an empty (or article/punctuation-only) prediction.
 * The task value is 100 × the mean (the no-answer threshold of 1.0 never fires, spec §3.2).
 */
import { pythonSplit } from "./python-compat.js";
import { pythonRegex } from "./python-regex.js";

const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
const ARTICLES = pythonRegex("\\b(a|an|the)\\b");

/** The official script's `normalize_answer`. */
export function squadNormalizeAnswer(text: string): string {
  const noPunctuation = text.toLowerCase().replace(PUNCTUATION, "");
  return pythonSplit(noPunctuation.replace(ARTICLES, " ")).join(" ");
}

/**
 * `exact` for one question: 1 if the normalised prediction equals any usable normalised gold.
 * @example squadV2Exact("The Eiffel Tower", ["Eiffel Tower"]) // 1
 * @example squadV2Exact("unanswerable", []) // 0: the gold of an unanswerable question is ""
 */
export function squadV2Exact(pred: string, answers: readonly string[]): number {
  const golds = answers.map(squadNormalizeAnswer).filter((a) => a !== "");
  const normalizedPred = squadNormalizeAnswer(pred);
  return (golds.length === 0 ? [""] : golds).some((gold) => gold === normalizedPred) ? 1 : 0;
}
