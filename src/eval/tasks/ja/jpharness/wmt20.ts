// WMT20 en→ja and ja→en as the JP harness runs them (tasks/translation.py, VERSION 1 for a Japanese target), spec §2.4:
// no training docs, so 4 shots are drawn from the test set itself (5 drawn, the current doc removed), stop at the
// first newline, corpus BLEU (sacrebleu 13a; Japanese targets word-segmented first).

import path from "node:path";

import { dataError, readSgmSegments } from "../../../datasets/readers/index.js";
import { bleuCorpus } from "../../../metrics/index.js";
import type { EvalItem, EvalTask } from "../../../types.js";
import { WMT20_DATASET, WMT20_FILES } from "../datasets.js";
import { type JpHarnessPromptStyle, jpHarnessContexts, jpHarnessRequest } from "./context.js";

export interface TranslationDoc {
  src: string;
  ref: string;
}

/** pycountry's names for the two codes (code_to_language). */
const LANGUAGE_NAMES = { en: "English", ja: "Japanese" } as const;

export function wmt20Style(pair: "en-ja" | "ja-en"): JpHarnessPromptStyle<TranslationDoc> {
  const [src, tgt] = pair.split("-") as ("en" | "ja")[];
  return {
    description: "",
    fewshotSep: "\n\n",
    docToText: (doc) => `${LANGUAGE_NAMES[src]} phrase: ` + doc.src + `\n${LANGUAGE_NAMES[tgt]} phrase:`,
    docToTarget: (doc) => " " + doc.ref,
  };
}

/** Source and reference segments, paired in file order (sacrebleu text, then the harness's `.rstrip()`). */
export function readWmt20(dir: string, pair: "en-ja" | "ja-en"): TranslationDoc[] {
  const srcFile = path.join(dir, WMT20_FILES[pair].src);
  const refFile = path.join(dir, WMT20_FILES[pair].ref);
  const src = readSgmSegments(srcFile);
  const ref = readSgmSegments(refFile);
  if (src.length !== ref.length) throw dataError(refFile, `${ref.length} segments but ${srcFile} has ${src.length}`);
  return src.map((s, i) => ({ src: s, ref: ref[i] }));
}

function createWmt20Task(pair: "en-ja" | "ja-en"): EvalTask {
  const style = wmt20Style(pair);
  const targetLanguage = pair.split("-")[1];
  return {
    name: `wmt20-${pair}`,
    version: `jp-harness-9b42d41-wmt20-${pair}-${targetLanguage === "ja" ? 1 : 0}+1`,
    suite: "ja",
    displayName: `WMT20 (${pair})`,
    metric: targetLanguage === "ja" ? "jpharness.bleu_ja" : "sacrebleu.bleu",
    datasets: [WMT20_DATASET.name],
    async load(data, options) {
      const docs = readWmt20(data.dir(WMT20_DATASET.name), pair);
      // The harness compares dicts ({src, ref}) with !=, so an identical duplicate segment is removed as well.
      const same = (a: TranslationDoc, b: TranslationDoc) => a.src === b.src && a.ref === b.ref;
      const contexts = jpHarnessContexts(docs, 4, { kind: "test", docs, same }, style, options.limit);
      return contexts.map(({ doc, index, context }): EvalItem => {
        const request = jpHarnessRequest(context, ["\n"]);
        return {
          itemId: String(index),
          async run(models) {
            const prediction = await models.model.generateUntil(request);
            return { itemId: String(index), scores: {}, prediction, gold: doc.ref };
          },
        };
      });
    },
    /** Corpus BLEU / 100 (the harness segments Japanese hypotheses and references before 13a; see bleuCorpus). */
    aggregate(outcomes) {
      const preds = outcomes.map((o) => o.prediction);
      const refs = outcomes.map((o) => o.gold as string);
      return bleuCorpus(preds, refs, { targetLanguage }) / 100;
    },
  };
}

export const wmt20EnJaTask: EvalTask = createWmt20Task("en-ja");
export const wmt20JaEnTask: EvalTask = createWmt20Task("ja-en");
