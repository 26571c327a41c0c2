/**
 * The evaluation harness's shared vocabulary (lm-evaluation-harness's split: task, backend and metric are
 * separate and joined by one request type). Tasks are declared, versioned data; backends answer requests
 * over text; metrics are registered by name.
 */

/** Score the log-likelihood of `continuation` after `context` (multiple choice, `acc`). */
export interface LoglikelihoodRequest {
  kind: "loglikelihood";
  context: string;
  continuation: string;
  /** Prepend the tokenizer's BOS token (lm-eval v0.4.2 and the JP harness: false). */
  addBos: boolean;
}

export interface LoglikelihoodResult {
  /** Sum of the continuation tokens' natural log-probs. */
  logprob: number;
  /** Whether every continuation token was the argmax (lm-eval's `is_greedy`). */
  isGreedy: boolean;
}

/** Greedy or sampled completion of a raw prompt (no chat template), cut at the first `until` string. */
export interface GenerateRequest {
  kind: "generate";
  context: string;
  /** Stop strings; the output is cut before the first occurrence of any of them. The model's EOS ids always stop. */
  until: string[];
  maxTokens: number;
  addBos: boolean;
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  seed?: number;
  /**
   * Keep only this many context tokens (left-truncation, as the JP harness and lm-eval do with
   * max_length − max_gen_toks). Absent = never truncate (a too-long prompt is an error).
   */
  maxContextTokens?: number;
}

export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A chat completion through the model's chat template (MT-Bench with `--chat-template`, the judge). */
export interface ChatRequest {
  kind: "chat";
  messages: ChatTurn[];
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
}

export type EvalRequest = LoglikelihoodRequest | GenerateRequest | ChatRequest;

/** Answers requests. Implementations: the in-process engine, any OpenAI-compatible endpoint, a fake for tests. */
export interface EvalBackend {
  /** Names the model in reports and in the result store's keys (e.g. the checkpoint dir or endpoint model name). */
  readonly id: string;
  loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult>;
  /** The generated text, already cut at the first `until` string (the stop string itself excluded). */
  generateUntil(request: GenerateRequest): Promise<string>;
  chat(request: ChatRequest): Promise<string>;
}

/** What one evaluated item produced: per-item metric values plus what the report and corpus metrics need. */
export interface ItemOutcome {
  /** Stable within the task (e.g. the dataset's id or index). */
  itemId: string;
  /** Per-item metric values by metric name (e.g. {"char_f1": 0.83}); corpus metrics leave it out. */
  scores: Record<string, number>;
  /** The post-processed prediction (what the metric compared), for reports and corpus metrics. */
  prediction: string;
  /** The gold answer(s) the metric compared against. */
  gold: string | string[];
  /** Anything else worth keeping (raw output, the chosen option, judge ratings, subject for group averages). */
  extra?: Record<string, unknown>;
}

/** Where a task runs its requests: the model under test, and the judge (MT-Bench only). */
export interface EvalModels {
  model: EvalBackend;
  judge?: EvalBackend;
}

/** One unit of work of a task (one test document, or one MT-Bench question with all its turns and runs). */
export interface EvalItem {
  itemId: string;
  /** Runs the item's requests (the backends memoise them in the result store, so a rerun is free) and scores it. */
  run(models: EvalModels): Promise<ItemOutcome>;
}

export type Suite = "ja" | "en" | "mtbench";

/** Reads dataset files from the local data directory (`swallow eval data download` fills it). */
export interface DatasetAccess {
  /** Absolute path of a dataset's directory; throws a SwallowError saying to run `swallow eval data download NAME` when absent. */
  dir(datasetName: string): string;
}

/** A benchmark as declared data: how to load it, build items, and aggregate to the number the model card reports. */
export interface EvalTask {
  /** Registry name, e.g. "jcommonsenseqa", "xlsum_ja", "mmlu", "jmtbench". */
  name: string;
  /** Bumped when prompts, few-shot rules, filters or metrics change, so stored results are never mixed. */
  version: string;
  suite: Suite;
  /** Column title in the model card's table, e.g. "JCom.", "XL-Sum", "HellaSwag". */
  displayName: string;
  /** The metric reported in the table, e.g. "llmjp.exact_match", "char_f1", "rouge2", "bleu", "acc", "pass@1". */
  metric: string;
  /** Dataset names (keys of the dataset registry) this task reads. */
  datasets: string[];
  /** Builds the task's items in evaluation order; `limit` keeps the first N after the framework's own ordering. */
  load(data: DatasetAccess, options: { limit?: number }): Promise<EvalItem[]>;
  /** The task's score on the 0–1 scale from its items' outcomes (mean, corpus BLEU, micro average, …). */
  aggregate(outcomes: ItemOutcome[]): number;
}

/** One file of a dataset as published at its original location. */
export interface DatasetFile {
  url: string;
  /** Where it is stored inside the dataset's directory (the original file name unless two collide). */
  path: string;
  /** For archives: unpack into the dataset directory after the download (the archive is kept for sha256 checks). */
  unpack?: "tar.gz" | "zip";
}

/** A dataset as the task modules declare it; `swallow eval data download` fetches, records sha256 on first download, verifies later. */
export interface DatasetSpec {
  /** Registry key and directory name, e.g. "jcommonsenseqa-1.1". */
  name: string;
  /** Licence as the publisher states it, e.g. "CC BY-SA 4.0"; printed on download. */
  license: string;
  /** Human-readable origin (paper or repository URL). */
  homepage: string;
  files: DatasetFile[];
}
