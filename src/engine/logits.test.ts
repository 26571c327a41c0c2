import { test } from "node:test";
import assert from "node:assert/strict";
import { rankOf } from "./logits.js";

test("rankOf: 1-based, counting every value >= the token's (ties share the worse rank, as vLLM's)", () => {
  const logits = new Float32Array([0.5, 3, -1, 3, 2]);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => rankOf(logits, i)),
    [4, 2, 5, 2, 3],
  );
  assert.equal(rankOf(new Float32Array([7]), 0), 1);
});
