import test from "node:test";
import assert from "node:assert/strict";
import { BlockAllocator, SequenceSlots } from "./kv-blocks.js";
import { SwallowError } from "../errors.js";

test("slots follow the block table and blocks return to the pool", () => {
  const allocator = new BlockAllocator(4, 2);
  const a = new SequenceSlots(allocator);
  const b = new SequenceSlots(allocator);
  assert.deepEqual([...a.reserve(3)], [0, 1, 2]); // blocks 0, 1
  a.numCached = 3;
  assert.deepEqual([...b.reserve(1)], [4]); // block 2
  b.numCached = 1;
  assert.deepEqual([...a.reserve(1)], [3]); // fills block 1
  a.numCached = 4;
  assert.deepEqual([...a.reserve(1)], [6]); // block 3
  assert.equal(allocator.numFree, 0);
  assert.throws(() => b.reserve(2), SwallowError);
  a.release();
  assert.equal(allocator.numFree, 3);
  assert.deepEqual(a.blocks, []);
});
