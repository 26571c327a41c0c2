import { SwallowError } from "../errors.js";
import { resolveSamplingParams, type SamplingParams } from "../engine/sampler.js";
import { numberFlag } from "./args.js";

/** Sampling flags shared by `generate` and `chat` (names as vLLM's and llama.cpp's). */
export const samplingFlags = {
  "max-tokens": { type: "string" },
  "min-tokens": { type: "string" },
  temperature: { type: "string" },
  "top-p": { type: "string" },
  "top-k": { type: "string" },
  "min-p": { type: "string" },
  "repetition-penalty": { type: "string" },
  "presence-penalty": { type: "string" },
  "frequency-penalty": { type: "string" },
  seed: { type: "string" },
  stop: { type: "string", multiple: true },
  logprobs: { type: "string" },
} as const;

type SamplingFlagValues = { [K in keyof typeof samplingFlags]?: (typeof samplingFlags)[K] extends { multiple: true } ? string[] : string };

/**
 * Flags → the user's part of the sampling settings, range-checked before any model is loaded (so a typo
 * costs no load). Unset flags are left out: `LanguageModel.resolveSampling` fills them from
 * generation_config.json, then vLLM's defaults.
 */
export function samplingFromFlags(values: SamplingFlagValues): Partial<SamplingParams> {
  const user: Partial<SamplingParams> = {};
  const set = <K extends keyof SamplingParams>(key: K, value: SamplingParams[K] | undefined) => {
    if (value !== undefined) user[key] = value;
  };
  set("maxTokens", numberFlag("max-tokens", values["max-tokens"], true));
  set("minTokens", numberFlag("min-tokens", values["min-tokens"], true));
  set("temperature", numberFlag("temperature", values.temperature));
  set("topP", numberFlag("top-p", values["top-p"]));
  set("topK", numberFlag("top-k", values["top-k"], true));
  set("minP", numberFlag("min-p", values["min-p"]));
  set("repetitionPenalty", numberFlag("repetition-penalty", values["repetition-penalty"]));
  set("presencePenalty", numberFlag("presence-penalty", values["presence-penalty"]));
  set("frequencyPenalty", numberFlag("frequency-penalty", values["frequency-penalty"]));
  set("seed", numberFlag("seed", values.seed, true));
  set("logprobs", numberFlag("logprobs", values.logprobs, true));
  if (values.stop) set("stop", values.stop);
  if (user.maxTokens !== undefined && user.maxTokens < 1) throw new SwallowError(`--max-tokens must be at least 1, got ${user.maxTokens}`);
  resolveSamplingParams(user, null); // throws a SwallowError naming the first out-of-range value
  return user;
}
