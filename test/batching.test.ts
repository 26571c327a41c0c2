import test from "node:test";
import assert from "node:assert/strict";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import { batchedVersusAlone } from "./support/model-checks.js";

test("cpu: sequences batched together get exactly the logits each gets alone (paged KV, mixed prefill and decode)", async () => {
  for (const [i, { worst }] of (await batchedVersusAlone(new ReferenceBackend())).entries()) {
    assert.equal(worst, 0, `sequence ${i}: batched logits differ by ${worst}`);
  }
});
