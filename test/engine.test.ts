import test from "node:test";
import assert from "node:assert/strict";
import { LanguageModel, type LoadOptions } from "../src/engine/language-model.js";
import { EngineBusyError } from "../src/engine/request.js";
import type { GenerationEvent } from "../src/engine/generate.js";
import { scoreTokens } from "../src/engine/score.js";
import { warmUp } from "../src/engine/warm-up.js";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import type { KvCache, KvCacheLayout } from "../src/gpu/backend.js";
import type { MemoryAccount } from "../src/engine/memory-account.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { tinyDir } from "./support/tiny-fixtures.js";
import {
  collect,
  concurrentVersusAlone,
  deviceVersusHostSampling,
  greedyRequest,
  makePrompts,
  mixedSamplingVersusAlone,
  seededSamplingVersusAlone,
} from "./support/engine-checks.js";

const load = (options: Omit<LoadOptions, "backend"> = {}) =>
  LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend: new ReferenceBackend(), maxModelLen: 96, ...options });

test("engine: 32 concurrent greedy requests give exactly what each gives alone (batching, preemption, prefix cache)", () =>
  concurrentVersusAlone(new ReferenceBackend()));

test("engine: greedy sampling on the device gives the host sampler's tokens and log-probs", () =>
  deviceVersusHostSampling(new ReferenceBackend()));

test("engine: seeded sampling gives each request the same tokens alone and among others", () =>
  seededSamplingVersusAlone(new ReferenceBackend()));

test("engine: a step samples on the host only the rows that need logits; each request gets what it gets alone", () =>
  mixedSamplingVersusAlone(new ReferenceBackend()));

test("engine: kvCacheBytes sizes the KV cache in whole blocks of the model's KV rows; too small for one sequence is an error", async () => {
  const accounts: number[] = [];
  const model = await load({ maxNumSeqs: 4, kvCacheBytes: 1_000_000, onMemoryAccount: (a) => accounts.push(a.kvCacheTokens) });
  const { numLayers, numKvHeads, headDim } = model.spec;
  const perToken = numLayers * 2 * numKvHeads * headDim * new ReferenceBackend().kvBytesPerValue;
  const tokens = Math.floor(1_000_000 / perToken / 16) * 16;
  assert.ok(tokens >= 96, `the fixture's budget holds ${tokens} tokens`);
  assert.deepEqual(accounts, [tokens]);
  assert.equal(model.runner.allocator.numBlocks, tokens / 16);
  await assert.rejects(load({ kvCacheBytes: perToken * 80 }), /holds 80 tokens .* fewer than one sequence of --max-model-len 96/);
});

/** The reference backend on a "device" that holds at most `capacityTokens` of KV cache, as allocateKvCache reports it. */
class CappedBackend extends ReferenceBackend {
  constructor(private readonly capacityTokens: number) {
    super();
  }
  async allocateKvCache(layout: KvCacheLayout): Promise<KvCache | null> {
    return layout.numBlocks * layout.blockSize <= this.capacityTokens ? this.createKvCache(layout) : null;
  }
  releaseKvCache(): void {}
}

test("engine: a default KV cache that does not fit the device shrinks to what does (with a notice); a size given is refused", async () => {
  const notices: string[] = [];
  const accounts: MemoryAccount[] = [];
  const tree = new NodeFileTree(tinyDir("gqa-llama3"));
  // 8 sequences of 96 tokens want 768 tokens (48 blocks); the device holds 400 (25 whole blocks).
  const model = await LanguageModel.load(tree, {
    backend: new CappedBackend(400),
    maxModelLen: 96,
    maxNumSeqs: 8,
    onNotice: (m) => notices.push(m),
    onMemoryAccount: (a) => accounts.push(a),
  });
  assert.equal(model.runner.allocator.numBlocks, 25);
  // The account printed before the upload gives the fitted cache as an upper bound; a backend that cannot fit a
  // cache (the plain reference backend) allocates what is asked, so its account is exact.
  assert.equal(accounts[0].kvCacheFitted, true);
  await LanguageModel.load(tree, { backend: new ReferenceBackend(), maxModelLen: 96, onMemoryAccount: (a) => accounts.push(a) });
  assert.equal(accounts[1].kvCacheFitted, false);
  assert.equal(notices.length, 1);
  assert.match(
    notices[0],
    /^memory: the default KV cache of 768 tokens does not fit beside the weights on cpu; it holds 400 tokens \(.* MB\) instead/,
  );
  const [prompt] = makePrompts(1, model.spec.vocabSize);
  const result = await collect(model.engine.submit(greedyRequest(model, prompt, 4)));
  assert.equal(result.tokens.length, 4);
  const perToken = model.spec.numLayers * 2 * model.spec.numKvHeads * model.spec.headDim * 4;
  await assert.rejects(
    LanguageModel.load(tree, { backend: new CappedBackend(400), maxModelLen: 96, kvCacheBytes: perToken * 512 }),
    /^SwallowError: out of GPU memory: a KV cache of 512 tokens .* on cpu; give a smaller --kv-cache-memory-bytes or lower --max-model-len$/,
  );
});

test("engine: a prefix-cache hit gives the same tokens as a full prefill, and counts the reused tokens", async () => {
  const model = await load({ maxNumSeqs: 4 });
  const [prompt] = makePrompts(1, model.spec.vocabSize); // 43 tokens: 2 full blocks of 16 can be reused
  const first = await collect(model.engine.submit(greedyRequest(model, prompt, 8)));
  const second = await collect(model.engine.submit(greedyRequest(model, prompt, 8)));
  assert.deepEqual(second.tokens, first.tokens);
  assert.equal(model.engine.stats().prefixCacheHitTokensTotal, 32);
});

test("engine: prompt log-probs (echo) equal teacher-forced scoring, with max_tokens 0 and with generation", async () => {
  const model = await load({ maxNumSeqs: 2, maxBatchTokens: 16 });
  const [, prompt] = makePrompts(2, model.spec.vocabSize);
  const reference = await scoreTokens(model.runner, prompt);
  for (const maxTokens of [0, 3]) {
    const params = model.resolveSampling({ temperature: 0, maxTokens });
    const { events } = await collect(model.engine.submit({ promptIds: prompt, params, promptLogprobs: 2 }));
    const got = events[0].promptLogprobs!;
    assert.equal(got.length, prompt.length);
    assert.deepEqual(
      got.map((p) => p.tokenId),
      prompt,
    );
    got.forEach((p, i) => {
      if (i === 0) return assert.equal(p.logprob, null);
      assert.ok(Math.abs(p.logprob! - reference.logprobs[i]!) < 1e-9, `position ${i}`);
      assert.equal(p.topLogprobs.length, 2);
      assert.equal(p.topLogprobs[0].tokenId, reference.argmax[i - 1]);
    });
    assert.equal(events.filter((e) => e.tokenId !== null).length, maxTokens);
    assert.equal(events.at(-1)!.finishReason, "length");
  }
});

test("engine: aborting frees the request's KV blocks at once; others carry on", async () => {
  const model = await load({ maxNumSeqs: 4, prefixCaching: false });
  const prompts = makePrompts(2, model.spec.vocabSize);
  const controller = new AbortController();
  const other = collect(model.engine.submit(greedyRequest(model, prompts[1], 20)));
  const events: GenerationEvent[] = [];
  for await (const event of model.engine.submit({ ...greedyRequest(model, prompts[0], 50), signal: controller.signal })) {
    events.push(event);
    if (events.length === 3) controller.abort();
  }
  assert.equal(events.at(-1)!.finishReason, "abort");
  assert.ok(events.length <= 5);
  assert.equal((await other).tokens.length, 20);
  assert.equal(model.engine.stats().kvBlocksUsed, 0);

  // Leaving a for-await early is an abort too.
  for await (const event of model.engine.submit(greedyRequest(model, prompts[0], 50))) if (event.tokenId !== null) break;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(model.engine.stats().kvBlocksUsed, 0);
  assert.equal(model.engine.stats().running, 0);
});

test("engine: a full waiting queue refuses at once; bad prompts are one-line errors", async () => {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), {
    backend: new ReferenceBackend(),
    maxModelLen: 32,
    maxNumSeqs: 1,
  });
  const engine = model.engine;
  const params = model.resolveSampling({ temperature: 0, maxTokens: 4 });
  assert.throws(() => engine.submit({ promptIds: [], params }), /prompt is empty/);
  assert.throws(() => engine.submit({ promptIds: Array(32).fill(1), params }), /model length is 32/);
  assert.throws(() => engine.submit({ promptIds: [1, 1e9], params }), /outside the vocabulary/);
  assert.throws(() => engine.submit({ promptIds: [1], params: { ...params, maxTokens: 0 } }), /max_tokens 0/);
  // Fill the queue: 1 running + 1024 waiting (the default bound) are accepted, the next is refused.
  const streams = Array.from({ length: 1025 }, () => engine.submit({ promptIds: [1, 2], params, signal: AbortSignal.abort() }));
  assert.throws(() => engine.submit({ promptIds: [1, 2], params }), EngineBusyError);
  await Promise.all(streams.map(collect));
  assert.equal(engine.stats().waiting, 0);
});

test("warm-up: a pass at each size where the backend's kernels change, decode batches up to maxNumSeqs; counters zeroed, outputs unchanged", async () => {
  const backend = new ReferenceBackend();
  const asked: number[] = [];
  const kernelClass = (rows: number) => (asked.push(rows), rows < 3 ? "a" : rows < 10 ? "b" : "c");
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), {
    backend: Object.assign(backend, { kernelClass }),
    maxModelLen: 96,
    maxNumSeqs: 4,
    maxBatchTokens: 32,
  });
  const cold = await load({ maxNumSeqs: 4, maxBatchTokens: 32 });
  const prompt = makePrompts(1, model.spec.vocabSize)[0];
  const report = await warmUp(model, { maxNumSeqs: 4 });
  // Classes 1–2, 3–9, 10–32; of these only the last holds multiples of 16 (32 is its largest).
  assert.deepEqual(report.sizes, [1, 3, 10, 32]);
  assert.deepEqual(report.decodeBatches, [1, 3]);
  assert.deepEqual(
    asked,
    Array.from({ length: 32 }, (_, i) => i + 1),
    "every pass size up to maxBatchTokens is classified",
  );
  const stats = model.engine.stats();
  assert.deepEqual(
    [stats.running, stats.waiting, stats.requestsFinishedTotal, stats.promptTokensTotal, stats.generationTokensTotal],
    [0, 0, 0, 0, 0],
  );
  const warmTokens = (await collect(model.engine.submit(greedyRequest(model, prompt, 12)))).tokens;
  const coldTokens = (await collect(cold.engine.submit(greedyRequest(cold, prompt, 12)))).tokens;
  assert.deepEqual(warmTokens, coldTokens);
  assert.equal(model.engine.stats().requestsFinishedTotal, 1);
  // A model as short as 3 tokens warms up too (prompts and outputs shrink to fit).
  const short = await load({ maxModelLen: 3, maxNumSeqs: 2 });
  const tiny = await warmUp(short, { maxNumSeqs: 2 });
  assert.deepEqual(tiny.sizes, [1]);
});
