import type { TokenLogprob } from "../engine/sampler.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";

/** vLLM clamps -inf log-probs to this so they survive JSON. */
const MIN_LOGPROB = -9999;

/** One position's log-probs as the engine reports them; `logprob` null for the first prompt token. */
export interface PositionLogprobs {
  tokenId: number;
  logprob: number | null;
  topLogprobs: TokenLogprob[];
}

/** OpenAI/vLLM completions `logprobs`: parallel lists over the tokens. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** OpenAI chat `logprobs.content[i]`. */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function clampLogprob(logprob: number): number {
  return Math.max(logprob, MIN_LOGPROB);
}

/** A token's own text (special tokens included, a lone UTF-8 fragment shows as U+FFFD), as vLLM's `decoded_token`. */
export function tokenText(tokenizer: Tokenizer, tokenId: number): string {
  return tokenizer.decode([tokenId]);
}

/**
 * Builds completions logprobs as vLLM's `_create_completion_logprobs`: `top_logprobs[i]` maps token text to
 * log-prob for the `topCount` most likely tokens plus the chosen one (null where the position has none, i.e. the
 * first prompt token); `text_offset` counts characters of the token texts from `initialTextOffset`.
 */
export function completionLogprobs(
  tokenizer: Tokenizer,
  positions: readonly PositionLogprobs[],
  topCount: number,
  initialTextOffset = 0,
): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = initialTextOffset;
  for (const position of positions) {
    const token = tokenText(tokenizer, position.tokenId);
    out.tokens.push(token);
    out.text_offset.push(offset);
    offset += token.length;
    if (position.logprob === null) {
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
      continue;
    }
    out.token_logprobs.push(clampLogprob(position.logprob));
    const top: Record<string, number> = {};
    for (const entry of position.topLogprobs.slice(0, topCount)) top[tokenText(tokenizer, entry.tokenId)] = clampLogprob(entry.logprob);
    top[token] = clampLogprob(position.logprob);
    out.top_logprobs.push(top);
  }
  return out;
}

/** Builds one chat `logprobs.content` entry with UTF-8 `bytes` (how clients rebuild characters split over tokens). */
export function chatTokenLogprob(tokenizer: Tokenizer, position: PositionLogprobs, topCount: number): ChatTokenLogprob {
  const entry = (tokenId: number, logprob: number) => ({
    token: tokenText(tokenizer, tokenId),
    logprob: clampLogprob(logprob),
    bytes: Array.from(tokenizer.tokenBytes(tokenId)),
  });
  return {
    ...entry(position.tokenId, position.logprob ?? 0),
    top_logprobs: position.topLogprobs.slice(0, topCount).map((t) => entry(t.tokenId, t.logprob)),
  };
}
