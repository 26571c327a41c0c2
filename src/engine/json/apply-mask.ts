/**
 * Applies a constraint's set of allowed tokens to one logits row in place (the JSON and the automaton constraints
 * share it): every token outside `bits` (and every id past the tokenizer's vocabulary) gets −∞; the stop tokens pass
 * only once the text is a whole match. A vocabulary without single-byte tokens can leave nothing allowed before the
 * match is whole: then the stop tokens stay open, since ending the request beats sampling a token that breaks it.
 * @param bits one bit per token id of the vocabulary (`vocabSize` ids), set where the token may come next
 * @param allowed how many bits are set
 */
export function applyTokenMask(
  logits: Float32Array,
  bits: Uint32Array,
  allowed: number,
  vocabSize: number,
  stops: ReadonlySet<number>,
  complete: boolean,
): void {
  const n = Math.min(logits.length, vocabSize);
  for (let id = 0; id < n; id++) {
    if ((bits[id >>> 5] & (1 << (id & 31))) === 0 && !(complete && stops.has(id))) logits[id] = -Infinity;
  }
  for (let id = n; id < logits.length; id++) if (!(complete && stops.has(id))) logits[id] = -Infinity;
  if (!complete) for (const id of stops) if (id < logits.length) logits[id] = -Infinity;
  if (allowed === 0 && !complete) for (const id of stops) if (id < logits.length) logits[id] = 0;
}
