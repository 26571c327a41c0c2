import { test } from "node:test";
import assert from "node:assert/strict";
import { EngineBackend } from "../src/eval/backends/engine-backend.js";
import { OpenAIBackend } from "../src/eval/backends/openai-backend.js";
import { encodePair } from "../src/eval/backends/tokenize-pair.js";
import { readTinyReference } from "./support/tiny-fixtures.js";
import { startTinyServer } from "./support/tiny-server.js";

/**
 * Both backends on the real engine (tiny transformers-made checkpoint) against transformers' own prompt log-probs
 * (reference.json, scripts/make_tiny_checkpoints.py): the in-process engine, and `swallow serve` over HTTP.
 */
const { model, server } = await startTinyServer({ maxNumSeqs: 4 });
const reference = await readTinyReference("gqa-llama3");

/** Context/continuation strings whose lm-eval split reproduces a reference prompt's tokens exactly (split after token k). */
function pairs() {
  const out: { context: string; continuation: string; expected: number }[] = [];
  for (const prompt of reference.prompts) {
    for (let k = 1; k < prompt.tokens.length; k++) {
      const context = model.tokenizer.decode(prompt.tokens.slice(0, k));
      const continuation = model.tokenizer.decode(prompt.tokens.slice(k));
      const split = encodePair(model.tokenizer, context, continuation, false);
      const same =
        split.contextIds.join() === prompt.tokens.slice(0, k).join() && split.continuationIds.join() === prompt.tokens.slice(k).join();
      if (!same) continue;
      out.push({ context, continuation, expected: prompt.logprobs.slice(k).reduce((a: number, b) => a + (b ?? NaN), 0) });
      break;
    }
  }
  return out;
}

test("EngineBackend and OpenAIBackend over swallow serve give transformers' continuation log-likelihoods", async () => {
  const cases = pairs();
  assert.ok(cases.length >= 1, "at least one reference prompt splits cleanly");
  console.log(`# ${cases.length} of ${reference.prompts.length} reference prompts compared`);
  const engine = new EngineBackend(model, { id: "tiny" });
  const http = new OpenAIBackend({ baseUrl: server.url, tokenizer: model.tokenizer, concurrency: 2 });
  assert.equal(await http.resolveModel(), "tiny");
  for (const c of cases) {
    const request = { kind: "loglikelihood" as const, context: c.context, continuation: c.continuation, addBos: false };
    const a = await engine.loglikelihood(request);
    const b = await http.loglikelihood(request);
    assert.ok(Math.abs(a.logprob - c.expected) < 2e-3, `engine ${a.logprob} vs transformers ${c.expected}`);
    assert.ok(Math.abs(b.logprob - c.expected) < 2e-3, `http ${b.logprob} vs transformers ${c.expected}`);
    assert.equal(a.isGreedy, b.isGreedy);
  }
});

test("greedy generateUntil agrees between the engine and the server", async () => {
  const engine = new EngineBackend(model, { id: "tiny" });
  const http = new OpenAIBackend({ baseUrl: server.url, model: "tiny", tokenizer: model.tokenizer });
  const request = {
    kind: "generate" as const,
    context: model.tokenizer.decode(reference.prompts[0].tokens),
    until: ["\n\n"],
    maxTokens: 8,
    addBos: false,
    temperature: 0,
  };
  assert.equal(await engine.generateUntil(request), await http.generateUntil(request));
});
