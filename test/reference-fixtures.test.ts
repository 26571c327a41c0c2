import test from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { openCheckpoint } from "../src/model/checkpoint.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { LlamaModel } from "../src/model/llama.js";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import { ModelRunner } from "../src/engine/runner.js";
import { scoreTokens } from "../src/engine/score.js";
import { argmax } from "../src/engine/logits.js";
import { fixturesDir } from "./support/paths.js";

/**
 * The `cpu` reference backend against transformers (float32, eager attention) on the tiny random-weight
 * checkpoints made by scripts/make_tiny_checkpoints.py: log-probs within 1e-3, argmax and greedy
 * continuations token for token wherever the reference's top-2 margin is not a near-tie.
 */
const NEAR_TIE = 1e-3;
const variants = ["gqa-llama3", "gqa-llama3-v4", "mha-default-tied", "mqa-llama3-sharded-v4"];

interface Reference {
  prompts: {
    tokens: number[];
    logprobs: (number | null)[];
    argmax: number[];
    margins: number[];
    greedy: { max_new_tokens: number; new_tokens: number[]; margins: number[] };
  }[];
}

for (const variant of variants) {
  test(`cpu backend matches transformers on ${variant}`, async () => {
    const dir = join(fixturesDir, "tiny", variant);
    const reference = JSON.parse(await readFile(join(dir, "reference.json"), "utf8")) as Reference;
    const checkpoint = await openCheckpoint(new NodeFileTree(dir));
    const model = await LlamaModel.load(checkpoint.spec, checkpoint, new ReferenceBackend());
    await checkpoint.close();
    assert.ok(checkpoint.spec.eosTokenIds.length > 0);
    // Block size 16 and small prefill chunks so prompts span several blocks and several forward passes.
    const runner = new ModelRunner(model, { maxModelLen: 256, blockSize: 16, maxBatchTokens: 40 });

    for (const prompt of reference.prompts) {
      const scores = await scoreTokens(runner, prompt.tokens);
      let worst = 0;
      prompt.logprobs.forEach((expected, i) => {
        if (expected === null) return assert.equal(scores.logprobs[i], null);
        worst = Math.max(worst, Math.abs((scores.logprobs[i] as number) - expected));
      });
      assert.ok(worst < 1e-3, `${prompt.tokens.length}-token prompt: worst log-prob error ${worst}`);
      prompt.argmax.forEach((expected, i) => {
        if (prompt.margins[i] > NEAR_TIE) assert.equal(scores.argmax[i], expected, `argmax at position ${i}`);
      });

      // Greedy continuation, one decode step per token through the paged cache. The reference ran with
      // min_new_tokens = max_new_tokens, which masks the end-of-sequence ids, so they are masked here too.
      const sequence = runner.newSequence();
      try {
        let logits = await runner.prefill(sequence, prompt.tokens, "last");
        for (let step = 0; step < prompt.greedy.max_new_tokens; step++) {
          if (prompt.greedy.margins[step] <= NEAR_TIE) break;
          for (const eos of checkpoint.spec.eosTokenIds) logits[eos] = -Infinity;
          const token = argmax(logits);
          assert.equal(token, prompt.greedy.new_tokens[step], `greedy token ${step} of the ${prompt.tokens.length}-token prompt`);
          [logits] = await runner.step([{ slots: sequence, tokenIds: [token], logits: "last" }]);
        }
      } finally {
        sequence.release();
      }
    }
  });
}
