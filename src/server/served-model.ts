import type { InferenceEngine } from "../engine/request.js";
import type { SamplingParams } from "../engine/sampler.js";
import type { EncodeChatOptions } from "../engine/language-model.js";
import type { ChatMessage } from "../tokenizer/chat-template.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";

/**
 * What the server needs from a loaded model. `LanguageModel` (engine/language-model.ts) satisfies it
 * structurally; tests pass a fake engine with a real tokenizer.
 */
export interface ServedModel {
  readonly engine: InferenceEngine;
  readonly tokenizer: Tokenizer;
  /** Completes a request's sampling settings with generation_config.json's and vLLM's defaults; throws SwallowError on bad values. */
  resolveSampling(user?: Partial<SamplingParams>): SamplingParams;
  /** Renders messages with the chat template (and `tools` when given) and tokenizes them. */
  encodeChat(messages: ChatMessage[], options?: EncodeChatOptions): number[];
  readonly hasChatTemplate: boolean;
  /** The chat template's Jinja source (null without one); a template that never mentions `tools` cannot render them. */
  readonly chatTemplateSource: string | null;
}
