import type { PromptTokenLogprob } from "../engine/request.js";
import { MAX_LOGPROBS } from "../engine/sampler.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { HttpError } from "./http-error.js";
import { clampLogprob, tokenText } from "./logprobs-format.js";

/** One token of a vLLM `prompt_logprobs` entry. */
export interface PromptLogprobEntry {
  logprob: number;
  /** 1-based: how many tokens were as likely or likelier at that position. */
  rank: number;
  decoded_token: string;
}

/** vLLM's `prompt_logprobs`: null for the first token, then token id (a string key in JSON) → entry per position. */
export type PromptLogprobs = (Record<string, PromptLogprobEntry> | null)[];

/**
 * Checks vLLM's `prompt_logprobs` and returns how many alternatives to report per prompt position (null: none
 * asked). Streaming cannot carry them, and at most {@link MAX_LOGPROBS} (vLLM's default `--max-logprobs`) are
 * served; -1 (the whole vocabulary) is therefore a 400 here, as on a default vLLM.
 * @throws HttpError 400 with vLLM's wording.
 */
export function promptLogprobsCount(value: number | null | undefined, stream: boolean, vocabSize: number): number | null {
  if (value === null || value === undefined) return null;
  if (stream && (value > 0 || value === -1)) {
    throw new HttpError(400, "`prompt_logprobs` are not available when `stream=True`.", { param: "prompt_logprobs" });
  }
  if (value < -1) throw new HttpError(400, "`prompt_logprobs` must be a positive value or -1.", { param: "prompt_logprobs" });
  const count = value === -1 ? vocabSize : value;
  if (count > MAX_LOGPROBS) {
    throw new HttpError(400, `Requested prompt logprobs of ${count}, which is greater than max allowed: ${MAX_LOGPROBS}`, {
      param: "prompt_logprobs",
    });
  }
  return count;
}

/**
 * Formats the engine's prompt log-probs as vLLM does: each position holds the prompt token itself plus the
 * `topCount` most likely tokens (ranks 1…k), log-probs clamped to -9999 as vLLM's `clamp_prompt_logprobs`.
 */
export function formatPromptLogprobs(tokenizer: Tokenizer, positions: readonly PromptTokenLogprob[], topCount: number): PromptLogprobs {
  return positions.map((position) => {
    if (position.logprob === null) return null;
    const entries: Record<string, PromptLogprobEntry> = {};
    // An engine without ranks: the alternatives it lists as likelier (exact whenever the token is among them).
    const rank = position.rank ?? 1 + position.topLogprobs.filter((t) => t.logprob > position.logprob!).length;
    entries[position.tokenId] = { logprob: clampLogprob(position.logprob), rank, decoded_token: tokenText(tokenizer, position.tokenId) };
    position.topLogprobs.slice(0, topCount).forEach((top, i) => {
      entries[top.tokenId] = { logprob: clampLogprob(top.logprob), rank: i + 1, decoded_token: tokenText(tokenizer, top.tokenId) };
    });
    return entries;
  });
}
