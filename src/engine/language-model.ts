import type { Backend } from "../gpu/backend.js";
import type { FileTree } from "../model/byte-source.js";
import { openCheckpoint } from "../model/checkpoint.js";
import { LlamaModel, type LoadProgress } from "../model/llama.js";
import type { GenerationDefaults, ModelSpec } from "../model/spec.js";
import { parseTokenizerConfig, renderChatTemplate, type ChatMessage } from "../tokenizer/chat-template.js";
import { loadTokenizer, type Tokenizer } from "../tokenizer/tokenizer.js";
import { SwallowError } from "../errors.js";
import { ModelRunner } from "./runner.js";
import { generate, type GenerateOptions, type GenerationEvent } from "./generate.js";
import { resolveSamplingParams, Sampler, type SamplingParams } from "./sampler.js";

export interface LoadOptions {
  backend: Backend;
  /** Longest prompt + output in tokens (default: the model's max_position_embeddings, capped at 8192). */
  maxModelLen?: number;
  onProgress?: (progress: LoadProgress) => void;
}

/** A loaded checkpoint: weights on a backend, its tokenizer, chat template and generation defaults. */
export class LanguageModel {
  private constructor(
    readonly spec: ModelSpec,
    readonly generation: GenerationDefaults | null,
    readonly tokenizer: Tokenizer,
    readonly runner: ModelRunner,
    private readonly chatTemplate: string | null,
    private readonly specialTokens: { bosToken?: string; eosToken?: string; source?: string },
  ) {}

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
      const model = await LlamaModel.load(checkpoint.spec, checkpoint, options.backend, options.onProgress);
      const maxModelLen = options.maxModelLen ?? Math.min(checkpoint.spec.maxPositionEmbeddings, 8192);
      return new LanguageModel(checkpoint.spec, checkpoint.generation, tokenizer, new ModelRunner(model, { maxModelLen }), chatTemplate, {
        bosToken: config?.bosToken ?? undefined,
        eosToken: config?.eosToken ?? undefined,
        source: `${files.location}/tokenizer_config.json`,
      });
    } finally {
      await checkpoint.close();
    }
  }

  private readonly sampler = new Sampler();

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
    return generate(this.runner, this.tokenizer, promptIds, params, { sampler: this.sampler, ...options });
  }

  /** Streams the assistant's answer to `messages`, rendered with the checkpoint's chat template. */
  chat(messages: ChatMessage[], params: Partial<SamplingParams> = {}, options: GenerateOptions = {}): AsyncGenerator<GenerationEvent> {
    return this.generate(this.encodeChat(messages), this.resolveSampling(params), options);
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  /** Renders messages with the checkpoint's chat template and tokenizes the result (no extra BOS). */
  encodeChat(messages: ChatMessage[], addGenerationPrompt = true): number[] {
    if (!this.chatTemplate) {
      throw new SwallowError("this model has no chat_template in tokenizer_config.json; use --prompt instead of chat messages");
    }
    const text = renderChatTemplate(this.chatTemplate, messages, { addGenerationPrompt, ...this.specialTokens });
    return this.tokenizer.encode(text, { addBos: false });
  }
}
