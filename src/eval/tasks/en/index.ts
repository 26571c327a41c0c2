/** The card's English tasks (lm-evaluation-harness v0.4.2 as swallow-evaluation ran it) and their datasets. */
import type { EvalTask } from "../../types.js";
import { bbhCotFewshot } from "./bbh.js";
import { gsm8k } from "./gsm8k.js";
import { hellaswag } from "./hellaswag.js";
import { mmlu } from "./mmlu.js";
import { openbookqa } from "./openbookqa.js";
import { squadv2 } from "./squadv2.js";
import { triviaqa } from "./triviaqa.js";
import { xwinogradEn } from "./xwinograd.js";

export { enDatasets } from "./datasets.js";
export { makeBbhTask } from "./bbh.js";
export { makeMmluTask } from "./mmlu.js";

/** In the card's column order (HumanEval, the ninth English column, is a code task). */
export const enTasks: EvalTask[] = [openbookqa, triviaqa, hellaswag, squadv2, xwinogradEn, mmlu, gsm8k, bbhCotFewshot];
