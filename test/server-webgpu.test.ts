import test, { after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { LanguageModel } from "../src/engine/language-model.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { App } from "../src/server/app.js";
import { startServer } from "../src/server/node-server.js";
import { readTinyReference, tinyDir } from "./support/tiny-fixtures.js";
import { openTestBackend } from "./support/webgpu.js";

/**
 * The server over the WebGPU backend (lavapipe in CI), where the engine pipelines steps: greedy requests sample on
 * the GPU and feed the next step, sampled ones run the host sampler one step ahead. Streamed text equals whole text,
 * concurrent requests equal lone ones, echo log-probs match transformers.
 */
const { backend, skip } = await openTestBackend();
const NAME = "tiny-webgpu";
const model = backend
  ? await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend, maxModelLen: 128, maxNumSeqs: 8 })
  : null;
const app = new App({ servedModelName: NAME });
if (model) app.setModel(model);
const server = model ? await startServer(app, { port: 0 }) : null;
const client = server ? new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 }) : null;
after(async () => {
  await server?.close({ graceMs: 1000 });
  await model?.engine.close({ abortRunning: true });
  await backend?.dispose();
});

test("webgpu server: greedy and seeded chat, streamed equals whole, concurrent equals alone", { skip }, async () => {
  const messages = [{ role: "user" as const, content: "こんにちは、調子はどう？" }];
  const settings = [
    { temperature: 0, max_tokens: 12 },
    { temperature: 0.8, top_p: 0.9, seed: 7, max_tokens: 12 },
  ];
  for (const s of settings) {
    const whole = await client!.chat.completions.create({ model: NAME, messages, ...s });
    let streamed = "";
    for await (const chunk of await client!.chat.completions.create({ model: NAME, messages, ...s, stream: true })) {
      streamed += chunk.choices[0]?.delta?.content ?? "";
    }
    assert.equal(streamed, whole.choices[0].message.content, JSON.stringify(s));
    const together = await Promise.all(Array.from({ length: 4 }, () => client!.chat.completions.create({ model: NAME, messages, ...s })));
    for (const r of together) assert.equal(r.choices[0].message.content, whole.choices[0].message.content, JSON.stringify(s));
  }
});

test("webgpu server: echo log-probs over HTTP are within the f16-KV tolerance of transformers'", { skip }, async () => {
  const reference = await readTinyReference("gqa-llama3");
  const prompt = reference.prompts[0];
  const response = await client!.completions.create({ model: NAME, prompt: prompt.tokens, echo: true, logprobs: 1, max_tokens: 0 });
  const got = response.choices[0].logprobs!.token_logprobs!;
  for (let i = 1; i < got.length; i++) assert.ok(Math.abs(got[i]! - prompt.logprobs[i]!) < 5e-2, `position ${i}`);
});
