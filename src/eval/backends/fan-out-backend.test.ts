import { test } from "node:test";
import assert from "node:assert/strict";
import { FanOutBackend } from "./fan-out-backend.js";
import type { EvalBackend, LoglikelihoodRequest } from "../types.js";

/** A backend that records its calls and answers when `release` is called (or at once with `instant`). */
function fakeBackend(id: string, instant = true) {
  const calls: string[] = [];
  const pending: (() => void)[] = [];
  const answer = <T>(value: T) => (instant ? Promise.resolve(value) : new Promise<T>((resolve) => pending.push(() => resolve(value))));
  const backend: EvalBackend = {
    id,
    loglikelihood: (r) => (calls.push(`ll ${r.continuation}`), answer({ logprob: -1, isGreedy: true })),
    generateUntil: (r) => (calls.push(`gen ${r.context}`), answer(`${id}:${r.context}`)),
    chat: (r) => (calls.push(`chat ${r.messages.length}`), answer(id)),
  };
  return { backend, calls, releaseOne: () => pending.shift()?.() };
}

const ll = (continuation: string): LoglikelihoodRequest => ({ kind: "loglikelihood", context: "c", continuation, addBos: false });

test("requests one at a time go to the endpoints in turn", async () => {
  const fakes = [fakeBackend("m"), fakeBackend("m"), fakeBackend("m")];
  const fan = new FanOutBackend(fakes.map((f) => f.backend));
  for (const c of ["a", "b", "c", "d", "e", "f", "g"]) await fan.loglikelihood(ll(c));
  assert.deepEqual(
    fakes.map((f) => f.calls),
    [
      ["ll a", "ll d", "ll g"],
      ["ll b", "ll e"],
      ["ll c", "ll f"],
    ],
  );
  assert.equal(fan.id, "m");
});

test("concurrent requests go to the least busy endpoint: a slow endpoint gets less work", async () => {
  const slow = fakeBackend("m", false);
  const fast = fakeBackend("m", true);
  const fan = new FanOutBackend([slow.backend, fast.backend]);
  const first = fan.generateUntil({ kind: "generate", context: "1", until: [], maxTokens: 4, temperature: 0, addBos: false });
  assert.deepEqual(fan.load, [1, 0]);
  // While the slow endpoint holds one request, the next ones go to the fast one.
  assert.equal(await fan.generateUntil({ kind: "generate", context: "2", until: [], maxTokens: 4, temperature: 0, addBos: false }), "m:2");
  await fan.chat({ kind: "chat", messages: [{ role: "user", content: "x" }], maxTokens: 4, temperature: 0 });
  assert.deepEqual(slow.calls, ["gen 1"]);
  assert.deepEqual(fast.calls, ["gen 2", "chat 1"]);
  slow.releaseOne();
  assert.equal(await first, "m:1");
  assert.deepEqual(fan.load, [0, 0]);
});

test("a failed request frees its endpoint's slot and reaches the caller; endpoints of different models are refused", async () => {
  const failing: EvalBackend = {
    id: "m",
    loglikelihood: () => Promise.reject(new Error("boom")),
    generateUntil: () => Promise.reject(new Error("boom")),
    chat: () => Promise.reject(new Error("boom")),
  };
  const fan = new FanOutBackend([failing]);
  await assert.rejects(fan.loglikelihood(ll("a")), /boom/);
  assert.deepEqual(fan.load, [0]);
  assert.throws(
    () => new FanOutBackend([fakeBackend("a").backend, fakeBackend("b").backend]),
    /the endpoints serve different models \(a, b\)/,
  );
  assert.throws(() => new FanOutBackend([]), /at least one backend/);
});
