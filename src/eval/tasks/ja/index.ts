/**
 * The Japanese tasks of the model card: llm-jp-eval v1.3.0 (JCommonsenseQA, JEMHopQA, NIILC, JSQuAD, JMMLU) and the
 * JP LM Evaluation Harness @9b42d41 (XL-Sum ja, MGSM ja, WMT20 en-ja / ja-en), with the datasets they read.
 * JHumanEval lives with the code tasks. `xlsum_ja` needs the evaluated model's tokenizer: call `setTokenizer` before `load` and `aggregate`.
 */
import type { DatasetSpec, EvalTask } from "../../types.js";
import { jaDatasets as datasets } from "./datasets.js";
import { llmjpTasks } from "./llmjp/tasks.js";
import { mgsmTask } from "./jpharness/mgsm.js";
import { xlsumJaTask } from "./jpharness/xlsum.js";
import { wmt20EnJaTask, wmt20JaEnTask } from "./jpharness/wmt20.js";

export const jaTasks: EvalTask[] = [...llmjpTasks, xlsumJaTask, mgsmTask, wmt20EnJaTask, wmt20JaEnTask];
export const jaDatasets: DatasetSpec[] = datasets;

export { jcommonsenseqaTask, jemhopqaTask, niilcTask, jsquadTask, jmmluTask } from "./llmjp/tasks.js";
export { createXlsumJaTask, xlsumJaTask, type TokenizerAwareTask, type XlsumTokenizer } from "./jpharness/xlsum.js";
export { mgsmTask, mgsmExtractAnswer } from "./jpharness/mgsm.js";
export { wmt20EnJaTask, wmt20JaEnTask } from "./jpharness/wmt20.js";
export { llmjpPrediction, llmjpGold } from "./llmjp/postprocess.js";
export { LLMJP_ADD_BOS } from "./llmjp/task.js";
export { JMMLU_SUBJECTS } from "./datasets.js";
