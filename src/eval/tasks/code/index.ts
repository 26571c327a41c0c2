// The code tasks and the datasets they read.

import type { DatasetSpec, EvalTask } from "../../types.js";
import { humanevalConfig, humanevalDataset } from "./humaneval.js";
import { jhumanevalConfig, jhumanevalDataset } from "./jhumaneval.js";
import { codeTask } from "./task.js";

export { codeTask, type CodeTaskConfig, type CodeTaskOptions } from "./task.js";
export { humanevalConfig, jhumanevalConfig };

/** HumanEval (en) and JHumanEval (ja), run in the process-wide sandbox; the sandbox is probed on first load. */
export const codeTasks: EvalTask[] = [codeTask(humanevalConfig), codeTask(jhumanevalConfig)];

export const codeDatasets: DatasetSpec[] = [humanevalDataset, jhumanevalDataset];
