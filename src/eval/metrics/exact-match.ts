/**
 * The two frameworks' `exact_match`, which normalise differently:
 * - llm-jp-eval v1.3.0: `sklearn.metrics.accuracy_score` = strict string equality (the task already applied NFKC/strip).
 * - lm-evaluation-harness v0.4.2: Hugging Face `evaluate`'s `exact_match` (spec §3.1): regexes removed first
 *   (each with `re.sub(regex, "", ·)` on pred and ref, in order), then lowercase, then `string.punctuation` deleted.
 */
import { SwallowError } from "../../errors.js";
import { pythonRegex } from "./python-regex.js";

/**
 * llm-jp-eval's exact match for one item: 1 if the strings are identical, else 0.
 * @example llmjpExactMatch("3", "3") // 1
 */
export function llmjpExactMatch(pred: string, gold: string): number {
  return pred === gold ? 1 : 0;
}

export interface LmevalExactMatchOptions {
  /** Python `re` patterns deleted from both strings, in order (e.g. GSM8K's `[",", "\\$", "(?s).*#### ", "\\.$"]`). */
  regexesToIgnore?: string[];
  ignoreCase?: boolean;
  ignorePunctuation?: boolean;
}

/** Python's `string.punctuation`: ASCII only, so full-width `。「」！` are kept. */
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * HF `exact_match` works on whole columns: a Python list of str, or — after `np.asarray`/`np.array` — a numpy
 * fixed-width unicode array (dtype `<U{longest}`). Reading an array element drops trailing NULs, and `np.char.lower`
 * keeps the dtype, so a lowercase that grows (`"İ".lower()` = "i̇", two code points) is cut to the column's width.
 */
interface Column {
  values: string[];
  /** The numpy dtype's width in code points; null while the column is still a Python list. */
  width: number | null;
}

const dropTrailingNuls = (s: string): string => s.replace(/\0+$/, "");

function toArray(values: readonly string[]): Column {
  return { values: values.map(dropTrailingNuls), width: Math.max(1, ...values.map((v) => [...v].length)) };
}

/** An element-wise op that keeps the dtype (np.char.lower / np.char.translate); a Python list becomes an array first. */
function mapArray(column: Column, op: (s: string) => string): Column {
  const array = column.width === null ? toArray(column.values) : column;
  const width = array.width!;
  return { values: array.values.map((v) => dropTrailingNuls([...op(v)].slice(0, width).join(""))), width };
}

/** HF `exact_match._compute`'s normalisation of one column (predictions or references), step for step. */
function normalizeColumn(strings: readonly string[], options: LmevalExactMatchOptions): Column {
  // regexes_to_ignore=None → np.asarray; a list → re.sub on each str, then np.array, once per regex.
  // An empty list leaves Python lists, which become arrays only if lower/translate run.
  const regexes = options.regexesToIgnore;
  let column: Column = regexes === undefined ? toArray(strings) : { values: [...strings], width: null };
  for (const pattern of regexes ?? []) {
    const regex = pythonRegex(pattern);
    column = toArray(column.values.map((v) => v.replace(regex, "")));
  }
  // np.char.lower applies str.lower per element: full Unicode lowercasing, like toLowerCase.
  if (options.ignoreCase) column = mapArray(column, (v) => v.toLowerCase());
  if (options.ignorePunctuation) column = mapArray(column, (v) => v.replace(ASCII_PUNCTUATION, ""));
  return column;
}

/** `np.mean(predictions == references)`; two Python lists compare as whole lists (one bool). */
function meanEqual(preds: Column, refs: Column): number {
  const equal = preds.values.map((p, i) => p === refs.values[i]);
  if (preds.width === null && refs.width === null) return equal.every(Boolean) ? 1 : 0;
  return equal.filter(Boolean).length / equal.length;
}

/** Applies HF `exact_match`'s normalisation to one string on its own (what is compared). */
export function lmevalNormalize(s: string, options: LmevalExactMatchOptions = {}): string {
  return normalizeColumn([s], options).values[0];
}

/**
 * lm-eval v0.4.2 `exact_match` for one (prediction, reference) pair: 1 or 0.
 * @example lmevalExactMatch("The answer is 1,234.", "1234", { regexesToIgnore: [",", "(?s).*is ", "\\.$"] }) // 1
 */
export function lmevalExactMatch(pred: string, gold: string, options: LmevalExactMatchOptions = {}): number {
  return meanEqual(normalizeColumn([pred], options), normalizeColumn([gold], options));
}

/**
 * lm-eval v0.4.2 with several golds (TriviaQA aliases): `exact_match(references=golds, predictions=[pred]*len(golds))`
 * in one call, then 1 if that mean is > 0. One call means one numpy column, so the dtype width is the longest gold's.
 */
export function lmevalExactMatchAny(pred: string, golds: readonly string[], options: LmevalExactMatchOptions = {}): number {
  if (golds.length === 0) throw new SwallowError(`lm-eval exact_match: "gold" is an empty list; give at least one reference`);
  const score = meanEqual(
    normalizeColumn(
      golds.map(() => pred),
      options,
    ),
    normalizeColumn(golds, options),
  );
  return score > 0 ? 1 : 0;
}
