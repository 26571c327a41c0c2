import test from "node:test";
import assert from "node:assert/strict";
import { App, type AppRequest, type AppResponse } from "../src/server/app.js";
import type { Tokenizer } from "../src/tokenizer/tokenizer.js";
import {
  DEFAULT_REPLY,
  FAKE_EOS_IDS,
  FakeEngine,
  fakeLogprob,
  fakePromptLogprob,
  fakePromptRank,
  fakeServedModel,
  fakeTopLogprobs,
  tinyTokenizer,
  TOOL_TEMPLATE,
  type FakeEngineOptions,
} from "./support/fake-engine.js";

const NAME = "swallow-test";
const tokenizer = await tinyTokenizer();

function setup(options: FakeEngineOptions & { apiKey?: string; template?: string | null; cors?: boolean } = {}) {
  const engine = new FakeEngine(tokenizer, options);
  const model = fakeServedModel(tokenizer, engine, options.template === undefined ? undefined : options.template);
  const app = new App({ servedModelName: NAME, apiKey: options.apiKey, cors: options.cors });
  app.setModel(model);
  return { app, engine, model };
}

function post(path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): AppRequest {
  return { method: "POST", path, headers, body: typeof body === "string" ? body : JSON.stringify(body), signal };
}

async function bodyText(response: AppResponse): Promise<string> {
  if (typeof response.body === "string") return response.body;
  let text = "";
  for await (const chunk of response.body) text += chunk;
  return text;
}

async function jsonOf(response: AppResponse): Promise<any> {
  return JSON.parse(await bodyText(response));
}

/** Parses an SSE body into its JSON events, checking it ends with `data: [DONE]`. */
async function sseEvents(response: AppResponse): Promise<any[]> {
  const text = await bodyText(response);
  const events = text.split("\n\n").filter((e) => e.length > 0);
  assert.equal(events.at(-1), "data: [DONE]");
  return events.slice(0, -1).map((e) => {
    assert.ok(e.startsWith("data: "), e);
    return JSON.parse(e.slice(6));
  });
}

const chatBody = { model: NAME, messages: [{ role: "user", content: "自己紹介してください" }] };
const replyIds = (text = DEFAULT_REPLY) => tokenizer.encode(text, { addBos: false });

test("health is 503 until the model is set, then 200; models lists the served name", async () => {
  const app = new App({ servedModelName: NAME });
  assert.equal((await app.handle({ method: "GET", path: "/health", headers: {} })).status, 503);
  assert.equal((await app.handle(post("/v1/completions", { prompt: "x" }))).status, 503);
  app.setModel(fakeServedModel(tokenizer, new FakeEngine(tokenizer)));
  assert.equal((await app.handle({ method: "GET", path: "/health", headers: {} })).status, 200);
  const models = await jsonOf(await app.handle({ method: "GET", path: "/v1/models", headers: {} }));
  assert.equal(models.object, "list");
  assert.deepEqual(
    models.data.map((m: any) => [m.id, m.object, m.max_model_len]),
    [[NAME, "model", 256]],
  );
});

test("chat: non-streamed answer, finish_reason, usage counting the EOS token as vLLM", async () => {
  const { app, model } = setup();
  const response = await app.handle(post("/v1/chat/completions", chatBody));
  assert.equal(response.status, 200);
  const body = await jsonOf(response);
  assert.match(body.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, NAME);
  assert.equal(typeof body.created, "number");
  assert.equal(body.choices.length, 1);
  assert.deepEqual(body.choices[0].message, { role: "assistant", content: DEFAULT_REPLY });
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.equal(body.choices[0].stop_reason, null);
  const promptTokens = model.encodeChat(chatBody.messages).length;
  assert.deepEqual(body.usage, {
    prompt_tokens: promptTokens,
    completion_tokens: replyIds().length + 1,
    total_tokens: promptTokens + replyIds().length + 1,
  });
});

test("chat: streamed deltas concatenate to exactly the non-streamed text (Japanese, emoji); usage chunk last", async () => {
  const { app } = setup();
  const whole = await jsonOf(await app.handle(post("/v1/chat/completions", chatBody)));
  const events = await sseEvents(
    await app.handle(post("/v1/chat/completions", { ...chatBody, stream: true, stream_options: { include_usage: true } })),
  );
  assert.deepEqual(events[0].choices[0].delta, { role: "assistant", content: "" });
  const chunks = events.filter((e) => e.choices.length > 0);
  const text = chunks.map((e) => e.choices[0].delta.content ?? "").join("");
  assert.equal(text, whole.choices[0].message.content);
  assert.ok(chunks.length > 5, "the answer came in several chunks");
  assert.ok(chunks.every((e) => e.object === "chat.completion.chunk" && e.id === events[0].id));
  assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  assert.ok(chunks.slice(0, -1).every((e) => e.choices[0].finish_reason === null));
  const usage = events.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, whole.usage);
});

test("chat: n = 2 streamed; each choice's deltas concatenate to its non-streamed text", async () => {
  const { app } = setup({ reply: (r) => `答え ${r.params.seed} 🌸` });
  const request = { ...chatBody, n: 2, seed: 7, temperature: 1 };
  const whole = await jsonOf(await app.handle(post("/v1/chat/completions", request)));
  const events = await sseEvents(await app.handle(post("/v1/chat/completions", { ...request, stream: true })));
  for (const index of [0, 1]) {
    const mine = events.filter((e) => e.choices[0].index === index);
    assert.equal(mine.map((e) => e.choices[0].delta.content ?? "").join(""), whole.choices[index].message.content);
    assert.equal(mine.at(-1).choices[0].finish_reason, "stop");
  }
  assert.deepEqual(
    whole.choices.map((c: any) => c.message.content),
    ["答え 7 🌸", "答え 8 🌸"],
  );
});

test("chat logprobs: chat shape with UTF-8 bytes that rebuild the answer; top_logprobs from the engine", async () => {
  const { app } = setup();
  const body = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, logprobs: true, top_logprobs: 2 })));
  const content = body.choices[0].logprobs.content;
  const ids = [...replyIds(), FAKE_EOS_IDS[0]];
  assert.equal(content.length, ids.length);
  content.forEach((entry: any, i: number) => {
    assert.equal(entry.logprob, fakeLogprob(ids[i]));
    assert.deepEqual(
      entry.top_logprobs.map((t: any) => t.logprob),
      fakeTopLogprobs(ids[i], 2, tokenizer.vocabSize).map((t) => t.logprob),
    );
    assert.deepEqual(entry.top_logprobs[0].bytes, Array.from(tokenizer.tokenBytes((ids[i] + 1) % tokenizer.vocabSize)));
  });
  const bytes = content.slice(0, -1).flatMap((entry: any) => entry.bytes);
  assert.equal(Buffer.from(bytes).toString("utf8"), DEFAULT_REPLY);
  const streamed = await sseEvents(
    await app.handle(post("/v1/chat/completions", { ...chatBody, logprobs: true, top_logprobs: 2, stream: true })),
  );
  const streamedEntries = streamed.flatMap((e) => e.choices[0].logprobs?.content ?? []);
  assert.deepEqual(streamedEntries, content);
});

test("completions: echo + logprobs + max_tokens 0 returns the prompt's log-probs in vLLM's shape", async () => {
  const { app } = setup();
  const prompt = "東京は日本の首都です";
  const body = await jsonOf(await app.handle(post("/v1/completions", { model: NAME, prompt, echo: true, logprobs: 1, max_tokens: 0 })));
  const ids = tokenizer.encode(prompt, { addBos: true });
  const choice = body.choices[0];
  assert.equal(body.object, "text_completion");
  assert.match(body.id, /^cmpl-/);
  assert.equal(choice.text, prompt);
  assert.equal(choice.finish_reason, "length");
  const tokens = ids.map((id) => tokenizer.decode([id]));
  assert.deepEqual(choice.logprobs.tokens, tokens);
  assert.deepEqual(choice.logprobs.token_logprobs, [null, ...ids.slice(1).map(fakePromptLogprob)]);
  assert.equal(choice.logprobs.top_logprobs[0], null);
  for (let i = 1; i < ids.length; i++) {
    const alternative = fakeTopLogprobs(ids[i], 1, tokenizer.vocabSize)[0];
    assert.deepEqual(choice.logprobs.top_logprobs[i], {
      [tokenizer.decode([alternative.tokenId])]: -1,
      [tokens[i]]: fakePromptLogprob(ids[i]),
    });
  }
  let offset = 0;
  assert.deepEqual(
    choice.logprobs.text_offset,
    tokens.map((t) => ((offset += t.length), offset - t.length)),
  );
  assert.deepEqual(body.usage, { prompt_tokens: ids.length, completion_tokens: 0, total_tokens: ids.length });
});

test("completions: token-array prompt with echo and generation; streamed text equals non-streamed", async () => {
  const { app, engine } = setup();
  const ids = tokenizer.encode("絵文字 🌸 test", { addBos: true });
  const request = { model: NAME, prompt: ids, echo: true, logprobs: 0, max_tokens: 6 };
  const whole = await jsonOf(await app.handle(post("/v1/completions", request)));
  assert.deepEqual(engine.submitted[0].promptIds, ids);
  assert.equal(engine.submitted[0].promptLogprobs, 0);
  const generated = tokenizer.decode(replyIds().slice(0, 6));
  assert.equal(whole.choices[0].text, tokenizer.decode(ids) + generated);
  assert.equal(whole.choices[0].logprobs.tokens.length, ids.length + 6);
  assert.equal(whole.usage.completion_tokens, 6);
  const events = await sseEvents(await app.handle(post("/v1/completions", { ...request, stream: true })));
  assert.equal(events.map((e) => e.choices[0].text).join(""), whole.choices[0].text);
  const streamedTokens = events.flatMap((e) => e.choices[0].logprobs.tokens);
  const streamedOffsets = events.flatMap((e) => e.choices[0].logprobs.text_offset);
  assert.deepEqual(streamedTokens, whole.choices[0].logprobs.tokens);
  assert.deepEqual(streamedOffsets, whole.choices[0].logprobs.text_offset);
});

test("completions: n choices per prompt, a list of prompts, seeds seed+i per choice (vLLM)", async () => {
  const { app, engine } = setup({ reply: (r) => `seed ${r.params.seed}` });
  const body = await jsonOf(
    await app.handle(post("/v1/completions", { model: NAME, prompt: ["a", [1, 2, 3]], n: 2, seed: 40, temperature: 0.8, max_tokens: 20 })),
  );
  assert.deepEqual(
    body.choices.map((c: any) => c.index),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    engine.submitted.map((r) => r.params.seed),
    [40, 41, 40, 41],
  );
  assert.deepEqual(
    body.choices.map((c: any) => c.text),
    ["seed 40", "seed 41", "seed 40", "seed 41"],
  );
  assert.deepEqual(engine.submitted[2].promptIds, [1, 2, 3]);
  assert.equal(body.usage.prompt_tokens, tokenizer.encode("a", { addBos: true }).length + 3);
});

test("sampling parameters reach the engine; the checkpoint's defaults fill the rest", async () => {
  const { app, engine } = setup();
  await app.handle(
    post("/v1/chat/completions", {
      ...chatBody,
      max_completion_tokens: 7,
      top_k: 5,
      min_p: 0.1,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      stop: "END",
      stop_token_ids: [7],
      logit_bias: { "7": 150, "12": -0.5 },
    }),
  );
  const params = engine.submitted[0].params;
  assert.deepEqual(
    [...params.logitBias!],
    [
      [7, 100],
      [12, -0.5],
    ],
    "logit_bias keyed by token id, clamped to [-100, 100]",
  );
  assert.equal(params.temperature, 0.6);
  assert.equal(params.topP, 0.9);
  assert.deepEqual([params.maxTokens, params.topK, params.minP, params.presencePenalty, params.frequencyPenalty], [7, 5, 0.1, 0.5, -0.5]);
  assert.deepEqual(params.stop, ["END"]);
  assert.deepEqual(params.stopTokenIds.sort(), [...FAKE_EOS_IDS, 7].sort());
  await app.handle(post("/v1/chat/completions", { ...chatBody, max_tokens: 3, ignore_eos: true, temperature: 0 }));
  assert.deepEqual(engine.submitted[1].params.stopTokenIds, []);
  assert.equal(engine.submitted[1].params.temperature, 0);
  // Without max_tokens, the room left in the context (max_model_len - prompt tokens), as vLLM.
  await app.handle(post("/v1/completions", { prompt: [5, 6, 7, 8] }));
  assert.equal(engine.submitted[2].params.maxTokens, 256 - 4);
});

test("continue_final_message: the prompt ends in the open assistant message; with add_generation_prompt a 400", async () => {
  const { app, engine } = setup();
  const messages = [...chatBody.messages, { role: "assistant", content: "はい、私は" }];
  const body = { ...chatBody, messages, continue_final_message: true, add_generation_prompt: false };
  assert.equal((await app.handle(post("/v1/chat/completions", body))).status, 200);
  const prompt = tokenizer.decode(engine.submitted[0].promptIds);
  assert.ok(prompt.endsWith("はい、私は"), prompt);
  const tokenized = await jsonOf(
    await app.handle(post("/tokenize", { messages, continue_final_message: true, add_generation_prompt: false })),
  );
  assert.deepEqual(tokenized.tokens, engine.submitted[0].promptIds);
  const both = await app.handle(post("/v1/chat/completions", { ...chatBody, messages, continue_final_message: true }));
  assert.equal(both.status, 400);
  assert.match((await jsonOf(both)).error.message, /cannot set both continue_final_message and add_generation_prompt/);
});

test("a stop string ends the text before it and is the stop_reason", async () => {
  const { app } = setup();
  const body = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, stop: ["世界"] })));
  assert.equal(body.choices[0].message.content, "こんにちは、");
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.equal(body.choices[0].stop_reason, "世界");
});

test("errors: OpenAI error objects with vLLM's statuses and wording", async () => {
  const { app } = setup({ maxModelLen: 64 });
  const expectError = async (request: AppRequest, status: number, pattern: RegExp, param?: string) => {
    const response = await app.handle(request);
    assert.equal(response.status, status, await bodyText(response));
    const body = await jsonOf(response);
    assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
    assert.equal(body.error.code, status);
    assert.match(body.error.message, pattern);
    if (param !== undefined) assert.equal(body.error.param, param);
    return response;
  };
  await expectError(post("/v1/chat/completions", "{not json"), 400, /not valid JSON/);
  await expectError(post("/v1/chat/completions", "[1]"), 400, /JSON object/);
  await expectError(post("/v1/chat/completions", { messages: "hi" }), 422, /'messages' must be array/, "messages");
  await expectError(post("/v1/chat/completions", { ...chatBody, temperature: "hot" }), 422, /'temperature'/, "temperature");
  await expectError(post("/v1/chat/completions", { ...chatBody, n: 0 }), 422, /'n' must be >= 1/, "n");
  await expectError(post("/v1/chat/completions", { model: NAME }), 422, /'messages'/, "messages");
  await expectError(post("/v1/completions", { prompt: [1, "a"] }), 422, /'prompt/);
  await expectError(post("/v1/chat/completions", { ...chatBody, model: "gpt-4" }), 404, /The model `gpt-4` does not exist/, "model");
  await expectError(
    post("/v1/chat/completions", { ...chatBody, max_tokens: 1_000_000 }),
    400,
    /'max_tokens' or 'max_completion_tokens' is too large: 1000000\. This model's maximum context length is 64 tokens/,
  );
  await expectError(
    post("/v1/completions", { prompt: Array.from({ length: 80 }, () => 5) }),
    400,
    /maximum context length is 64 tokens\. However, your request has 80 input tokens/,
  );
  await expectError(post("/v1/completions", { prompt: [999999] }), 400, /out of vocabulary/);
  await expectError(post("/v1/chat/completions", { ...chatBody, top_logprobs: 3 }), 400, /logprobs` must be set to true/);
  await expectError(post("/v1/chat/completions", { ...chatBody, max_tokens: 0 }), 400, /max_tokens must be at least 1/);
  await expectError(
    post("/v1/chat/completions", { ...chatBody, stream_options: { include_usage: true } }),
    400,
    /only be defined when `stream=True`/,
  );
  await expectError({ method: "GET", path: "/v1/nothing", headers: {} }, 404, /no route/);
  const wrongMethod = await expectError({ method: "GET", path: "/v1/completions", headers: {} }, 405, /takes POST/);
  assert.equal(wrongMethod.headers.Allow, "POST");
  await expectError(
    post("/v1/chat/completions", { ...chatBody, tools: [{ type: "function", function: { name: "f" } }] }),
    400,
    /chat template does not support tools/,
    "tools",
  );
});

test("auth: every /v1 route needs the bearer key; health and the page do not", async () => {
  const { app } = setup({ apiKey: "sk-secret" });
  for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "sk-secret" }, { authorization: "Bearer sk-secret2" }]) {
    const response = await app.handle({ method: "GET", path: "/v1/models", headers });
    assert.equal(response.status, 401);
    assert.equal((await jsonOf(response)).error.type, "AuthenticationError");
  }
  assert.equal((await app.handle(post("/v1/completions", { prompt: "x" }))).status, 401);
  assert.equal((await app.handle({ method: "GET", path: "/v1/models", headers: { authorization: "Bearer sk-secret" } })).status, 200);
  assert.equal((await app.handle({ method: "GET", path: "/health", headers: {} })).status, 200);
  assert.equal((await app.handle({ method: "GET", path: "/", headers: {} })).status, 200);
});

test("a full engine queue is a 429 with Retry-After; CORS headers only when enabled", async () => {
  const { app } = setup({ maxActive: 1, stepDelayMs: 5, cors: true });
  const first = await app.handle(post("/v1/chat/completions", { ...chatBody, stream: true }));
  const second = await app.handle(post("/v1/chat/completions", chatBody));
  assert.equal(second.status, 429);
  assert.equal(second.headers["Retry-After"], "2");
  assert.equal((await jsonOf(second)).error.type, "RateLimitError");
  await bodyText(first);
  assert.equal(first.headers["Access-Control-Allow-Origin"], "*");
  const plain = setup();
  assert.equal((await plain.app.handle({ method: "GET", path: "/health", headers: {} })).headers["Access-Control-Allow-Origin"], undefined);
});

test("n = 2 with a busy second request aborts the first and answers 429", async () => {
  const { app, engine } = setup({ maxActive: 1, stepDelayMs: 2 });
  const response = await app.handle(post("/v1/chat/completions", { ...chatBody, n: 2 }));
  assert.equal(response.status, 429);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(engine.active, 0);
});

test("tools: rendered through the template, Llama 3.1 JSON parsed into tool_calls (also streamed)", async () => {
  const call = '{"name": "get_weather", "parameters": {"city": "東京", "days": 2}}';
  const { app, model } = setup({ template: TOOL_TEMPLATE, reply: () => call });
  const tools = [
    { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
  ];
  const body = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, tools })));
  assert.deepEqual(model.calls.at(-1)?.tools, tools);
  const choice = body.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  assert.match(choice.message.tool_calls[0].id, /^chatcmpl-tool-[0-9a-f]{32}$/);
  assert.equal(choice.message.tool_calls[0].type, "function");
  assert.equal(choice.message.tool_calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: "東京", days: 2 });
  const events = await sseEvents(await app.handle(post("/v1/chat/completions", { ...chatBody, tools, stream: true })));
  const deltas = events.map((e) => e.choices[0].delta);
  assert.ok(
    deltas.slice(1).every((d) => d.content === undefined),
    "a tool call is not streamed as content",
  );
  const last = events.at(-1).choices[0];
  assert.equal(last.finish_reason, "tool_calls");
  assert.equal(last.delta.tool_calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(last.delta.tool_calls[0].function.arguments), { city: "東京", days: 2 });
  // tool_choice none: no tools in the template and the JSON is ordinary content.
  const none = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, tools, tool_choice: "none" })));
  assert.equal(model.calls.at(-1)?.tools, undefined);
  assert.equal(none.choices[0].message.content, call);
  // Earlier tool calls and results render through the template (arguments given as a JSON string).
  const followUp = await app.handle(
    post("/v1/chat/completions", {
      tools,
      messages: [
        { role: "user", content: "天気は?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "x", type: "function", function: { name: "get_weather", arguments: '{"city":"東京"}' } }],
        },
        { role: "ipython", content: "晴れ" },
      ],
    }),
  );
  assert.equal(followUp.status, 200, await bodyText(followUp));
});

test("an ordinary answer with tools available streams as content", async () => {
  const { app } = setup({ template: TOOL_TEMPLATE });
  const tools = [{ type: "function", function: { name: "f" } }];
  const events = await sseEvents(await app.handle(post("/v1/chat/completions", { ...chatBody, tools, stream: true })));
  assert.equal(events.map((e) => e.choices[0].delta.content ?? "").join(""), DEFAULT_REPLY);
  assert.equal(events.at(-1).choices[0].finish_reason, "stop");
});

test("aborting the HTTP request's signal aborts its engine request", async () => {
  const { app, engine } = setup({ stepDelayMs: 5, reply: () => "長い答え".repeat(40) });
  const controller = new AbortController();
  const response = await app.handle(post("/v1/chat/completions", { ...chatBody, stream: true }, {}, controller.signal));
  const iterator = (response.body as AsyncIterable<string>)[Symbol.asyncIterator]();
  await iterator.next();
  await iterator.next();
  controller.abort();
  for (let r = await iterator.next(); !r.done; r = await iterator.next());
  assert.equal(engine.aborted, 1);
  assert.equal(engine.active, 0);
});

test("metrics: Prometheus text with request counts, token counters, gauges and latency histograms", async () => {
  const { app } = setup();
  await app.handle(post("/v1/chat/completions", chatBody));
  await app.handle(post("/v1/chat/completions", { messages: 1 }));
  const response = await app.handle({ method: "GET", path: "/metrics", headers: {} });
  assert.match(response.headers["Content-Type"], /^text\/plain; version=0\.0\.4/);
  const text = await bodyText(response);
  const value = (pattern: string) => {
    const line = text.split("\n").find((l) => l.startsWith(pattern));
    assert.ok(line, `no ${pattern} in\n${text}`);
    return Number(line.split(" ").at(-1));
  };
  assert.equal(value(`swallow:http_requests_total{model_name="${NAME}",route="/v1/chat/completions",status="200"}`), 1);
  assert.equal(value(`swallow:http_requests_total{model_name="${NAME}",route="/v1/chat/completions",status="422"}`), 1);
  assert.equal(value("swallow:generation_tokens_total"), replyIds().length + 1);
  assert.equal(value("swallow:num_requests_running"), 0);
  assert.equal(value("swallow:kv_cache_usage_perc"), 0);
  assert.equal(value("swallow:time_to_first_token_seconds_count"), 1);
  assert.equal(value('swallow:time_to_first_token_seconds_bucket{model_name="swallow-test",le="+Inf"}'), 1);
  assert.equal(value("swallow:time_per_output_token_seconds_count"), 1);
  assert.match(text, /# TYPE swallow:time_to_first_token_seconds histogram/);
});

test("POST /tokenize (vLLM's): a prompt with BOS unless add_special_tokens is false, or messages through the chat template", async () => {
  const { app, engine, model } = setup();
  const text = "日本の首都は東京です。";
  const withBos = await jsonOf(await app.handle(post("/tokenize", { model: NAME, prompt: text })));
  assert.deepEqual(withBos, {
    count: withBos.tokens.length,
    max_model_len: engine.maxModelLen,
    tokens: tokenizer.encode(text, { addBos: true }),
  });
  const bare = await jsonOf(await app.handle(post("/tokenize", { prompt: text, add_special_tokens: false })));
  assert.deepEqual(bare.tokens, tokenizer.encode(text, { addBos: false }));
  assert.equal(bare.count, withBos.count - 1);

  const messages = chatBody.messages;
  const chat = await jsonOf(await app.handle(post("/tokenize", { messages })));
  assert.deepEqual(chat.tokens, model.encodeChat(messages, { addGenerationPrompt: true }));
  const noPrompt = await jsonOf(await app.handle(post("/tokenize", { messages, add_generation_prompt: false })));
  assert.deepEqual(noPrompt.tokens, model.encodeChat(messages, { addGenerationPrompt: false }));
  assert.ok(noPrompt.count < chat.count);
});

test("POST /detokenize (vLLM's) gives the text of token ids; bad ids, bodies and model names get OpenAI-style errors", async () => {
  const { app } = setup();
  const text = "Swallow は日本語が得意です";
  const ids = tokenizer.encode(text, { addBos: false });
  assert.deepEqual(await jsonOf(await app.handle(post("/detokenize", { model: NAME, tokens: ids }))), { prompt: text });
  const outside = await app.handle(post("/detokenize", { tokens: [1, tokenizer.vocabSize] }));
  assert.equal(outside.status, 400);
  assert.match((await jsonOf(outside)).error.message, new RegExp(`token id ${tokenizer.vocabSize} is outside the vocabulary`));
  assert.equal((await app.handle(post("/detokenize", { tokens: "1 2" }))).status, 422);
  assert.equal((await app.handle(post("/tokenize", { prompt: 3 }))).status, 422);
  assert.equal((await app.handle(post("/tokenize", { model: "other", prompt: "x" }))).status, 404);
  assert.equal((await app.handle({ method: "GET", path: "/tokenize", headers: {} })).status, 405);
});

test("--api-key guards /tokenize and /detokenize like /v1/*", async () => {
  const { app } = setup({ apiKey: "secret" });
  assert.equal((await app.handle(post("/tokenize", { prompt: "x" }))).status, 401);
  assert.equal((await app.handle(post("/detokenize", { tokens: [1] }))).status, 401);
  assert.equal((await app.handle(post("/tokenize", { prompt: "x" }, { authorization: "Bearer secret" }))).status, 200);
});

test("chat_template_kwargs reach the template on /v1/chat/completions and /tokenize; server-owned keys are 400s", async () => {
  const template = `{{- bos_token }}{%- if greeting is defined %}{{- greeting + '\\n' }}{%- endif %}{%- for message in messages %}{{- message['role'] + ': ' + message['content'] + '\\n' }}{%- endfor %}`;
  const { app, engine } = setup({ template });
  const messages = [{ role: "user", content: "こんにちは" }];
  const withGreeting = { model: NAME, messages, chat_template_kwargs: { greeting: "ようこそ、Swallow へ" } };
  const chat = await app.handle(post("/v1/chat/completions", withGreeting));
  assert.equal(chat.status, 200);
  assert.equal(tokenizer.decode([...engine.submitted[0].promptIds]), "<|begin_of_text|>ようこそ、Swallow へ\nuser: こんにちは\n");
  const plain = await jsonOf(await app.handle(post("/tokenize", { model: NAME, messages })));
  const greeted = await jsonOf(await app.handle(post("/tokenize", withGreeting)));
  assert.equal(tokenizer.decode(plain.tokens), "<|begin_of_text|>user: こんにちは\n");
  assert.equal(tokenizer.decode(greeted.tokens), "<|begin_of_text|>ようこそ、Swallow へ\nuser: こんにちは\n");
  for (const [path, kwargs, pattern] of [
    ["/v1/chat/completions", { add_generation_prompt: false }, /cannot set 'add_generation_prompt'/],
    ["/tokenize", { messages: [] }, /cannot set 'messages'/],
    ["/v1/chat/completions", { chat_template: "{{ 1 }}" }, /^Found unexpected chat template kwargs from request: \{'chat_template'\}/],
  ] as const) {
    const response = await app.handle(post(path, { model: NAME, messages, chat_template_kwargs: kwargs }));
    assert.equal(response.status, 400, path);
    const body = await jsonOf(response);
    assert.equal(body.error.type, "BadRequestError");
    assert.equal(body.error.param, "chat_template_kwargs");
    assert.match(body.error.message, pattern);
  }
  // Not an object: the schema's 422 naming the field.
  const notObject = await app.handle(post("/v1/chat/completions", { model: NAME, messages, chat_template_kwargs: "x" }));
  assert.equal(notObject.status, 422);
  assert.equal((await jsonOf(notObject)).error.param, "chat_template_kwargs");
});

test("prompt_logprobs through the routes: the fake's values, once per chat request (first choice's engine request only)", async () => {
  const { app, engine } = setup();
  const chat = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, n: 2, prompt_logprobs: 1 })));
  assert.equal(engine.submitted[0].promptLogprobs, 1);
  assert.equal(engine.submitted[1].promptLogprobs ?? null, null);
  const ids = [...engine.submitted[0].promptIds];
  assert.equal(chat.prompt_logprobs.length, ids.length);
  assert.equal(chat.prompt_logprobs[0], null);
  for (let i = 1; i < ids.length; i++) {
    const top = fakeTopLogprobs(ids[i], 1, tokenizer.vocabSize)[0];
    assert.deepEqual(chat.prompt_logprobs[i], {
      [ids[i]]: { logprob: fakePromptLogprob(ids[i]), rank: fakePromptRank(ids[i]), decoded_token: tokenizer.decode([ids[i]]) },
      [top.tokenId]: { logprob: top.logprob, rank: 1, decoded_token: tokenizer.decode([top.tokenId]) },
    });
  }
  // Completions: on each choice; without the field, none.
  const completion = await jsonOf(await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6, 7], n: 2, prompt_logprobs: 0 })));
  for (const choice of completion.choices) {
    assert.deepEqual(choice.prompt_logprobs, [
      null,
      { 6: { logprob: fakePromptLogprob(6), rank: fakePromptRank(6), decoded_token: tokenizer.decode([6]) } },
      { 7: { logprob: fakePromptLogprob(7), rank: fakePromptRank(7), decoded_token: tokenizer.decode([7]) } },
    ]);
  }
  const none = await jsonOf(await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6, 7] })));
  assert.ok(!("prompt_logprobs" in none.choices[0]));
  // Streaming with prompt_logprobs 0 is allowed (vLLM) and sends none; wrong types are the schema's 422.
  assert.equal((await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6], stream: true, prompt_logprobs: 0 }))).status, 200);
  assert.equal((await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6], prompt_logprobs: 1.5 }))).status, 422);
  assert.equal((await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6], bad_words: "x" }))).status, 422);
  assert.equal((await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6], truncate_prompt_tokens: "2" }))).status, 422);
});

test("structured outputs with a forced tool call are a 400 (vLLM); with tool_choice auto the constraint applies", async () => {
  const { app, engine } = setup({ template: TOOL_TEMPLATE });
  const tools = [{ type: "function", function: { name: "f", parameters: { type: "object" } } }];
  for (const [tool_choice, extra] of [
    ["required", { guided_choice: ["a", "b"] }],
    [{ type: "function", function: { name: "f" } }, { structured_outputs: { regex: "a+" } }],
    ["required", { response_format: { type: "json_object" } }],
  ] as const) {
    const response = await app.handle(post("/v1/chat/completions", { ...chatBody, tools, tool_choice, ...extra }));
    assert.equal(response.status, 400);
    const { error } = await jsonOf(response);
    assert.match(error.message, /You can only either use guided decoding or tools, not both/);
    assert.equal(error.param, "tool_choice");
  }
  const auto = await app.handle(post("/v1/chat/completions", { ...chatBody, tools, tool_choice: "auto", guided_choice: ["a", "b"] }));
  assert.equal(auto.status, 200);
  assert.ok(engine.submitted.at(-1)?.constraint, "the choice constraint is attached");
});

test("chat echo (vLLM): the last assistant message's content starts the answer, streamed as its own first delta", async () => {
  const { app } = setup();
  const messages = [
    { role: "user", content: "続けて" },
    { role: "assistant", content: "Swallow は" },
  ];
  const body = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, messages, echo: true })));
  assert.equal(body.choices[0].message.content, "Swallow は" + DEFAULT_REPLY);
  const events = await sseEvents(await app.handle(post("/v1/chat/completions", { ...chatBody, messages, echo: true, stream: true })));
  assert.deepEqual(events[0].choices[0].delta, { role: "assistant", content: "" });
  assert.deepEqual(events[1].choices[0].delta, { content: "Swallow は" });
  assert.equal(events.map((e) => e.choices[0].delta.content ?? "").join(""), "Swallow は" + DEFAULT_REPLY);
  // Content parts are joined with newlines, as vLLM.
  const parts = [
    messages[0],
    {
      role: "assistant",
      content: [
        { type: "text", text: "一" },
        { type: "text", text: "二" },
      ],
    },
  ];
  const joined = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, messages: parts, echo: true })));
  assert.equal(joined.choices[0].message.content, "一\n二" + DEFAULT_REPLY);
  // The last message is the user's, or echo is off: nothing is prefixed.
  const userLast = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, echo: true })));
  assert.equal(userLast.choices[0].message.content, DEFAULT_REPLY);
  const off = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, messages })));
  assert.equal(off.choices[0].message.content, DEFAULT_REPLY);
});

test("add_special_tokens: chat adds BOS before the template's own (default none); completions leave it out when false", async () => {
  const { app, engine } = setup();
  await app.handle(post("/v1/chat/completions", chatBody));
  const plain = tokenizer.decode([...engine.submitted[0].promptIds]);
  assert.ok(plain.startsWith("<|begin_of_text|><|start_header_id|>user"), plain);
  await app.handle(post("/v1/chat/completions", { ...chatBody, add_special_tokens: true }));
  assert.equal(tokenizer.decode([...engine.submitted[1].promptIds]), "<|begin_of_text|>" + plain);
  await app.handle(post("/v1/chat/completions", { ...chatBody, add_special_tokens: false }));
  assert.equal(tokenizer.decode([...engine.submitted[2].promptIds]), plain);
  const prompt = "東京は";
  await app.handle(post("/v1/completions", { model: NAME, prompt, max_tokens: 2 }));
  assert.equal(tokenizer.decode([...engine.submitted[3].promptIds]), "<|begin_of_text|>東京は");
  const bare = await jsonOf(await app.handle(post("/v1/completions", { model: NAME, prompt, max_tokens: 2, add_special_tokens: false })));
  assert.equal(tokenizer.decode([...engine.submitted[4].promptIds]), "東京は");
  assert.equal(bare.usage.prompt_tokens, engine.submitted[3].promptIds.length - 1);
});

test("request_id (vLLM) names the response: chatcmpl-{id} and cmpl-{id}, on every streamed chunk too", async () => {
  const { app } = setup();
  const chat = await jsonOf(await app.handle(post("/v1/chat/completions", { ...chatBody, request_id: "trace-42" })));
  assert.equal(chat.id, "chatcmpl-trace-42");
  const events = await sseEvents(await app.handle(post("/v1/chat/completions", { ...chatBody, request_id: "trace-42", stream: true })));
  assert.ok(events.every((e) => e.id === "chatcmpl-trace-42"));
  const completion = await jsonOf(await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6], request_id: "abc" })));
  assert.equal(completion.id, "cmpl-abc");
  assert.equal((await app.handle(post("/v1/completions", { model: NAME, prompt: [5, 6], request_id: 7 }))).status, 422);
});

test("return_tokens_as_token_ids names log-prob tokens token_id:{id} (chat and completions); bytes and offsets stay the text's", async () => {
  const { app } = setup();
  const ids = [...replyIds(), FAKE_EOS_IDS[0]];
  const request = { ...chatBody, logprobs: true, top_logprobs: 1, return_tokens_as_token_ids: true };
  const chat = await jsonOf(await app.handle(post("/v1/chat/completions", request)));
  const content = chat.choices[0].logprobs.content;
  assert.deepEqual(
    content.map((e: any) => e.token),
    ids.map((id) => `token_id:${id}`),
  );
  assert.deepEqual(
    content.map((e: any) => e.top_logprobs[0].token),
    ids.map((id) => `token_id:${(id + 1) % tokenizer.vocabSize}`),
  );
  assert.equal(Buffer.from(content.slice(0, -1).flatMap((e: any) => e.bytes)).toString("utf8"), DEFAULT_REPLY);
  const streamed = await sseEvents(await app.handle(post("/v1/chat/completions", { ...request, stream: true })));
  assert.deepEqual(
    streamed.flatMap((e) => e.choices[0].logprobs?.content ?? []),
    content,
  );
  const prompt = [5, 6, 7];
  const completion = await jsonOf(
    await app.handle(post("/v1/completions", { model: NAME, prompt, max_tokens: 2, logprobs: 1, return_tokens_as_token_ids: true })),
  );
  const logprobs = completion.choices[0].logprobs;
  assert.deepEqual(logprobs.tokens, [`token_id:${ids[0]}`, `token_id:${ids[1]}`]);
  assert.deepEqual(logprobs.top_logprobs[0], { [`token_id:${ids[0] + 1}`]: -1, [`token_id:${ids[0]}`]: fakeLogprob(ids[0]) });
  assert.deepEqual(logprobs.text_offset, [0, tokenizer.decode([ids[0]]).length]);
  const textNamed = await jsonOf(await app.handle(post("/v1/completions", { model: NAME, prompt, max_tokens: 2, logprobs: 1 })));
  assert.deepEqual(textNamed.choices[0].logprobs.tokens, [tokenizer.decode([ids[0]]), tokenizer.decode([ids[1]])]);
});

test("unimplemented vLLM fields are 400s naming the field, not silently ignored; their defaults are accepted", async () => {
  const { app } = setup();
  const prompt = { model: NAME, prompt: [5, 6], max_tokens: 2 };
  for (const [path, extra, param, pattern] of [
    ["/v1/chat/completions", { use_beam_search: true }, "use_beam_search", /use_beam_search is not supported/],
    ["/v1/completions", { use_beam_search: true }, "use_beam_search", /use_beam_search is not supported/],
    ["/v1/completions", { best_of: 3 }, "best_of", /best_of greater than n is not supported.*n=1 and best_of=3/],
    ["/v1/completions", { n: 3, best_of: 2 }, "best_of", /^best_of must be greater than or equal to n, got n=3 and best_of=2\.$/],
    ["/v1/chat/completions", { priority: 5 }, "priority", /^Got priority 5 but Priority scheduling is not enabled\.$/],
    ["/v1/completions", { priority: -1 }, "priority", /^Got priority -1 but Priority scheduling is not enabled\.$/],
    [
      "/v1/chat/completions",
      { chat_template: "{{ 1 }}" },
      "chat_template",
      /^Chat template is passed with request, but --trust-request-chat-template is not set\./,
    ],
    ["/v1/completions", { prompt_embeds: "AAAA" }, "prompt_embeds", /prompt_embeds is not supported/],
    ["/v1/chat/completions", { logits_processors: ["m.Proc"] }, "logits_processors", /logits_processors are not supported/],
    ["/v1/completions", { length_penalty: 0.5 }, "length_penalty", /length_penalty applies only to beam search.*0\.5/],
  ] as const) {
    const base = path === "/v1/completions" ? prompt : chatBody;
    const response = await app.handle(post(path, { ...base, ...extra }));
    assert.equal(response.status, 400, `${path} ${JSON.stringify(extra)}`);
    const { error } = await jsonOf(response);
    assert.equal(error.type, "BadRequestError");
    assert.equal(error.param, param);
    assert.match(error.message, pattern);
  }
  const defaults = { use_beam_search: false, priority: 0, length_penalty: 1, spaces_between_special_tokens: false };
  assert.equal((await app.handle(post("/v1/chat/completions", { ...chatBody, ...defaults, chat_template: null }))).status, 200);
  assert.equal((await app.handle(post("/v1/completions", { ...prompt, ...defaults, n: 2, best_of: 2 }))).status, 200);
});

test("documents (vLLM) reach the chat template as `documents`; chat_template_kwargs cannot set them", async () => {
  const template = `{{- bos_token }}{%- if documents %}{%- for d in documents %}{{- '[' + d['title'] + '] ' + d['text'] + '\\n' }}{%- endfor %}{%- endif %}{%- for message in messages %}{{- message['role'] + ': ' + message['content'] + '\\n' }}{%- endfor %}`;
  const { app, engine } = setup({ template });
  const messages = [{ role: "user", content: "要約して" }];
  const documents = [{ title: "燕", text: "渡り鳥です" }];
  assert.equal((await app.handle(post("/v1/chat/completions", { model: NAME, messages, documents }))).status, 200);
  assert.equal(tokenizer.decode([...engine.submitted[0].promptIds]), "<|begin_of_text|>[燕] 渡り鳥です\nuser: 要約して\n");
  const both = { model: NAME, messages, documents, chat_template_kwargs: { greeting: "x" } };
  assert.equal((await app.handle(post("/v1/chat/completions", both))).status, 200);
  assert.equal(tokenizer.decode([...engine.submitted[1].promptIds]), "<|begin_of_text|>[燕] 渡り鳥です\nuser: 要約して\n");
  const viaKwargs = await app.handle(post("/v1/chat/completions", { model: NAME, messages, chat_template_kwargs: { documents } }));
  assert.equal(viaKwargs.status, 400);
  assert.match((await jsonOf(viaKwargs)).error.message, /cannot set 'documents'/);
  const notObjects = await app.handle(post("/v1/chat/completions", { model: NAME, messages, documents: ["x"] }));
  assert.equal(notObjects.status, 422);
  assert.match((await jsonOf(notObjects)).error.param, /^documents/);
});
