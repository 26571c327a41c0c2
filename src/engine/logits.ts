/** Natural log-softmax of one logits row, in f64 (max-subtracted). */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}

/** Index of the largest value; the lowest index wins ties (as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * 1-based rank of `index` by value, as vLLM ranks a token in its log-probs: the number of entries ≥ its value
 * (ties count against it, so tied tokens share the worse rank).
 */
export function rankOf(values: ArrayLike<number>, index: number): number {
  const value = values[index];
  let rank = 0;
  for (let i = 0; i < values.length; i++) if (values[i] >= value) rank++;
  return rank;
}
