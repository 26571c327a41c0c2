import { IncrementalDecoder } from "../tokenizer/incremental-decoder.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import type { GenerationEvent } from "./generate.js";
import type { SampleResult, SamplingParams } from "./sampler.js";
import { StopStringMatcher } from "./stop-strings.js";

/**
 * Turns one request's sampled tokens into stream events: incremental detokenisation, stop token ids,
 * stop strings, max_tokens and the model length. Stop token ids end generation (reported in `tokenId`, adding no
 * text); stop strings end it with the text cut before the match. With `includeStopStringInOutput` (vLLM's
 * include_stop_str_in_output) the stop string stays in the text, and so does the stop token's text where special
 * tokens are not skipped (`skipSpecialTokens: false`), as vLLM's detokenizer does.
 */
export class OutputProcessor {
  readonly outputIds: number[] = [];
  private readonly stopTokens: Set<number>;
  private readonly decoder: IncrementalDecoder;
  private readonly stops: StopStringMatcher;

  constructor(
    tokenizer: Tokenizer,
    private readonly params: SamplingParams,
    private readonly promptLength: number,
    private readonly maxModelLen: number,
  ) {
    this.stopTokens = new Set(params.stopTokenIds);
    this.decoder = new IncrementalDecoder(tokenizer, { skipSpecialTokens: params.skipSpecialTokens ?? true });
    this.stops = new StopStringMatcher(params.stop, { includeStopString: params.includeStopStringInOutput === true });
  }

  /** The event for a newly sampled token; it carries `finishReason` when generation ends with it. */
  push(sampled: SampleResult): GenerationEvent {
    const { tokenId } = sampled;
    this.outputIds.push(tokenId);
    const event: GenerationEvent = { tokenId, text: "", logprob: sampled.logprob, topLogprobs: sampled.topLogprobs };
    if (this.stopTokens.has(tokenId)) {
      const own = this.params.includeStopStringInOutput ? this.stops.push(this.decoder.push(tokenId)).text : "";
      return { ...event, text: own + this.remaining(), finishReason: "stop", stoppedBy: tokenId };
    }
    const matched = this.stops.push(this.decoder.push(tokenId), { checkStop: this.outputIds.length >= this.params.minTokens });
    event.text = matched.text;
    if (matched.stop !== null) return { ...event, finishReason: "stop", stoppedBy: matched.stop };
    if (this.outputIds.length >= this.params.maxTokens || this.promptLength + this.outputIds.length >= this.maxModelLen) {
      return { ...event, text: event.text + this.remaining(), finishReason: "length" };
    }
    return event;
  }

  /**
   * Whether the token sampled after `ahead` more that are already being sampled ends generation by length,
   * whatever it is (max_tokens, or the context's end).
   */
  endsByLength(ahead: number): boolean {
    const count = this.outputIds.length + ahead + 1;
    return count >= this.params.maxTokens || this.promptLength + count >= this.maxModelLen;
  }

  /** A final event with no token (abort, or max_tokens 0): flushes text still held back. */
  finish(finishReason: "length" | "abort"): GenerationEvent {
    return { tokenId: null, text: finishReason === "abort" ? "" : this.remaining(), logprob: null, topLogprobs: [], finishReason };
  }

  /** Text still held back (an incomplete character, a possible stop-string prefix) ends the stream. */
  private remaining(): string {
    return this.stops.push(this.decoder.flush()).text + this.stops.flush();
  }
}
