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
 * How log-prob entries name tokens: by their text, or (vLLM's `return_tokens_as_token_ids`) as `token_id:{id}`,
 * which identifies tokens whose text alone is ambiguous (a lone UTF-8 fragment shows as U+FFFD).
 */
export type TokenNaming = "text" | "id";

/** vLLM's `return_tokens_as_token_ids` as a naming. */
export function tokenNaming(request: { return_tokens_as_token_ids?: boolean | null }): TokenNaming {
  return request.return_tokens_as_token_ids === true ? "id" : "text";
}

/** A token's name in a log-prob entry under `naming`. */
export function tokenName(tokenizer: Tokenizer, tokenId: number, naming: TokenNaming): string {
  return naming === "id" ? `token_id:${tokenId}` : tokenText(tokenizer, tokenId);
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
  naming: TokenNaming = "text",
): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = initialTextOffset;
  for (const position of positions) {
    // Offsets count the text's characters even when tokens are named by id (vLLM fixed counting the names).
    const text = tokenText(tokenizer, position.tokenId);
    const token = naming === "id" ? tokenName(tokenizer, position.tokenId, naming) : text;
    out.tokens.push(token);
    out.text_offset.push(offset);
    offset += text.length;
    if (position.logprob === null) {
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
      continue;
    }
    out.token_logprobs.push(clampLogprob(position.logprob));
    const top: Record<string, number> = {};
    for (const entry of position.topLogprobs.slice(0, topCount))
      top[tokenName(tokenizer, entry.tokenId, naming)] = clampLogprob(entry.logprob);
    top[token] = clampLogprob(position.logprob);
    out.top_logprobs.push(top);
  }
  return out;
}

/**
 * Builds one chat `logprobs.content` entry with UTF-8 `bytes` (how clients rebuild characters split over tokens);
 * `bytes` stay the token's own bytes when it is named by id, as in vLLM.
 */
export function chatTokenLogprob(
  tokenizer: Tokenizer,
  position: PositionLogprobs,
  topCount: number,
  naming: TokenNaming = "text",
): ChatTokenLogprob {
  const entry = (tokenId: number, logprob: number) => ({
    token: tokenName(tokenizer, tokenId, naming),
    logprob: clampLogprob(logprob),
    bytes: Array.from(tokenizer.tokenBytes(tokenId)),
  });
  return {
    ...entry(position.tokenId, position.logprob ?? 0),
    top_logprobs: position.topLogprobs.slice(0, topCount).map((t) => entry(t.tokenId, t.logprob)),
  };
}
