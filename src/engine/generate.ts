import type { TokenLogprob } from "./sampler.js";
import type { PromptTokenLogprob } from "./request.js";

/** Why generation ended, named as in OpenAI's and vLLM's `finish_reason`. */
export type FinishReason = "stop" | "length" | "abort";

/**
 * One step of a generation stream. `text` is the newly decoded text that is safe to show (never a partial
 * UTF-8 character, never a prefix of a stop string). The last event carries `finishReason`.
 */
export interface GenerationEvent {
  /** The sampled token, or null on a final event that only flushes held-back text. */
  tokenId: number | null;
  text: string;
  logprob: number | null;
  topLogprobs: TokenLogprob[];
  finishReason?: FinishReason;
  /** On the final event: the stop token id or stop string that ended generation. */
  stoppedBy?: number | string;
  /** On the first event, when the request asked for them: the prompt tokens' log-probs. */
  promptLogprobs?: PromptTokenLogprob[];
}

export interface GenerateOptions {
  /** Aborting ends the stream with finishReason "abort" and frees the request's KV blocks. */
  signal?: AbortSignal;
}
