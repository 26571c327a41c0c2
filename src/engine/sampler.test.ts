import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_LOGPROBS, Sampler, resolveSamplingParams, transformsLogits, type SamplingParams } from "./sampler.js";
import { Rng } from "./rng.js";
import { SwallowError } from "../errors.js";
import type { GenerationDefaults } from "../model/spec.js";

const SWALLOW_EOS = [128001, 128008, 128009];
const NO_CONTEXT = { promptTokenIds: [], outputTokenIds: [] };

function params(overrides: Partial<SamplingParams>): SamplingParams {
  return resolveSamplingParams(overrides, null, { defaultMaxTokens: 100 });
}

/**
 * A hand-built distribution over 10 tokens. The probabilities by rank are PROBS; rank r is token
 * PERM[r], so that token id order and probability order differ.
 */
const PROBS = [0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005];
const PERM = [3, 7, 0, 9, 1, 5, 2, 8, 6, 4];
function handLogits(): Float32Array {
  const logits = new Float32Array(10);
  PROBS.forEach((p, rank) => (logits[PERM[rank]] = Math.log(p) + 4));
  return logits;
}

/** Expected distribution: the given ranks with weights PROBS[rank]^(1/T), renormalised. */
function expectedFromRanks(ranks: number[], temperature = 1): Map<number, number> {
  const weights = ranks.map((r) => PROBS[r] ** (1 / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  return new Map(ranks.map((r, i) => [PERM[r], weights[i] / total]));
}

// Chi-square critical values at p = 0.001 by degrees of freedom.
const CHI2_999 = [Infinity, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88];

/** Checks distribution() against `expected`, then draws `draws` seeded samples: no token outside the set, chi-square within bounds. */
function checkSampling(sampling: SamplingParams, expected: Map<number, number>, draws = 20000): void {
  const sampler = new Sampler();
  const logits = handLogits();
  const dist = sampler.distribution(logits, sampling, NO_CONTEXT);
  assert.deepEqual(new Set(dist.tokenIds), new Set(expected.keys()), "surviving token set");
  dist.tokenIds.forEach((id, i) => assert.ok(Math.abs(dist.probs[i] - expected.get(id)!) < 1e-5, `prob of ${id}`));

  const rng = new Rng(12345);
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const { tokenId } = sampler.sample(logits, sampling, rng, NO_CONTEXT);
    assert.ok(expected.has(tokenId), `token ${tokenId} is outside the allowed set`);
    counts.set(tokenId, (counts.get(tokenId) ?? 0) + 1);
  }
  let chi2 = 0;
  for (const [id, p] of expected) chi2 += ((counts.get(id) ?? 0) - p * draws) ** 2 / (p * draws);
  const df = expected.size - 1;
  if (df > 0) assert.ok(chi2 < CHI2_999[df], `chi-square ${chi2.toFixed(2)} ≥ ${CHI2_999[df]} (df ${df})`);
}

test("resolveSamplingParams: generation_config applies without user flags; user values win field by field", () => {
  const swallowGen: GenerationDefaults = {
    eosTokenIds: SWALLOW_EOS,
    bosTokenId: 128000,
    doSample: true,
    temperature: 0.6,
    topP: 0.9,
    topK: null,
    minP: null,
    repetitionPenalty: null,
    maxNewTokens: null,
  };
  const p = resolveSamplingParams({}, swallowGen, { configEosTokenIds: [128001, 128009], defaultMaxTokens: 500 });
  assert.equal(p.temperature, 0.6);
  assert.equal(p.topP, 0.9);
  assert.equal(p.topK, 0);
  assert.equal(p.minP, 0);
  assert.equal(p.repetitionPenalty, 1);
  assert.equal(p.maxTokens, 500);
  assert.equal(p.seed, undefined);
  assert.deepEqual(p.stopTokenIds, SWALLOW_EOS);

  const q = resolveSamplingParams({ topP: 0.5, stopTokenIds: [7, 128009], seed: 3, stop: ["\n\n", "\n\n"] }, swallowGen, {
    configEosTokenIds: [128001, 128002],
  });
  assert.equal(q.temperature, 0.6);
  assert.equal(q.topP, 0.5);
  assert.equal(q.seed, 3);
  assert.deepEqual(q.stop, ["\n\n"]);
  assert.deepEqual(q.stopTokenIds, [...SWALLOW_EOS, 128002, 7]);

  const greedy = resolveSamplingParams({ temperature: 0, topK: 5, minP: 0.2 }, swallowGen);
  assert.deepEqual([greedy.temperature, greedy.topP, greedy.topK, greedy.minP], [0, 1, 0, 0]);

  const plain = resolveSamplingParams({}, null);
  assert.deepEqual([plain.temperature, plain.topP, plain.topK, plain.maxTokens, plain.logprobs], [1, 1, 0, 16, 0]);
  assert.equal(resolveSamplingParams({}, { maxNewTokens: 64 }, { defaultMaxTokens: 999 }).maxTokens, 64);
  assert.equal(resolveSamplingParams({ topK: -1 }, null).topK, 0);
  assert.equal(resolveSamplingParams({ temperature: 0.001 }, null).temperature, 0.01);
});

test("resolveSamplingParams: out-of-range values are SwallowErrors naming the parameter", () => {
  const bad: Array<[Partial<SamplingParams>, RegExp]> = [
    [{ temperature: -0.1 }, /^temperature must be/],
    [{ temperature: Number.NaN }, /^temperature/],
    [{ topP: 0 }, /^top_p must be in \(0, 1\]/],
    [{ topP: 1.01 }, /^top_p/],
    [{ topK: -2 }, /^top_k/],
    [{ topK: 2.5 }, /^top_k/],
    [{ minP: 1.5 }, /^min_p/],
    [{ minP: -0.1 }, /^min_p/],
    [{ repetitionPenalty: 0 }, /^repetition_penalty/],
    [{ presencePenalty: 2.5 }, /^presence_penalty/],
    [{ frequencyPenalty: -2.01 }, /^frequency_penalty/],
    [{ maxTokens: -1 }, /^max_tokens/],
    [{ maxTokens: 10, minTokens: 11 }, /^min_tokens must be <= max_tokens \(10\)/],
    [{ minTokens: -1 }, /^min_tokens/],
    [{ logprobs: MAX_LOGPROBS + 1 }, /^logprobs/],
    [{ seed: 1.5 }, /^seed/],
    [{ stop: [""] }, /^stop must be/],
    [{ stopTokenIds: [-1] }, /^stop_token_ids/],
    [{ logitBias: new Map([[-1, 1]]) }, /^logit_bias must be keyed by token ids/],
    [{ logitBias: new Map([[1.5, 1]]) }, /^logit_bias must be keyed by token ids/],
    [{ logitBias: new Map([[3, Number.NaN]]) }, /^logit_bias must be a finite number for token 3/],
    [{ allowedTokenIds: [] }, /^allowed_token_ids must be a non-empty list/],
    [{ allowedTokenIds: [2, -1] }, /^allowed_token_ids must be a non-empty list/],
  ];
  for (const [user, message] of bad) {
    assert.throws(
      () => resolveSamplingParams(user, null),
      (e: unknown) => e instanceof SwallowError && message.test(e.message),
      JSON.stringify(user),
    );
  }
  assert.throws(() => resolveSamplingParams({}, { temperature: -1 }), /^SwallowError: temperature/);
  assert.doesNotThrow(() => resolveSamplingParams({ presencePenalty: -2, frequencyPenalty: 2, minP: 1, topP: 1, topK: -1 }, null));
});

test("temperature 1, no filters: samples follow the full distribution", () => {
  checkSampling(params({}), expectedFromRanks([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
});

test("top-p keeps the token that crosses p, and nothing after it", () => {
  // Cumulative mass before each rank: 0, .30, .50, .65, .75, .83, ...
  checkSampling(params({ topP: 0.7499 }), expectedFromRanks([0, 1, 2, 3]));
  checkSampling(params({ topP: 0.7501 }), expectedFromRanks([0, 1, 2, 3, 4]));
  checkSampling(params({ topP: 0.8 }), expectedFromRanks([0, 1, 2, 3, 4]));
  checkSampling(params({ topP: 0.1 }), expectedFromRanks([0]), 2000);
});

test("top-k keeps the k most likely tokens, ties at the k-th value included", () => {
  checkSampling(params({ topK: 3 }), expectedFromRanks([0, 1, 2]));
  checkSampling(params({ topK: 1 }), expectedFromRanks([0]), 2000);
  const sampler = new Sampler();
  const tied = new Float32Array([Math.log(0.2), Math.log(0.4), Math.log(0.2), Math.log(0.2)]);
  assert.deepEqual(sampler.distribution(tied, params({ topK: 2 }), NO_CONTEXT).tokenIds, [1, 0, 2, 3]);
});

test("min-p keeps tokens with p >= min_p · p_max, measured after temperature", () => {
  // .25 · .30 = .075: keeps .08, drops .07.
  checkSampling(params({ minP: 0.25 }), expectedFromRanks([0, 1, 2, 3, 4]));
  // T = 2: tempered p ∝ sqrt(p), so min_p .5 keeps p ≥ .25 · .30 = .075 (before temperature it would keep only p ≥ .15).
  checkSampling(params({ temperature: 2, minP: 0.5 }), expectedFromRanks([0, 1, 2, 3, 4], 2));
  // A token exactly at the threshold is kept (vLLM masks only p < min_p · p_max): min_p 1 keeps the tied maxima.
  const tiedMax = new Float32Array([1, 3, 3, 2]);
  assert.deepEqual(new Sampler().distribution(tiedMax, params({ minP: 1 }), NO_CONTEXT), { tokenIds: [1, 2], probs: [0.5, 0.5] });
});

test("filters compose in vLLM's order: temperature → min-p → top-k → top-p on the renormalised survivors", () => {
  // min_p .25 → ranks 0-4; top_k 4 → ranks 0-3 (mass .75); renormalised .4, .267, .2, .133; top_p .6 → ranks 0, 1.
  // (top-p on the original probabilities would keep ranks 0-2.)
  checkSampling(params({ minP: 0.25, topK: 4, topP: 0.6 }), expectedFromRanks([0, 1]));
  // T = .5: weights ∝ p²: .09, .04, .0225, .01, ... total .1592 → cumulative .565, .817 → top_p .8 keeps ranks 0-2.
  checkSampling(params({ temperature: 0.5, topP: 0.8 }), expectedFromRanks([0, 1, 2], 0.5));
  checkSampling(params({ temperature: 0.5 }), expectedFromRanks([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.5));
});

test("greedy: argmax of the penalised logits, lowest id on ties, no randomness consumed", () => {
  const sampler = new Sampler();
  const rng = new Rng(1);
  const before = rng.state;
  const logits = new Float32Array([1, 5, 5, 2]);
  const greedy = params({ temperature: 0 });
  assert.equal(sampler.sample(logits, greedy, rng, NO_CONTEXT).tokenId, 1);
  assert.deepEqual(rng.state, before);
  // Repetition penalty 2 on token 1 (5 → 2.5) hands the argmax to token 2.
  const penalised = params({ temperature: 0, repetitionPenalty: 2 });
  assert.equal(sampler.sample(logits, penalised, rng, { promptTokenIds: [1], outputTokenIds: [] }).tokenId, 2);
});

test("penalties on a hand-computed example: repetition over prompt+output, presence/frequency over output only", () => {
  const logits = new Float32Array([2.0, -1.0, 0.5, 3.0, -2.0, 0.0]);
  const context = { promptTokenIds: [0, 1], outputTokenIds: [3, 3, 2] };
  const sampling = params({ repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 });
  // rep 2:   [1.0, -2.0, 0.25, 1.5, -2.0, 0.0]  (tokens 0-3 seen; positive ÷2, negative ×2)
  // freq .5: token 3 (×2) −1.0 → 0.5; token 2 (×1) −0.5 → −0.25
  // pres .25: tokens 2, 3 → −0.5, 0.25 (prompt-only tokens 0, 1 untouched)
  const penalised = [1.0, -2.0, -0.5, 0.25, -2.0, 0.0];
  const z = penalised.reduce((a, x) => a + Math.exp(x), 0);
  const dist = new Sampler().distribution(logits, sampling, context);
  assert.deepEqual(dist.tokenIds, [0, 3, 5, 2, 1, 4]);
  dist.tokenIds.forEach((id, i) => assert.ok(Math.abs(dist.probs[i] - Math.exp(penalised[id]) / z) < 1e-6, `token ${id}`));
  const greedy = new Sampler().sample(logits, { ...sampling, temperature: 0 }, new Rng(0), context);
  assert.equal(greedy.tokenId, 0);
  assert.deepEqual(Array.from(logits), [2.0, -1.0, 0.5, 3.0, -2.0, 0.0], "input logits are not modified");
  // An id outside the vocabulary is a bug upstream; the scratch state must survive it.
  const sampler = new Sampler();
  assert.throws(() => sampler.distribution(logits, sampling, { promptTokenIds: [0, 1], outputTokenIds: [3, 6] }), RangeError);
  assert.deepEqual(sampler.distribution(logits, sampling, context).tokenIds, [0, 3, 5, 2, 1, 4]);
});

test("logit_bias: added to the logits after min_tokens and before the penalties, clamped to [-100, 100]", () => {
  const logits = new Float32Array([2.0, -1.0, 0.5, 3.0, -2.0, 0.0]);
  const context = { promptTokenIds: [0], outputTokenIds: [2] };
  // A bias on a penalised token tells the order: token 0 (prompt) 2.0 + 1.0 = 3.0, then ÷ 2 = 1.5 (penalties first
  // would give 2.0 ÷ 2 + 1.0 = 2.0); token 2 (output) 0.5 − 1.5 = −1.0, then × 2 = −2.0 (penalties first: −0.5).
  const biased = new Map([
    [0, 1.0],
    [2, -1.5],
  ]);
  const sampling = params({ repetitionPenalty: 2, logitBias: biased });
  const processed = [1.5, -1.0, -2.0, 3.0, -2.0, 0.0];
  const z = processed.reduce((a, x) => a + Math.exp(x), 0);
  const dist = new Sampler().distribution(logits, sampling, context);
  assert.equal(dist.tokenIds.length, 6);
  dist.tokenIds.forEach((id, i) => assert.ok(Math.abs(dist.probs[i] - Math.exp(processed[id]) / z) < 1e-6, `token ${id}`));
  assert.deepEqual(Array.from(logits), [2.0, -1.0, 0.5, 3.0, -2.0, 0.0], "input logits are not modified");
  // Clamped as vLLM does: +250 → +100 (all but forces token 5), −250 → −100.
  const clamped = params({
    temperature: 0,
    logitBias: new Map([
      [5, 250],
      [3, -250],
    ]),
  });
  assert.deepEqual(
    [...clamped.logitBias!],
    [
      [5, 100],
      [3, -100],
    ],
  );
  assert.equal(new Sampler().sample(logits, clamped, new Rng(0), NO_CONTEXT).tokenId, 5);
  // −100 on the argmax hands it to the next token.
  const banned = params({ temperature: 0, logitBias: new Map([[3, -100]]) });
  assert.equal(new Sampler().sample(logits, banned, new Rng(0), NO_CONTEXT).tokenId, 0);
  // A stop token masked by min_tokens stays masked whatever its bias.
  const masked = params({ temperature: 0, minTokens: 1, stopTokenIds: [1], logitBias: new Map([[1, 100]]) });
  assert.equal(new Sampler().sample(logits, masked, new Rng(0), NO_CONTEXT).tokenId, 3);
  // Log-probs stay those of the raw model (vLLM's raw_logprobs): the bias changes the choice, not the reported numbers.
  const withLogprobs = params({ temperature: 0, logprobs: 1, logitBias: new Map([[1, 10]]) });
  const result = new Sampler().sample(logits, withLogprobs, new Rng(0), NO_CONTEXT);
  const rawZ = Array.from(logits).reduce((a, x) => a + Math.exp(x), 0);
  assert.equal(result.tokenId, 1);
  assert.ok(Math.abs(result.logprob - (-1.0 - Math.log(rawZ))) < 1e-6);
  // An empty map is no bias at all.
  assert.equal(params({ logitBias: new Map() }).logitBias, undefined);
});

test("allowed_token_ids: only those tokens can be drawn, renormalised among themselves; then bias and penalties", () => {
  const logits = new Float32Array([2.0, -1.0, 0.5, 3.0, -2.0, 0.0]);
  const allowed = params({ allowedTokenIds: [5, 1, 2, 5] });
  assert.deepEqual(allowed.allowedTokenIds, [5, 1, 2], "duplicates dropped");
  const dist = new Sampler().distribution(logits, allowed, NO_CONTEXT);
  const z = Math.exp(0.0) + Math.exp(-1.0) + Math.exp(0.5);
  assert.deepEqual(dist.tokenIds, [2, 5, 1]);
  dist.tokenIds.forEach((id, i) => assert.ok(Math.abs(dist.probs[i] - Math.exp(logits[id]) / z) < 1e-6, `token ${id}`));
  const sampler = new Sampler();
  assert.equal(sampler.sample(logits, params({ temperature: 0, allowedTokenIds: [4, 1] }), new Rng(0), NO_CONTEXT).tokenId, 1);
  // A bias lifts an allowed token; it cannot bring back one outside the list.
  const biased = params({
    temperature: 0,
    allowedTokenIds: [4, 1],
    logitBias: new Map([
      [4, 5],
      [3, 100],
    ]),
  });
  assert.equal(sampler.sample(logits, biased, new Rng(0), NO_CONTEXT).tokenId, 4);
  // The scratch marks are left clean: a later penalised request is unaffected.
  const penalised = new Sampler();
  penalised.distribution(logits, allowed, NO_CONTEXT);
  const context = { promptTokenIds: [0, 1], outputTokenIds: [3, 3, 2] };
  const sampling = params({ repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 });
  assert.deepEqual(
    penalised.distribution(logits, sampling, context).tokenIds,
    new Sampler().distribution(logits, sampling, context).tokenIds,
  );
});

test("min_tokens: stop token ids cannot be chosen until min_tokens tokens were generated", () => {
  const sampler = new Sampler();
  const logits = new Float32Array([0, 1, 6, 0.5, 5.5]);
  const sampling = params({ minTokens: 3, stopTokenIds: [2, 4, 999] });
  const early = { promptTokenIds: [], outputTokenIds: [0, 1] };
  const late = { promptTokenIds: [], outputTokenIds: [0, 1, 0] };
  assert.equal(sampler.sample(logits, { ...sampling, temperature: 0 }, new Rng(0), early).tokenId, 1);
  assert.equal(sampler.sample(logits, { ...sampling, temperature: 0 }, new Rng(0), late).tokenId, 2);
  const rng = new Rng(9);
  for (let i = 0; i < 2000; i++) {
    const id = sampler.sample(logits, sampling, rng, early).tokenId;
    assert.ok(id !== 2 && id !== 4, `stop token ${id} sampled before min_tokens`);
  }
  assert.deepEqual(new Set(sampler.distribution(logits, sampling, late).tokenIds), new Set([0, 1, 2, 3, 4]));
});

test("same seed ⇒ same tokens whatever else is sampled in between; different seed ⇒ different tokens", () => {
  const sampler = new Sampler();
  const logits = handLogits();
  const sampling = params({ temperature: 0.9, topP: 0.95 });
  const run = (seed: number, interleave: boolean): number[] => {
    const rng = new Rng(seed);
    const other = new Rng(seed + 1000);
    const out: number[] = [];
    for (let i = 0; i < 200; i++) {
      if (interleave) sampler.sample(logits, params({}), other, NO_CONTEXT);
      out.push(sampler.sample(logits, sampling, rng, NO_CONTEXT).tokenId);
    }
    return out;
  };
  assert.deepEqual(run(42, false), run(42, true));
  assert.notDeepEqual(run(42, false), run(43, false));
});

test("logprobs are of the raw distribution, whatever the temperature, filters and penalties", () => {
  const logits = new Float32Array([1.5, 3.0, 3.0, -0.5, 2.0, 0.25]);
  const z = Math.log(Array.from(logits).reduce((a, x) => a + Math.exp(x), 0));
  const sampling = params({ temperature: 0.3, topK: 2, repetitionPenalty: 1.3, presencePenalty: 0.7, logprobs: 3 });
  const context = { promptTokenIds: [1], outputTokenIds: [2] };
  const sampler = new Sampler();
  const rng = new Rng(5);
  for (let i = 0; i < 50; i++) {
    const r = sampler.sample(logits, sampling, rng, context);
    assert.ok(Math.abs(r.logprob - (logits[r.tokenId] - z)) < 1e-9);
    assert.deepEqual(
      r.topLogprobs.map((t) => t.tokenId),
      [1, 2, 4],
    );
    r.topLogprobs.forEach((t) => assert.ok(Math.abs(t.logprob - (logits[t.tokenId] - z)) < 1e-9));
  }
  assert.deepEqual(sampler.sample(logits, params({ temperature: 0 }), rng, NO_CONTEXT).topLogprobs, []);
  const all = sampler.sample(logits, params({ temperature: 0, logprobs: 20 }), rng, NO_CONTEXT).topLogprobs;
  assert.deepEqual(
    all.map((t) => t.tokenId),
    [1, 2, 4, 0, 5, 3],
  );
});

/** Brute force over a full sort, for comparison with the sampler's partial selection. */
function referenceDistribution(logits: Float32Array, p: SamplingParams): Map<number, number> {
  const ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const max = logits[ids[0]];
  let kept = ids.map((id) => ({ id, w: Math.exp((logits[id] - max) / p.temperature) })).filter((t) => t.w >= p.minP && t.w > 0);
  if (p.topK > 0 && p.topK < kept.length) {
    const kth = logits[kept[p.topK - 1].id];
    kept = kept.filter((t) => logits[t.id] >= kth);
  }
  const total = kept.reduce((a, t) => a + t.w, 0);
  const nucleus: typeof kept = [];
  let mass = 0;
  for (const t of kept) {
    if (mass >= p.topP * total) break;
    nucleus.push(t);
    mass += t.w;
  }
  return new Map(nucleus.map((t) => [t.id, t.w / mass]));
}

test("128256-token vocabulary: partial selection equals a full sort; sampling is fast", () => {
  const V = 128256;
  const gen = new Rng(77);
  const logits = new Float32Array(V);
  // Roughly Zipfian logits with noise, shuffled over ids, like a language model's.
  for (let i = 0; i < V; i++) logits[i] = 12 - 1.1 * Math.log(1 + i) + 2 * gen.nextFloat();
  for (let i = V - 1; i > 0; i--) {
    const j = Math.floor(gen.nextFloat() * (i + 1));
    [logits[i], logits[j]] = [logits[j], logits[i]];
  }
  const sampler = new Sampler();
  const configs = [
    params({ temperature: 0.6, topP: 0.9 }),
    params({ temperature: 1, topP: 0.99 }),
    params({ temperature: 1.5, topP: 0.5 }),
    params({ temperature: 0.8, topK: 50, topP: 0.9 }),
    params({ temperature: 1, topK: 1000 }),
    params({ temperature: 0.7, minP: 0.05 }),
  ];
  for (const sampling of configs) {
    const got = sampler.distribution(logits, sampling, NO_CONTEXT);
    const want = referenceDistribution(logits, sampling);
    assert.equal(got.tokenIds.length, want.size, JSON.stringify(sampling));
    got.tokenIds.forEach((id, i) => assert.ok(Math.abs(got.probs[i] - want.get(id)!) < 1e-9, `token ${id}`));
  }

  // Flat logits: top-p 0.5 keeps exactly half the vocabulary, lowest ids first on ties.
  const flat = sampler.distribution(new Float32Array(V), params({ topP: 0.5 }), NO_CONTEXT);
  assert.equal(flat.tokenIds.length, V / 2);
  assert.equal(Math.max(...flat.tokenIds), V / 2 - 1);

  const rng = new Rng(3);
  const sampling = params({ temperature: 0.6, topP: 0.9, repetitionPenalty: 1.1, logprobs: 5 });
  const context = { promptTokenIds: Array.from({ length: 2000 }, (_, i) => i * 7), outputTokenIds: [1, 2, 3] };
  const start = performance.now();
  const n = 200;
  for (let i = 0; i < n; i++) sampler.sample(logits, sampling, rng, context);
  const msPerToken = (performance.now() - start) / n;
  assert.ok(msPerToken < 20, `${msPerToken.toFixed(2)} ms per sampled token`);
});

test("bad_words: banned after allowed_token_ids and before min_tokens / logit_bias / penalties; such rows need the host", () => {
  const logits = new Float32Array([2.0, -1.0, 0.5, 3.0, -2.0, 0.0]);
  const sampler = new Sampler();
  const greedy = (extra: Partial<SamplingParams>, outputTokenIds: number[] = []) =>
    sampler.sample(logits, params({ temperature: 0, ...extra }), new Rng(0), { promptTokenIds: [], outputTokenIds }).tokenId;
  assert.equal(greedy({}), 3);
  assert.equal(greedy({ badWordsTokenIds: [[3]] }), 0, "a one-token word is always banned");
  assert.equal(greedy({ badWordsTokenIds: [[2, 3]] }), 3, "a two-token word's last token is free unless its first came last");
  assert.equal(greedy({ badWordsTokenIds: [[2, 3]] }, [5, 2]), 0);
  // A logit bias (applied later) cannot bring a banned token back; it can lift another one.
  assert.equal(greedy({ badWordsTokenIds: [[3]], logitBias: new Map([[3, 100]]) }), 0);
  assert.equal(greedy({ badWordsTokenIds: [[3]], logitBias: new Map([[4, 10]]) }), 4);
  // With allowed_token_ids the ban applies inside the list.
  assert.equal(greedy({ allowedTokenIds: [3, 5], badWordsTokenIds: [[3]] }), 5);
  // Sampled rows never draw a banned token.
  const dist = sampler.distribution(logits, params({ badWordsTokenIds: [[3], [0]] }), NO_CONTEXT);
  assert.deepEqual(dist.tokenIds, [2, 5, 1, 4]);
  // Raw log-probs still describe the model.
  const withLogprobs = sampler.sample(logits, params({ temperature: 0, logprobs: 1, badWordsTokenIds: [[3]] }), new Rng(0), NO_CONTEXT);
  assert.deepEqual(
    withLogprobs.topLogprobs.map((t) => t.tokenId),
    [3],
  );
  assert.equal(transformsLogits(params({ badWordsTokenIds: [[3]] })), true);
  assert.equal(transformsLogits(params({})), false);
  assert.equal(params({ badWordsTokenIds: [] }).badWordsTokenIds, undefined);
  assert.throws(() => params({ badWordsTokenIds: [[]] }), /^SwallowError: bad_words must be token sequences/);
  assert.throws(() => params({ badWordsTokenIds: [[1, -2]] }), /^SwallowError: bad_words must be token sequences/);
});
