import assert from "node:assert/strict";
import { LanguageModel } from "../../src/engine/language-model.js";
import type { EngineRequest } from "../../src/engine/request.js";
import type { GenerationEvent } from "../../src/engine/generate.js";
import { Rng } from "../../src/engine/rng.js";
import type { Backend } from "../../src/gpu/backend.js";
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
 * Greedy decoding sampled on the device (ids fed from step to step without a readback) gives the tokens and
 * log-probs of the host sampler: the same requests with `logprobs: 1` take the host path.
 */
export async function deviceVersusHostSampling(backend: Backend): Promise<void> {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 96, maxNumSeqs: 4 });
  const prompts = makePrompts(4, model.spec.vocabSize);
  const run = (logprobs: number) =>
    Promise.all(
      prompts.map((promptIds) =>
        collect(
          model.engine.submit({ promptIds, params: model.resolveSampling({ temperature: 0, maxTokens: 10, minTokens: 10, logprobs }) }),
        ),
      ),
    );
  const device = await run(0);
  const host = await run(1);
  device.forEach((d, i) => {
    assert.deepEqual(d.tokens, host[i].tokens, `request ${i}`);
    d.events.forEach((event, j) => {
      if (event.logprob === null) return;
      assert.ok(Math.abs(event.logprob - host[i].events[j].logprob!) < 1e-4, `request ${i} token ${j}: ${event.logprob}`);
    });
  });
}

/**
 * Seeded sampling (temperature, top-p, penalties, stop strings: the host sampler, one step ahead on a pipelining
 * backend) gives each request the same tokens alone and among others.
 */
export async function seededSamplingVersusAlone(backend: Backend): Promise<void> {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 96, maxNumSeqs: 6 });
  const prompts = makePrompts(6, model.spec.vocabSize);
  const request = (promptIds: number[], i: number): EngineRequest => ({
    promptIds,
    params: model.resolveSampling({
      temperature: 0.8,
      topP: 0.9,
      topK: 50,
      presencePenalty: 0.3,
      seed: 100 + i,
      maxTokens: 12,
      stop: ["zz"],
    }),
  });
  const alone: number[][] = [];
  for (const [i, p] of prompts.entries()) alone.push((await collect(model.engine.submit(request(p, i)))).tokens);
  const together = await Promise.all(prompts.map((p, i) => collect(model.engine.submit(request(p, i)))));
  together.forEach((r, i) => assert.deepEqual(r.tokens, alone[i], `request ${i}`));
  assert.ok(new Set(alone.map((t) => t.join(","))).size > 1, "different seeds should sample differently");
}
