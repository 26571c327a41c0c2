// HumanEval-format problems ({task_id, prompt, entry_point, canonical_solution, test}), the format of both
// openai/human-eval's HumanEval.jsonl.gz and JHumanEval (which adds `prompt_en`, the English docstring).

import { badDatasetFile, readJsonl } from "./jsonl.js";

export interface CodeProblem {
  taskId: string;
  /** Function signature and docstring, exactly as published (it ends with "\n"; the card's runs keep it). */
  prompt: string;
  entryPoint: string;
  /** The `check(candidate)` test code. */
  test: string;
  canonicalSolution: string;
  /** Where the problem came from, for error messages: "file:line". */
  source: string;
}

const REQUIRED = ["task_id", "prompt", "entry_point", "canonical_solution", "test"] as const;

/** Reads a HumanEval-format file in file order (the order the original evaluates and indexes by). */
export function readProblems(file: string, datasetName: string): CodeProblem[] {
  return readJsonl(file, datasetName).map(({ line, row }) => {
    for (const key of REQUIRED) {
      if (typeof row[key] !== "string") {
        throw badDatasetFile(`${file}:${line}`, `field "${key}" is missing or not a string`, datasetName);
      }
    }
    return {
      taskId: row.task_id as string,
      prompt: row.prompt as string,
      entryPoint: row.entry_point as string,
      test: row.test as string,
      canonicalSolution: row.canonical_solution as string,
      source: `${file}:${line}`,
    };
  });
}
