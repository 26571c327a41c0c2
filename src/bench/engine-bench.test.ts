import test from "node:test";
import assert from "node:assert/strict";
import { busyFraction, stepTimes } from "./engine-bench.js";

test("stepTimes: medians of the passes' durations and of the gaps between one pass's end and the next's start, the longest gap", () => {
  const at = (begin: number, end: number) => ({ ns: BigUint64Array.of(BigInt(begin), BigInt(end)) });
  // Passes of 3, 5 and 4 ms; gaps of 1 ms and 0.
  assert.deepEqual(stepTimes([at(0, 3e6), at(4e6, 9e6), at(9e6, 13e6)]), { msPerStep: 4, idleMsBetweenSteps: 1, longestIdleMs: 1 });
  // A fourth pass of 2 ms stamped 1 ms before the third's end (timestamps of overlapping passes) counts as no gap.
  assert.deepEqual(stepTimes([at(0, 3e6), at(4e6, 9e6), at(9e6, 13e6), at(12e6, 14e6)]), {
    msPerStep: 4,
    idleMsBetweenSteps: 0,
    longestIdleMs: 1,
  });
  // Gaps of 1, 6 and 0 ms: median 1, longest 6.
  assert.deepEqual(stepTimes([at(0, 1e6), at(2e6, 3e6), at(9e6, 10e6), at(10e6, 11e6)]), {
    msPerStep: 1,
    idleMsBetweenSteps: 1,
    longestIdleMs: 6,
  });
  assert.deepEqual(stepTimes([at(10, 2_000_010)]), { msPerStep: 2, idleMsBetweenSteps: NaN, longestIdleMs: NaN });
});

test("busyFraction: the share of the span from the first pass's start to the last one's end that a pass ran", () => {
  const at = (begin: number, end: number) => ({ ns: BigUint64Array.of(BigInt(begin), BigInt(end)) });
  // Busy 3 + 5 + 4 = 12 ms of 13.
  assert.equal(busyFraction([at(0, 3e6), at(4e6, 9e6), at(9e6, 13e6)]), 12 / 13);
  // A pass stamped 1 ms before the previous one's end: the overlap counts once (busy 12 + 1 of 14).
  assert.equal(busyFraction([at(0, 3e6), at(4e6, 9e6), at(9e6, 13e6), at(12e6, 14e6)]), 13 / 14);
  assert.ok(Number.isNaN(busyFraction([])));
});
