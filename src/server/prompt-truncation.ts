import { HttpError } from "./http-error.js";

/**
 * vLLM's `truncate_prompt_tokens` as a token count: k keeps the last k prompt tokens, -1 the model's maximum length
 * (newer vLLM); null when the request does not truncate.
 * @throws HttpError 400 for 0 or below -1, and (vLLM's wording) for more than the model's maximum length.
 */
export function truncationTokens(value: number | null | undefined, maxModelLen: number): number | null {
  if (value === null || value === undefined) return null;
  if (value === 0 || value < -1) {
    throw new HttpError(400, `truncate_prompt_tokens must be an integer >= 1, or -1 for the model's maximum length; got ${value}`, {
      param: "truncate_prompt_tokens",
    });
  }
  const tokens = value === -1 ? maxModelLen : value;
  if (tokens > maxModelLen) {
    throw new HttpError(
      400,
      `truncate_prompt_tokens value (${tokens}) is greater than max_model_len (${maxModelLen}). Please, select a smaller truncation size.`,
      { param: "truncate_prompt_tokens" },
    );
  }
  return tokens;
}

/** Left truncation (vLLM's): the last `keepTokens` ids, BOS and chat headers included in what may be cut; all when null. */
export function truncatePrompt(promptIds: readonly number[], keepTokens: number | null): number[] {
  return keepTokens === null || promptIds.length <= keepTokens ? [...promptIds] : promptIds.slice(promptIds.length - keepTokens);
}
