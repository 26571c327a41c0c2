// From a completion to the program the sandbox runs, as bigcode-evaluation-harness builds it:
//   postprocess_generation: prompt + _stop_at_stop_token(generation[len(prompt):], stop_words)
//   get_reference:          "\n" + test + "\n" + f"check({entry_point})"
//   compute_code_eval:      candidate + "\n" + reference

import type { CodeProblem } from "./problems.js";
import { STOP_WORDS } from "./settings.js";

/** `Task._stop_at_stop_token`: the text before the earliest occurrence of any stop word (all of it if none). */
export function stopAtStopWord(completion: string, stopWords: readonly string[] = STOP_WORDS): string {
  let cut = completion.length;
  for (const word of stopWords) {
    const at = completion.indexOf(word);
    if (at !== -1 && at < cut) cut = at;
  }
  return completion.slice(0, cut);
}

/**
 * The post-processed candidate: the prompt the model saw plus its completion cut at the first stop word.
 * Backends already cut at `until`; cutting again keeps the rule when one (or the EOS) did not.
 */
export function candidateProgram(prompt: string, completion: string): string {
  return prompt + stopAtStopWord(completion);
}

/** The reference the original pairs with each candidate (tests and the call of `check`). */
export function testReference(problem: Pick<CodeProblem, "test" | "entryPoint">): string {
  return "\n" + problem.test + "\n" + `check(${problem.entryPoint})`;
}

/** The complete program executed for one candidate. */
export function testProgram(candidate: string, problem: Pick<CodeProblem, "test" | "entryPoint">): string {
  return candidate + "\n" + testReference(problem);
}
