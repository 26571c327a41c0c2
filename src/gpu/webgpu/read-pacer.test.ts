import test from "node:test";
import assert from "node:assert/strict";
import { ReadPacer } from "./read-pacer.js";

test("ReadPacer maps an unknown kind of step at once, a known one after 3/4 of its shortest recent duration", () => {
  const pacer = new ReadPacer(0.75, 4);
  // Unknown, then one sample: at once.
  assert.equal(pacer.submitted("decode", 0), 0);
  pacer.completed("decode", 0, 10);
  assert.equal(pacer.submitted("decode", 10), 10);
  pacer.completed("decode", 10, 22);
  // Durations 10 and 12: the shortest, 10, predicts the next; its read maps 7.5 ms into it.
  assert.equal(pacer.submitted("decode", 22), 29.5);
  pacer.completed("decode", 22, 31);
  // Pipelined: submitted at 31 while nothing runs, then another at 32 that starts when the first is predicted to end.
  assert.equal(pacer.submitted("decode", 31), 31 + 6.75);
  assert.equal(pacer.submitted("decode", 32), 31 + 9 + 6.75);
  // The first completes at 41 (10 ms); the second started then, not at its submit; a third submitted at 42 is
  // predicted to start when the second ends, 41 + 9.
  pacer.completed("decode", 31, 41);
  assert.equal(pacer.submitted("decode", 42), 41 + 9 + 6.75);
  pacer.completed("decode", 32, 50);
  pacer.completed("decode", 42, 59);
  // Another kind keeps its own durations.
  assert.equal(pacer.submitted("prefill", 60), 60);
});

test("ReadPacer: a read that mapped late inflates its step's duration only until the shortest recent one wins", () => {
  const pacer = new ReadPacer(0.75, 3);
  let now = 0;
  const run = (trueMs: number) => {
    const mapAt = pacer.submitted("step", now);
    const done = Math.max(now + trueMs, mapAt) + 0.1; // the map resolves when both the step and the request are in
    pacer.completed("step", now, done);
    now = done;
  };
  for (let i = 0; i < 4; i++) run(20);
  // The steps become 4× shorter: each read maps at 3/4 of the shortest recent duration, so the waits shrink.
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    const mapAt = pacer.submitted("step", now);
    waits.push(mapAt - now);
    const done = Math.max(now + 5, mapAt) + 0.1;
    pacer.completed("step", now, done);
    now = done;
  }
  assert.ok(waits[0] > 14, `first wait ${waits[0]}`);
  assert.ok(waits.at(-1)! < 5, `last wait ${waits.at(-1)}`);
});
