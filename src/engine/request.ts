import type { TokenConstraint } from "./constraint.js";
import type { GenerationEvent } from "./generate.js";
import type { SamplingParams, TokenLogprob } from "./sampler.js";

/** One generation request as the engine sees it: token ids in, a stream of {@link GenerationEvent}s out. */
export interface EngineRequest {
  promptIds: readonly number[];
  /** Fully resolved sampling settings (LanguageModel.resolveSampling). `maxTokens` 0 is allowed with `promptLogprobs`. */
  params: SamplingParams;
  /**
   * Log-probs of the prompt's own tokens (OpenAI completions `echo` + `logprobs`): the number of most likely
   * alternatives to report per position (0 = only the prompt token's own). Absent or null = not computed.
   */
  promptLogprobs?: number | null;
  /** Restricts which tokens may be sampled (JSON mode/schema). */
  constraint?: TokenConstraint;
  /** Aborting ends the stream with finishReason "abort" and frees the request's KV blocks at once. */
  signal?: AbortSignal;
}

/** One prompt position's log-prob; the first prompt token has none (logprob null), as in vLLM. */
export interface PromptTokenLogprob {
  tokenId: number;
  logprob: number | null;
  topLogprobs: TokenLogprob[];
  /** 1-based rank of the token in its position's distribution (vLLM's `rank`: tokens as likely or likelier); absent for the first token. */
  rank?: number;
}

/** Counters and gauges for /metrics and load decisions. */
export interface EngineStats {
  /** Requests with KV blocks (prefilling or decoding). */
  running: number;
  /** Requests admitted to the queue but not yet scheduled (including preempted ones). */
  waiting: number;
  kvBlocksTotal: number;
  kvBlocksUsed: number;
  promptTokensTotal: number;
  generationTokensTotal: number;
  /** Prompt tokens whose KV came from the prefix cache instead of a forward pass. */
  prefixCacheHitTokensTotal: number;
  preemptionsTotal: number;
  requestsFinishedTotal: number;
}

/** What one forward pass holds: rows of one token (decode) and the tokens of longer chunks (prompts). */
export interface StepShape {
  decodeRows: number;
  prefillTokens: number;
}

/** The engine the server, the CLI and the evaluation harness drive; no HTTP inside. */
export interface InferenceEngine {
  /** Longest prompt + output in tokens. */
  readonly maxModelLen: number;
  readonly vocabSize: number;
  /**
   * Queues a request and streams its events. Events as in engine/generate.ts; when `promptLogprobs` was asked
   * for, the first event carries `promptLogprobs`. Throws {@link EngineBusyError} at once when the waiting
   * queue is full, and a SwallowError for an empty prompt, one that does not fit `maxModelLen`, or bad token ids.
   */
  submit(request: EngineRequest): AsyncGenerator<GenerationEvent>;
  stats(): EngineStats;
  /** Zeroes the running totals of stats() (after a warm-up, before a server counts its traffic). */
  resetCounters?(): void;
  /**
   * Calls `observer` with each step's shape as the step is sent to the device, in launch order (benchmarks pair
   * them with the backend's step timings); null stops it.
   */
  observeSteps?(observer: ((step: StepShape) => void) | null): void;
  /** Stops taking requests; `abortRunning` ends the running ones with "abort", otherwise they finish first. */
  close(options?: { abortRunning?: boolean }): Promise<void>;
}

/** The waiting queue is full; the caller should retry later (HTTP 429 with Retry-After). */
export class EngineBusyError extends Error {
  constructor(
    readonly waiting: number,
    readonly retryAfterSeconds = 1,
  ) {
    super(`the server is busy: ${waiting} requests are already waiting; retry in ${retryAfterSeconds} s`);
    this.name = "EngineBusyError";
  }
}
