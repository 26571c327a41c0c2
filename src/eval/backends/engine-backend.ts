/**
 * The in-process engine as an evaluation backend: log-likelihoods from the engine's prompt log-probs
 * (`maxTokens` 0), generation with stop strings, chat through the model's chat template.
 */
import { cleanUpTokenizationSpaces } from "../../tokenizer/clean-up.js";
import { SwallowError } from "../../errors.js";
import { EngineBusyError, type InferenceEngine, type PromptTokenLogprob } from "../../engine/request.js";
import { VLLM_SAMPLING_DEFAULTS, type SamplingParams } from "../../engine/sampler.js";
import type { ChatRequest, EvalBackend, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../types.js";
import { sleep } from "./limiter.js";
import { cutAtStops, encodeGenerationPrompt, encodePair, fitPairToLength, type PairTokenizer } from "./tokenize-pair.js";

/** What the backend needs of the model; src/engine/language-model.ts's LanguageModel has all of it. */
export interface EngineModel {
  readonly tokenizer: PairTokenizer;
  readonly engine: InferenceEngine;
  /** Fills the sampling settings not given (stop token ids from the checkpoint's EOS ids). */
  resolveSampling(user: Partial<SamplingParams>): SamplingParams;
  encodeChat(messages: { role: string; content: string }[]): number[];
  /** tokenizer_config.json's clean_up_tokenization_spaces: generated text is cleaned up as transformers 4.x decoded it. */
  readonly cleanUpTokenizationSpaces?: boolean;
}

export interface EngineBackendOptions {
  /** Names the model in reports and result-store keys (e.g. the checkpoint directory). */
  id: string;
  /** How often a full waiting queue (EngineBusyError) is retried before giving up. Default 1000. */
  busyRetries?: number;
}

export class EngineBackend implements EvalBackend {
  readonly id: string;
  private readonly busyRetries: number;

  constructor(
    private readonly model: EngineModel,
    options: EngineBackendOptions,
  ) {
    this.id = options.id;
    this.busyRetries = options.busyRetries ?? 1000;
  }

  async loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    const pair = encodePair(this.model.tokenizer, request.context, request.continuation, request.addBos);
    // Like lm-eval, keep the window's right end: drop context tokens from the left until the prompt fits the model.
    const { contextIds, continuationIds } = fitPairToLength(pair, this.model.engine.maxModelLen);
    const promptIds = [...contextIds, ...continuationIds];
    const params = this.params({ maxTokens: 0, temperature: 0 });
    let logprobs: PromptTokenLogprob[] | undefined;
    await this.drain(promptIds, params, 1, (event) => (logprobs ??= event.promptLogprobs));
    if (!logprobs || logprobs.length !== promptIds.length) {
      throw new SwallowError(`the engine returned ${logprobs?.length ?? 0} prompt log-probs for a ${promptIds.length}-token prompt`);
    }
    return scoreContinuation(logprobs.slice(contextIds.length));
  }

  async generateUntil(request: GenerateRequest): Promise<string> {
    const promptIds = encodeGenerationPrompt(this.model.tokenizer, request.context, request.addBos, request.maxContextTokens);
    const params = this.params({
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      topP: request.topP,
      seed: request.seed,
      stop: request.until,
    });
    let text = "";
    await this.drain(promptIds, params, null, (event) => (text += event.text));
    const cut = cutAtStops(text, request.until);
    // The harnesses decoded with transformers 4.x, which cleaned up spaces when the tokenizer config asked for it.
    return this.model.cleanUpTokenizationSpaces ? cleanUpTokenizationSpaces(cut) : cut;
  }

  async chat(request: ChatRequest): Promise<string> {
    const promptIds = this.model.encodeChat(request.messages);
    const params = this.params({ maxTokens: request.maxTokens, temperature: request.temperature, topP: request.topP, seed: request.seed });
    let text = "";
    await this.drain(promptIds, params, null, (event) => (text += event.text));
    return text;
  }

  /** Evaluation settings are explicit: the checkpoint's generation_config defaults (e.g. top-p 0.9) must not leak in. */
  private params(user: Partial<SamplingParams>): SamplingParams {
    const defined = Object.fromEntries(Object.entries(user).filter(([, v]) => v !== undefined));
    return this.model.resolveSampling({ ...VLLM_SAMPLING_DEFAULTS, stop: [], ...defined });
  }

  /** Runs one request to its end, waiting and retrying while the engine's queue is full. */
  private async drain(
    promptIds: number[],
    params: SamplingParams,
    promptLogprobs: number | null,
    onEvent: (event: { text: string; promptLogprobs?: PromptTokenLogprob[] }) => void,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const event of this.model.engine.submit({ promptIds, params, promptLogprobs })) onEvent(event);
        return;
      } catch (error) {
        if (!(error instanceof EngineBusyError) || attempt >= this.busyRetries) throw error;
        await sleep(Math.min(1000, 10 * 2 ** attempt));
      }
    }
  }
}

/** Sum of the continuation's log-probs and lm-eval's `is_greedy` (each token was the most likely one). */
export function scoreContinuation(positions: readonly PromptTokenLogprob[]): LoglikelihoodResult {
  let logprob = 0;
  let isGreedy = true;
  for (const p of positions) {
    if (p.logprob === null) throw new SwallowError("the engine gave no log-prob for a continuation token (it was the first prompt token)");
    logprob += p.logprob;
    const top = p.topLogprobs[0];
    if (top && top.tokenId !== p.tokenId && top.logprob > p.logprob) isGreedy = false;
  }
  return { logprob, isGreedy };
}
