import test from "node:test";
import assert from "node:assert/strict";
import {
  checkSegment,
  PARTIAL_BYTES_CAP,
  perRowMerges,
  perRowPieces,
  perRowScratchBytes,
  perRowStorageBuffers,
  perRowWork,
  perRowWorkCount,
} from "./attention-per-row.js";

/** Pairs of an Int32Array as [a, b] tuples. */
const pairs = (list: Int32Array) => Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i], list[2 * i + 1]]);

test("perRowWork splits each row into segments of its own length only: (row, segment) items, a row's consecutive", () => {
  // Last positions 0, 511 (one segment of 512), 512 (two), 1300 (three), 63.
  const positions = Int32Array.of(0, 511, 512, 1300, 63);
  assert.equal(perRowWorkCount(positions, null, 5, 512), 8);
  assert.deepEqual(pairs(perRowWork(positions, null, 5, 512)), [
    [0, 0],
    [1, 0],
    [2, 0],
    [2, 1],
    [3, 0],
    [3, 1],
    [3, 2],
    [4, 0],
  ]);
  // Rows of more than one segment with their first item: the merge dispatch's list.
  assert.deepEqual(pairs(perRowMerges(positions, null, 5, 512)), [
    [2, 2],
    [3, 4],
  ]);
  // Segments of 64: the row at position 63 stays whole, 64 positions being one segment.
  assert.deepEqual(pairs(perRowWork(Int32Array.of(63, 64), null, 2, 64)), [
    [0, 0],
    [1, 0],
    [1, 1],
  ]);
});

test("perRowWork serves a subset of rows (a step's decode rows beside prefill runs) with the same segments each", () => {
  const positions = Int32Array.of(700, 5, 6, 7, 1100);
  const rows = Int32Array.of(0, 4);
  assert.equal(perRowWorkCount(positions, rows, 2, 512), 5);
  assert.deepEqual(pairs(perRowWork(positions, rows, 2, 512)), [
    [0, 0],
    [0, 1],
    [4, 0],
    [4, 1],
    [4, 2],
  ]);
  assert.deepEqual(pairs(perRowMerges(positions, rows, 2, 512)), [
    [0, 0],
    [4, 2],
  ]);
  // No row longer than a segment: no merge.
  assert.equal(perRowMerges(positions, Int32Array.of(1, 2, 3), 3, 512).length, 0);
});

test("a segment is a whole number of the lanes kernel's 64-position chunks", () => {
  for (const ok of [64, 128, 512, 1 << 20]) assert.doesNotThrow(() => checkSegment(ok));
  for (const bad of [0, 32, 100, 511, -64, 1.5 * 64, NaN])
    assert.throws(
      () => checkSegment(bad, "SWALLOW_ATTENTION_SEGMENT"),
      /^Error: SWALLOW_ATTENTION_SEGMENT=.*: expected a positive multiple of 64 positions$/,
    );
});

test("perRowPieces keeps each dispatch's work items within the cap, a row with more alone, rows in order", () => {
  // Work items per row at segments of 512: 1, 3, 1, 5, 2.
  const positions = Int32Array.of(10, 1500, 0, 2100, 600);
  assert.deepEqual(perRowPieces(positions, null, 5, 512, 100), [{ start: 0, end: 5 }]);
  assert.deepEqual(perRowPieces(positions, null, 5, 512, 4), [
    { start: 0, end: 2 }, // 1 + 3
    { start: 2, end: 3 }, // 1 (+ 5 would pass 4)
    { start: 3, end: 4 }, // 5: more than the cap, alone
    { start: 4, end: 5 },
  ]);
  // Indices into a subset of rows: rows 3 and 1 (5 and 3 items).
  assert.deepEqual(perRowPieces(positions, Int32Array.of(3, 1), 2, 512, 6), [
    { start: 0, end: 1 },
    { start: 1, end: 2 },
  ]);
});

test("perRowScratchBytes: the split rows' softmax states, no more than a piece's worth, none without a split", () => {
  // Llama-3.1-8B: 32 heads of 128, a state of 132 floats per head: 16,896 bytes per work item.
  assert.equal(perRowScratchBytes(32, 128, 1, 8192, 512), 16 * 16_896);
  assert.equal(perRowScratchBytes(32, 128, 4, 8192, 512), 4 * 16 * 16_896);
  assert.equal(perRowScratchBytes(32, 128, 256, 512, 512), 0);
  assert.equal(perRowScratchBytes(32, 128, 256, 131_072, 512), PARTIAL_BYTES_CAP);
});

test("perRowStorageBuffers counts each kernel form's storage bindings (q, K, V, positions, sequences, tables, output, …)", () => {
  assert.equal(perRowStorageBuffers("lanes", { rope: false, fused: false, subset: false }), 9); // + work list, states
  assert.equal(perRowStorageBuffers("lanes", { rope: true, fused: false, subset: true }), 10); // + RoPE table
  assert.equal(perRowStorageBuffers("lanes", { rope: true, fused: true, subset: false }), 13); // + own K, V, slots
  assert.equal(perRowStorageBuffers("threads", { rope: false, fused: false, subset: false }), 7);
  assert.equal(perRowStorageBuffers("threads", { rope: true, fused: false, subset: true }), 9); // + RoPE, row list
  assert.equal(perRowStorageBuffers("threads", { rope: true, fused: true, subset: false }), 11);
});
