import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { EvalBackend, GenerateRequest } from "../types.js";
import { FakeBackend } from "../backends/fake-backend.js";
import { CachedBackend } from "./cached-backend.js";
import { canonicalJson } from "./canonical-json.js";
import { ResultStore } from "./result-store.js";

function requests(n: number): GenerateRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "generate",
    context: `Q${i}`,
    until: ["\n"],
    maxTokens: 8,
    addBos: false,
    temperature: 0,
  }));
}

/** Wraps a backend, counting the calls that reach it and failing every call after the first `failAfter`. */
function counting(inner: EvalBackend, failAfter = Infinity) {
  const counter = { calls: 0 };
  const backend: EvalBackend = {
    id: inner.id,
    loglikelihood: (r) => (++counter.calls > failAfter ? Promise.reject(new Error("killed")) : inner.loglikelihood(r)),
    generateUntil: (r) => (++counter.calls > failAfter ? Promise.reject(new Error("killed")) : inner.generateUntil(r)),
    chat: (r) => (++counter.calls > failAfter ? Promise.reject(new Error("killed")) : inner.chat(r)),
  };
  return { backend, counter };
}

test("canonicalJson sorts keys at every depth and drops undefined members", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
});

test("kill and resume: a rerun after a crash only sends the requests that were never answered", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-store-"));
  try {
    const file = path.join(dir, "results.sqlite");
    const fake = new FakeBackend({ generate: (r) => `A:${r.context}\nrest` }, "model-x");
    const all = requests(10);

    // First run: the backend dies after 6 calls; the process "crashes" (store closed without any cleanup).
    let store = new ResultStore(file);
    const first = counting(fake, 6);
    const cachedA = new CachedBackend(first.backend, store, "task@1");
    const answers: string[] = [];
    for (const r of all) {
      try {
        answers.push(await cachedA.generateUntil(r));
      } catch {
        break;
      }
    }
    assert.equal(answers.length, 6);
    store.close();

    // Second run, new process: only the 4 unanswered requests reach the backend, and the answers are identical.
    store = new ResultStore(file);
    const second = counting(fake);
    const cachedB = new CachedBackend(second.backend, store, "task@1");
    const rerun = await Promise.all(all.map((r) => cachedB.generateUntil(r)));
    assert.equal(second.counter.calls, 4);
    assert.equal(cachedB.hits, 6);
    assert.deepEqual(rerun.slice(0, 6), answers);
    assert.deepEqual(
      rerun,
      all.map((r) => `A:${r.context}`),
    );

    // A bumped task version or another backend id never reuses old answers.
    const third = counting(fake);
    await new CachedBackend(third.backend, store, "task@2").generateUntil(all[0]);
    await new CachedBackend(counting(new FakeBackend({}, "model-y")).backend, store, "task@1").generateUntil(all[0]);
    assert.equal(third.counter.calls, 1);
    assert.equal(store.responseCount(), 12);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("identical requests in flight together reach the backend once", async () => {
  const store = new ResultStore(":memory:");
  const { backend, counter } = counting(new FakeBackend({ loglikelihood: () => -1.5 }));
  const cached = new CachedBackend(backend, store, "t@1");
  const r = { kind: "loglikelihood" as const, context: "a", continuation: " b", addBos: false };
  const [x, y] = await Promise.all([cached.loglikelihood(r), cached.loglikelihood({ ...r })]);
  assert.deepEqual(x, { logprob: -1.5, isGreedy: true });
  assert.deepEqual(y, x);
  assert.equal(counter.calls, 1);
  store.close();
});

test("outcomes are stored per (run, task, item) and runs merge their scores", () => {
  const store = new ResultStore(":memory:");
  store.saveOutcome("r1", "jcom@1", { itemId: "0", scores: { exact_match: 1 }, prediction: "a", gold: "a" });
  store.saveOutcome("r1", "jcom@1", { itemId: "0", scores: { exact_match: 0 }, prediction: "b", gold: "a" });
  store.saveOutcome("r1", "jcom@1", { itemId: "1", scores: { exact_match: 1 }, prediction: "c", gold: "c" });
  store.saveOutcome("r2", "jcom@1", { itemId: "0", scores: { exact_match: 1 }, prediction: "a", gold: "a" });
  const got = store.outcomes("r1", "jcom@1");
  assert.equal(got.size, 2);
  assert.equal(got.get("0")?.prediction, "b");
  store.saveRun({ runId: "r1", backendId: "m", scores: { jcom: 0.5 }, meta: { limit: 2 } });
  const merged = store.saveRun({ runId: "r1", backendId: "m", scores: { mmlu: 0.7 }, meta: {} });
  assert.deepEqual(merged.scores, { jcom: 0.5, mmlu: 0.7 });
  assert.deepEqual(
    store.runs().map((r) => r.runId),
    ["r1"],
  );
  store.close();
});

test("an unreadable store file is a clear error", () => {
  assert.throws(() => new ResultStore("/proc/version"), /cannot open the result store \/proc\/version/);
});
