import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SwallowError } from "../../src/errors.js";
import type { GenerationEvent } from "../../src/engine/generate.js";
import {
  EngineBusyError,
  type EngineRequest,
  type EngineStats,
  type InferenceEngine,
  type PromptTokenLogprob,
} from "../../src/engine/request.js";
import { resolveSamplingParams, type SamplingParams, type TokenLogprob } from "../../src/engine/sampler.js";
import { StopStringMatcher } from "../../src/engine/stop-strings.js";
import type { ServedModel } from "../../src/server/served-model.js";
import { renderChatTemplate, type ChatMessage } from "../../src/tokenizer/chat-template.js";
import { IncrementalDecoder } from "../../src/tokenizer/incremental-decoder.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { fixturesDir } from "./paths.js";

/** The answer the fake gives unless told otherwise: Japanese, emoji (a 4-byte character split over tokens) and ASCII. */
export const DEFAULT_REPLY = "こんにちは、世界！🌸🦙 Swallow です。";

/** The tiny checkpoint's EOS ids (fixtures/tiny/gqa-llama3/config.json). */
export const FAKE_EOS_IDS = [1025, 1032, 1033];

export interface FakeEngineOptions {
  maxModelLen?: number;
  /** The text a request answers (encoded without BOS and streamed token by token). */
  reply?: (request: EngineRequest) => string;
  /** Wait between tokens (default 0: one macrotask). */
  stepDelayMs?: number;
  /** Requests running at once before submit throws EngineBusyError (default unlimited). */
  maxActive?: number;
}

/**
 * A deterministic {@link InferenceEngine} for server tests: streams the tokens of a fixed reply through the real
 * incremental decoder and stop-string matcher, with log-probs from simple formulas tests can recompute:
 * sampled token t has log-prob {@link fakeLogprob}(t), its alternatives {@link fakeTopLogprobs}; prompt token p
 * (after the first) has {@link fakePromptLogprob}(p).
 */
export class FakeEngine implements InferenceEngine {
  readonly vocabSize: number;
  readonly maxModelLen: number;
  readonly submitted: EngineRequest[] = [];
  /** Requests that ended because their signal was aborted. */
  aborted = 0;
  /** Requests whose stream ended (the real engine frees KV blocks at this point). */
  released = 0;
  active = 0;
  closed = false;
  private readonly controllers = new Set<AbortController>();
  private readonly stats_ = { promptTokensTotal: 0, generationTokensTotal: 0, requestsFinishedTotal: 0 };

  constructor(
    readonly tokenizer: Tokenizer,
    private readonly options: FakeEngineOptions = {},
  ) {
    this.vocabSize = tokenizer.vocabSize;
    this.maxModelLen = options.maxModelLen ?? 256;
  }

  submit(request: EngineRequest): AsyncGenerator<GenerationEvent> {
    if (this.closed) throw new SwallowError("the engine is closed");
    if (this.active >= (this.options.maxActive ?? Infinity)) throw new EngineBusyError(this.active, 2);
    if (request.promptIds.length === 0) throw new SwallowError("the prompt is empty: give at least one token");
    if (request.promptIds.length >= this.maxModelLen)
      throw new SwallowError(`the prompt has ${request.promptIds.length} tokens but the model length is ${this.maxModelLen}`);
    this.submitted.push(request);
    this.active++;
    return this.run(request);
  }

  private async *run(request: EngineRequest): AsyncGenerator<GenerationEvent> {
    const own = new AbortController();
    this.controllers.add(own);
    const { params } = request;
    const aborted = () => own.signal.aborted || request.signal?.aborted === true;
    const reply = this.tokenizer.encode((this.options.reply ?? (() => DEFAULT_REPLY))(request), { addBos: false });
    const decoder = new IncrementalDecoder(this.tokenizer, { skipSpecialTokens: true });
    const stops = new StopStringMatcher(params.stop);
    const rest = () => stops.push(decoder.flush()).text + stops.flush();
    let promptLogprobs: PromptTokenLogprob[] | undefined;
    if (request.promptLogprobs != null) {
      const top = request.promptLogprobs;
      promptLogprobs = request.promptIds.map((tokenId, i) =>
        i === 0
          ? { tokenId, logprob: null, topLogprobs: [] }
          : {
              tokenId,
              logprob: fakePromptLogprob(tokenId),
              topLogprobs: fakeTopLogprobs(tokenId, top, this.vocabSize),
              rank: fakePromptRank(tokenId),
            },
      );
    }
    this.stats_.promptTokensTotal += request.promptIds.length;
    try {
      if (params.maxTokens === 0) {
        yield { tokenId: null, text: "", logprob: null, topLogprobs: [], finishReason: "length", promptLogprobs };
        return;
      }
      for (let step = 0; ; step++) {
        await new Promise((resolve) => setTimeout(resolve, this.options.stepDelayMs ?? 0));
        if (aborted()) {
          this.aborted++;
          yield { tokenId: null, text: "", logprob: null, topLogprobs: [], finishReason: "abort" };
          return;
        }
        const atEnd = step >= reply.length && params.stopTokenIds.length > 0;
        const tokenId = atEnd ? params.stopTokenIds[0] : reply[step % reply.length];
        this.stats_.generationTokensTotal++;
        const event: GenerationEvent = {
          tokenId,
          text: "",
          logprob: fakeLogprob(tokenId),
          topLogprobs: fakeTopLogprobs(tokenId, params.logprobs, this.vocabSize),
          ...(step === 0 && promptLogprobs ? { promptLogprobs } : {}),
        };
        if (atEnd) {
          yield { ...event, text: rest(), finishReason: "stop", stoppedBy: tokenId };
          return;
        }
        const matched = stops.push(decoder.push(tokenId));
        event.text = matched.text;
        if (matched.stop !== null) {
          yield { ...event, finishReason: "stop", stoppedBy: matched.stop };
          return;
        }
        if (step + 1 >= params.maxTokens || request.promptIds.length + step + 1 >= this.maxModelLen) {
          yield { ...event, text: event.text + rest(), finishReason: "length" };
          return;
        }
        yield event;
      }
    } finally {
      this.controllers.delete(own);
      this.active--;
      this.released++;
      this.stats_.requestsFinishedTotal++;
    }
  }

  stats(): EngineStats {
    return {
      running: this.active,
      waiting: 0,
      kvBlocksTotal: 64,
      kvBlocksUsed: this.active,
      prefixCacheHitTokensTotal: 0,
      preemptionsTotal: 0,
      ...this.stats_,
    };
  }

  async close(options: { abortRunning?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (options.abortRunning) for (const c of this.controllers) c.abort();
  }
}

/** The fake's log-prob of a sampled token. */
export function fakeLogprob(tokenId: number): number {
  return -0.125 * (1 + (tokenId % 5));
}

/** The fake's log-prob of a prompt token (not the first). */
export function fakePromptLogprob(tokenId: number): number {
  return -0.5 - 0.25 * (tokenId % 3);
}

/** The fake's rank of a prompt token (not the first): 2 where its log-prob (−1) ties the first alternative's, else 1. */
export function fakePromptRank(tokenId: number): number {
  return tokenId % 3 === 2 ? 2 : 1;
}

/** The fake's `count` most likely alternatives: the next ids after `tokenId`, log-probs -1, -2, … */
export function fakeTopLogprobs(tokenId: number, count: number, vocabSize: number): TokenLogprob[] {
  return Array.from({ length: count }, (_, j) => ({ tokenId: (tokenId + 1 + j) % vocabSize, logprob: -1 - j }));
}

/** A Llama-3.1-like template that renders `tools` (enough to check they reach the template). */
export const TOOL_TEMPLATE = `{{- bos_token }}{%- if tools is not none %}{{- '<|start_header_id|>system<|end_header_id|>\\n\\nEnvironment: ipython\\n' + (tools | tojson) + '<|eot_id|>' }}{%- endif %}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}`;

/** The tiny checkpoint's template (no tool support). */
export const PLAIN_TEMPLATE = `{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}`;

export async function tinyTokenizer(): Promise<Tokenizer> {
  return Tokenizer.fromJson(await readFile(join(fixturesDir, "tiny", "gqa-llama3", "tokenizer.json"), "utf8"));
}

/** A {@link ServedModel} over the fake engine, with the tiny checkpoint's tokenizer and generation_config (temperature 0.6, top-p 0.9). */
export function fakeServedModel(
  tokenizer: Tokenizer,
  engine: InferenceEngine,
  template: string | null = PLAIN_TEMPLATE,
): ServedModel & { calls: { tools?: unknown[] }[] } {
  const calls: { tools?: unknown[] }[] = [];
  return {
    engine,
    tokenizer,
    calls,
    resolveSampling: (user: Partial<SamplingParams> = {}) =>
      resolveSamplingParams(
        user,
        { temperature: 0.6, topP: 0.9, eosTokenIds: FAKE_EOS_IDS },
        { configEosTokenIds: FAKE_EOS_IDS, defaultMaxTokens: engine.maxModelLen },
      ),
    encodeChat(
      messages: ChatMessage[],
      options: {
        addGenerationPrompt?: boolean;
        tools?: unknown[];
        continueFinalMessage?: boolean;
        templateVariables?: Record<string, unknown>;
      } = {},
    ) {
      if (!template) throw new SwallowError("this model has no chat_template");
      calls.push({ tools: options.tools });
      const text = renderChatTemplate(template, messages, {
        addGenerationPrompt: options.addGenerationPrompt ?? true,
        continueFinalMessage: options.continueFinalMessage,
        tools: options.tools,
        bosToken: "<|begin_of_text|>",
        extra: options.templateVariables,
      });
      return tokenizer.encode(text, { addBos: false });
    },
    hasChatTemplate: template !== null,
    chatTemplateSource: template,
  };
}
