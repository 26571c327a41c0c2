import test from "node:test";
import assert from "node:assert/strict";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import { identicalLogits, batchedVersusAlone } from "./support/model-checks.js";

test("cpu: sequences batched together get exactly the logits each gets alone (paged KV, mixed prefill and decode)", async () => {
  for (const [i, { worst }] of (await batchedVersusAlone(new ReferenceBackend())).entries()) {
    assert.equal(worst, 0, `sequence ${i}: batched logits differ by ${worst}`);
  }
});

test("cpu: an embedding and LM head split into row bands give exactly the whole tables' logits", async () => {
  const banded = new ReferenceBackend();
  banded.maxWeightBytes = 40_000; // the tiny model's [1280, 64] bf16 tables (164 KB) become 5 bands
  await identicalLogits(new ReferenceBackend(), banded);
});
