// XL-Sum ja as the JP harness runs it (tasks/ja/xlsum_ja.py, class XLSumJa, prompt version 0.0), spec §2.2: one shot
// drawn per doc from train, stop at the first newline, ROUGE-2 over the evaluated model's own tokenizer's tokens.

import path from "node:path";

import { SwallowError } from "../../../../errors.js";
import { readParquet } from "../../../datasets/readers/index.js";
import { rouge2BootstrapMid, rouge2JpHarness } from "../../../metrics/index.js";
import type { EvalItem, EvalTask, ItemOutcome } from "../../../types.js";
import { XLSUM_JA_DATASET } from "../datasets.js";
import { JP_HARNESS_MAX_LENGTH, type JpHarnessPromptStyle, jpHarnessContexts, jpHarnessRequest } from "./context.js";
import { type XlsumTokenizer, xlsumPreprocessCtx } from "./xlsum-ctx.js";

export type { XlsumTokenizer } from "./xlsum-ctx.js";

export interface XlsumDoc {
  text: string;
  summary: string;
}

const SEP = "\n";

export const XLSUM_STYLE: JpHarnessPromptStyle<XlsumDoc> = {
  description: "与えられたニュース記事を要約してください。\n\n",
  fewshotSep: SEP + SEP,
  docToText: (doc) => `ニュース記事:${doc.text}\n要約:`,
  docToTarget: (doc) => doc.summary,
};

/**
 * A task that, like the harness's LOAD_TOKENIZER tasks, needs the evaluated model's tokenizer: the runner must call
 * `setTokenizer` before `load` (context truncation counts tokens) and `aggregate` (ROUGE-2 is over model tokens), as
 * the harness calls task.set_tokenizer(lm.tokenizer) before building requests.
 */
export interface TokenizerAwareTask extends EvalTask {
  readonly needsModelTokenizer: true;
  /** `encode` without special tokens (ids); `decode` skipping special tokens. */
  setTokenizer(tokenizer: XlsumTokenizer): void;
}

async function readXlsum(file: string): Promise<XlsumDoc[]> {
  const rows = await readParquet(file, { fields: { text: "string", summary: "string" } });
  return rows.map((r) => ({ text: r.text as string, summary: r.summary as string }));
}

/** Creates the XL-Sum ja task (each instance holds its own tokenizer). `maxLength`: the harness's max_length (Swallow: 4096). */
export function createXlsumJaTask(options: { maxLength?: number } = {}): TokenizerAwareTask {
  const maxLength = options.maxLength ?? JP_HARNESS_MAX_LENGTH;
  let tokenizer: XlsumTokenizer | null = null;
  const needTokenizer = (): XlsumTokenizer => {
    if (tokenizer === null) {
      throw new SwallowError(
        "xlsum_ja needs the evaluated model's tokenizer (context truncation and ROUGE-2 use it): call setTokenizer() first",
      );
    }
    return tokenizer;
  };
  return {
    name: "xlsum_ja",
    version: "jp-harness-9b42d41-xlsum_ja-1.0-0.0+1",
    suite: "ja",
    displayName: "XL-Sum",
    metric: "jpharness.rouge2",
    datasets: [XLSUM_JA_DATASET.name],
    needsModelTokenizer: true,
    setTokenizer(value) {
      tokenizer = value;
    },
    async load(data, options) {
      const dir = data.dir(XLSUM_JA_DATASET.name);
      const train = await readXlsum(path.join(dir, "default/train/0000.parquet"));
      const test = await readXlsum(path.join(dir, "default/test/0000.parquet"));
      const tok = needTokenizer();
      const contexts = jpHarnessContexts(test, 1, { kind: "train", docs: train }, XLSUM_STYLE, options.limit);
      return contexts.map(({ doc, index, context: raw }): EvalItem => {
        // construct_requests: budget = max_length − (len(tokens(summary)) + 10); the model wrapper still generates
        // up to max_gen_toks and left-truncates to max_length − max_gen_toks (maxContextTokens).
        const context = xlsumPreprocessCtx(raw, maxLength - (tok.encode(doc.summary).length + 10), tok);
        const request = jpHarnessRequest(context, [SEP]);
        return {
          itemId: String(index),
          async run(models): Promise<ItemOutcome> {
            const continuation = await models.model.generateUntil(request);
            return { itemId: String(index), scores: {}, prediction: continuation, gold: doc.summary };
          },
        };
      });
    },
    /**
     * rouge2 / 100 as the harness reports it: rouge_score's BootstrapAggregator mid F (numpy seeded 1234 by
     * simple_evaluate) over the per-document ROUGE-2 F. The resampling picks by position, so `outcomes` must be in item
     * order — the harness's seed-42 shuffle of the test docs, which is the order `load` builds and the runner keeps.
     */
    aggregate(outcomes) {
      const tok = needTokenizer();
      const tokenize = (text: string) => tok.encode(text);
      const f = outcomes.map((o) => rouge2JpHarness(o.prediction, o.gold as string, tokenize).fmeasure);
      return rouge2BootstrapMid(f) / 100;
    },
  };
}

export const xlsumJaTask: TokenizerAwareTask = createXlsumJaTask();
