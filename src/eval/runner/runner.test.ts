import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DatasetAccess, EvalBackend, EvalItem, EvalTask, ItemOutcome } from "../types.js";
import { FakeBackend } from "../backends/fake-backend.js";
import { ResultStore } from "../store/result-store.js";
import { forEachLimited, runTasks } from "./run-tasks.js";
import { formatDuration, ProgressBar } from "./progress.js";

const noData: DatasetAccess = { dir: () => "/nonexistent" };

/** A two-request-per-item task: a generation then a log-likelihood; scores 1 when the generation equals the id. */
function toyTask(name: string, n: number): EvalTask {
  return {
    name,
    version: "1",
    suite: "en",
    displayName: name,
    metric: "acc",
    datasets: [],
    async load(_data, { limit }) {
      const items: EvalItem[] = Array.from({ length: n }, (_, i) => ({
        itemId: String(i),
        async run({ model }) {
          const text = await model.generateUntil({
            kind: "generate",
            context: `${name} ${i}`,
            until: ["\n"],
            maxTokens: 4,
            addBos: false,
            temperature: 0,
          });
          const ll = await model.loglikelihood({ kind: "loglikelihood", context: `${name} ${i}`, continuation: " x", addBos: false });
          return {
            itemId: String(i),
            scores: { acc: text === String(i) ? 1 : 0 },
            prediction: text,
            gold: String(i),
            extra: { ll: ll.logprob },
          };
        },
      }));
      return limit === undefined ? items : items.slice(0, limit);
    },
    aggregate: (outcomes: ItemOutcome[]) => outcomes.reduce((s, o) => s + o.scores.acc, 0) / outcomes.length,
  };
}

/** Answers the item number for even items, "wrong" for odd ones; counts calls; dies after `failAfter`. */
function backend(failAfter = Infinity) {
  const fake = new FakeBackend(
    { generate: (r) => (Number(r.context.split(" ")[1]) % 2 === 0 ? `${r.context.split(" ")[1]}\nmore` : "wrong") },
    "toy-model",
  );
  const counter = { calls: 0 };
  const guard = <T>(f: () => Promise<T>) => (++counter.calls > failAfter ? Promise.reject(new Error("connection reset")) : f());
  const wrapped: EvalBackend = {
    id: fake.id,
    loglikelihood: (r) => guard(() => fake.loglikelihood(r)),
    generateUntil: (r) => guard(() => fake.generateUntil(r)),
    chat: (r) => guard(() => fake.chat(r)),
  };
  return { wrapped, counter };
}

test("runTasks scores tasks, stores outcomes and run scores", async () => {
  const store = new ResultStore(":memory:");
  const { wrapped, counter } = backend();
  const results = await runTasks({
    runId: "r",
    tasks: [toyTask("a", 10), toyTask("b", 4)],
    models: { model: wrapped },
    store,
    data: noData,
    concurrency: 3,
    progress: false,
  });
  assert.deepEqual(
    results.map((r) => r.score),
    [0.5, 0.5],
  );
  assert.equal(counter.calls, 28);
  assert.deepEqual(store.run("r")?.scores, { a: 0.5, b: 0.5 });
  assert.equal(store.outcomes("r", "a@1").size, 10);
  const limited = await runTasks({
    runId: "r2",
    tasks: [toyTask("a", 10)],
    models: { model: wrapped },
    store,
    data: noData,
    limit: 3,
    progress: false,
  });
  assert.equal(limited[0].outcomes.length, 3);
  assert.equal(limited[0].resumed, 0);
  assert.equal(counter.calls, 28); // every request of the first 3 items was already stored
  store.close();
});

test("kill and resume through the runner: no request is sent twice", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-runner-"));
  try {
    const file = path.join(dir, "r.sqlite");
    const first = backend(13);
    let store = new ResultStore(file);
    await assert.rejects(
      runTasks({
        runId: "r",
        tasks: [toyTask("a", 10)],
        models: { model: first.wrapped },
        store,
        data: noData,
        concurrency: 2,
        progress: false,
      }),
      /task a, item \d+: connection reset/,
    );
    store.close();
    const answeredBefore = 13;
    store = new ResultStore(file);
    const second = backend();
    const [result] = await runTasks({
      runId: "r",
      tasks: [toyTask("a", 10)],
      models: { model: second.wrapped },
      store,
      data: noData,
      concurrency: 2,
      progress: false,
    });
    assert.equal(result.score, 0.5);
    assert.ok(result.resumed >= 5, `resumed ${result.resumed}`);
    // 20 requests in all; the 13 answered before the crash are not sent again.
    assert.equal(second.counter.calls, 20 - answeredBefore);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("forEachLimited never exceeds its limit and stops starting items after a failure", async () => {
  let active = 0;
  let peak = 0;
  const started: number[] = [];
  await assert.rejects(
    forEachLimited([0, 1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      started.push(i);
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      if (i === 1) throw new Error("fail 1");
    }),
    /fail 1/,
  );
  assert.equal(peak, 3);
  assert.ok(started.length < 8);
});

test("progress: plain lines when not a TTY, rewritten line with ETA on a TTY", () => {
  let t = 0;
  const lines: string[] = [];
  const plain = new ProgressBar("jcom", 4, 0, {
    stream: { write: (s: string) => lines.push(s), isTTY: false },
    now: () => t,
    lineIntervalMs: 1000,
  });
  t = 500;
  plain.tick(); // within the interval: no line
  t = 2000;
  plain.tick();
  plain.finish();
  assert.deepEqual(lines, [
    "jcom ░░░░░░░░░░░░░░░░░░░░░░░░ 0/4 0% ETA ?\n",
    "jcom ████████████░░░░░░░░░░░░ 2/4 50% ETA 2s\n",
    "jcom ████████████░░░░░░░░░░░░ 2/4 50% ETA 2s\n",
  ]);
  const tty: string[] = [];
  t = 0;
  const bar = new ProgressBar("mmlu", 10, 5, { stream: { write: (s: string) => tty.push(s), isTTY: true }, now: () => t });
  t = 3000;
  bar.tick();
  assert.equal(tty.at(-1), "\r\x1b[2Kmmlu ██████████████░░░░░░░░░░ 6/10 60% (5 resumed) ETA 12s");
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(185), "3m05s");
});
