// HumanEval (English table): bigcode's `humaneval-unstripped` on openai_humaneval, 164 problems, pass@1 of 10 samples.

import type { DatasetSpec } from "../../types.js";
import { type CodeTaskConfig } from "./task.js";

export const HUMANEVAL_DATASET = "openai-humaneval";
export const HUMANEVAL_FILE = "HumanEval.jsonl.gz";

/** The file OpenAI published with the paper (the HF `openai_humaneval` test split bigcode loads has the same rows). */
export const humanevalDataset: DatasetSpec = {
  name: HUMANEVAL_DATASET,
  license: "MIT",
  homepage: "https://github.com/openai/human-eval",
  files: [{ url: `https://github.com/openai/human-eval/raw/master/data/${HUMANEVAL_FILE}`, path: HUMANEVAL_FILE }],
};

export const humanevalConfig: CodeTaskConfig = {
  name: "humaneval",
  version: "1",
  suite: "en",
  displayName: "HumanEval",
  prompts: { dataset: HUMANEVAL_DATASET, file: HUMANEVAL_FILE },
  tests: { dataset: HUMANEVAL_DATASET, file: HUMANEVAL_FILE },
};
