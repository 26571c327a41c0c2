import test from "node:test";
import assert from "node:assert/strict";
import { RopeTableCache, ropeTable } from "./rope.js";

test("RopeTableCache gives ropeTable's rows for any positions, growing past its blocks, in one reused array", () => {
  const invFreq = Float32Array.from({ length: 64 }, (_, i) => 1 / 500000 ** ((2 * i) / 128));
  const cache = new RopeTableCache(invFreq);
  const batches = [Int32Array.of(0, 1, 2, 3), Int32Array.of(4095, 4096, 17, 9000), Int32Array.of(3, 3, 0), Int32Array.of(131071)];
  let previous: Float32Array | null = null;
  for (const positions of batches) {
    const rows = cache.rows(positions);
    assert.deepEqual(rows, ropeTable(positions, invFreq));
    if (previous && previous.length >= rows.length) assert.equal(rows.buffer, previous.buffer, "the staging array is reused");
    previous = rows;
  }
  assert.throws(() => cache.rows(Int32Array.of(-1)), /position -1 is negative/);
});
