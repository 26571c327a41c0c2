import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { EngineBusyError, type EngineRequest, type InferenceEngine } from "../../engine/request.js";
import type { GenerationEvent } from "../../engine/generate.js";
import type { SamplingParams } from "../../engine/sampler.js";
import { EngineBackend, type EngineModel } from "./engine-backend.js";

const tokenizer = Tokenizer.fromJson(readFileSync(path.join(fixturesDir, "tiny-tokenizer/tokenizer.json"), "utf8"));
const vectors = JSON.parse(readFileSync(path.join(fixturesDir, "eval/backends/pair-vectors.json"), "utf8")) as {
  cases: { context: string; continuation: string; context_ids: number[]; continuation_ids: number[]; context_ids_with_bos: number[] }[];
};

/** A fake engine: prompt position i has log-prob −i/10, its top alternative is token 7; generation emits `reply` in pieces. */
class FakeEngine implements InferenceEngine {
  maxModelLen = 4096;
  readonly vocabSize = 1025;
  readonly requests: EngineRequest[] = [];
  busyFirst = 0;
  constructor(private readonly reply: string[]) {}
  async *submit(request: EngineRequest): AsyncGenerator<GenerationEvent> {
    if (this.busyFirst > 0) {
      this.busyFirst--;
      throw new EngineBusyError(3);
    }
    this.requests.push(request);
    const promptLogprobs =
      request.promptLogprobs == null
        ? undefined
        : request.promptIds.map((tokenId, i) => ({
            tokenId,
            logprob: i === 0 ? null : -i / 10,
            topLogprobs: [{ tokenId: 7, logprob: -0.05 }],
          }));
    if (request.params.maxTokens === 0) {
      yield { tokenId: null, text: "", logprob: null, topLogprobs: [], finishReason: "length", promptLogprobs };
      return;
    }
    for (const [k, text] of this.reply.entries())
      yield { tokenId: 1, text, logprob: -1, topLogprobs: [], ...(k === 0 ? { promptLogprobs } : {}) };
    yield { tokenId: null, text: "", logprob: null, topLogprobs: [], finishReason: "stop" };
  }
  stats() {
    return {
      running: 0,
      waiting: 0,
      kvBlocksTotal: 0,
      kvBlocksUsed: 0,
      promptTokensTotal: 0,
      generationTokensTotal: 0,
      prefixCacheHitTokensTotal: 0,
      preemptionsTotal: 0,
      requestsFinishedTotal: 0,
    };
  }
  async close() {}
}

function model(engine: FakeEngine): EngineModel {
  return {
    tokenizer,
    engine,
    // Mimics generation_config defaults that must be overridden by the backend's explicit settings.
    resolveSampling: (user) =>
      ({
        temperature: 0.6,
        topP: 0.9,
        topK: 50,
        minP: 0,
        repetitionPenalty: 1.1,
        presencePenalty: 0,
        frequencyPenalty: 0,
        maxTokens: 99,
        minTokens: 0,
        stopTokenIds: [1025],
        stop: [],
        logprobs: 0,
        ...user,
      }) as SamplingParams,
    encodeChat: (messages) => tokenizer.encode(messages.map((m) => `<${m.role}>${m.content}`).join(""), { addBos: true }),
  };
}

test("loglikelihood scores the continuation's prompt log-probs of lm-eval's token split", async () => {
  const engine = new FakeEngine([]);
  const backend = new EngineBackend(model(engine), { id: "m" });
  const c = vectors.cases[0];
  const result = await backend.loglikelihood({ kind: "loglikelihood", context: c.context, continuation: c.continuation, addBos: true });
  const request = engine.requests[0];
  assert.deepEqual(request.promptIds, [...c.context_ids_with_bos, ...c.continuation_ids]);
  assert.equal(request.params.maxTokens, 0);
  assert.equal(request.promptLogprobs, 1);
  let expected = 0;
  for (let i = c.context_ids_with_bos.length; i < request.promptIds.length; i++) expected += -i / 10;
  assert.ok(Math.abs(result.logprob - expected) < 1e-12);
  assert.equal(result.isGreedy, false); // token 7 (−0.05) beats every continuation token
});

test("generateUntil: greedy with explicit settings, stop strings passed and applied, context left-truncated", async () => {
  const engine = new FakeEngine(["The answer", " is 4.\n\n", "Q: next"]);
  const backend = new EngineBackend(model(engine), { id: "m" });
  const text = await backend.generateUntil({
    kind: "generate",
    context: vectors.cases[2].context,
    until: ["\n\n"],
    maxTokens: 32,
    addBos: true,
    temperature: 0,
    maxContextTokens: 4,
  });
  assert.equal(text, "The answer is 4.");
  const { params, promptIds } = engine.requests[0];
  assert.equal(params.temperature, 0);
  assert.equal(params.topP, 1);
  assert.equal(params.topK, 0);
  assert.equal(params.repetitionPenalty, 1);
  assert.equal(params.maxTokens, 32);
  assert.deepEqual(params.stop, ["\n\n"]);
  assert.deepEqual(params.stopTokenIds, [1025]);
  assert.deepEqual(promptIds, vectors.cases[2].context_ids_with_bos.slice(-4));
});

test("chat renders through the chat template; a busy engine is retried", async () => {
  const engine = new FakeEngine(["こん", "にちは"]);
  engine.busyFirst = 2;
  const backend = new EngineBackend(model(engine), { id: "m" });
  const reply = await backend.chat({ kind: "chat", messages: [{ role: "user", content: "hi" }], maxTokens: 8, temperature: 0.7, seed: 3 });
  assert.equal(reply, "こんにちは");
  assert.deepEqual(engine.requests[0].promptIds, tokenizer.encode("<user>hi", { addBos: true }));
  assert.equal(engine.requests[0].params.temperature, 0.7);
  assert.equal(engine.requests[0].params.seed, 3);
  const stubborn = new FakeEngine([]);
  stubborn.busyFirst = 5;
  await assert.rejects(
    new EngineBackend(model(stubborn), { id: "m", busyRetries: 1 }).chat({ kind: "chat", messages: [], maxTokens: 1, temperature: 0 }),
    /busy/,
  );
});

test("loglikelihood drops context tokens from the left when the pair exceeds the model length", async () => {
  const engine = new FakeEngine([]);
  engine.maxModelLen = 10;
  const backend = new EngineBackend(model(engine), { id: "m" });
  const c = vectors.cases[0];
  await backend.loglikelihood({ kind: "loglikelihood", context: c.context, continuation: c.continuation, addBos: false });
  const whole = [...c.context_ids, ...c.continuation_ids];
  assert.deepEqual(engine.requests[0].promptIds, whole.slice(whole.length - 10));
  engine.maxModelLen = c.continuation_ids.length;
  await assert.rejects(
    backend.loglikelihood({ kind: "loglikelihood", context: c.context, continuation: c.continuation, addBos: false }),
    /does not fit the model length/,
  );
});

test("generateUntil: with the tokenizer config's clean_up_tokenization_spaces, text is cleaned up as transformers 4.x decoded it", async () => {
  const request = { kind: "generate" as const, context: "Q:", until: ["\n\n"], maxTokens: 8, addBos: false, temperature: 0 };
  const raw = await new EngineBackend(model(new FakeEngine(["It is 5 . Really ?", "\n\nX"])), { id: "m" }).generateUntil(request);
  assert.equal(raw, "It is 5 . Really ?");
  const cleaned = await new EngineBackend(
    { ...model(new FakeEngine(["It is 5 . Really ?", "\n\nX"])), cleanUpTokenizationSpaces: true },
    { id: "m" },
  ).generateUntil(request);
  assert.equal(cleaned, "It is 5. Really?");
});
