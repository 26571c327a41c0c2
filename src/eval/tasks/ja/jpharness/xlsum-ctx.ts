// XLSumJa.preprocess_ctx (tasks/ja/xlsum_ja.py): when a context is longer than its token budget, every article in it
// (the shot's and the test doc's) keeps only its leading "。"-sentences that fit an equal share of the budget.
// Token counts come from the evaluated model's tokenizer (encode without special tokens), as in the harness.

import { SwallowError } from "../../../../errors.js";

/** The model tokenizer as XL-Sum needs it: ids without special tokens, and decode (skip_special_tokens). */
export interface XlsumTokenizer {
  encode(text: string): readonly number[];
  decode(ids: readonly number[]): string;
}

const CTX_PROMPT = "ニュース記事:";
const SUMMARY_PROMPT = "要約:";
const SEP = "\n";

/** Python `s.split(sep)` with a non-empty separator (JS split agrees for strings). */
const pySplit = (s: string, sep: string) => s.split(sep);

/**
 * The harness's preprocess_ctx with prompt version 0.0's markers. `maxLength` = max_length − (len(tokens(summary)) + 10)
 * (construct_requests, DYNAMIC_MAX_LENGTH on by default).
 */
export function xlsumPreprocessCtx(ctx: string, maxLength: number, tokenizer: XlsumTokenizer): string {
  const count = (text: string) => tokenizer.encode(text).length;
  if (count(ctx) <= maxLength) return ctx;
  let ctxs = pySplit(ctx, CTX_PROMPT).map((c) => `${CTX_PROMPT}${c}`);
  let description = "";
  if (!ctxs[0].includes(SUMMARY_PROMPT)) {
    description = ctxs[0].replaceAll(CTX_PROMPT, "");
    ctxs = ctxs.slice(1);
  }
  const maxLengthPerShot = Math.floor(maxLength / ctxs.length);
  let res = description;
  for (const c of ctxs) {
    const parts = pySplit(c, SUMMARY_PROMPT);
    // Python's `text, summary = c.split(summary_prompt)` raises unless there are exactly two parts.
    if (parts.length !== 2) {
      throw new SwallowError(`xlsum_ja: an article contains "${SUMMARY_PROMPT}", which the harness's context truncation cannot handle`);
    }
    const [text, summary] = parts;
    const sentences = pySplit(text, "。");
    const addSentences: string[] = [];
    for (const s of sentences) {
      if (count([...addSentences, s].join("。")) > maxLengthPerShot) {
        if (addSentences.length > 0) addSentences[addSentences.length - 1] += "。" + SEP;
        else addSentences.push(tokenizer.decode(tokenizer.encode(s).slice(0, maxLengthPerShot)) + SEP);
        break;
      }
      addSentences.push(s);
    }
    res += `${addSentences.join("。")}${SUMMARY_PROMPT}${summary}`;
  }
  return res;
}
