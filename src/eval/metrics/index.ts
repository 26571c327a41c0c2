/** Evaluation metrics (issue #5 item 2): each framework's variant, with parity tests against the Python originals. */
export { llmjpExactMatch, lmevalExactMatch, lmevalExactMatchAny, lmevalNormalize, type LmevalExactMatchOptions } from "./exact-match.js";
export { charF1, tokenSortRatio, fuzzFullProcess, fuzzProcessAndSort, levenshteinRatio, indelDistance } from "./char-f1.js";
export { rouge2JpHarness, rouge2FromTokens, rouge2Aggregate, rouge2BootstrapMid, type RougeScore, type Tokens } from "./rouge.js";
export { NumpyLegacyRandom } from "./numpy-random.js";
export { sacrebleuCorpus, tokenize13a, computeBleu, type BleuStats } from "./bleu.js";
export { bleuCorpus, type BleuCorpusOptions } from "./wmt-bleu.js";
export { segmentJapaneseWords, jaSplit } from "./ja-segment.js";
export { passAtK } from "./pass-at-k.js";
export { squadV2Exact, squadNormalizeAnswer } from "./squad.js";
export { accFromLoglikelihoods, argmaxFirst } from "./acc.js";
export { pythonRegex, translatePythonRegex, pythonFindAll, pythonSearch, pythonSubEmpty } from "./python-regex.js";
export { roundHalfEven, compareCodePoints, pythonSplit, pythonStrip, pythonStatisticsMean } from "./python-compat.js";
export {
  listMetrics,
  getMetric,
  scoreItem,
  LMEVAL_EXACT_MATCH_PRESETS,
  type Metric,
  type MetricInfo,
  type ItemMetric,
  type CorpusMetric,
  type RecordMetric,
  type MetricContext,
} from "./registry.js";
