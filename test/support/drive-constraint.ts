import assert from "node:assert/strict";
import type { TokenConstraint } from "../../src/engine/constraint.js";
import { Rng } from "../../src/engine/rng.js";
import type { Tokenizer } from "../../src/tokenizer/tokenizer.js";

export interface DriveOptions {
  stopTokenIds: number[];
  seed: number;
  maxTokens: number;
  /** Tokens whose random logit gets a bonus, so the outputs visit the interesting parts of the grammar. */
  favored?: Iterable<number>;
  /** Called after each mask with the output's bytes so far, the masked logits and whether the constraint says complete. */
  check?: (prefix: Uint8Array, logits: Float32Array, complete: boolean) => void;
}

export interface DriveResult {
  ids: number[];
  text: string;
  /** The output's UTF-8 bytes (the tokens' bytes concatenated). */
  bytes: Uint8Array;
  maskMs: number[];
}

/**
 * Samples the argmax of random (seeded) logits under `constraint` until a stop token, checking on every step that
 * some token is allowed, that special tokens other than the stops are masked and that the stops are allowed
 * exactly when the constraint says the output is complete.
 */
export function driveConstraint(tokenizer: Tokenizer, constraint: TokenConstraint, options: DriveOptions): DriveResult {
  const { stopTokenIds: stops, maxTokens } = options;
  const rng = new Rng(options.seed);
  const vocab = tokenizer.vocabSize;
  const noise = Float32Array.from({ length: 2 * vocab }, () => rng.nextFloat() * 4);
  const favored = new Set(options.favored ?? []);
  const specials = [...tokenizer.specialTokenIds];
  const ids: number[] = [];
  const maskMs: number[] = [];
  let bytes: Uint8Array = new Uint8Array(0);
  for (let step = 0; step <= maxTokens; step++) {
    const offset = rng.nextUint32() % vocab;
    const logits = noise.slice(offset, offset + vocab);
    for (const id of favored) logits[id] += 3;
    const start = performance.now();
    constraint.mask(logits);
    maskMs.push(performance.now() - start);
    let best = 0;
    for (let id = 1; id < vocab; id++) if (logits[id] > logits[best]) best = id;
    assert.ok(logits[best] > -Infinity, `some token is allowed at step ${step}`);
    const complete = constraint.isComplete();
    for (const id of specials) {
      if (!stops.includes(id)) assert.equal(logits[id], -Infinity, `special token ${id} is masked`);
      else assert.equal(logits[id] > -Infinity, complete, `stop token ${id} is allowed exactly when complete`);
    }
    options.check?.(bytes, logits, complete);
    if (stops.includes(best)) return { ids, text: tokenizer.decode(ids), bytes, maskMs };
    assert.ok(step < maxTokens, "stopped within max_tokens");
    constraint.accept(best);
    ids.push(best);
    bytes = concat(bytes, tokenizer.tokenBytes(best));
  }
  throw new Error("unreachable");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Bytes as a latin1 string: byte strings compare and prefix-match as plain strings. */
export const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1");

/** The byte-string prefixes (latin1) of every string in `texts`, the strings themselves included. */
export function bytePrefixes(texts: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const text of texts) {
    const s = latin1(new TextEncoder().encode(text));
    for (let n = 0; n <= s.length; n++) out.add(s.slice(0, n));
  }
  return out;
}

/**
 * A check for {@link DriveOptions.check} when the language is finite and known: a non-stop token is allowed exactly
 * when the output's bytes followed by its bytes are a prefix of some string of the language (`prefixes`).
 */
export function exactPrefixCheck(tokenizer: Tokenizer, prefixes: Set<string>, stops: number[]) {
  const special = tokenizer.specialTokenIds;
  const tokenText = Array.from({ length: tokenizer.vocabSize }, (_, id) =>
    special.has(id) || tokenizer.idToToken(id) === undefined ? null : latin1(tokenizer.tokenBytes(id)),
  );
  return (prefix: Uint8Array, logits: Float32Array): void => {
    const sofar = latin1(prefix);
    for (let id = 0; id < tokenText.length; id++) {
      const t = tokenText[id];
      if (t === null || stops.includes(id) || t === "") continue;
      const viable = prefixes.has(sofar + t);
      assert.equal(logits[id] > -Infinity, viable, `token ${id} ${JSON.stringify(t)} after ${JSON.stringify(sofar)}: allowed = ${viable}`);
    }
  };
}
