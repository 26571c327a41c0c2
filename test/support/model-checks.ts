import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Backend } from "../../src/gpu/backend.js";
import { openCheckpoint } from "../../src/model/checkpoint.js";
import { LlamaModel } from "../../src/model/llama.js";
import { NodeFileTree } from "../../src/node/file-tree.js";
import { ModelRunner } from "../../src/engine/runner.js";
import { scoreTokens } from "../../src/engine/score.js";
import { LanguageModel } from "../../src/engine/language-model.js";
import { NEAR_TIE, readTinyReference, tinyDir } from "./tiny-fixtures.js";

/** The end-to-end checks every backend must pass on the tiny checkpoints, written once. */

async function loadModel(variant: string, backend: Backend): Promise<LlamaModel> {
  const checkpoint = await openCheckpoint(new NodeFileTree(tinyDir(variant)));
  try {
    return await LlamaModel.load(checkpoint.spec, checkpoint, backend);
  } finally {
    await checkpoint.close();
  }
}

/**
 * Scores every reference prompt (log-probs within `logprobTolerance`, argmax equal off near-ties) and generates
 * greedily through the real loop with min_tokens = max_tokens as transformers did: tokens must match up to the
 * reference's first near-tie, which must leave at least 8.
 */
export async function checkAgainstTransformers(
  t: TestContext,
  backend: Backend,
  variant: string,
  tolerances: { logprob: number; argmaxNearTie: number },
): Promise<void> {
  const reference = await readTinyReference(variant);
  // Block size 16 and small prefill chunks so prompts span several blocks and several forward passes.
  const runner = new ModelRunner(await loadModel(variant, backend), { maxModelLen: 256, blockSize: 16, maxBatchTokens: 40 });
  const languageModel = await LanguageModel.load(new NodeFileTree(tinyDir(variant)), { backend, maxModelLen: 256 });
  for (const prompt of reference.prompts) {
    const scores = await scoreTokens(runner, prompt.tokens);
    let worst = 0;
    prompt.logprobs.forEach((expected, i) => {
      if (expected === null) return assert.equal(scores.logprobs[i], null);
      worst = Math.max(worst, Math.abs((scores.logprobs[i] as number) - expected));
    });
    t.diagnostic(`${prompt.tokens.length}-token prompt: worst log-prob error ${worst.toExponential(2)}`);
    assert.ok(worst < tolerances.logprob, `${prompt.tokens.length}-token prompt: worst log-prob error ${worst}`);
    prompt.argmax.forEach((expected, i) => {
      if (prompt.margins[i] > tolerances.argmaxNearTie) assert.equal(scores.argmax[i], expected, `argmax at position ${i}`);
    });

    const n = prompt.greedy.max_new_tokens;
    const generated: number[] = [];
    const params = languageModel.resolveSampling({ temperature: 0, minTokens: n, maxTokens: n });
    for await (const event of languageModel.generate(prompt.tokens, params)) {
      if (event.tokenId !== null) generated.push(event.tokenId);
    }
    assert.equal(generated.length, n);
    // Tokens up to the first near-tie must match; from there on either choice is correct.
    const firstNearTie = prompt.greedy.margins.findIndex((margin) => margin <= NEAR_TIE);
    const comparable = firstNearTie === -1 ? n : firstNearTie;
    assert.ok(comparable >= 8, `only ${comparable} comparable greedy tokens: regenerate the fixture with a more peaked model`);
    assert.deepEqual(generated.slice(0, comparable), prompt.greedy.new_tokens.slice(0, comparable));
  }
}

/**
 * Three sequences, one decoding while the others prefill, in one forward pass, against each run alone; returns
 * per sequence the largest logit difference and the largest logit. All blocks must be free afterwards.
 */
export async function batchedVersusAlone(backend: Backend): Promise<{ worst: number; scale: number }[]> {
  const runner = new ModelRunner(await loadModel("gqa-llama3", backend), { maxModelLen: 64, maxNumSeqs: 3, blockSize: 4 });
  const prompts = [
    [1024, 5, 77, 300, 12, 9, 800],
    [1024, 400, 401],
    [1024, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  ];
  const next = [42, 43, 44];
  const alone: Float32Array[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const sequence = runner.newSequence();
    await runner.prefill(sequence, prompt, "last");
    const [logits] = await runner.step([{ slots: sequence, tokenIds: [next[i]], logits: "last" }]);
    alone.push(logits.slice());
    sequence.release();
  }
  const sequences = prompts.map(() => runner.newSequence());
  await runner.prefill(sequences[0], prompts[0], "last");
  const batched = await runner.step(
    sequences.map((slots, i) => ({ slots, tokenIds: i === 0 ? [next[0]] : [...prompts[i], next[i]], logits: "last" as const })),
  );
  sequences.forEach((s) => s.release());
  assert.equal(runner.allocator.numFree, runner.allocator.numBlocks);
  return batched.map((row, i) => {
    let worst = 0;
    let scale = 0;
    row.forEach((value, j) => {
      worst = Math.max(worst, Math.abs(value - alone[i][j]));
      scale = Math.max(scale, Math.abs(alone[i][j]));
    });
    return { worst, scale };
  });
}

/**
 * Two backends of one kind that must compute the same thing give exactly the same logits for a prefill of two
 * prompts (every position) and a decode step after it (attention over the paged cache). Used for row-banded
 * weights (a table over the backend's buffer limit, as Llama-3.1-70B's 2.1 GB embedding and LM head on WebGPU:
 * `other` has a small `maxWeightBytes`) and for WebGPU without robustness (every access in bounds, so dropping
 * the clamping changes no value).
 */
export async function identicalLogits(reference: Backend, other: Backend): Promise<void> {
  const prompts = [
    [1024, 5, 77, 300, 12, 9, 800],
    [1024, 400, 401],
  ];
  const logitsOf = async (backend: Backend) => {
    const runner = new ModelRunner(await loadModel("gqa-llama3", backend), { maxModelLen: 64, maxNumSeqs: 2, blockSize: 4 });
    const sequences = prompts.map(() => runner.newSequence());
    const rows = await runner.step(prompts.map((tokenIds, i) => ({ slots: sequences[i], tokenIds, logits: "all" as const })));
    const decoded = await runner.step(sequences.map((slots) => ({ slots, tokenIds: [42], logits: "all" as const })));
    sequences.forEach((s) => s.release());
    return [...rows, ...decoded].map((r) => r.slice());
  };
  const expected = await logitsOf(reference);
  const got = await logitsOf(other);
  got.forEach((rows, i) =>
    assert.deepEqual(rows, expected[i], i < prompts.length ? `prompt ${i}` : `decode step, sequence ${i - prompts.length}`),
  );
}
