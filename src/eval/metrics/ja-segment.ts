/**
 * Japanese word segmentation for WMT20 en→ja BLEU. The JP harness ran `" ".join(nagisa.tagging(text.strip()).words)`
 * on hypotheses and references before sacrebleu 13a (spec §2.4). nagisa (a BiLSTM tagger) has no JavaScript port,
 * so this uses the closest segmenter already available without dependencies: ICU's dictionary-based word breaker
 * behind `Intl.Segmenter("ja", { granularity: "word" })` (Node's bundled full ICU).
 *
 * Expected difference: both cut at word level and agree exactly on nagisa's README and tutorial sentences, but on a
 * long news sentence only 88% of word boundaries agree (boundary F1; ICU keeps では/による/に対して whole and cuts
 * conjugations such as 行|いま|した where nagisa has 行い|まし|た; see ja-segment.test.ts). Corpus BLEU therefore
 * differs from the harness's by an amount not measurable here (no nagisa on any machine) — an estimate, not a
 * measurement: of the order of a BLEU point, either way. ICU data also changes between Node versions. Exact parity
 * needs nagisa-segmented text from Python (pass it to `bleuCorpus` with `preSegmented`).
 */
import { pythonSplit, pythonStrip } from "./python-compat.js";

let segmenter: Intl.Segmenter | undefined;

/** The words of `text` (after Python `strip()`), whitespace dropped, in order. */
export function segmentJapaneseWords(text: string): string[] {
  segmenter ??= new Intl.Segmenter("ja", { granularity: "word" });
  const words: string[] = [];
  for (const { segment } of segmenter.segment(pythonStrip(text))) {
    // Whitespace inside a segment would split it again in 13a; nagisa's tokens never hold spaces either.
    words.push(...pythonSplit(segment));
  }
  return words;
}

/** What the JP harness's `ja_split` returns: words joined by single spaces. */
export function jaSplit(text: string): string {
  return segmentJapaneseWords(text).join(" ");
}
