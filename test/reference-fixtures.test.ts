import test from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openCheckpoint } from "../src/model/checkpoint.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { LlamaModel } from "../src/model/llama.js";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import { ModelRunner } from "../src/engine/runner.js";
import { scoreTokens } from "../src/engine/score.js";
import { LanguageModel } from "../src/engine/language-model.js";
import { fixturesDir } from "./support/paths.js";
import { NEAR_TIE, TINY_VARIANTS, readTinyReference } from "./support/tiny-fixtures.js";

/**
 * The `cpu` reference backend against transformers (float32, eager attention) on the tiny random-weight
 * checkpoints made by scripts/make_tiny_checkpoints.py: log-probs within 1e-3, argmax and greedy
 * continuations token for token wherever the reference's top-2 margin is not a near-tie.
 */
const variants = TINY_VARIANTS;

for (const variant of variants) {
  test(`cpu backend matches transformers on ${variant}`, async () => {
    const dir = join(fixturesDir, "tiny", variant);
    const reference = await readTinyReference(variant);
    const checkpoint = await openCheckpoint(new NodeFileTree(dir));
    const model = await LlamaModel.load(checkpoint.spec, checkpoint, new ReferenceBackend());
    await checkpoint.close();
    assert.ok(checkpoint.spec.eosTokenIds.length > 0);
    // Block size 16 and small prefill chunks so prompts span several blocks and several forward passes.
    const runner = new ModelRunner(model, { maxModelLen: 256, blockSize: 16, maxBatchTokens: 40 });
    const languageModel = await LanguageModel.load(new NodeFileTree(dir), { backend: new ReferenceBackend(), maxModelLen: 256 });

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

      // Greedy continuation through the real generation loop (sampler, stop rules, paged decode), with
      // min_tokens = max_tokens as in the reference (transformers' min_new_tokens masks the EOS ids).
      const n = prompt.greedy.max_new_tokens;
      const generated: number[] = [];
      for await (const event of languageModel.generate(
        prompt.tokens,
        languageModel.resolveSampling({ temperature: 0, minTokens: n, maxTokens: n }),
      )) {
        if (event.tokenId !== null) generated.push(event.tokenId);
      }
      assert.equal(generated.length, n);
      const firstNearTie = prompt.greedy.margins.findIndex((margin) => margin <= NEAR_TIE);
      // Tokens up to the first near-tie must match; from there on either choice is correct.
      const comparable = firstNearTie === -1 ? n : firstNearTie;
      assert.ok(comparable >= 8, `only ${comparable} comparable greedy tokens: regenerate the fixture with a more peaked model`);
      assert.deepEqual(generated.slice(0, comparable), prompt.greedy.new_tokens.slice(0, comparable));
    }
  });
}
