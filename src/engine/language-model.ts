import type { Backend } from "../gpu/backend.js";
import type { FileTree } from "../model/byte-source.js";
import { openCheckpoint } from "../model/checkpoint.js";
import { LlamaModel, type LoadProgress, type TensorSource } from "../model/llama.js";
import type { GenerationDefaults, ModelSpec } from "../model/spec.js";
import { parseTokenizerConfig, renderChatTemplate, type ChatMessage } from "../tokenizer/chat-template.js";
import { loadTokenizer, type Tokenizer } from "../tokenizer/tokenizer.js";
import { SwallowError } from "../errors.js";
import { ModelRunner } from "./runner.js";
import { Engine } from "./engine.js";
import type { GenerateOptions, GenerationEvent } from "./generate.js";
import type { InferenceEngine } from "./request.js";
import { resolveSamplingParams, type SamplingParams } from "./sampler.js";
import {
  accountMemory,
  formatBytes,
  kvBytesPerToken,
  kvCacheBlocks,
  kvTokensForBytes,
  matmulWeightShapes,
  type MemoryAccount,
} from "./memory-account.js";

export interface LoadOptions {
  backend: Backend;
  /** Longest prompt + output in tokens (default: the model's max_position_embeddings, capped at 8192). */
  maxModelLen?: number;
  onProgress?: (progress: LoadProgress) => void;
  /** Most requests running at once (the server's --max-num-seqs). Default 1 (a CLI or library user). */
  maxNumSeqs?: number;
  /**
   * KV cache size in tokens, all requests together. Default maxModelLen × maxNumSeqs, capped at 131,072 above one
   * sequence, and shrunk to what the device holds beside the weights and activations where the backend can tell
   * (Backend.allocateKvCache; onNotice says so). A size given here or as kvCacheBytes fits or is refused.
   */
  kvCacheTokens?: number;
  /**
   * KV cache size in bytes instead (vLLM's --kv-cache-memory-bytes), turned into whole blocks of this model's KV
   * rows in the backend's cache precision; at least one --max-model-len sequence. kvCacheTokens wins when both are given.
   * WebGPU cannot report a GPU's memory, so the default stays the token cap above; this lets a server use its GPU.
   */
  kvCacheBytes?: number;
  /** Most tokens per forward pass (prefill chunk plus decode tokens). Default: the backend's preferredBatchTokens, else 512. */
  maxBatchTokens?: number;
  /** Share KV blocks of identical prompt prefixes between requests. Default true. */
  prefixCaching?: boolean;
  /** Receives the GPU memory the model will hold, before any weight is uploaded. */
  onMemoryAccount?: (account: MemoryAccount) => void;
  /** Receives what a user should know about the load, one line each (e.g. a default KV cache shrunk to fit the GPU). */
  onNotice?: (message: string) => void;
}

/** Tokens per KV cache block (vLLM's default). */
const KV_BLOCK_SIZE = 16;

/** Default KV cache ceiling when many sequences are allowed: 2^17 tokens (16 GiB of f16 KV for Llama-3.1-8B). */
const DEFAULT_KV_CACHE_TOKENS_CAP = 131_072;

/** Left free beyond the activations' bound when the KV cache is fitted: the runtime's own buffers (pipelines, readback). */
const KV_FIT_MARGIN_BYTES = 512 * 2 ** 20;

export interface EncodeChatOptions {
  /** Append the header that opens the assistant's turn (default true). */
  addGenerationPrompt?: boolean;
  /** OpenAI-style tool definitions passed to the template as `tools`. */
  tools?: unknown[];
  /** Leave the final message open so generation continues it (needs addGenerationPrompt false; renderChatTemplate). */
  continueFinalMessage?: boolean;
  /** More template variables, after the others (vLLM's `chat_template_kwargs`, e.g. `date_string`). */
  templateVariables?: Record<string, unknown>;
}

/** A loaded checkpoint: weights on a backend, its tokenizer, chat template and generation defaults. */
export class LanguageModel {
  private constructor(
    readonly spec: ModelSpec,
    readonly generation: GenerationDefaults | null,
    readonly tokenizer: Tokenizer,
    readonly runner: ModelRunner,
    /** The step loop every generation goes through (continuous batching; the server submits to it directly). */
    readonly engine: InferenceEngine,
    private readonly chatTemplate: string | null,
    private readonly specialTokens: { bosToken?: string; eosToken?: string; source?: string },
    /** tokenizer_config.json's `clean_up_tokenization_spaces` (the evaluation backends decode as transformers 4.x did). */
    readonly cleanUpTokenizationSpaces = false,
  ) {}

  /**
   * A model from weights that are not a checkpoint directory (synthetic weights for `swallow bench --shape`):
   * no chat template, no generation_config.
   */
  static async fromWeights(spec: ModelSpec, weights: TensorSource, tokenizer: Tokenizer, options: LoadOptions): Promise<LanguageModel> {
    const { runner, engine } = await LanguageModel.buildEngine(spec, weights, tokenizer, options);
    return new LanguageModel(spec, null, tokenizer, runner, engine, null, {});
  }

  private static async buildEngine(spec: ModelSpec, weights: TensorSource, tokenizer: Tokenizer, options: LoadOptions) {
    const maxModelLen = Math.min(options.maxModelLen ?? 8192, spec.maxPositionEmbeddings);
    const maxNumSeqs = options.maxNumSeqs ?? 1;
    const blockSize = KV_BLOCK_SIZE;
    const kvCacheTokens =
      options.kvCacheTokens ??
      (options.kvCacheBytes !== undefined
        ? kvTokensForBytes(spec, options.kvCacheBytes, options.backend.kvBytesPerValue, blockSize, maxModelLen)
        : Math.max(maxModelLen, Math.min(maxModelLen * maxNumSeqs, DEFAULT_KV_CACHE_TOKENS_CAP)));
    const maxBatchTokens = options.maxBatchTokens ?? options.backend.preferredBatchTokens ?? 512;
    // A default-sized cache shrinks to what the device holds beside the weights and activations; a size given is kept.
    const shrink = options.kvCacheTokens === undefined && options.kvCacheBytes === undefined;
    const asked = accountMemory(spec, (name, shape) => weights.tensorByteLength?.(name) ?? shape.reduce((a, b) => a * b, 1) * 2, {
      numBlocks: kvCacheBlocks(maxModelLen, kvCacheTokens, blockSize),
      blockSize,
      kvBytesPerValue: options.backend.kvBytesPerValue,
      maxBatchTokens,
      matmulScratchBytes: options.backend.matmulScratchBytes?.(matmulWeightShapes(spec), maxBatchTokens),
      // Every row of a step may be a long one: decode rows sharing one long prompt's blocks (prefix caching), or a
      // long prompt's rows where every row takes the per-row kernel (batch-invariant).
      attentionScratchBytes: options.backend.attentionScratchBytes?.(spec.numHeads, spec.headDim, maxBatchTokens, maxModelLen),
    });
    // Only a backend that can tell whether a cache fits (allocateKvCache) fits it; the others allocate what is asked.
    const account = { ...asked, kvCacheFitted: shrink && options.backend.allocateKvCache !== undefined };
    options.onMemoryAccount?.(account);
    const model = await LlamaModel.load(spec, weights, options.backend, options.onProgress);
    const runner = await ModelRunner.create(
      model,
      { maxModelLen, kvCacheTokens, maxBatchTokens, blockSize },
      {
        reserveBytes: account.activationBytes + KV_FIT_MARGIN_BYTES,
        shrink,
      },
    );
    const heldTokens = runner.allocator.numBlocks * blockSize;
    if (heldTokens < account.kvCacheTokens) {
      options.onNotice?.(
        `memory: the default KV cache of ${account.kvCacheTokens.toLocaleString("en-US")} tokens does not fit beside the weights on ${options.backend.name}; ` +
          `it holds ${heldTokens.toLocaleString("en-US")} tokens (${formatBytes(heldTokens * kvBytesPerToken(spec, options.backend.kvBytesPerValue))}) instead (--kv-cache-memory-bytes sets its size)`,
      );
    }
    const engine = new Engine(runner, tokenizer, { maxNumSeqs, prefixCaching: options.prefixCaching });
    return { runner, engine };
  }

  static async load(files: FileTree, options: LoadOptions): Promise<LanguageModel> {
    const tokenizer = await loadTokenizer(files);
    const config = (await files.exists("tokenizer_config.json"))
      ? parseTokenizerConfig(await files.readText("tokenizer_config.json"), `${files.location}/tokenizer_config.json`)
      : null;
    // Newer transformers save the template beside the config as chat_template.jinja.
    const chatTemplate =
      config?.chatTemplate ?? ((await files.exists("chat_template.jinja")) ? await files.readText("chat_template.jinja") : null);
    const checkpoint = await openCheckpoint(files);
    try {
      if (tokenizer.vocabSize > checkpoint.spec.vocabSize) {
        throw new SwallowError(
          `${files.location}: tokenizer.json has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${checkpoint.spec.vocabSize}; the tokenizer does not belong to this model`,
        );
      }
      const { runner, engine } = await LanguageModel.buildEngine(checkpoint.spec, checkpoint, tokenizer, options);
      return new LanguageModel(
        checkpoint.spec,
        checkpoint.generation,
        tokenizer,
        runner,
        engine,
        chatTemplate,
        {
          bosToken: config?.bosToken ?? undefined,
          eosToken: config?.eosToken ?? undefined,
          source: `${files.location}/tokenizer_config.json`,
        },
        config?.cleanUpTokenizationSpaces ?? false,
      );
    } finally {
      await checkpoint.close();
    }
  }

  /**
   * Completes sampling settings as vLLM does: the caller's values, else generation_config.json's (Swallow:
   * temperature 0.6, top-p 0.9), else vLLM's defaults; stop ids include every EOS id of both configs.
   * Without max_tokens, generation runs until a stop or the model length.
   */
  resolveSampling(user: Partial<SamplingParams> = {}): SamplingParams {
    return resolveSamplingParams(user, this.generation, {
      configEosTokenIds: this.spec.eosTokenIds,
      defaultMaxTokens: this.runner.maxModelLen,
    });
  }

  /** Streams a completion of `promptIds` (see engine/generate.ts for the events). */
  generate(
    promptIds: readonly number[],
    params: SamplingParams = this.resolveSampling(),
    options: GenerateOptions = {},
  ): AsyncGenerator<GenerationEvent> {
    return this.engine.submit({ promptIds, params, signal: options.signal });
  }

  /** The chat template's source, or null when the checkpoint has none. */
  get chatTemplateSource(): string | null {
    return this.chatTemplate;
  }

  /** Streams the assistant's answer to `messages`, rendered with the checkpoint's chat template. */
  chat(messages: ChatMessage[], params: Partial<SamplingParams> = {}, options: GenerateOptions = {}): AsyncGenerator<GenerationEvent> {
    return this.generate(this.encodeChat(messages), this.resolveSampling(params), options);
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  /** Renders messages with the checkpoint's chat template and tokenizes the result (no extra BOS). */
  encodeChat(messages: ChatMessage[], options: EncodeChatOptions = {}): number[] {
    const addGenerationPrompt = options.addGenerationPrompt ?? true;
    if (!this.chatTemplate) {
      throw new SwallowError("this model has no chat_template in tokenizer_config.json; use --prompt instead of chat messages");
    }
    const text = renderChatTemplate(this.chatTemplate, messages, {
      addGenerationPrompt,
      continueFinalMessage: options.continueFinalMessage,
      tools: options.tools,
      ...this.specialTokens,
      ...(options.templateVariables ? { extra: options.templateVariables } : {}),
    });
    return this.tokenizer.encode(text, { addBos: false });
  }
}
