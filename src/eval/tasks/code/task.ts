// HumanEval-style tasks as declared data: which file gives the prompts, which gives the tests, and the shared
// generate → post-process → execute-in-sandbox → pass@1 pipeline of bigcode-evaluation-harness.

import path from "node:path";

import type { DatasetAccess, EvalItem, EvalModels, EvalTask, GenerateRequest, ItemOutcome, Suite } from "../../types.js";
import { passAtK } from "../../metrics/index.js";
import { defaultSandbox, type PythonSandbox } from "../../code/sandbox.js";
import { badDatasetFile } from "./jsonl.js";
import { type CodeProblem, readProblems } from "./problems.js";
import { candidateProgram, testProgram, testReference } from "./program.js";
import { ADD_BOS, MAX_LENGTH_TOKENS, N_SAMPLES, STOP_WORDS, TEMPERATURE, TOP_P } from "./settings.js";

/** A dataset file inside a registered dataset's directory. */
export interface DatasetFileRef {
  dataset: string;
  file: string;
}

export interface CodeTaskConfig {
  name: string;
  version: string;
  suite: Suite;
  displayName: string;
  /** The problems whose `prompt` the model completes (unstripped, as `*-unstripped` tasks do). */
  prompts: DatasetFileRef;
  /**
   * The problems whose `test`/`entry_point` are run, matched by index: Swallow evaluates JHumanEval generations
   * with the `humaneval-unstripped` task, i.e. with openai_humaneval's tests.
   */
  tests: DatasetFileRef;
}

export interface CodeTaskOptions {
  /** Where programs run (default: the process-wide sandbox). */
  sandbox?: () => PythonSandbox;
  /** Completions per problem (default 10, as the card's runs). */
  samples?: number;
}

export const PASS_AT_1 = "pass@1";

/** Builds a HumanEval-style EvalTask. */
export function codeTask(config: CodeTaskConfig, options: CodeTaskOptions = {}): EvalTask {
  const sandbox = options.sandbox ?? defaultSandbox;
  const samples = options.samples ?? N_SAMPLES;
  const datasets = [...new Set([config.prompts.dataset, config.tests.dataset])];
  return {
    name: config.name,
    version: config.version,
    suite: config.suite,
    displayName: config.displayName,
    metric: PASS_AT_1,
    datasets,
    async load(data, { limit }) {
      // Refuse before any model time is spent if generated code could not be run safely.
      await sandbox().ready();
      const pairs = pairProblems(data, config);
      const kept = limit === undefined ? pairs : pairs.slice(0, limit);
      return kept.map(([prompted, tested]) => problemItem(prompted, tested, samples, sandbox));
    },
    aggregate(outcomes) {
      // code_eval.py: estimate_pass_at_k(...).mean() over problems (NaN for none, as numpy's mean of nothing).
      return outcomes.reduce((sum, o) => sum + o.scores[PASS_AT_1], 0) / outcomes.length;
    },
  };
}

/** Reads prompts and tests and pairs them by index, checking that they describe the same functions. */
function pairProblems(data: DatasetAccess, config: CodeTaskConfig): [CodeProblem, CodeProblem][] {
  const read = (ref: DatasetFileRef) => readProblems(path.join(data.dir(ref.dataset), ref.file), ref.dataset);
  const prompted = read(config.prompts);
  const sameFile = config.prompts.dataset === config.tests.dataset && config.prompts.file === config.tests.file;
  const tested = sameFile ? prompted : read(config.tests);
  if (prompted.length !== tested.length) {
    const where = path.join(data.dir(config.prompts.dataset), config.prompts.file);
    throw badDatasetFile(where, `has ${prompted.length} problems but the tests file has ${tested.length}`, config.prompts.dataset);
  }
  return prompted.map((p, i) => {
    if (p.entryPoint !== tested[i].entryPoint) {
      const what = `entry_point "${p.entryPoint}" does not match "${tested[i].entryPoint}" at ${tested[i].source}`;
      throw badDatasetFile(p.source, what, config.prompts.dataset);
    }
    return [p, tested[i]];
  });
}

/** The sampling request for one completion; the seed differs per sample so memoised runs keep n distinct samples. */
export function sampleRequest(prompt: string, sample: number): GenerateRequest {
  return {
    kind: "generate",
    context: prompt,
    until: [...STOP_WORDS],
    maxTokens: MAX_LENGTH_TOKENS,
    addBos: ADD_BOS,
    temperature: TEMPERATURE,
    topP: TOP_P,
    seed: sample,
  };
}

function problemItem(prompted: CodeProblem, tested: CodeProblem, samples: number, sandbox: () => PythonSandbox): EvalItem {
  return {
    itemId: prompted.taskId,
    async run(models: EvalModels): Promise<ItemOutcome> {
      const requests = Array.from({ length: samples }, (_, i) => sampleRequest(prompted.prompt, i));
      const completions = await Promise.all(requests.map((r) => models.model.generateUntil(r)));
      const candidates = completions.map((c) => candidateProgram(prompted.prompt, c));
      const results = await Promise.all(candidates.map((c) => sandbox().run(testProgram(c, tested))));
      const correct = results.filter((r) => r.passed).length;
      return {
        itemId: prompted.taskId,
        scores: { [PASS_AT_1]: passAtK(samples, correct, 1) },
        prediction: candidates[0],
        gold: testReference(tested),
        extra: { n: samples, correct, candidates, results: results.map((r) => r.result) },
      };
    },
  };
}
