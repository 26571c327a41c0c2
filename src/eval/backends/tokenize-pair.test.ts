import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { cutAtStops, encodeGenerationPrompt, encodePair, fitPairToLength, leftTruncate } from "./tokenize-pair.js";

// Vectors printed by scripts/eval/make_pair_vectors.py (HF tokenizers + lm-eval v0.4.2's _encode_pair).
const vectors = JSON.parse(readFileSync(path.join(fixturesDir, "eval/backends/pair-vectors.json"), "utf8")) as {
  cases: { context: string; continuation: string; context_ids: number[]; continuation_ids: number[]; context_ids_with_bos: number[] }[];
};
const tokenizer = Tokenizer.fromJson(readFileSync(path.join(fixturesDir, "tiny-tokenizer/tokenizer.json"), "utf8"));

test("encodePair matches lm-eval's _encode_pair over HF tokenizers (no BOS)", () => {
  assert.ok(vectors.cases.length >= 10);
  for (const c of vectors.cases) {
    const got = encodePair(tokenizer, c.context, c.continuation, false);
    assert.deepEqual(got.contextIds, c.context_ids, JSON.stringify(c.context));
    assert.deepEqual(got.continuationIds, c.continuation_ids, JSON.stringify(c.context));
  }
});

test("encodePair with BOS puts the tokenizer's BOS before the (space-trimmed) context only", () => {
  for (const c of vectors.cases) {
    const got = encodePair(tokenizer, c.context, c.continuation, true);
    assert.deepEqual(got.contextIds, c.context_ids_with_bos);
    assert.deepEqual(got.continuationIds, c.continuation_ids);
  }
});

test("a trailing space in the context is scored as part of the continuation", () => {
  const a = vectors.cases.find((c) => c.context.endsWith("Answer:"))!;
  const b = vectors.cases.find((c) => c.context.endsWith("Answer: "))!;
  assert.deepEqual(b.continuation_ids, a.continuation_ids);
  assert.deepEqual(encodePair(tokenizer, b.context, b.continuation, false), encodePair(tokenizer, a.context, a.continuation, false));
});

test("empty continuations are refused with a clear error", () => {
  assert.throws(() => encodePair(tokenizer, "abc", "", false), /empty continuation/);
});

test("generation prompts are left-truncated to the last maxContextTokens tokens", () => {
  const full = vectors.cases[2].context_ids_with_bos;
  const got = encodeGenerationPrompt(tokenizer, vectors.cases[2].context, true, 5);
  assert.deepEqual(got, full.slice(full.length - 5));
  assert.deepEqual(encodeGenerationPrompt(tokenizer, vectors.cases[2].context, true), full);
  assert.deepEqual(leftTruncate([1, 2, 3], 3), [1, 2, 3]);
  assert.deepEqual(leftTruncate([1, 2, 3, 4], 2), [3, 4]);
  assert.throws(() => leftTruncate([1, 2, 3], 0), /positive integer/);
});

test("cutAtStops cuts before the first stop string, in lm-eval's order", () => {
  assert.equal(cutAtStops("4\n\nQ: next", ["\n\n", "Q:"]), "4");
  assert.equal(cutAtStops("no stop here", ["\n"]), "no stop here");
  assert.equal(cutAtStops("a</s>b\nc", ["\n", "</s>"]), "a");
  assert.equal(cutAtStops("abc", [""]), "abc");
});

test("fitPairToLength keeps the window's right end like lm-eval's (context + continuation)[-max_length:]", () => {
  const pair = { contextIds: [1, 2, 3, 4, 5], continuationIds: [6, 7] };
  assert.equal(fitPairToLength(pair, 7), pair);
  assert.deepEqual(fitPairToLength(pair, 6), { contextIds: [2, 3, 4, 5], continuationIds: [6, 7] });
  assert.deepEqual(fitPairToLength(pair, 3), { contextIds: [5], continuationIds: [6, 7] });
  assert.throws(() => fitPairToLength(pair, 2), /a continuation of 2 tokens does not fit the model length 2/);
});
