import { SwallowError } from "../errors.js";
import { IncrementalDecoder } from "../tokenizer/incremental-decoder.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { randomSeed, Rng } from "./rng.js";
import type { ModelRunner } from "./runner.js";
import { Sampler, type SamplingParams, type TokenLogprob } from "./sampler.js";
import { StopStringMatcher } from "./stop-strings.js";
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
  signal?: AbortSignal;
  /** Shared sampler scratch (one per engine); a new one is made when absent. */
  sampler?: Sampler;
}

/**
 * Generates from `promptIds` for one request: prefill, then one decode step per token. Stop token ids end
 * generation (they are reported in `tokenId` but add no text, as vLLM with skip_special_tokens); stop strings
 * end it with the text cut before the match. The request's KV blocks are freed in a `finally`.
 */
export async function* generate(
  runner: ModelRunner,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  params: SamplingParams,
  options: GenerateOptions = {},
): AsyncGenerator<GenerationEvent> {
  if (promptIds.length === 0) throw new SwallowError("the prompt is empty: give at least one token");
  if (promptIds.length >= runner.maxModelLen) {
    throw new SwallowError(
      `the prompt has ${promptIds.length} tokens but the model length is ${runner.maxModelLen}; shorten it or raise --max-model-len`,
    );
  }
  runner.checkTokenIds(promptIds, "prompt");
  const sampler = options.sampler ?? new Sampler();
  const rng = new Rng(params.seed ?? randomSeed());
  const stopTokens = new Set(params.stopTokenIds);
  const decoder = new IncrementalDecoder(tokenizer, { skipSpecialTokens: true });
  const stops = new StopStringMatcher(params.stop);
  const output: number[] = [];
  // Text still held back (an incomplete character, a possible stop-string prefix) ends the stream.
  const remaining = () => stops.push(decoder.flush()).text + stops.flush();
  const sequence = runner.newSequence();
  try {
    let logits = await runner.prefill(sequence, promptIds, "last");
    for (;;) {
      if (options.signal?.aborted) {
        yield { tokenId: null, text: "", logprob: null, topLogprobs: [], finishReason: "abort" };
        return;
      }
      const sampled = sampler.sample(logits, params, rng, { promptTokenIds: promptIds, outputTokenIds: output });
      output.push(sampled.tokenId);
      const event: GenerationEvent = { tokenId: sampled.tokenId, text: "", logprob: sampled.logprob, topLogprobs: sampled.topLogprobs };
      if (stopTokens.has(sampled.tokenId)) {
        yield { ...event, text: remaining(), finishReason: "stop", stoppedBy: sampled.tokenId };
        return;
      }
      const matched = stops.push(decoder.push(sampled.tokenId), { checkStop: output.length >= params.minTokens });
      event.text = matched.text;
      if (matched.stop !== null) {
        yield { ...event, finishReason: "stop", stoppedBy: matched.stop };
        return;
      }
      if (output.length >= params.maxTokens || promptIds.length + output.length >= runner.maxModelLen) {
        yield { ...event, text: event.text + remaining(), finishReason: "length" };
        return;
      }
      yield event;
      [logits] = await runner.step([{ slots: sequence, tokenIds: [sampled.tokenId], logits: "last" }]);
    }
  } finally {
    sequence.release();
  }
}
