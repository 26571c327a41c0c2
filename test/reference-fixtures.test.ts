import test from "node:test";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import { checkAgainstTransformers } from "./support/model-checks.js";
import { NEAR_TIE, TINY_VARIANTS } from "./support/tiny-fixtures.js";

/**
 * The `cpu` reference backend against transformers (float32, eager attention) on the tiny random-weight
 * checkpoints made by scripts/make_tiny_checkpoints.py: log-probs within 1e-3, argmax and greedy
 * continuations token for token wherever the reference's top-2 margin is not a near-tie.
 */
for (const variant of TINY_VARIANTS) {
  test(`cpu backend matches transformers on ${variant}`, (t) =>
    checkAgainstTransformers(t, new ReferenceBackend(), variant, { logprob: 1e-3, argmaxNearTie: NEAR_TIE }));
}
