import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturesDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { OpenAIBackend } from "./openai-backend.js";
import { normalizeBaseUrl, retryAfterMs } from "./http-client.js";

const tokenizer = Tokenizer.fromJson(readFileSync(path.join(fixturesDir, "tiny-tokenizer/tokenizer.json"), "utf8"));
const vectors = JSON.parse(readFileSync(path.join(fixturesDir, "eval/backends/pair-vectors.json"), "utf8")) as {
  cases: { context: string; continuation: string; context_ids: number[]; continuation_ids: number[] }[];
};

type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse, call: number) => void;

/** A throwaway server; `handler` sees each request's parsed JSON body and its 0-based call number. */
async function withServer(handler: Handler, run: (url: string, calls: Record<string, unknown>[]) => Promise<void>): Promise<void> {
  const calls: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => {
      const body = data ? (JSON.parse(data) as Record<string, unknown>) : {};
      calls.push({ ...body, _path: req.url, _auth: req.headers.authorization });
      handler(body, req, res, calls.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** vLLM's echo answer: one entry per prompt token (+ generated ones), the first log-prob null. */
function echoAnswer(prompt: number[], logprobOf: (i: number) => number, extra = 0) {
  const n = prompt.length + extra;
  const tokens = Array.from({ length: n }, (_, i) => `t${i}`);
  return {
    choices: [
      {
        text: "",
        logprobs: {
          tokens,
          token_logprobs: tokens.map((_, i) => (i === 0 ? null : logprobOf(i))),
          top_logprobs: tokens.map((t, i) => (i === 0 ? null : { [i === n - 2 ? "other" : t]: i === n - 2 ? -0.01 : logprobOf(i) })),
          text_offset: tokens.map((_, i) => i),
        },
      },
    ],
  };
}

const fast = { baseDelayMs: 1, maxDelayMs: 5 };
const pair = vectors.cases[0];

test("loglikelihood sends lm-eval's token split with echo/logprobs/max_tokens 0 and sums the continuation", async () => {
  await withServer(
    (body, _req, res) =>
      json(
        res,
        200,
        echoAnswer(body.prompt as number[], (i) => -0.5 * i),
      ),
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, apiKey: "k", ...fast });
      const result = await backend.loglikelihood({
        kind: "loglikelihood",
        context: pair.context,
        continuation: pair.continuation,
        addBos: false,
      });
      const prompt = [...pair.context_ids, ...pair.continuation_ids];
      assert.deepEqual(calls[0].prompt, prompt);
      assert.equal(calls[0]._path, "/v1/completions");
      assert.equal(calls[0]._auth, "Bearer k");
      assert.equal(calls[0].echo, true);
      assert.equal(calls[0].logprobs, 1);
      assert.equal(calls[0].max_tokens, 0);
      let expected = 0;
      for (let i = pair.context_ids.length; i < prompt.length; i++) expected += -0.5 * i;
      assert.ok(Math.abs(result.logprob - expected) < 1e-9);
      // The second-to-last prompt token's top alternative is another token with a higher log-prob.
      assert.equal(result.isGreedy, false);
    },
  );
});

test("an endpoint that rejects max_tokens 0 is asked with 1 and the generated token is ignored", async () => {
  await withServer(
    (body, _req, res) =>
      body.max_tokens === 0
        ? json(res, 400, { error: { message: "max_tokens must be at least 1" } })
        : json(
            res,
            200,
            echoAnswer(body.prompt as number[], () => -1, 1),
          ),
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: `${url}/v1/`, model: "m", tokenizer, ...fast });
      const request = { kind: "loglikelihood" as const, context: pair.context, continuation: pair.continuation, addBos: false };
      const a = await backend.loglikelihood(request);
      assert.equal(a.logprob, -pair.continuation_ids.length);
      await backend.loglikelihood(request);
      assert.deepEqual(
        calls.map((c) => c.max_tokens),
        [0, 1, 1],
      );
    },
  );
});

test("429 with Retry-After, then 5xx, then 200: retried and answered", async () => {
  await withServer(
    (_body, _req, res, call) => {
      if (call === 0) return json(res, 429, { error: { message: "busy" } }, { "retry-after": "0" });
      if (call === 1) return json(res, 503, { error: "restarting" });
      json(res, 200, { choices: [{ text: "4\n\nQ: more" }] });
    },
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, ...fast });
      const text = await backend.generateUntil({
        kind: "generate",
        context: "2 + 2 =",
        until: ["\n\n"],
        maxTokens: 16,
        addBos: true,
        temperature: 0,
      });
      assert.equal(text, "4");
      assert.equal(calls.length, 3);
      assert.deepEqual(calls[2].stop, ["\n\n"]);
      assert.deepEqual(calls[2].prompt, tokenizer.encode("2 + 2 =", { addBos: true }));
    },
  );
});

test("a request that times out is retried; an exhausted retry budget gives one clear line", async () => {
  await withServer(
    (_body, _req, res, call) => {
      if (call === 0) return; // never answers
      json(res, 200, { choices: [{ message: { content: "こんにちは" } }] });
    },
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, timeoutMs: 200, ...fast });
      const reply = await backend.chat({ kind: "chat", messages: [{ role: "user", content: "hi" }], maxTokens: 8, temperature: 0 });
      assert.equal(reply, "こんにちは");
      assert.equal(calls[1]._path, "/v1/chat/completions");
    },
  );
  await withServer(
    (_body, _req, res) => json(res, 500, { error: { message: "boom" } }),
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, maxRetries: 2, ...fast });
      await assert.rejects(
        backend.chat({ kind: "chat", messages: [{ role: "user", content: "hi" }], maxTokens: 8, temperature: 0 }),
        /failed after 3 attempts: HTTP 500: boom/,
      );
      assert.equal(calls.length, 3);
    },
  );
});

test("client errors fail at once; the model name comes from /v1/models when not given", async () => {
  await withServer(
    (body, req, res) => {
      if (req.url === "/v1/models") return json(res, 200, { data: [{ id: "served-model" }] });
      json(res, 401, { error: { message: "invalid api key" } });
    },
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, tokenizer, ...fast });
      assert.equal(await backend.resolveModel(), "served-model");
      assert.equal(backend.id, "served-model");
      await assert.rejects(
        backend.generateUntil({ kind: "generate", context: "x", until: [], maxTokens: 1, addBos: false, temperature: 0 }),
        /HTTP 401: invalid api key/,
      );
      assert.equal(calls.length, 2);
    },
  );
});

test("network errors are retried, then reported", async () => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const backend = new OpenAIBackend({ baseUrl: `http://127.0.0.1:${port}`, model: "m", tokenizer, maxRetries: 1, ...fast });
  await assert.rejects(
    backend.chat({ kind: "chat", messages: [], maxTokens: 1, temperature: 0 }),
    /failed after 2 attempts: network error: ECONNREFUSED/,
  );
});

test("URL and Retry-After parsing", () => {
  assert.equal(normalizeBaseUrl("http://h:8000"), "http://h:8000/v1");
  assert.equal(normalizeBaseUrl("http://h:8000/v1/"), "http://h:8000/v1");
  assert.throws(() => normalizeBaseUrl("localhost"), /must be a URL/);
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs(null), null);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
});

test('maxModelLen "server": the length comes from /v1/models and long prompts lose context tokens from the left', async () => {
  const contextIds = pair.context_ids;
  const continuationIds = pair.continuation_ids;
  const maxLen = contextIds.length + continuationIds.length - 2; // two context tokens too many
  await withServer(
    (body, req, res) =>
      req.url === "/v1/models"
        ? json(res, 200, {
            data: [
              { id: "other", max_model_len: 4 },
              { id: "m", max_model_len: maxLen },
            ],
          })
        : json(
            res,
            200,
            echoAnswer(body.prompt as number[], (i) => -0.25 * i),
          ),
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, maxModelLen: "server", ...fast });
      const request = { kind: "loglikelihood" as const, context: pair.context, continuation: pair.continuation, addBos: false };
      const result = await backend.loglikelihood(request);
      await backend.loglikelihood(request);
      // One lookup, then the prompts: the window's right end, as lm-eval's (context + continuation)[-max_length:].
      assert.deepEqual(
        calls.map((c) => c._path),
        ["/v1/models", "/v1/completions", "/v1/completions"],
      );
      const sent = [...contextIds.slice(2), ...continuationIds];
      assert.deepEqual(calls[1].prompt, sent);
      let expected = 0;
      for (let i = contextIds.length - 2; i < sent.length; i++) expected += -0.25 * i;
      assert.ok(Math.abs(result.logprob - expected) < 1e-9, `${result.logprob} vs ${expected}`);
    },
  );
  // A server without GET /v1/models: no length, prompts go whole.
  await withServer(
    (body, req, res) =>
      req.url === "/v1/models"
        ? json(res, 404, { error: { message: "not found" } })
        : json(
            res,
            200,
            echoAnswer(body.prompt as number[], () => -1),
          ),
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, maxModelLen: "server", ...fast });
      await backend.loglikelihood({ kind: "loglikelihood", context: pair.context, continuation: pair.continuation, addBos: false });
      assert.deepEqual(calls.at(-1)?.prompt, [...contextIds, ...continuationIds]);
    },
  );
});

test("maxModelLen as a number: a continuation that cannot fit is one clear error, nothing is sent", async () => {
  await withServer(
    (_body, _req, res) => json(res, 500, {}),
    async (url, calls) => {
      const backend = new OpenAIBackend({ baseUrl: url, model: "m", tokenizer, maxModelLen: pair.continuation_ids.length, ...fast });
      await assert.rejects(
        backend.loglikelihood({ kind: "loglikelihood", context: pair.context, continuation: pair.continuation, addBos: false }),
        /a continuation of \d+ tokens does not fit the model length/,
      );
      assert.equal(calls.length, 0);
    },
  );
});
