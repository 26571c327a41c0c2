/**
 * Metrics by name. Where frameworks differ the name says whose variant it is (`llmjp.exact_match` vs `lmeval.exact_match`).
 * Values are on the framework's own scale (`maxScore`: 1, or 100 for BLEU and ROUGE-2), as the Swallow aggregation
 * script divides by max_score; item metrics score one (pred, gold) pair and a list of golds scores the best match;
 * corpus metrics (BLEU) see all items at once.
 */
import { SwallowError } from "../../errors.js";
import { sacrebleuCorpus } from "./bleu.js";
import { charF1 } from "./char-f1.js";
import { lmevalExactMatch, lmevalExactMatchAny, llmjpExactMatch, type LmevalExactMatchOptions } from "./exact-match.js";
import { accFromLoglikelihoods } from "./acc.js";
import { bleuCorpus } from "./wmt-bleu.js";
import { passAtK } from "./pass-at-k.js";
import { parseRating, UNPARSED_RATING } from "./mtbench-rating.js";
import { mean, pythonStatisticsMean } from "./python-compat.js";
import { squadV2Exact } from "./squad.js";
import { rouge2BootstrapMid, rouge2JpHarness, type Tokens } from "./rouge.js";

/** What some metrics need from outside: ROUGE-2 tokenises with the evaluated model's tokenizer. */
export interface MetricContext {
  /** The model's `tokenizer.tokenize` (no BOS); required by `jpharness.rouge2`. */
  tokenize?: (text: string) => Tokens;
}

interface MetricBase {
  name: string;
  /** One line for `swallow metric --list`. */
  description: string;
  /** The scale's maximum (the Swallow aggregation divides by it for the 0–1 table). */
  maxScore: 1 | 100;
}

export interface ItemMetric extends MetricBase {
  kind: "item";
  /** Whether `score` needs `MetricContext.tokenize`. */
  needsTokenizer?: boolean;
  /** Scores one prediction against one gold string. */
  score(pred: string, gold: string, context: MetricContext): number;
  /** For metrics whose original treats a gold list specially (SQuAD v2); otherwise the best single-gold score counts. */
  scoreGolds?(pred: string, golds: readonly string[]): number;
  /** The task value from the per-item scores (all item metrics here average; ROUGE-2 also scales). */
  aggregate(scores: readonly number[]): number;
}

export interface CorpusMetric extends MetricBase {
  kind: "corpus";
  /** One gold string per prediction. */
  corpus(preds: readonly string[], golds: readonly string[], context: MetricContext): number;
}

/** A metric whose items are not (pred, gold) strings: pass@k counts, multiple-choice log-likelihoods. */
export interface RecordMetric extends MetricBase {
  kind: "record";
  /** The JSON shape of one input line, for help and errors, e.g. `{"n":10,"c":3}`. */
  inputShape: string;
  /** Scores one parsed JSON line; throws a SwallowError naming what is wrong. */
  scoreRecord(record: Record<string, unknown>): number;
  aggregate(scores: readonly number[]): number;
}

export type Metric = ItemMetric | CorpusMetric | RecordMetric;

/** What `listMetrics()` describes. */
export interface MetricInfo {
  name: string;
  kind: "item" | "corpus" | "record";
  description: string;
  maxScore: 1 | 100;
}

/**
 * A per-item metric averaged over items. llm-jp-eval averages with `statistics.mean` (char_f1) or sklearn's
 * accuracy (0/1 values, exact either way): both are the exactly rounded mean, so `exactMean` is used for them.
 */
const averaged = (name: string, description: string, score: (pred: string, gold: string) => number, exactMean = false): ItemMetric => ({
  kind: "item",
  name,
  description,
  maxScore: 1,
  score: (pred, gold) => score(pred, gold),
  aggregate: (scores) => (scores.length === 0 ? 0 : exactMean ? pythonStatisticsMean(scores) : mean(scores)),
});

const lmeval = (name: string, description: string, options: LmevalExactMatchOptions): ItemMetric => ({
  ...averaged(name, description, (pred, gold) => lmevalExactMatch(pred, gold, options)),
  // lm-eval scores all golds in one exact_match call (one numpy column) and counts the item if any matched.
  scoreGolds: (pred, golds) => lmevalExactMatchAny(pred, golds, options),
});

/** Options lm-eval v0.4.2's YAML passes to exact_match for the card's tasks (spec §3.2). */
export const LMEVAL_EXACT_MATCH_PRESETS = {
  gsm8k: { ignoreCase: true, regexesToIgnore: [",", "\\$", "(?s).*#### ", "\\.$"] },
  triviaqa: { ignoreCase: true, ignorePunctuation: true },
  bbh: {},
} satisfies Record<string, LmevalExactMatchOptions>;

function integerField(record: Record<string, unknown>, field: string, shape: string): number {
  const value = record[field];
  if (typeof value !== "number" || !Number.isInteger(value)) throw new SwallowError(`expected ${shape} with an integer "${field}"`);
  return value;
}

const passAt = (k: number): RecordMetric => ({
  kind: "record",
  name: `pass@${k}`,
  description: `bigcode-evaluation-harness unbiased pass@${k} per problem from n samples, c correct; mean over problems`,
  maxScore: 1,
  inputShape: '{"n":10,"c":3}',
  scoreRecord: (record) => passAtK(integerField(record, "n", '{"n":…,"c":…}'), integerField(record, "c", '{"n":…,"c":…}'), k),
  aggregate: (scores) => (scores.length === 0 ? 0 : mean(scores)),
});

const ACC_SHAPE = '{"logprobs":[…per choice…],"gold":index}';

function scoreAcc(record: Record<string, unknown>): number {
  const { logprobs, gold } = record;
  if (!Array.isArray(logprobs) || logprobs.length === 0 || !logprobs.every((x) => typeof x === "number")) {
    throw new SwallowError(`expected ${ACC_SHAPE}: "logprobs" must be a non-empty list of numbers`);
  }
  const golds = typeof gold === "number" ? [gold] : gold;
  if (!Array.isArray(golds) || golds.length === 0 || !golds.every((g) => Number.isInteger(g) && g >= 0 && g < logprobs.length)) {
    throw new SwallowError(`expected ${ACC_SHAPE}: "gold" must be a choice index (or list of indices) below ${logprobs.length}`);
  }
  return accFromLoglikelihoods(logprobs as number[], golds as number[]);
}

function requireTokenizer(context: MetricContext): (text: string) => Tokens {
  if (!context.tokenize) throw new SwallowError("jpharness.rouge2 tokenises with the evaluated model's tokenizer: pass --model DIR");
  return context.tokenize;
}

const METRICS: Metric[] = [
  averaged("llmjp.exact_match", "llm-jp-eval v1.3.0 exact match: strict equality (the task applies NFKC and strip)", llmjpExactMatch, true),
  averaged("char_f1", "llm-jp-eval v1.3.0 char_f1 = fuzzywuzzy 0.18 token_sort_ratio / 100 (not a character F1)", charF1, true),
  lmeval("lmeval.exact_match", "lm-eval v0.4.2 / HF evaluate exact_match without options (plain equality)", {}),
  lmeval(
    "lmeval.exact_match_gsm8k",
    "lm-eval v0.4.2 exact_match with GSM8K's options (ignore_case, regexes , \\$ (?s).*####  \\.$)",
    LMEVAL_EXACT_MATCH_PRESETS.gsm8k,
  ),
  lmeval("lmeval.exact_match_triviaqa", "lm-eval v0.4.2 exact_match with TriviaQA's options (ignore_case, ignore_punctuation)", {
    ...LMEVAL_EXACT_MATCH_PRESETS.triviaqa,
  }),
  {
    kind: "item",
    name: "squad_v2.exact",
    description: 'lm-eval v0.4.2 SQuAD2 `exact` (official normalize_answer; [] or "" = unanswerable), 0–100',
    maxScore: 100,
    score: (pred, gold) => squadV2Exact(pred, [gold]),
    scoreGolds: squadV2Exact,
    aggregate: (scores) => (scores.length === 0 ? 0 : 100 * mean(scores)),
  },
  {
    kind: "item",
    name: "jpharness.rouge2",
    description:
      "JP LM Eval Harness XL-Sum ROUGE-2 F over the model tokenizer's subwords (needs --model); value = bootstrap mid ×100 (np seed 1234)",
    maxScore: 100,
    needsTokenizer: true,
    score: (pred, gold, context) => rouge2JpHarness(pred, gold, requireTokenizer(context)).fmeasure,
    // The harness's statistic: the seeded bootstrap median, which depends on item order (give the harness's order).
    aggregate: (scores) => rouge2BootstrapMid(scores),
  },
  {
    kind: "corpus",
    name: "sacrebleu.bleu",
    description: "sacrebleu corpus BLEU (13a, exp smoothing, case-sensitive), 0–100; what the JP harness reports for WMT20 ja→en",
    maxScore: 100,
    corpus: (preds, golds) => sacrebleuCorpus(preds, golds).score,
  },
  {
    kind: "corpus",
    name: "jpharness.bleu_ja",
    description: "JP harness WMT20 en→ja BLEU: Japanese word segmentation (ICU, standing in for nagisa) then sacrebleu 13a, 0–100",
    maxScore: 100,
    corpus: (preds, golds) => bleuCorpus(preds, golds, { targetLanguage: "ja" }),
  },
  averaged(
    "jpharness.mgsm_acc",
    "JP LM Evaluation Harness MGSM accuracy: the number extracted from the completion equals the answer",
    (pred, gold) => (pred === gold ? 1 : 0),
  ),
  {
    kind: "item",
    name: "mtbench.rating",
    description:
      "FastChat single-answer grading: the judge's [[rating]] (then [rating]) / 10; unparsed judgments (-1) are left out of the mean",
    maxScore: 1,
    score: (pred) => {
      const rating = parseRating(pred);
      return rating === UNPARSED_RATING ? NaN : rating / 10;
    },
    aggregate: (scores) => {
      const parsed = scores.filter((score) => !Number.isNaN(score));
      return parsed.length === 0 ? NaN : mean(parsed);
    },
  },
  passAt(1),
  passAt(10),
  {
    kind: "record",
    name: "lmeval.acc",
    description: "lm-eval v0.4.2 multiple-choice acc: argmax of summed log-likelihoods (first max on ties) equals gold",
    maxScore: 1,
    inputShape: ACC_SHAPE,
    scoreRecord: scoreAcc,
    aggregate: (scores) => (scores.length === 0 ? 0 : mean(scores)),
  },
];

const byName = new Map(METRICS.map((m) => [m.name, m]));

/** All registered metrics, in registration order. */
export function listMetrics(): MetricInfo[] {
  return METRICS.map(({ name, kind, description, maxScore }) => ({ name, kind, description, maxScore }));
}

/** The metric called `name`; a SwallowError listing the names when there is none. */
export function getMetric(name: string): Metric {
  const metric = byName.get(name);
  if (!metric) throw new SwallowError(`unknown metric "${name}"; known: ${[...byName.keys()].join(", ")} (see swallow metric --list)`);
  return metric;
}

/** An item metric against one gold or several (the best match counts, as lm-eval does for TriviaQA's aliases). */
export function scoreItem(metric: ItemMetric, pred: string, gold: string | readonly string[], context: MetricContext = {}): number {
  if (typeof gold === "string") return metric.score(pred, gold, context);
  if (metric.scoreGolds) return metric.scoreGolds(pred, gold);
  if (gold.length === 0) throw new SwallowError(`${metric.name}: "gold" is an empty list; give at least one reference`);
  return Math.max(...gold.map((g) => metric.score(pred, g, context)));
}
