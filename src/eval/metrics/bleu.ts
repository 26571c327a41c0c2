/**
 * sacrebleu corpus BLEU as the JP LM Evaluation Harness computed it for WMT20 (spec §2.4): `sacrebleu.corpus_bleu(preds, [refs])`
 * with sacrebleu 1.5.0's defaults — tokenize '13a', smooth 'exp', no lowercasing, no effective order, one reference.
 * The score is on sacrebleu's 0–100 scale. For a Japanese target the harness first word-segments both sides
 * (see ja-segment.ts); that step is separate so this file stays exactly sacrebleu.
 */
import { SwallowError } from "../../errors.js";
import { pythonRstrip, pythonSplit } from "./python-compat.js";

const MAX_NGRAM_ORDER = 4;

// sacrebleu TokenizerRegexp (mteval-v13a), applied in this order with Python `re.sub` (global, non-overlapping).
const V13A_RULES: [RegExp, string][] = [
  // Language-dependent part (Western languages): ASCII symbols become separate tokens.
  [/([{-~[-` -&(-+:-@/])/gu, " $1 "],
  // Period and comma unless preceded by a digit.
  [/([^0-9])([.,])/gu, "$1 $2 "],
  // Period and comma unless followed by a digit.
  [/([.,])([^0-9])/gu, " $1 $2"],
  // Dash when preceded by a digit.
  [/([0-9])(-)/gu, "$1 $2 "],
];

/** sacrebleu's `Tokenizer13a` on one line: the tokens joined by single spaces. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (s.includes("&")) s = s.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  s = ` ${s} `;
  for (const [pattern, replacement] of V13A_RULES) s = s.replace(pattern, replacement);
  return pythonSplit(s).join(" ");
}

/** Everything sacrebleu's BLEU score object carries that the score is computed from. */
export interface BleuStats {
  /** 0–100, as sacrebleu's `.score`. */
  score: number;
  /** Matched n-grams for n = 1..4 (clipped by the reference counts). */
  counts: number[];
  /** Hypothesis n-grams for n = 1..4. */
  totals: number[];
  /** Percent precisions after exp smoothing. */
  precisions: number[];
  brevityPenalty: number;
  sysLen: number;
  refLen: number;
}

function ngramCounts(tokens: string[]): Map<string, number>[] {
  const byOrder: Map<string, number>[] = [];
  for (let n = 1; n <= MAX_NGRAM_ORDER; n++) {
    const counts = new Map<string, number>();
    // Tokens never contain " " (they came from a whitespace split), so joining by " " keys n-grams uniquely.
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    byOrder.push(counts);
  }
  return byOrder;
}

/** sacrebleu's `my_log`: log(0) is −9999999999 so that a zero precision drives BLEU to 0 instead of NaN. */
function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/**
 * sacrebleu `BLEU.compute_bleu` with smooth_method 'exp', effective_order False: precisions in percent, a zero match count
 * replaced by 100 / (2^k · total), the loop stopping at the first order with no hypothesis n-grams (whose
 * precision then stays 0, so BLEU = 0), brevity penalty exp(1 − ref/sys).
 */
export function computeBleu(counts: number[], totals: number[], sysLen: number, refLen: number): BleuStats {
  const precisions = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  let smoothMteval = 1;
  for (let n = 1; n <= MAX_NGRAM_ORDER; n++) {
    if (totals[n - 1] === 0) break;
    if (counts[n - 1] === 0) {
      smoothMteval *= 2;
      precisions[n - 1] = 100 / (smoothMteval * totals[n - 1]);
    } else {
      precisions[n - 1] = (100 * counts[n - 1]) / totals[n - 1];
    }
  }
  const brevityPenalty = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  let logSum = 0; // Python sum(): left to right from 0
  for (const p of precisions) logSum += myLog(p);
  const score = brevityPenalty * Math.exp(logSum / MAX_NGRAM_ORDER);
  return { score, counts, totals, precisions, brevityPenalty, sysLen, refLen };
}

/**
 * sacrebleu `corpus_bleu(hyps, [refs])` (13a, exp smoothing, case-sensitive, one reference per segment).
 * Each line is `rstrip()`ped before tokenising, as sacrebleu does.
 */
export function sacrebleuCorpus(hyps: readonly string[], refs: readonly string[]): BleuStats {
  if (hyps.length !== refs.length) {
    throw new SwallowError(`BLEU needs one reference per hypothesis; got ${hyps.length} hypotheses and ${refs.length} references`);
  }
  const counts = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  const totals = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  let sysLen = 0;
  let refLen = 0;
  for (let i = 0; i < hyps.length; i++) {
    const hypTokens = pythonSplit(tokenize13a(pythonRstrip(hyps[i])));
    const refTokens = pythonSplit(tokenize13a(pythonRstrip(refs[i])));
    sysLen += hypTokens.length;
    refLen += refTokens.length;
    const hypNgrams = ngramCounts(hypTokens);
    const refNgrams = ngramCounts(refTokens);
    for (let n = 0; n < MAX_NGRAM_ORDER; n++) {
      for (const [ngram, count] of hypNgrams[n]) {
        counts[n] += Math.min(count, refNgrams[n].get(ngram) ?? 0);
        totals[n] += count;
      }
    }
  }
  return computeBleu(counts, totals, sysLen, refLen);
}
