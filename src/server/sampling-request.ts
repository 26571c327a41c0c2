import { isSwallowError } from "../errors.js";
import { badWordsTokenIds } from "../engine/bad-words.js";
import type { SamplingParams } from "../engine/sampler.js";
import { HttpError } from "./http-error.js";
import type { CommonRequest } from "./request-schema.js";
import type { ServedModel } from "./served-model.js";

/**
 * Checks the prompt and output fit the model length, with vLLM's wording: a prompt as long as the context, or a
 * max_tokens that cannot fit after it, is a 400, never a silent truncation.
 */
export function checkContextLength(promptTokens: number, maxTokens: number | undefined, maxModelLen: number, canBeEmpty = false): void {
  if (promptTokens > maxModelLen || (promptTokens === maxModelLen && !canBeEmpty)) {
    throw new HttpError(
      400,
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
      { param: "messages" },
    );
  }
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen) {
    throw new HttpError(
      400,
      `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxModelLen} - ${promptTokens}).`,
      { param: "max_tokens" },
    );
  }
}

/**
 * Turns a request's OpenAI/vLLM sampling fields into resolved engine settings for one prompt: the user's values,
 * else generation_config.json's, else vLLM's; without max_tokens, the room left in the context (vLLM).
 * @throws HttpError 400 when a value is out of range or the prompt and output do not fit.
 */
export function resolveRequestSampling(
  model: ServedModel,
  request: CommonRequest,
  options: { promptTokens: number; maxTokens: number | null | undefined; logprobs: number; allowZeroMaxTokens?: boolean },
): SamplingParams {
  if (request.stream_options && !request.stream) {
    throw new HttpError(400, "Stream options can only be defined when `stream=True`.", { param: "stream_options" });
  }
  const maxModelLen = model.engine.maxModelLen;
  const maxTokens = options.maxTokens ?? undefined;
  checkContextLength(options.promptTokens, maxTokens, maxModelLen, options.allowZeroMaxTokens);
  if (maxTokens === 0 && !options.allowZeroMaxTokens) {
    throw new HttpError(400, "max_tokens must be at least 1 (0 is only allowed on /v1/completions with echo and logprobs)", {
      param: "max_tokens",
    });
  }
  const stop = request.stop == null ? undefined : typeof request.stop === "string" ? [request.stop] : request.stop;
  const user: Partial<SamplingParams> = {
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    topK: request.top_k ?? undefined,
    minP: request.min_p ?? undefined,
    repetitionPenalty: request.repetition_penalty ?? undefined,
    presencePenalty: request.presence_penalty ?? undefined,
    frequencyPenalty: request.frequency_penalty ?? undefined,
    logitBias: request.logit_bias ? logitBiasMap(request.logit_bias) : undefined,
    allowedTokenIds: request.allowed_token_ids ?? undefined,
    badWordsTokenIds: request.bad_words?.length ? badWords(model, request.bad_words) : undefined,
    seed: request.seed ?? undefined,
    maxTokens,
    minTokens: request.min_tokens,
    stopTokenIds: request.stop_token_ids ?? undefined,
    stop: stop?.filter((s) => s.length > 0),
    logprobs: options.logprobs,
    skipSpecialTokens: request.skip_special_tokens ?? undefined,
    includeStopStringInOutput: request.include_stop_str_in_output ?? undefined,
  };
  for (const key of Object.keys(user) as (keyof SamplingParams)[]) if (user[key] === undefined) delete user[key];
  let params: SamplingParams;
  try {
    params = model.resolveSampling(user);
  } catch (error) {
    if (isSwallowError(error)) throw new HttpError(400, error.message, { param: error.message.split(" ")[0], cause: error });
    throw error;
  }
  const room = maxModelLen - options.promptTokens;
  if (maxTokens === undefined) params.maxTokens = Math.min(params.maxTokens, room);
  if (params.minTokens > params.maxTokens) params.minTokens = params.maxTokens;
  // vLLM's ignore_eos: only the user's own stop token ids end generation.
  if (request.ignore_eos) params.stopTokenIds = [...(request.stop_token_ids ?? [])];
  return params;
}

/** vLLM's parallel sampling: choice `index` of a seeded request uses seed + index, so choices differ but repeat. */
export function choiceParams(params: SamplingParams, index: number): SamplingParams {
  return params.seed === undefined ? params : { ...params, seed: params.seed + index };
}

/**
 * OpenAI's `logit_bias` (token ids as string keys) as a map. A key that is not an integer is a 400, as in vLLM
 * ("Found token_id in logit_bias that is not an integer"); ids outside the vocabulary are the engine's 400.
 */
function logitBiasMap(bias: Record<string, number>): Map<number, number> {
  const map = new Map<number, number>();
  for (const [key, value] of Object.entries(bias)) {
    if (!/^-?\d+$/.test(key.trim())) {
      throw new HttpError(400, `logit_bias keys must be token ids (integers), got ${JSON.stringify(key)}`, { param: "logit_bias" });
    }
    map.set(Number(key), value);
  }
  return map;
}

/**
 * vLLM's `bad_words` as token sequences (engine/bad-words.ts). A word that is empty or only whitespace has no tokens
 * to ban: a 400 rather than a silent no-op.
 */
function badWords(model: ServedModel, words: readonly string[]): number[][] {
  const blank = words.findIndex((word) => word.trim() === "");
  if (blank >= 0) {
    throw new HttpError(400, `bad_words[${blank}] is empty or only whitespace; give words with visible characters`, { param: "bad_words" });
  }
  return badWordsTokenIds(words, (text) => model.tokenizer.encode(text, { addBos: false }));
}
