// Japanese MT-Bench (FastChat e86e70d0, Swallow's fork): answer generation, single-answer grading by an LLM judge,
// rating parse and show_result.py's 5-run aggregation. See shared/specs/eval.md §5.

import type { DatasetSpec, EvalTask } from "../../types.js";
import { mtbenchDataset } from "./dataset.js";
import { createMtbenchTasks } from "./task.js";

/** The eight category tasks (jmtbench_coding … jmtbench_writing) with the card's settings. */
export const mtbenchTasks: EvalTask[] = createMtbenchTasks();
export const mtbenchDatasets: DatasetSpec[] = [mtbenchDataset];

export { createMtbenchTask, createMtbenchTasks, judgmentRows, summarizeOutcomes, type MtbenchTaskOptions } from "./task.js";
export { japaneseCharRatio } from "./japanese-ratio.js";
export { summarizeJudgments, calculateAverages, type GroupSummary, type JudgmentRow } from "./aggregate.js";
export { parseRating, UNPARSED_RATING } from "../../metrics/mtbench-rating.js";
export type { AnswerFormat } from "./answers.js";
export type { MtbenchItemExtra } from "./item.js";
export { MTBENCH_DATASET_NAME } from "./dataset.js";
