import test from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import OpenAI from "openai";
import { App } from "../src/server/app.js";
import { startServer, type RunningServer } from "../src/server/node-server.js";
import { DEFAULT_REPLY, FakeEngine, fakeServedModel, tinyTokenizer, type FakeEngineOptions } from "./support/fake-engine.js";

const NAME = "swallow-test";
const KEY = "sk-test-key";
const tokenizer = await tinyTokenizer();

async function serve(options: FakeEngineOptions & { apiKey?: string; maxBodyBytes?: number } = {}) {
  const engine = new FakeEngine(tokenizer, options);
  const app = new App({ servedModelName: NAME, apiKey: options.apiKey });
  app.setModel(fakeServedModel(tokenizer, engine));
  const server = await startServer(app, { port: 0, maxBodyBytes: options.maxBodyBytes });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: options.apiKey ?? "none", maxRetries: 0 });
  return { engine, server, client };
}

/** One raw HTTP exchange (status, headers, body), so malformed requests reach the server as sent. */
function raw(server: RunningServer, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method, headers: { "Content-Type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const messages = [{ role: "user" as const, content: "こんにちは" }];

test("openai client: chat, streamed and not, with usage, logprobs, n and stop", async () => {
  const { server, client } = await serve({ apiKey: KEY });
  try {
    const whole = await client.chat.completions.create({ model: NAME, messages, logprobs: true, top_logprobs: 1, n: 2, seed: 1 });
    assert.equal(whole.choices.length, 2);
    assert.equal(whole.choices[0].message.content, DEFAULT_REPLY);
    assert.equal(whole.choices[1].finish_reason, "stop");
    assert.equal(whole.choices[0].logprobs?.content?.length, whole.usage!.completion_tokens / 2);
    const stream = await client.chat.completions.create({ model: NAME, messages, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, DEFAULT_REPLY);
    assert.equal(usage?.completion_tokens, whole.usage!.completion_tokens / 2);
    const stopped = await client.chat.completions.create({ model: NAME, messages, stop: ["🌸"] });
    assert.equal(stopped.choices[0].message.content, "こんにちは、世界！");
  } finally {
    await server.close();
  }
});

test("openai client: completions with echo logprobs, streaming, and a list of prompts", async () => {
  const { server, client } = await serve();
  try {
    const scored = await client.completions.create({ model: NAME, prompt: "日本の首都は東京", echo: true, logprobs: 0, max_tokens: 0 });
    const ids = tokenizer.encode("日本の首都は東京", { addBos: true });
    assert.equal(scored.choices[0].text, "日本の首都は東京");
    assert.equal(scored.choices[0].logprobs?.token_logprobs?.length, ids.length);
    assert.equal(scored.choices[0].logprobs?.token_logprobs?.[0], null);
    const list = await client.completions.create({ model: NAME, prompt: ["a", "b"], max_tokens: 3 });
    assert.deepEqual(
      list.choices.map((c) => c.index),
      [0, 1],
    );
    const whole = await client.completions.create({ model: NAME, prompt: "x", max_tokens: 50 });
    const stream = await client.completions.create({ model: NAME, prompt: "x", max_tokens: 50, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    assert.equal(text, whole.choices[0].text);
    assert.equal(text, DEFAULT_REPLY);
  } finally {
    await server.close();
  }
});

test("raw HTTP: malformed input, unknown model, auth and body size get OpenAI error objects", async () => {
  const { server } = await serve({ apiKey: KEY, maxBodyBytes: 4096 });
  const auth = { Authorization: `Bearer ${KEY}` };
  try {
    const cases: [string, string | Buffer, Record<string, string>, number, RegExp][] = [
      ["/v1/chat/completions", "{", auth, 400, /not valid JSON/],
      ["/v1/chat/completions", JSON.stringify({ messages: [{ role: 1 }] }), auth, 422, /messages\[0\]\.role/],
      ["/v1/chat/completions", JSON.stringify({ messages, max_tokens: "ten" }), auth, 422, /max_tokens/],
      ["/v1/chat/completions", JSON.stringify({ messages, max_tokens: 2 ** 40 }), auth, 400, /too large/],
      ["/v1/completions", JSON.stringify({ model: "nope", prompt: "x" }), auth, 404, /does not exist/],
      ["/v1/completions", JSON.stringify({ prompt: "x" }), {}, 401, /API key/],
      ["/v1/completions", JSON.stringify({ prompt: "x" }), { Authorization: "Bearer sk-wrong" }, 401, /API key/],
      ["/v1/completions", JSON.stringify({ prompt: "x".repeat(10_000) }), auth, 413, /larger than 4096 bytes/],
    ];
    for (const [path, body, headers, status, pattern] of cases) {
      const response = await raw(server, "POST", path, body, headers);
      assert.equal(response.status, status, `${path} ${String(body).slice(0, 60)}: ${response.body}`);
      const error = JSON.parse(response.body).error;
      assert.match(error.message, pattern);
      assert.equal(error.code, status);
    }
    const chunked = await raw(server, "POST", "/v1/completions", undefined, { ...auth, "Transfer-Encoding": "chunked" });
    assert.equal(chunked.status, 400);
  } finally {
    await server.close();
  }
});

test("client disconnect mid-stream aborts the engine request", async () => {
  const { server, engine } = await serve({ stepDelayMs: 5, reply: () => "とても長い答え。".repeat(50) });
  try {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/v1/chat/completions`,
        { method: "POST", headers: { "Content-Type": "application/json" } },
        (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on("error", (e) => ((e as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(e)));
      req.end(JSON.stringify({ messages, stream: true }));
    });
    for (let i = 0; i < 100 && engine.active > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(engine.aborted, 1);
    assert.equal(engine.active, 0);
    assert.equal(engine.released, 1);
  } finally {
    await server.close();
  }
});

test("graceful shutdown: a running stream finishes, health turns 503, then the port closes", async () => {
  const { server, client, engine } = await serve({ stepDelayMs: 3 });
  const stream = await client.chat.completions.create({ model: NAME, messages, stream: true });
  const closing = server.close({ graceMs: 5000 });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  await closing;
  assert.equal(text, DEFAULT_REPLY);
  assert.equal(engine.aborted, 0);
  await assert.rejects(raw(server, "GET", "/health"));
});

test("shutdown after the grace period cancels a stream that is still running", async () => {
  const { server, client, engine } = await serve({ stepDelayMs: 5, reply: () => "終わらない答え".repeat(100) });
  const stream = await client.chat.completions.create({ model: NAME, messages, stream: true });
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();
  await server.close({ graceMs: 50 });
  const end = () => iterator.next().catch(() => ({ done: true as const, value: undefined }));
  for (let r = await end(); !r.done; r = await end());
  assert.equal(engine.aborted, 1);
  assert.equal(engine.active, 0);
});

test("load: 64 concurrent streaming clients, 192 requests, no errors; p50/p99 latency", async () => {
  const { server, client } = await serve({ stepDelayMs: 1, reply: () => "負荷テスト 🌸 ok" });
  const total = 192;
  const concurrency = 64;
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next++;
          const t0 = performance.now();
          try {
            const stream = await client.chat.completions.create({ model: NAME, messages, stream: true });
            let text = "";
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
            if (text !== "負荷テスト 🌸 ok") errors++;
          } catch {
            errors++;
          }
          latenciesMs.push(performance.now() - t0);
        }
      }),
    );
  } finally {
    await server.close();
  }
  const wallMs = performance.now() - started;
  latenciesMs.sort((a, b) => a - b);
  const pct = (p: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor((p / 100) * latenciesMs.length))];
  console.log(
    `load: ${total} requests, ${concurrency} concurrent, ${wallMs.toFixed(0)} ms; latency p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms`,
  );
  assert.equal(errors, 0);
  assert.equal(latenciesMs.length, total);
  assert.ok(wallMs < 60_000, `took ${wallMs} ms`);
});
