import { SwallowError } from "../errors.js";
import { argmax, logSoftmax } from "./logits.js";
import type { ModelRunner } from "./runner.js";

export interface TokenScores {
  tokens: number[];
  /** logprobs[i] = ln P(tokens[i] | tokens[0..i-1]); null for the first token. */
  logprobs: (number | null)[];
  /** argmax[i] = the most likely token after tokens[0..i]. */
  argmax: number[];
}

/** Teacher-forced scoring of one token sequence (what `swallow score` and log-likelihood evals use). */
export async function scoreTokens(runner: ModelRunner, tokens: readonly number[]): Promise<TokenScores> {
  if (tokens.length === 0) throw new SwallowError("nothing to score: the token list is empty");
  if (tokens.length > runner.maxModelLen) {
    throw new SwallowError(`${tokens.length} tokens exceed the model length ${runner.maxModelLen}; shorten the input`);
  }
  runner.checkTokenIds(tokens, "scored");
  const vocab = runner.vocabSize;
  const logprobs: (number | null)[] = [null];
  const best: number[] = [];
  const sequence = runner.newSequence();
  try {
    await runner.prefill(sequence, tokens, "all", (start, rows) => {
      for (let r = 0; r * vocab < rows.length; r++) {
        const row = rows.subarray(r * vocab, (r + 1) * vocab);
        const i = start + r;
        best.push(argmax(row));
        if (i + 1 < tokens.length) logprobs.push(logSoftmax(row)[tokens[i + 1]]);
      }
    });
  } finally {
    sequence.release();
  }
  return { tokens: [...tokens], logprobs, argmax: best };
}
