import test from "node:test";
import assert from "node:assert/strict";
import { busyFraction, steadyGapsMs, stepBreakdown, stepTimes } from "./engine-bench.js";

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

test("stepBreakdown: each step's GPU time under its kind — decode with ≥ 90% of the concurrency, fewer, or with prompt tokens", () => {
  const at = (begin: number, end: number) => ({ ns: BigUint64Array.of(BigInt(begin), BigInt(end)) });
  const shapes = [
    { decodeRows: 3, prefillTokens: 200 }, // mixed, 2 ms
    { decodeRows: 9, prefillTokens: 0 }, // 9 of 10: full, 3 ms
    { decodeRows: 10, prefillTokens: 0 }, // full, 4 ms
    { decodeRows: 8, prefillTokens: 0 }, // partial, 1 ms after 1 ms idle
    { decodeRows: 0, prefillTokens: 50 }, // mixed, 0.5 ms
  ];
  const profiles = [at(0, 2e6), at(2e6, 5e6), at(5e6, 9e6), at(10e6, 11e6), at(11e6, 11.5e6)];
  assert.deepEqual(stepBreakdown(shapes, profiles, 10), {
    full: { steps: 2, gpuMs: 7, idleMsBefore: 0, decodeRows: 19, prefillTokens: 0 },
    partial: { steps: 1, gpuMs: 1, idleMsBefore: 1, decodeRows: 8, prefillTokens: 0 },
    mixed: { steps: 2, gpuMs: 2.5, idleMsBefore: 0, decodeRows: 3, prefillTokens: 250 },
  });
  assert.throws(() => stepBreakdown(shapes.slice(1), profiles, 10), /4 shapes for 5 timed steps/);
});

test("steadyGapsMs: only the gaps that start once every request has its first token (decode-only steps)", () => {
  // Request 0 decodes from t = 10 while request 1's prompt is still prefilling (steps of 50 ms); request 1's first
  // token comes at 60; from then on both decode in 5 ms steps.
  const early = [10, 60, 65, 70, 75];
  const late = [60, 65, 70];
  assert.deepEqual(steadyGapsMs([early, late]), [5, 5, 5, 5, 5]);
  // A gap that starts before the last first token (10 → 60) is left out even when it ends after it.
  assert.deepEqual(steadyGapsMs([[10, 61], [60]]), []);
  // No request has a token after the last first one, or one request produced no token: nothing to measure.
  assert.deepEqual(steadyGapsMs([[10], [20]]), []);
  assert.deepEqual(steadyGapsMs([[10, 15], []]), []);
});
