/**
 * The JP LM Evaluation Harness's WMT20 BLEU (spec §2.4, `lm_eval/tasks/translation.py` + `metrics.bleu`):
 * for a Japanese target both sides are word-segmented (`ja_split`), then sacrebleu `corpus_bleu` with 13a.
 */
import { sacrebleuCorpus } from "./bleu.js";
import { jaSplit } from "./ja-segment.js";

export interface BleuCorpusOptions {
  /** Target language: "ja" segments into words first (WMT20 en→ja); anything else goes straight to 13a (ja→en). */
  targetLanguage?: string;
  /**
   * The texts are already segmented (e.g. by nagisa in Python): skip the ICU stand-in. Gives exact parity with the
   * harness when the segmentation came from nagisa.
   */
  preSegmented?: boolean;
}

/**
 * Corpus BLEU on sacrebleu's 0–100 scale, as the JP harness reports `bleu` for wmt20-en-ja / wmt20-ja-en.
 * @example bleuCorpus(["東京に行きました。"], ["東京へ行きました。"], { targetLanguage: "ja" })
 */
export function bleuCorpus(preds: readonly string[], refs: readonly string[], options: BleuCorpusOptions = {}): number {
  const segment = options.targetLanguage === "ja" && !options.preSegmented;
  return sacrebleuCorpus(segment ? preds.map(jaSplit) : preds, segment ? refs.map(jaSplit) : refs).score;
}
