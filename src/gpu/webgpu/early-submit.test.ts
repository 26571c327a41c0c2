import test from "node:test";
import assert from "node:assert/strict";
import { EARLY_SUBMIT_CHUNKS, earlySubmitChunks } from "./early-submit.js";

test("SWALLOW_EARLY_SUBMIT: unset for the default pieces, off for one submit, sizes for A/B runs, else a clear error", () => {
  const saved = process.env.SWALLOW_EARLY_SUBMIT;
  try {
    delete process.env.SWALLOW_EARLY_SUBMIT;
    assert.deepEqual(earlySubmitChunks(), EARLY_SUBMIT_CHUNKS);
    process.env.SWALLOW_EARLY_SUBMIT = "off";
    assert.equal(earlySubmitChunks(), null);
    process.env.SWALLOW_EARLY_SUBMIT = "4,32";
    assert.deepEqual(earlySubmitChunks(), [4, 32]);
    for (const bad of ["0", "8,x", "1.5", "on"]) {
      process.env.SWALLOW_EARLY_SUBMIT = bad;
      assert.throws(() => earlySubmitChunks(), /SWALLOW_EARLY_SUBMIT must be "off" or dispatch counts/, bad);
    }
  } finally {
    if (saved === undefined) delete process.env.SWALLOW_EARLY_SUBMIT;
    else process.env.SWALLOW_EARLY_SUBMIT = saved;
  }
});
