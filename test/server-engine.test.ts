import test from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { Ajv } from "ajv";
import OpenAI from "openai";
import { App } from "../src/server/app.js";
import { startServer } from "../src/server/node-server.js";
import { fakeServedModel, TOOL_TEMPLATE } from "./support/fake-engine.js";
import { NEAR_TIE, readTinyReference } from "./support/tiny-fixtures.js";
import { startTinyServer } from "./support/tiny-server.js";

const NAME = "tiny";
const { model, server, client } = await startTinyServer({ name: NAME, maxNumSeqs: 8 });
const reference = await readTinyReference("gqa-llama3");

test("real engine: echo logprobs over HTTP match transformers' prompt log-probs (reference.json)", async () => {
  for (const prompt of reference.prompts) {
    const response = await client.completions.create({ model: NAME, prompt: prompt.tokens, echo: true, logprobs: 1, max_tokens: 0 });
    const got = response.choices[0].logprobs!.token_logprobs!;
    assert.equal(got.length, prompt.tokens.length);
    assert.equal(got[0], null);
    for (let i = 1; i < got.length; i++)
      assert.ok(Math.abs(got[i]! - prompt.logprobs[i]!) < 1e-3, `position ${i}: ${got[i]} vs ${prompt.logprobs[i]}`);
    assert.equal(response.usage?.prompt_tokens, prompt.tokens.length);
  }
});

test("real engine: greedy completions over HTTP equal transformers' greedy tokens; streamed equals whole; concurrent equals alone", async () => {
  const cases = reference.prompts.filter((p) => Math.min(...p.greedy.margins) > NEAR_TIE);
  assert.ok(cases.length > 0, "at least one prompt without near-ties");
  const request = (p: (typeof cases)[number]) => ({
    model: NAME,
    prompt: p.tokens,
    temperature: 0,
    max_tokens: p.greedy.max_new_tokens,
    min_tokens: p.greedy.max_new_tokens,
    logprobs: 0,
  });
  const alone: string[] = [];
  for (const p of cases) {
    const response = await client.completions.create(request(p) as OpenAI.CompletionCreateParamsNonStreaming);
    const expected = model.tokenizer.decode(p.greedy.new_tokens, { skipSpecialTokens: true });
    assert.equal(response.choices[0].text, expected);
    assert.equal(response.usage?.completion_tokens, p.greedy.max_new_tokens);
    alone.push(response.choices[0].text);
    const stream = await client.completions.create({ ...(request(p) as OpenAI.CompletionCreateParamsNonStreaming), stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    assert.equal(text, expected);
  }
  const together = await Promise.all(
    cases.flatMap((p) => [p, p, p]).map((p) => client.completions.create(request(p) as OpenAI.CompletionCreateParamsNonStreaming)),
  );
  assert.deepEqual(
    together.map((r) => r.choices[0].text),
    cases.flatMap((_, i) => [alone[i], alone[i], alone[i]]),
  );
});

test("real engine: logit_bias +100 forces a token and −100 bans the greedy one; allowed_token_ids; bad ids and keys get a 400", async () => {
  const p = reference.prompts.find((q) => Math.min(...q.greedy.margins) > NEAR_TIE)!;
  // min_tokens (vLLM's) keeps the tiny model from stopping early; the openai client's types do not know it.
  const request = (extra: object) =>
    ({
      model: NAME,
      prompt: p.tokens,
      temperature: 0,
      max_tokens: 4,
      min_tokens: 4,
      ...extra,
    }) as OpenAI.CompletionCreateParamsNonStreaming;
  const forced = 1000;
  const response = await client.completions.create(request({ logit_bias: { [forced]: 100 } }));
  assert.equal(response.choices[0].text, model.tokenizer.decode([forced, forced, forced, forced], { skipSpecialTokens: true }));
  // −100 on transformers' greedy first token: the first token is another one.
  const first = p.greedy.new_tokens[0];
  const one = { max_tokens: 1, min_tokens: 1 };
  const plain = await client.completions.create(request(one));
  const banned = await client.completions.create(request({ ...one, logit_bias: { [first]: -100 } }));
  assert.equal(plain.choices[0].text, model.tokenizer.decode([first], { skipSpecialTokens: true }));
  assert.notEqual(banned.choices[0].text, plain.choices[0].text);
  // allowed_token_ids (vLLM's): every token from the list.
  const allowed = await client.completions.create(request({ allowed_token_ids: [forced] }));
  assert.equal(allowed.choices[0].text, response.choices[0].text);
  const vocab = model.engine.vocabSize;
  await assert.rejects(
    client.completions.create(request({ allowed_token_ids: [vocab] })),
    (error: unknown) =>
      error instanceof OpenAI.BadRequestError && /allowed_token_ids token id \d+ is outside the vocabulary/.test(error.message),
  );
  for (const [bias, pattern] of [
    [{ [vocab]: 5 }, /logit_bias token id \d+ is outside the vocabulary/],
    [{ abc: 5 }, /logit_bias keys must be token ids/],
  ] as const) {
    await assert.rejects(
      client.completions.create(request({ logit_bias: bias })),
      (error: unknown) => error instanceof OpenAI.BadRequestError && pattern.test(error.message),
    );
  }
});

test("real engine: skip_special_tokens false shows special tokens; include_stop_str_in_output keeps the stop string", async () => {
  const p = reference.prompts.find((q) => Math.min(...q.greedy.margins) > NEAR_TIE)!;
  const request = (extra: object) =>
    ({
      model: NAME,
      prompt: p.tokens,
      temperature: 0,
      max_tokens: 3,
      min_tokens: 3,
      ...extra,
    }) as OpenAI.CompletionCreateParamsNonStreaming;
  // A special token that is not a stop token, forced by a logit bias: no text by default, its text when not skipped.
  const stops = new Set(model.resolveSampling({}).stopTokenIds);
  const special = [...model.tokenizer.specialTokenIds].find((id) => !stops.has(id))!;
  const forced = { logit_bias: { [special]: 100 } };
  assert.equal((await client.completions.create(request(forced))).choices[0].text, "");
  const shown = await client.completions.create(request({ ...forced, skip_special_tokens: false }));
  const name = model.tokenizer.decode([special]);
  assert.ok(name.length > 0);
  assert.equal(shown.choices[0].text, name.repeat(3));
  // A stop string from the greedy text: cut before it by default, kept with include_stop_str_in_output.
  const greedy = model.tokenizer.decode(p.greedy.new_tokens, { skipSpecialTokens: true });
  const stop = greedy.slice(2, 4);
  assert.equal(stop.length, 2);
  const cut = greedy.slice(0, greedy.indexOf(stop));
  const long = (extra: object) => request({ max_tokens: p.greedy.max_new_tokens, min_tokens: 0, stop: [stop], ...extra });
  assert.equal((await client.completions.create(long({}))).choices[0].text, cut);
  const kept = await client.completions.create(long({ include_stop_str_in_output: true }));
  assert.equal(kept.choices[0].text, cut + stop);
  assert.equal(kept.choices[0].finish_reason, "stop");
  // A stop token (EOS, forced): its text only with both include_stop_str_in_output and skip_special_tokens false.
  const eos = [...stops][0];
  const ended = (extra: object) => request({ min_tokens: 0, logit_bias: { [eos]: 100 }, ...extra });
  const texts = [];
  for (const extra of [{}, { include_stop_str_in_output: true }, { include_stop_str_in_output: true, skip_special_tokens: false }]) {
    const response = await client.completions.create(ended(extra));
    assert.equal(response.choices[0].finish_reason, "stop");
    texts.push(response.choices[0].text);
  }
  assert.deepEqual(texts, ["", "", model.tokenizer.decode([eos])]);
});

test("real engine: chat through the checkpoint's template; tools get a 400 (its template has no tool support)", async () => {
  const chat = await client.chat.completions.create({
    model: NAME,
    messages: [{ role: "user", content: "こんにちは 🌸" }],
    max_tokens: 8,
    temperature: 0,
  });
  assert.ok(["stop", "length"].includes(chat.choices[0].finish_reason));
  assert.equal(chat.usage?.prompt_tokens, model.encodeChat([{ role: "user", content: "こんにちは 🌸" }]).length);
  await assert.rejects(
    client.chat.completions.create({
      model: NAME,
      messages: [{ role: "user", content: "x" }],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
    }),
    (error: unknown) => error instanceof OpenAI.BadRequestError && /does not support tools/.test(error.message),
  );
});

test("real engine: a client that disconnects mid-stream has its KV blocks freed", async () => {
  const generatedBefore = model.engine.stats().generationTokensTotal;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${server.url}/v1/completions`, { method: "POST", headers: { "Content-Type": "application/json" } }, (res) => {
      res.once("data", () => {
        assert.ok(model.engine.stats().kvBlocksUsed > 0, "the running request holds blocks");
        req.destroy();
        resolve();
      });
    });
    req.on("error", (e) => ((e as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(e)));
    req.end(JSON.stringify({ prompt: [1024, 162, 251], max_tokens: 200, min_tokens: 200, stream: true }));
  });
  for (let i = 0; i < 200 && model.engine.stats().running > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const stats = model.engine.stats();
  assert.equal(stats.running, 0);
  assert.equal(stats.waiting, 0);
  assert.equal(stats.kvBlocksUsed, 0);
  assert.ok(stats.generationTokensTotal - generatedBefore < 200, "generation stopped before max_tokens");
});

test("real engine load: 64 concurrent streaming clients, 128 requests, no errors; p50/p99 latency", { timeout: 120_000 }, async () => {
  const total = 128;
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async (_, worker) => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        try {
          const stream = await client.chat.completions.create({
            model: NAME,
            messages: [{ role: "user", content: `質問 ${i % 7} 🌸` }],
            max_tokens: 8,
            temperature: 0.7,
            seed: worker,
            stream: true,
          });
          let finished = false;
          for await (const chunk of stream) finished ||= chunk.choices[0]?.finish_reason != null;
          if (!finished) errors++;
        } catch {
          errors++;
        }
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  const wallMs = performance.now() - started;
  latenciesMs.sort((a, b) => a - b);
  const pct = (p: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor((p / 100) * latenciesMs.length))];
  console.log(
    `real-engine load (cpu, tiny): ${total} requests, 64 concurrent, ${wallMs.toFixed(0)} ms; p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms`,
  );
  assert.equal(errors, 0);
  assert.equal(latenciesMs.length, total);
  assert.equal(model.engine.stats().kvBlocksUsed, 0);
});

test("real engine: response_format json_schema and json_object give JSON that parses and matches", async () => {
  const schema = {
    type: "object",
    properties: { answer: { enum: ["はい", "いいえ"] }, ok: { type: "boolean" } },
    required: ["answer", "ok"],
    additionalProperties: false,
  };
  const validate = new Ajv({ strict: false }).compile(schema);
  for (let seed = 0; seed < 4; seed++) {
    const response = await client.chat.completions.create({
      model: NAME,
      messages: [{ role: "user", content: "JSON で答えて" }],
      seed,
      temperature: 1,
      response_format: { type: "json_schema", json_schema: { name: "a", schema } },
    });
    const text = response.choices[0].message.content ?? "";
    assert.equal(response.choices[0].finish_reason, "stop", text);
    assert.ok(validate(JSON.parse(text)), `${text} does not match: ${JSON.stringify(validate.errors)}`);
  }
  const object = await client.chat.completions.create({
    model: NAME,
    messages: [{ role: "user", content: "JSON" }],
    temperature: 0,
    response_format: { type: "json_object" },
  });
  const text = object.choices[0].message.content ?? "";
  assert.match(text, /^\s*\{/);
  if (object.choices[0].finish_reason === "stop") assert.equal(typeof JSON.parse(text), "object");
});

test("real engine: tool_choice required / named forces a Llama 3.1 tool call that parses", async () => {
  // The tiny checkpoint's template has no tools; serve its engine behind a tool-aware template instead.
  const served = { ...fakeServedModel(model.tokenizer, model.engine, TOOL_TEMPLATE), resolveSampling: model.resolveSampling.bind(model) };
  const toolApp = new App({ servedModelName: NAME });
  toolApp.setModel(served);
  const toolServer = await startServer(toolApp, { port: 0 });
  const toolClient = new OpenAI({ baseURL: `${toolServer.url}/v1`, apiKey: "none", maxRetries: 0 });
  const tools: OpenAI.ChatCompletionTool[] = [
    {
      type: "function",
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { enum: ["東京", "大阪"] } }, required: ["city"], additionalProperties: false },
      },
    },
    { type: "function", function: { name: "noop", parameters: { type: "object", properties: {}, additionalProperties: false } } },
  ];
  try {
    for (const tool_choice of ["required", { type: "function", function: { name: "get_weather" } }] as const) {
      const response = await toolClient.chat.completions.create({
        model: NAME,
        messages: [{ role: "user", content: "天気" }],
        tools,
        tool_choice,
        temperature: 0,
      });
      const choice = response.choices[0];
      assert.equal(choice.finish_reason, "tool_calls", JSON.stringify(choice));
      const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      if (typeof tool_choice === "object") assert.equal(call.function.name, "get_weather");
      const args = JSON.parse(call.function.arguments);
      if (call.function.name === "get_weather") assert.ok(["東京", "大阪"].includes(args.city));
      else assert.deepEqual(args, {});
    }
  } finally {
    await toolServer.close({ graceMs: 100 });
  }
});

/** A 400 from the server whose message matches `pattern`, as an OpenAI error object (the client's BadRequestError). */
const badRequest = (pattern: RegExp) => (error: unknown) => {
  if (!(error instanceof OpenAI.BadRequestError)) return false;
  const body = error.error as { message?: string; type?: string; code?: number } | undefined;
  return pattern.test(body?.message ?? "") && body?.type === "BadRequestError" && body.code === 400;
};

test("real engine: truncate_prompt_tokens keeps the last k prompt tokens: usage and output as for that shorter prompt", async () => {
  const p = reference.prompts.find((q) => Math.min(...q.greedy.margins) > NEAR_TIE)!;
  const keep = p.tokens.length - 5;
  const completion = (prompt: string | number[], extra: object = {}) =>
    client.completions.create({
      model: NAME,
      prompt,
      temperature: 0,
      max_tokens: 4,
      min_tokens: 4,
      ...extra,
    } as OpenAI.CompletionCreateParamsNonStreaming);
  const truncated = await completion(p.tokens, { truncate_prompt_tokens: keep });
  const shorter = await completion(p.tokens.slice(-keep));
  assert.equal(truncated.usage?.prompt_tokens, keep);
  assert.equal(truncated.choices[0].text, shorter.choices[0].text);
  assert.notEqual(truncated.choices[0].text, (await completion(p.tokens)).choices[0].text, "the cut changed the answer");
  // A text prompt is tokenized (with BOS) and then cut; -1 is the model length, so nothing is cut here.
  const text = "こんにちは、世界！今日はいい天気ですね。";
  const ids = model.tokenizer.encode(text, { addBos: true });
  const cutText = await completion(text, { truncate_prompt_tokens: 4 });
  assert.equal(cutText.usage?.prompt_tokens, 4);
  assert.equal(cutText.choices[0].text, (await completion(ids.slice(-4))).choices[0].text);
  assert.equal((await completion(text, { truncate_prompt_tokens: -1 })).usage?.prompt_tokens, ids.length);
  // Chat: the rendered conversation is cut.
  const messages = [{ role: "user" as const, content: "自己紹介をしてください。" }];
  const chatIds = model.encodeChat(messages);
  const chat = await client.chat.completions.create({
    model: NAME,
    messages,
    temperature: 0,
    max_tokens: 4,
    min_tokens: 4,
    truncate_prompt_tokens: 6,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  assert.equal(chat.usage?.prompt_tokens, 6);
  assert.equal(chat.choices[0].message.content, (await completion(chatIds.slice(-6))).choices[0].text);
  // vLLM's limits.
  await assert.rejects(
    completion(p.tokens, { truncate_prompt_tokens: model.engine.maxModelLen + 1 }),
    badRequest(/^truncate_prompt_tokens value \(257\) is greater than max_model_len \(256\)/),
  );
  await assert.rejects(
    completion(p.tokens, { truncate_prompt_tokens: 0 }),
    badRequest(/truncate_prompt_tokens must be an integer >= 1, or -1/),
  );
});

test("real engine: prompt_logprobs equal echo's prompt log-probs (checked against transformers), on completions and chat", async () => {
  const p = reference.prompts[0];
  const k = 3;
  const echo = await client.completions.create({ model: NAME, prompt: p.tokens, echo: true, logprobs: k, max_tokens: 0 });
  const echoed = echo.choices[0].logprobs!;
  type Entry = { logprob: number; rank: number; decoded_token: string };
  const check = (got: (Record<string, Entry> | null)[] | undefined, tokens: number[], expected: typeof echoed, what: string) => {
    assert.ok(got !== undefined && Array.isArray(got), `${what}: prompt_logprobs is a list`);
    assert.equal(got.length, tokens.length, what);
    assert.equal(got[0], null, `${what}: the first prompt token has none`);
    for (let i = 1; i < tokens.length; i++) {
      const entries: Record<string, Entry> = got[i]!;
      const own: Entry | undefined = entries[String(tokens[i])];
      assert.ok(own, `${what} ${i}: the prompt token ${tokens[i]} is a key`);
      assert.ok(Math.abs(own.logprob - expected.token_logprobs![i]!) < 1e-6, `${what} ${i}: ${own.logprob} vs echo's`);
      assert.equal(own.decoded_token, expected.tokens![i]);
      const top: Entry[] = Object.values(entries)
        .filter((e) => e !== own || own.rank <= k)
        .sort((a, b) => a.rank - b.rank);
      assert.deepEqual(
        top.slice(0, k).map((e) => e.rank),
        [1, 2, 3],
        `${what} ${i}: the top ${k} have ranks 1..${k}`,
      );
      assert.equal(Object.keys(entries).length, own.rank <= k ? k : k + 1);
      // The top k's log-probs are echo's top_logprobs (keyed there by text: only texts no other entry shares).
      const texts = Object.values(entries).map((e) => e.decoded_token);
      for (const e of top.slice(0, k)) {
        if (texts.indexOf(e.decoded_token) !== texts.lastIndexOf(e.decoded_token)) continue;
        assert.ok(Math.abs(e.logprob - expected.top_logprobs![i]![e.decoded_token]) < 1e-6, `${what} ${i} top ${e.decoded_token}`);
      }
      if (own.rank > k) assert.ok(own.logprob <= top[k - 1].logprob, `${what} ${i}: a rank past ${k} is no likelier than the top ${k}`);
    }
  };
  // echo + logprobs fills the choice's prompt_logprobs (vLLM), as does prompt_logprobs alone (without echo).
  check((echo.choices[0] as unknown as { prompt_logprobs: never }).prompt_logprobs, p.tokens, echoed, "echo");
  const plain = await client.completions.create({
    model: NAME,
    prompt: p.tokens,
    max_tokens: 1,
    prompt_logprobs: k,
  } as OpenAI.CompletionCreateParamsNonStreaming);
  check((plain.choices[0] as unknown as { prompt_logprobs: never }).prompt_logprobs, p.tokens, echoed, "completions");
  // transformers' reference for the prompt tokens themselves.
  const got = (plain.choices[0] as unknown as { prompt_logprobs: Record<string, Entry>[] }).prompt_logprobs;
  for (let i = 1; i < p.tokens.length; i++) assert.ok(Math.abs(got[i][String(p.tokens[i])].logprob - p.logprobs[i]!) < 1e-3);

  // Chat: once, at the top level, over the rendered prompt.
  const messages = [{ role: "user" as const, content: "自己紹介をしてください。" }];
  const chatIds = model.encodeChat(messages);
  const chat = await client.chat.completions.create({
    model: NAME,
    messages,
    max_tokens: 1,
    n: 2,
    prompt_logprobs: k,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  const chatEcho = await client.completions.create({ model: NAME, prompt: chatIds, echo: true, logprobs: k, max_tokens: 0 });
  check((chat as unknown as { prompt_logprobs: never }).prompt_logprobs, chatIds, chatEcho.choices[0].logprobs!, "chat");
  assert.ok(chat.choices.every((c) => !("prompt_logprobs" in c)));

  // vLLM's limits.
  await assert.rejects(
    client.completions.create({
      model: NAME,
      prompt: p.tokens,
      max_tokens: 1,
      prompt_logprobs: 21,
    } as OpenAI.CompletionCreateParamsNonStreaming),
    badRequest(/^Requested prompt logprobs of 21, which is greater than max allowed: 20$/),
  );
  await assert.rejects(
    client.chat.completions.create({
      model: NAME,
      messages,
      stream: true,
      prompt_logprobs: 1,
    } as OpenAI.ChatCompletionCreateParamsStreaming),
    badRequest(/^`prompt_logprobs` are not available when `stream=True`\.$/),
  );
  await assert.rejects(
    client.completions.create({ model: NAME, prompt: p.tokens, prompt_logprobs: -2 } as OpenAI.CompletionCreateParamsNonStreaming),
    badRequest(/must be a positive value or -1/),
  );
});

test("real engine: bad_words ban a word greedy decoding would produce, as written and with a leading space", async () => {
  // A prompt whose greedy answer starts "pan", " st" (token 857, then 357).
  const p = reference.prompts.find((q) => q.greedy.new_tokens[0] === 857 && q.greedy.new_tokens[1] === 357)!;
  assert.ok(p, "the reference prompt whose greedy answer starts with 'pan st'");
  assert.deepEqual(model.tokenizer.encode("pan"), [857]);
  assert.deepEqual(model.tokenizer.encode(" st"), [357], "'st' is banned through its leading-space form");
  assert.deepEqual(model.tokenizer.encode("pan st"), [857, 357]);
  const tokensOf = async (extra: object) => {
    const response = await client.completions.create({
      model: NAME,
      prompt: p.tokens,
      temperature: 0,
      max_tokens: 2,
      min_tokens: 2,
      logprobs: 0,
      ...extra,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    return response.choices[0].logprobs!.tokens!;
  };
  assert.deepEqual(await tokensOf({}), ["pan", " st"]);
  const noPan = await tokensOf({ bad_words: ["pan"] });
  assert.notEqual(noPan[0], "pan");
  const noSt = await tokensOf({ bad_words: ["st"] });
  assert.equal(noSt[0], "pan");
  assert.notEqual(noSt[1], " st");
  // A two-token word: its first token is free, its second is banned right after it.
  const noPhrase = await tokensOf({ bad_words: ["pan st"] });
  assert.equal(noPhrase[0], "pan");
  assert.notEqual(noPhrase[1], " st");
  assert.deepEqual(await tokensOf({ bad_words: ["zzzz"] }), ["pan", " st"], "a word that does not come up changes nothing");
  // Chat takes them too; a blank word is a 400.
  const chat = await client.chat.completions.create({
    model: NAME,
    messages: [{ role: "user", content: "x" }],
    max_tokens: 2,
    bad_words: ["pan"],
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  assert.equal(chat.choices.length, 1);
  await assert.rejects(
    client.completions.create({ model: NAME, prompt: p.tokens, bad_words: [" "] } as OpenAI.CompletionCreateParamsNonStreaming),
    badRequest(/bad_words\[0\] is empty or only whitespace/),
  );
});

test("real engine: chat echo, request_id and return_tokens_as_token_ids through the openai client", async () => {
  const request = {
    model: NAME,
    messages: [
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Swallow says:" },
    ],
    temperature: 0,
    max_tokens: 5,
    min_tokens: 5,
    logprobs: true,
    top_logprobs: 2,
    echo: true,
    request_id: "client-trace-7",
    return_tokens_as_token_ids: true,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming;
  const response = await client.chat.completions.create(request);
  assert.equal(response.id, "chatcmpl-client-trace-7");
  const content = response.choices[0].message.content!;
  assert.ok(content.startsWith("Swallow says:"), content);
  const entries = response.choices[0].logprobs!.content!;
  assert.equal(entries.length, 5);
  const ids = entries.map((entry) => {
    const match = /^token_id:(\d+)$/.exec(entry.token);
    assert.ok(match, entry.token);
    assert.equal(entry.top_logprobs.length, 2);
    for (const top of entry.top_logprobs) assert.match(top.token, /^token_id:\d+$/);
    assert.deepEqual(entry.bytes, Array.from(model.tokenizer.tokenBytes(Number(match[1]))));
    return Number(match[1]);
  });
  // The generated part is exactly the named tokens' text, after the echoed message.
  assert.equal(content, "Swallow says:" + model.tokenizer.decode(ids, { skipSpecialTokens: true }));
  // Streamed: the same id on every chunk; the echo comes first; the deltas add up to the whole answer.
  const stream = await client.chat.completions.create({ ...request, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = "";
  const firstContent: string[] = [];
  for await (const chunk of stream) {
    assert.equal(chunk.id, "chatcmpl-client-trace-7");
    const delta = chunk.choices[0]?.delta.content ?? "";
    if (delta !== "") firstContent.push(delta);
    text += delta;
  }
  assert.equal(firstContent[0], "Swallow says:");
  assert.equal(text, content);
  // Completions: cmpl-{request_id} and token_id:{id} tokens and top_logprobs keys.
  const p = reference.prompts[0];
  const completion = await client.completions.create({
    model: NAME,
    prompt: p.tokens,
    temperature: 0,
    max_tokens: 3,
    min_tokens: 3,
    logprobs: 1,
    request_id: "c-1",
    return_tokens_as_token_ids: true,
  } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.equal(completion.id, "cmpl-c-1");
  const logprobs = completion.choices[0].logprobs!;
  assert.equal(logprobs.tokens!.length, 3);
  for (const [i, token] of logprobs.tokens!.entries()) {
    assert.match(token, /^token_id:\d+$/);
    assert.ok(token in logprobs.top_logprobs![i], "the chosen token is among its top_logprobs keys");
    for (const key of Object.keys(logprobs.top_logprobs![i])) assert.match(key, /^token_id:\d+$/);
  }
  const completionIds = logprobs.tokens!.map((t) => Number(t.slice("token_id:".length)));
  assert.equal(completion.choices[0].text, model.tokenizer.decode(completionIds, { skipSpecialTokens: true }));
});
