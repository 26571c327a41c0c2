/**
 * lm-evaluation-harness v0.4.2 multiple-choice `acc`: the choice with the highest summed continuation log-likelihood
 * is the prediction (`np.argmax`, so the first of tied maxima wins), and the item scores 1 if it is the gold index.
 * Swallow reports `acc`, not `acc_norm`, for HellaSwag, OpenBookQA, XWINO and MMLU (spec §3.1, §6.10).
 */
import { SwallowError } from "../../errors.js";

/** numpy `argmax` over the choices' summed log-probs: the first index of the maximum (NaN counts as the maximum, as in numpy). */
export function argmaxFirst(logprobs: readonly number[]): number {
  if (logprobs.length === 0) throw new SwallowError("acc needs at least one choice log-likelihood");
  let best = 0;
  for (let i = 0; i < logprobs.length; i++) {
    if (Number.isNaN(logprobs[i])) return i; // numpy propagates the first NaN as the argmax
    if (logprobs[i] > logprobs[best]) best = i;
  }
  return best;
}

/**
 * `acc` for one item: 1 if the argmax choice is `gold` (or one of several gold indices), else 0.
 * @example accFromLoglikelihoods([-3.2, -1.5, -1.5], 1) // 1 (tie: the first maximum is chosen)
 */
export function accFromLoglikelihoods(logprobs: readonly number[], gold: number | readonly number[]): number {
  const chosen = argmaxFirst(logprobs);
  return (typeof gold === "number" ? chosen === gold : gold.includes(chosen)) ? 1 : 0;
}
