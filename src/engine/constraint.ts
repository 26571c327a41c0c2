/**
 * A rule on which tokens may come next (constrained decoding: JSON mode, JSON schema, tool-call syntax).
 * The engine calls `mask` on each step's raw logits before sampling and `accept` with the token sampled.
 * A constraint is stateful and belongs to one request.
 */
export interface TokenConstraint {
  /**
   * Sets the logit of every token that may not come next to -Infinity (in place; `logits` is `[vocab]`).
   * When the constrained text is complete, only the stop tokens stay allowed. Must leave at least one token.
   */
  mask(logits: Float32Array): void;
  /** Advances the constraint's state over the token that was sampled. */
  accept(tokenId: number): void;
  /** True when the text so far is a complete match (e.g. a finished JSON value). */
  isComplete(): boolean;
}
