// JHumanEval (Japanese table): HumanEval with hand-translated Japanese docstrings. Generation is bigcode's
// `jhumaneval-unstripped` (prompt = the Japanese `prompt` field, unstripped); evaluation is `humaneval-unstripped`
// on the saved generations, so the tests and entry points are openai_humaneval's, matched by index.

import type { DatasetSpec } from "../../types.js";
import { HUMANEVAL_DATASET, HUMANEVAL_FILE } from "./humaneval.js";
import { type CodeTaskConfig } from "./task.js";

export const JHUMANEVAL_DATASET = "jhumaneval";
export const JHUMANEVAL_FILE = "jhuman-eval.jsonl.gz";

/** KuramitsuLab/jhuman-eval at its last commit (2023-09-07); HF `kogi-jwu/jhumaneval`, which bigcode loads, is built from it. */
const COMMIT = "def32e75b363aa663d19c0f6d83ef300feeeea0e";

export const jhumanevalDataset: DatasetSpec = {
  name: JHUMANEVAL_DATASET,
  license: "MIT",
  homepage: "https://github.com/KuramitsuLab/jhuman-eval",
  files: [{ url: `https://github.com/KuramitsuLab/jhuman-eval/raw/${COMMIT}/data/${JHUMANEVAL_FILE}`, path: JHUMANEVAL_FILE }],
};

export const jhumanevalConfig: CodeTaskConfig = {
  name: "jhumaneval",
  version: "1",
  suite: "ja",
  displayName: "JHumanEval",
  prompts: { dataset: JHUMANEVAL_DATASET, file: JHUMANEVAL_FILE },
  tests: { dataset: HUMANEVAL_DATASET, file: HUMANEVAL_FILE },
};
