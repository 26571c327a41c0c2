import assert from "node:assert/strict";
import { LanguageModel } from "../../src/engine/language-model.js";
import type { EngineRequest } from "../../src/engine/request.js";
import type { GenerationEvent } from "../../src/engine/generate.js";
import { Rng } from "../../src/engine/rng.js";
import type { Backend } from "../../src/gpu/backend.js";
import type { SamplingParams } from "../../src/engine/sampler.js";
import { NodeFileTree } from "../../src/node/file-tree.js";
import { tinyDir } from "./tiny-fixtures.js";

/** Prompts of mixed lengths; every third one starts with the same 40 tokens (prefix-cache hits). */
export function makePrompts(count: number, vocab: number): number[][] {
  const rng = new Rng(7);
  const shared = Array.from({ length: 40 }, () => Math.floor(rng.nextFloat() * vocab));
  return Array.from({ length: count }, (_, i) => {
    const own = Array.from({ length: 3 + ((i * 7) % 30) }, () => Math.floor(rng.nextFloat() * vocab));
    return i % 3 === 0 ? [...shared, ...own] : own;
  });
}

export async function collect(stream: AsyncGenerator<GenerationEvent>): Promise<{ tokens: number[]; events: GenerationEvent[] }> {
  const events: GenerationEvent[] = [];
  for await (const event of stream) events.push(event);
  return { tokens: events.flatMap((e) => (e.tokenId === null ? [] : [e.tokenId])), events };
}

export function greedyRequest(model: LanguageModel, promptIds: number[], maxTokens: number): EngineRequest {
  // min_tokens = max_tokens: every request runs its full length, so the comparison covers many decode steps.
  return { promptIds, params: model.resolveSampling({ temperature: 0, maxTokens, minTokens: maxTokens }) };
}

/**
 * Batching invariance through the whole engine: 32 greedy requests submitted together (16 running at most, a
 * KV cache of 4 sequences' worth, so admission waits, preemption and prefix-cache hits all happen) must give
 * exactly the tokens each gives alone. Needs kernels whose reduction order does not depend on the batch.
 */
export async function concurrentVersusAlone(backend: Backend): Promise<void> {
  const load = (options: { maxNumSeqs?: number; kvCacheTokens?: number; maxBatchTokens?: number } = {}) =>
    LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 96, ...options });
  const alone = await load();
  const prompts = makePrompts(32, alone.spec.vocabSize);
  const expected: number[][] = [];
  for (const prompt of prompts) expected.push((await collect(alone.engine.submit(greedyRequest(alone, prompt, 12)))).tokens);

  const shared = await load({ maxNumSeqs: 16, kvCacheTokens: 4 * 96, maxBatchTokens: 64 });
  const results = await Promise.all(prompts.map((p) => collect(shared.engine.submit(greedyRequest(shared, p, 12)))));
  results.forEach((r, i) => assert.deepEqual(r.tokens, expected[i], `request ${i}`));
  const stats = shared.engine.stats();
  assert.ok(stats.preemptionsTotal > 0, "the small cache should have forced preemptions");
  assert.ok(stats.prefixCacheHitTokensTotal > 0, "shared prefixes should have hit the cache");
  assert.equal(stats.kvBlocksUsed, 0);
  assert.equal(stats.running + stats.waiting, 0);
  assert.equal(stats.requestsFinishedTotal, 32);
}

/**
 * Sampling on the device gives the host sampler's tokens: greedy (ids fed to the next step), and, where the backend
 * samples rows on the device (Backend.sampleRows), seeded temperature / top-k / top-p / min-p sampling, which draws
 * the same u from the request's generator and walks the same id order. The host path is forced by asking for a
 * top log-prob. Log-probs agree within 1e-4.
 */
export async function deviceVersusHostSampling(backend: Backend): Promise<void> {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 96, maxNumSeqs: 4 });
  const prompts = makePrompts(4, model.spec.vocabSize);
  const settings: Partial<SamplingParams>[] = [
    { temperature: 0 },
    { temperature: 0.8, topP: 0.9 },
    { temperature: 1.2, topK: 20, minP: 0.01, minTokens: 6 },
  ];
  for (const setting of settings) {
    const run = (logprobs: number) =>
      Promise.all(
        prompts.map((promptIds, i) =>
          collect(
            model.engine.submit({
              promptIds,
              params: model.resolveSampling({ minTokens: 10, ...setting, maxTokens: 10, logprobs, seed: 40 + i }),
            }),
          ),
        ),
      );
    const original = backend.sampleRows;
    let deviceDraws = 0;
    if (original) {
      backend.sampleRows = (...args) => {
        deviceDraws += args[2].rows.length;
        return original.apply(backend, args);
      };
    }
    let device: Awaited<ReturnType<typeof run>>;
    try {
      device = await run(0);
    } finally {
      if (original) backend.sampleRows = original;
    }
    const host = await run(1);
    const tokens = device.reduce((n, d) => n + d.tokens.length, 0);
    // Every sampled token was drawn on the device (a row of a request that finished meanwhile may add a draw).
    if (original && setting.temperature !== 0)
      assert.ok(deviceDraws >= tokens, `${JSON.stringify(setting)}: ${deviceDraws} device draws, ${tokens} tokens`);
    device.forEach((d, i) => {
      assert.deepEqual(d.tokens, host[i].tokens, `${JSON.stringify(setting)}, request ${i}`);
      d.events.forEach((event, j) => {
        if (event.logprob === null) return;
        assert.ok(Math.abs(event.logprob - host[i].events[j].logprob!) < 1e-4, `request ${i} token ${j}: ${event.logprob}`);
      });
    });
    if (setting.temperature !== 0) assert.ok(new Set(device.map((d) => d.tokens.join(","))).size > 1, "seeds should sample differently");
  }
}

/**
 * Seeded sampling gives each request the same tokens alone and among others: with penalties and stop strings (the
 * host sampler, one step ahead on a pipelining backend), and without (on the device where the backend can).
 */
export async function seededSamplingVersusAlone(backend: Backend): Promise<void> {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 96, maxNumSeqs: 6 });
  const prompts = makePrompts(6, model.spec.vocabSize);
  for (const penalties of [{ presencePenalty: 0.3 }, {}]) {
    const request = (promptIds: number[], i: number): EngineRequest => ({
      promptIds,
      params: model.resolveSampling({ temperature: 0.8, topP: 0.9, topK: 50, ...penalties, seed: 100 + i, maxTokens: 12, stop: ["zz"] }),
    });
    const alone: number[][] = [];
    for (const [i, p] of prompts.entries()) alone.push((await collect(model.engine.submit(request(p, i)))).tokens);
    const together = await Promise.all(prompts.map((p, i) => collect(model.engine.submit(request(p, i)))));
    together.forEach((r, i) => assert.deepEqual(r.tokens, alone[i], `request ${i}${penalties.presencePenalty ? " (penalties)" : ""}`));
    assert.ok(new Set(alone.map((t) => t.join(","))).size > 1, "different seeds should sample differently");
  }
}

/**
 * A step whose requests sample partly on the device and partly on the host (a top log-prob or a penalty needs the
 * logits) reads back only the host rows' logits (Backend.packSampled) and gives every request the tokens it gets
 * alone: greedy, seeded temperature / top-p, and the host kinds (top log-probs, penalties, logit bias, bad words)
 * side by side.
 */
export async function mixedSamplingVersusAlone(backend: Backend): Promise<void> {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 96, maxNumSeqs: 8 });
  const prompts = makePrompts(8, model.spec.vocabSize);
  const forced = 1000; // a logit bias of +100 makes every token this one (if the row was sampled on the host)
  const kinds: Partial<SamplingParams>[] = [
    { temperature: 0 },
    { temperature: 0.8, topP: 0.9 },
    { temperature: 0.8, topP: 0.9, logprobs: 2 },
    { temperature: 0 },
    { temperature: 1.1, topK: 30 },
    { temperature: 0.7, presencePenalty: 0.5 },
    { temperature: 0, logitBias: new Map([[forced, 100]]) },
    // The bad word "forced forced": the bias forces the token, the ban forbids it right after itself.
    { temperature: 0, logitBias: new Map([[forced, 100]]), badWordsTokenIds: [[forced, forced]] },
  ];
  const needsLogits = (k: Partial<SamplingParams>) => (k.logprobs ?? 0) > 0 || (k.presencePenalty ?? 0) !== 0 || k.logitBias !== undefined;
  const request = (promptIds: number[], i: number): EngineRequest => ({
    promptIds,
    params: model.resolveSampling({ ...kinds[i], seed: 300 + i, maxTokens: 10, minTokens: 10 }),
  });
  const alone: number[][] = [];
  for (const [i, p] of prompts.entries()) alone.push((await collect(model.engine.submit(request(p, i)))).tokens);
  assert.deepEqual(alone[6], Array(10).fill(forced), "the greedy request with a logit bias took the biased token");
  alone[7].forEach((id, i) => assert.equal(id === forced, i % 2 === 0, `bad word: token ${i} is ${id}`));
  const original = backend.packSampled;
  const hostRowCounts: number[] = [];
  backend.packSampled = (pairs, logits, hostRows) => {
    hostRowCounts.push(hostRows.length);
    return original.call(backend, pairs, logits, hostRows);
  };
  let together: Awaited<ReturnType<typeof collect>>[];
  try {
    together = await Promise.all(prompts.map((p, i) => collect(model.engine.submit(request(p, i)))));
  } finally {
    backend.packSampled = original;
  }
  together.forEach((r, i) => assert.deepEqual(r.tokens, alone[i], `request ${i} (${JSON.stringify(kinds[i])})`));
  assert.ok(hostRowCounts.length > 0, "the requests shared steps with rows sampled both ways");
  // Only the rows that need logits were read back: the host kinds, plus sampled ones where the backend cannot sample them.
  const limit = kinds.filter((k) => needsLogits(k) || (!backend.sampleRows && k.temperature !== 0)).length;
  for (const n of hostRowCounts) assert.ok(n >= 1 && n <= limit, `a step read back ${n} logits rows`);
}
