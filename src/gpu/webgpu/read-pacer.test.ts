import test from "node:test";
import assert from "node:assert/strict";
import { ReadPacer } from "./read-pacer.js";

test("ReadPacer maps a step behind another after 3/4 of its kind's shortest recent duration; alone or unknown, at once", () => {
  const pacer = new ReadPacer(0.75, 4, 2, 1000);
  assert.equal(pacer.idle, true);
  // Alone (nothing else in flight): at once, whatever is known.
  assert.equal(pacer.submitted("decode", 0).mapAt, 0);
  assert.equal(pacer.idle, false);
  // Behind it, an unknown kind: at once.
  assert.equal(pacer.submitted("decode", 1).mapAt, 1);
  pacer.completed("decode", 0, 10);
  assert.equal(pacer.idle, false, "one step is still in flight");
  // Behind the second (submitted at 1, started at 10 when the first completed): one duration (10) is too few.
  assert.equal(pacer.submitted("decode", 11).mapAt, 11);
  pacer.completed("decode", 1, 22);
  // Durations 10 and 12: the shortest, 10, predicts the next. The step in flight (submitted at 11) started at 22 and
  // was predicted to take 0 (unknown then), so this one starts at 23 and maps 7.5 ms into it.
  assert.equal(pacer.submitted("decode", 23).mapAt, 30.5);
  pacer.completed("decode", 11, 31);
  // In flight: the step of 23, started at 31 (predicted 10 → ends at 41); one submitted at 32 starts then.
  const behind = pacer.submitted("decode", 32);
  assert.equal(behind.mapAt, 41 + 6.75);
  // The prediction itself: the shortest fresh duration (9, the step of 11 that started at 22).
  assert.equal(behind.predictedMs, 9);
  pacer.completed("decode", 23, 40);
  pacer.completed("decode", 32, 49);
  assert.equal(pacer.idle, true);
  // Another kind keeps its own durations (and a step alone maps at once anyway).
  assert.equal(pacer.submitted("prefill", 60).mapAt, 60);
  pacer.completed("prefill", 60, 70);
  // Durations older than a second no longer count: a decode step long after, behind another, maps at once.
  assert.equal(pacer.submitted("decode", 1100).predictedMs, 0);
  assert.equal(pacer.submitted("decode", 1101).mapAt, 1101);
});

test("ReadPacer: a read that mapped late inflates its step's duration only until the shortest recent one wins", () => {
  const pacer = new ReadPacer(0.75, 3, 2, 1000);
  let now = 0;
  // Two steps in flight at every submit (the engine's pipelining): each completes when the GPU is done with it and
  // its read has mapped; the next is submitted just before.
  const waits: number[] = [];
  let gpuFree = 0;
  let pending = { submittedAt: 0, mapAt: pacer.submitted("step", 0).mapAt, trueMs: 20 };
  for (let i = 0; i < 40; i++) {
    const trueMs = i < 4 ? 20 : 5; // the steps become 4× shorter
    const next = { submittedAt: now, mapAt: pacer.submitted("step", now).mapAt, trueMs };
    waits.push(next.mapAt - now);
    gpuFree = Math.max(gpuFree, pending.submittedAt) + pending.trueMs;
    const done = Math.max(gpuFree, pending.mapAt) + 0.1;
    pacer.completed("step", pending.submittedAt, done);
    now = done;
    pending = next;
  }
  assert.ok(Math.max(...waits.slice(3, 6)) > 14, `waits ${waits.map((w) => w.toFixed(1))}`);
  // Converged: the step in flight has ~5 ms left at each submit, then 3/4 of 5 ms.
  assert.ok(waits.at(-1)! < 5 + 0.75 * 5 + 1, `waits ${waits.map((w) => w.toFixed(1))}`);
});
