/**
 * How context/continuation pairs and generation prompts become token ids, exactly as lm-evaluation-harness
 * v0.4.2 (`TemplateLM._encode_pair`) and the JP harness do it, so a continuation's tokens — and therefore its
 * summed log-prob — match the originals token for token.
 */
import { SwallowError } from "../../errors.js";

/** The part of the project's Tokenizer (src/tokenizer/tokenizer.ts) the backends need. */
export interface PairTokenizer {
  encode(text: string, options?: { addBos?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** Token ids of one log-likelihood request: the model scores `continuationIds` after `contextIds`. */
export interface EncodedPair {
  /** Context tokens, with BOS first when asked for. */
  contextIds: number[];
  /** The continuation's tokens (never empty). */
  continuationIds: number[];
}

/**
 * lm-eval's `_encode_pair`: trailing whitespace of the context moves to the front of the continuation (so
 * "Answer: " + "Tokyo" is scored like "Answer:" + " Tokyo"), and the continuation's tokens are the tail of
 * tok(context + continuation) after tok(context) — not tok(continuation), which would split differently at the seam.
 * An empty context is scored after the BOS token (lm-eval uses a one-token prefix there; the JP harness never has one).
 */
export function encodePair(tokenizer: PairTokenizer, context: string, continuation: string, addBos: boolean): EncodedPair {
  const trimmed = context.replace(/\s+$/u, "");
  const movedSpaces = context.slice(trimmed.length);
  const cont = movedSpaces + continuation;
  if (cont.length === 0) throw new SwallowError("a log-likelihood request has an empty continuation; the task must give text to score");
  const bare = tokenizer.encode(trimmed, { addBos: false });
  const whole = tokenizer.encode(trimmed + cont, { addBos: false });
  // Rare seam merges can make tok(ctx) longer than the shared prefix; lm-eval slices anyway, and so do we.
  let continuationIds = whole.slice(bare.length);
  let contextIds = bare;
  if (addBos || contextIds.length === 0) {
    const bos = tokenizer.encode("", { addBos: true });
    if (bos.length === 0) {
      throw new SwallowError("a log-likelihood request has an empty context and the tokenizer has no BOS token to stand in for it");
    }
    contextIds = [...bos, ...contextIds];
  }
  if (continuationIds.length === 0) {
    // The continuation merged entirely into the context's last token; score it on its own as lm-eval's fallback does.
    continuationIds = tokenizer.encode(cont, { addBos: false });
  }
  return { contextIds, continuationIds };
}

/**
 * A pair cut to fit a model of `maxLen` tokens as lm-eval cuts it for a model with max_length = `maxLen`: the
 * window keeps its right end, so context tokens are dropped from the left (the BOS first, like any other). A
 * continuation that cannot fit with at least one context token is an error, not a silent cut.
 */
export function fitPairToLength(pair: EncodedPair, maxLen: number): EncodedPair {
  const { contextIds, continuationIds } = pair;
  if (continuationIds.length + 1 > maxLen) {
    throw new SwallowError(`a continuation of ${continuationIds.length} tokens does not fit the model length ${maxLen}`);
  }
  const drop = Math.max(0, contextIds.length + continuationIds.length - maxLen);
  return drop === 0 ? pair : { contextIds: contextIds.slice(drop), continuationIds };
}

/**
 * Prompt ids of a generation request: BOS when asked, then the context, left-truncated to `maxContextTokens`
 * (lm-eval and the JP harness keep the last max_length − max_gen_toks tokens; the BOS is cut like any other token,
 * as `context_enc[-n:]` does).
 */
export function encodeGenerationPrompt(tokenizer: PairTokenizer, context: string, addBos: boolean, maxContextTokens?: number): number[] {
  const ids = tokenizer.encode(context, { addBos });
  if (ids.length === 0) throw new SwallowError("a generation request has an empty prompt; the task must give a context");
  return leftTruncate(ids, maxContextTokens);
}

/** Keeps the last `maxTokens` ids (absent = all). */
export function leftTruncate(ids: number[], maxTokens?: number): number[] {
  if (maxTokens === undefined || ids.length <= maxTokens) return ids;
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new SwallowError(`maxContextTokens must be a positive integer, got ${maxTokens}`);
  return ids.slice(ids.length - maxTokens);
}

/** Cuts `text` before the first occurrence of any stop string (lm-eval: `s.split(term)[0]` for each term in turn). */
export function cutAtStops(text: string, stops: readonly string[]): string {
  let out = text;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const at = out.indexOf(stop);
    if (at >= 0) out = out.slice(0, at);
  }
  return out;
}
