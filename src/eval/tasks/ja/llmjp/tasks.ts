// The five llm-jp-eval v1.3.0 tasks of the model card (spec §1.3): instructions verbatim, including the single ASCII
// space after "。" in JCommonsenseQA's and JSQuAD's; max_new_tokens = output_length; 4 few-shots (JMMLU: 5).

import type { EvalTask } from "../../../types.js";
import { JCOMMONSENSEQA_DATASET, JEMHOPQA_DATASET, JMMLU_DATASET, JSQUAD_DATASET, NIILC_DATASET } from "../datasets.js";
import { preprocessJcommonsenseqa, preprocessJemhopqa, preprocessJmmlu, preprocessJsquad, preprocessNiilc } from "./datasets.js";
import { makeLlmjpTask } from "./task.js";

/** Version of the prompt/few-shot/extraction rules below; bump on any change so stored results are not mixed. */
const VERSION = "llm-jp-eval-1.3.0+1";

export const jcommonsenseqaTask: EvalTask = makeLlmjpTask({
  name: "jcommonsenseqa",
  version: VERSION,
  displayName: "JCom.",
  metric: "exact_match",
  instruction:
    "質問と回答の選択肢を入力として受け取り、選択肢から回答を選択してください。なお、回答は選択肢の番号（例：0）でするものとします。 回答となる数値をint型で返し、他には何も含めないことを厳守してください。",
  outputLength: 1,
  numFewShots: 4,
  datasets: [JCOMMONSENSEQA_DATASET.name],
  preprocess: preprocessJcommonsenseqa,
});

export const jemhopqaTask: EvalTask = makeLlmjpTask({
  name: "jemhopqa",
  version: VERSION,
  displayName: "JEMHopQA",
  metric: "char_f1",
  instruction:
    "質問を入力とし、回答を出力してください。回答の他には何も含めないことを厳守してください。回答が'はい'と'いいえ'で答えることができる場合、'YES'と'NO'で答えてください。",
  outputLength: 15,
  numFewShots: 4,
  datasets: [JEMHOPQA_DATASET.name],
  preprocess: preprocessJemhopqa,
});

export const niilcTask: EvalTask = makeLlmjpTask({
  name: "niilc",
  version: VERSION,
  displayName: "NIILC",
  metric: "char_f1",
  instruction:
    "質問に対する答えを出力してください。回答の他には何も含めないことを厳守してください。答えが複数の場合、コンマ（,）で繋げてください。",
  outputLength: 180,
  numFewShots: 4,
  datasets: [NIILC_DATASET.name],
  preprocess: preprocessNiilc,
});

export const jsquadTask: EvalTask = makeLlmjpTask({
  name: "jsquad",
  version: VERSION,
  displayName: "JSQuAD",
  metric: "char_f1",
  instruction:
    "質問に対する回答を文章から一言で抽出してください。回答は名詞で答えてください。 それ以外には何も含めないことを厳守してください。",
  outputLength: 25,
  numFewShots: 4,
  datasets: [JSQUAD_DATASET.name],
  preprocess: preprocessJsquad,
});

/** Scored as the micro average over all test items (jmmlu_statistics.py's results.jmmlu = jmmlu_exact_match). */
export const jmmluTask: EvalTask = makeLlmjpTask({
  name: "jmmlu",
  version: VERSION,
  displayName: "JMMLU",
  metric: "exact_match",
  instruction:
    "与えられた質問と選択肢から、最も適切な回答を選択してください。なお、回答には選択肢のアルファベット（例：A）のみを含め、他には何も含めないことを厳守してください。",
  outputLength: 1,
  numFewShots: 5,
  datasets: [JMMLU_DATASET.name],
  preprocess: preprocessJmmlu,
});

export const llmjpTasks: EvalTask[] = [jcommonsenseqaTask, jemhopqaTask, niilcTask, jsquadTask, jmmluTask];
