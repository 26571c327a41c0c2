/**
 * ROUGE-2 as the JP LM Evaluation Harness computed it for XL-Sum ja (spec §2.2): `rouge_score.RougeScorer(["rouge2"],
 * tokenizer=T).score(ref, pred)`, where T — despite the task's MeCab docstring — ends up being the evaluated model's
 * Hugging Face tokenizer, so bigrams are over the model's subword tokens (`tokenizer.tokenize(text)`, no BOS, no
 * normalisation). rouge_score is not installable here: this follows its published algorithm (`_create_ngrams`,
 * `_score_ngrams`, `scoring.fmeasure`), checked by hand-computed cases in rouge.test.ts.
 *
 * Aggregation: the harness feeds per-document scores to `BootstrapAggregator` (1,000 resamples) and reports `mid`, the
 * median of the bootstrap means of F, × 100. The resampling draws from numpy's global generator, which
 * `simple_evaluate` seeds with `np.random.seed(1234)`; with one task per run and (to our reading) no other numpy draw
 * before aggregation, {@link rouge2BootstrapMid} reproduces it given the per-document F values in the harness's order
 * (its seed-42 shuffle of the test docs). {@link rouge2Aggregate} is the plain mean, the statistic that median estimates.
 */
import { NumpyLegacyRandom } from "./numpy-random.js";

/** rouge_score's `Score`: each in 0–1. */
export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** Token sequence as a tokenizer produces it; ids and piece strings give the same bigrams (the mapping is one-to-one). */
export type Tokens = readonly (string | number)[];

function bigramCounts(tokens: Tokens): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + 2 <= tokens.length; i++) {
    // JSON keys keep ("a b", "c") and ("a", "b c") apart, as Python tuples do.
    const key = JSON.stringify([tokens[i], tokens[i + 1]]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * rouge_score `_score_ngrams` for n = 2: clipped bigram overlap over the prediction's (precision) and the reference's
 * (recall) bigram counts, each denominator at least 1; F = 2PR/(P+R), or 0 when P+R = 0.
 */
export function rouge2FromTokens(predTokens: Tokens, refTokens: Tokens): RougeScore {
  const pred = bigramCounts(predTokens);
  const ref = bigramCounts(refTokens);
  let overlap = 0;
  for (const [bigram, count] of ref) overlap += Math.min(count, pred.get(bigram) ?? 0);
  const predTotal = Math.max(0, predTokens.length - 1);
  const refTotal = Math.max(0, refTokens.length - 1);
  const precision = overlap / Math.max(predTotal, 1);
  const recall = overlap / Math.max(refTotal, 1);
  const fmeasure = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fmeasure };
}

/**
 * ROUGE-2 of one XL-Sum document as the JP harness scored it, with `tokenize` standing for the evaluated model's
 * `tokenizer.tokenize` (e.g. `(s) => tokenizer.encode(s, { addBos: false })`).
 */
export function rouge2JpHarness(pred: string, ref: string, tokenize: (text: string) => Tokens): RougeScore {
  return rouge2FromTokens(tokenize(pred), tokenize(ref));
}

/** The task score on the harness's 0–100 scale: 100 × mean per-document F (see the aggregation note above). */
export function rouge2Aggregate(fmeasures: readonly number[]): number {
  let sum = 0;
  for (const f of fmeasures) sum += f;
  return fmeasures.length === 0 ? 0 : (100 * sum) / fmeasures.length;
}

/**
 * rouge_score `BootstrapAggregator().aggregate()[...].mid.fmeasure` × 100 after `np.random.seed(seed)`: 1,000 times draw
 * n indices with replacement, take the mean F of that resample (numpy sums rows in order, then divides), then the
 * 50th percentile of the 1,000 means (numpy's linear interpolation: b − (b − a)·0.5 between the 500th and 501st).
 * `fmeasures` must be in the order the harness added them (its shuffled test-doc order).
 */
export function rouge2BootstrapMid(fmeasures: readonly number[], options: { seed?: number; samples?: number } = {}): number {
  const n = fmeasures.length;
  if (n === 0) return 0;
  const samples = options.samples ?? 1000;
  const random = new NumpyLegacyRandom(options.seed ?? 1234);
  const means = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const picks = random.choiceIndices(n, n);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += fmeasures[picks[j]];
    means[i] = sum / n;
  }
  means.sort();
  const position = (samples - 1) * 0.5;
  const below = means[Math.floor(position)];
  const above = means[Math.ceil(position)];
  const gamma = position - Math.floor(position);
  // numpy._lerp: a + (b−a)·t, but b − (b−a)·(1−t) when t ≥ 0.5.
  const mid = gamma >= 0.5 ? above - (above - below) * (1 - gamma) : below + (above - below) * gamma;
  return 100 * mid;
}
