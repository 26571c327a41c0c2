// MGSM ja as the JP harness runs it (tasks/ja/mgsm.py, class MGSM, prompt version 0.0), spec §2.3: 4 chain-of-thought
// shots drawn per doc from the 8 training exemplars, stop at the first newline, the last number is the answer.

import path from "node:path";

import { dataError, readParquet } from "../../../datasets/readers/index.js";
import type { EvalItem, EvalTask } from "../../../types.js";
import { MGSM_JA_DATASET } from "../datasets.js";
import { type JpHarnessPromptStyle, jpHarnessContexts, jpHarnessRequest } from "./context.js";

export interface MgsmDoc {
  question: string;
  /** The CoT answer ("ステップごとの答え：…"); null in the test split. */
  answer: string | null;
  answerNumber: number;
}

const SEP = "\n";

export const MGSM_STYLE: JpHarnessPromptStyle<MgsmDoc> = {
  description: "",
  fewshotSep: SEP + SEP,
  // "問題：" is removed and re-added because the training split has it and the test split does not.
  docToText: (doc) => `問題：${doc.question.replaceAll("問題：", "")}${SEP}ステップごとの答え：`,
  docToTarget: (doc) => (doc.answer ?? "").replaceAll("ステップごとの答え：", ""),
};

/** The harness's INVALID_ANS marker (gsm8k.py). */
export const MGSM_INVALID = "[invalid]";

/**
 * MGSM._extract_answer: the last match of `(\-?[0-9\.\,]+)`, `.strip(".")`, commas removed, `float()`; an integral
 * value becomes an int, anything else (no match, a parse error, a fraction) is "[invalid]".
 */
export function mgsmExtractAnswer(completion: string): number | typeof MGSM_INVALID {
  const matches = completion.match(/-?[0-9.,]+/g);
  if (!matches) return MGSM_INVALID;
  const text = matches[matches.length - 1].replace(/^\.+|\.+$/g, "").replaceAll(",", "");
  // Python float() accepts exactly these shapes for strings over [-0-9.]: "12", "12.", ".5", "1.5", with an optional sign.
  if (!/^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$/.test(text)) return MGSM_INVALID;
  const value = Number(text);
  return Number.isInteger(value) ? (Object.is(value, -0) ? 0 : value) : MGSM_INVALID;
}

function toNumber(value: unknown): number {
  return typeof value === "bigint" ? Number(value) : (value as number);
}

async function readMgsm(file: string): Promise<MgsmDoc[]> {
  const rows = await readParquet(file, { fields: { question: "string", answer: "string|null", answer_number: "integer" } });
  return rows.map((r) => ({ question: r.question as string, answer: r.answer as string | null, answerNumber: toNumber(r.answer_number) }));
}

export const mgsmTask: EvalTask = {
  name: "mgsm",
  version: "jp-harness-9b42d41-mgsm-1.0-0.0+1",
  suite: "ja",
  displayName: "MGSM",
  metric: "jpharness.mgsm_acc",
  datasets: [MGSM_JA_DATASET.name],
  async load(data, options) {
    const dir = data.dir(MGSM_JA_DATASET.name);
    const trainFile = path.join(dir, "ja/train/0000.parquet");
    const train = await readMgsm(trainFile);
    const noAnswer = train.findIndex((doc) => doc.answer === null);
    if (noAnswer >= 0) throw dataError(`${trainFile} row ${noAnswer + 1}`, "a training exemplar has no chain-of-thought answer");
    const test = await readMgsm(path.join(dir, "ja/test/0000.parquet"));
    // Not replayed: MGSM.fewshot_context retries with fewer shots when the prompt exceeds max_length − max_gen_toks
    // tokens (each retry draws again). 4 MGSM shots are far below 3,840 tokens, so the first draw always stands.
    const contexts = jpHarnessContexts(test, 4, { kind: "train", docs: train }, MGSM_STYLE, options.limit);
    return contexts.map(({ doc, index, context }): EvalItem => {
      const request = jpHarnessRequest(context, [SEP]);
      return {
        itemId: String(index),
        async run(models) {
          const completion = await models.model.generateUntil(request);
          const extracted = mgsmExtractAnswer(completion);
          const acc = extracted === doc.answerNumber ? 1 : 0;
          return {
            itemId: String(index),
            scores: { acc },
            prediction: String(extracted),
            gold: String(doc.answerNumber),
            extra: { completion },
          };
        },
      };
    });
  },
  aggregate(outcomes) {
    if (outcomes.length === 0) return 0;
    return outcomes.reduce((sum, o) => sum + (o.scores.acc ?? 0), 0) / outcomes.length;
  },
};
