/**
 * llm-jp-eval v1.3.0's `char_f1`, which despite its name is fuzzywuzzy 0.18 `fuzz.token_sort_ratio(pred, gold) / 100`
 * with python-Levenshtein 0.21.1 (rapidfuzz) as the backend (spec §1.4). Every step follows the Python code path:
 * `full_process` (delete U+0080–U+00FF, `\W` → space, lower, strip), whitespace tokens sorted by code point,
 * then `ratio` = round-half-even(100 × (1 − indel_distance / (len(a) + len(b)))) on code points.
 */
import { codePoints, compareCodePoints, pythonSplit, pythonStrip, roundHalfEven } from "./python-compat.js";

/** fuzzywuzzy's `asciidammit` on Python 3: a translate table that deletes chr(128)..chr(255), nothing else. */
const LATIN1_HIGH = /[\u0080-\u00ff]/g;
/**
 * Python `re.compile(r"(?ui)\W")`: `\w` is `str.isalnum()` or `_`, i.e. Unicode letters (L*) and numbers (N*).
 * One code point at a time (the `u` flag), so an astral emoji becomes one space, as in Python.
 */
const NON_WORD = /[^\p{L}\p{N}_]/gu;

/** fuzzywuzzy `utils.full_process(s, force_ascii=True)`. */
export function fuzzFullProcess(s: string): string {
  return pythonStrip(s.replace(LATIN1_HIGH, "").replace(NON_WORD, " ").toLowerCase());
}

/** fuzzywuzzy `fuzz._process_and_sort`: processed tokens sorted in Python (code-point) order, joined by one space. */
export function fuzzProcessAndSort(s: string): string {
  return pythonStrip(pythonSplit(fuzzFullProcess(s)).sort(compareCodePoints).join(" "));
}

/** Minimum insertions + deletions turning `a` into `b` (Levenshtein with substitution cost 2) = len(a)+len(b)−2·LCS. */
export function indelDistance(a: readonly number[], b: readonly number[]): number {
  // Classic LCS dynamic programme over one row; strings here are answers (tens to hundreds of code points).
  const row = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = 0; // row[j-1] of the previous i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = a[i - 1] === b[j - 1] ? diagonal + 1 : Math.max(above, row[j - 1]);
      diagonal = above;
    }
  }
  return a.length + b.length - 2 * row[b.length];
}

/**
 * python-Levenshtein 0.21.1 `ratio(a, b)` = rapidfuzz `Indel.normalized_similarity`: `1.0 - dist / (len(a)+len(b))`,
 * computed in that order (0.12's `(lensum - dist) / lensum` can round differently at the .5 ties that `round` sees).
 */
export function levenshteinRatio(a: string, b: string): number {
  const ca = codePoints(a);
  const cb = codePoints(b);
  const lensum = ca.length + cb.length;
  if (lensum === 0) return 1;
  return 1.0 - indelDistance(ca, cb) / lensum;
}

/** fuzzywuzzy `fuzz.ratio` on already-processed strings: equal → 100 (even both empty), one empty → 0, else the rounded %. */
export function fuzzRatio(a: string, b: string): number {
  if (a === b) return 100;
  if (a.length === 0 || b.length === 0) return 0;
  return roundHalfEven(100 * levenshteinRatio(a, b));
}

/** fuzzywuzzy 0.18 `fuzz.token_sort_ratio(a, b)` with its defaults (force_ascii=True, full_process=True): an integer 0–100. */
export function tokenSortRatio(a: string, b: string): number {
  return fuzzRatio(fuzzProcessAndSort(a), fuzzProcessAndSort(b));
}

/**
 * llm-jp-eval's `char_f1` for one item: `token_sort_ratio(pred, gold) / 100`. The task normalises first
 * (`NFKC(output.split("\n\n")[0].strip())` for pred, `NFKC(gold)`); this function does not.
 * @example charF1("東京都", "東京") // 0.8
 */
export function charF1(pred: string, gold: string): number {
  return tokenSortRatio(pred, gold) / 100;
}
