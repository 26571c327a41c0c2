import test, { after } from "node:test";
import assert from "node:assert/strict";
import { openCheckpoint } from "../src/model/checkpoint.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { LlamaModel } from "../src/model/llama.js";
import { ModelRunner } from "../src/engine/runner.js";
import { scoreTokens } from "../src/engine/score.js";
import { LanguageModel } from "../src/engine/language-model.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { createBackend } from "../src/gpu/select.js";
import { SwallowError } from "../src/errors.js";
import { NEAR_TIE, TINY_VARIANTS, readTinyReference, tinyDir } from "./support/tiny-fixtures.js";

/**
 * The tiny checkpoints end to end through the WebGPU backend (lavapipe in CI): log-probs against
 * transformers (float32) within 5e-2, greedy continuations token for token, batching invariance, and
 * backend selection. Skipped when there is no adapter, unless SWALLOW_REQUIRE_WEBGPU=1.
 */

async function openBackend(): Promise<{ backend: WebGpuBackend | null; skip: string | false }> {
  try {
    return { backend: await WebGpuBackend.create(), skip: false };
  } catch (error) {
    const noAdapter = error instanceof SwallowError && error.message.startsWith("no WebGPU adapter found");
    if (!noAdapter || process.env.SWALLOW_REQUIRE_WEBGPU === "1") throw error;
    return { backend: null, skip: error.message };
  }
}

const { backend: maybeBackend, skip } = await openBackend();
/** The default backend: f16 KV cache where the adapter has shader-f16. */
const gpu = maybeBackend as WebGpuBackend;
/** The same adapter with an f32 KV cache: everything in f32, so as close to transformers as the cpu backend. */
const gpuF32 = maybeBackend && maybeBackend.kvDtype !== "f32" ? await WebGpuBackend.create({ kvDtype: "f32" }) : maybeBackend;
after(async () => {
  await maybeBackend?.dispose();
  if (gpuF32 !== maybeBackend) await gpuF32?.dispose();
});

/** Log-prob tolerance by KV cache precision: f16 K/V of these large-weight tiny models moves log-probs ~1e-2. */
const LOGPROB_TOLERANCE = { f16: 5e-2, f32: 1e-3 };
/**
 * Scored positions whose reference top-2 margin is at or below this are near-ties, where either token is a
 * correct argmax: log-prob errors up to ε can swap tokens whose margin is under 2ε.
 */
const ARGMAX_NEAR_TIE = { f16: 5e-2, f32: NEAR_TIE };
/**
 * Greedy continuations must match up to the first reference margin at or below this (as in
 * test/reference-fixtures.test.ts), at least 8 tokens. Measured on lavapipe: all 16 tokens of every prompt
 * match with either KV dtype.
 */
const GREEDY_NEAR_TIE = NEAR_TIE;

for (const [variant, kvDtype] of TINY_VARIANTS.flatMap((v) => [[v, "f16"] as const, [v, "f32"] as const])) {
  const kvSkip = skip || (kvDtype === "f16" && gpu.kvDtype !== "f16" ? "no shader-f16 on this adapter" : false);
  test(`webgpu backend (KV cache ${kvDtype}) matches transformers on ${variant}`, { skip: kvSkip }, async (t) => {
    const backend = (kvDtype === "f16" ? gpu : gpuF32) as WebGpuBackend;
    const dir = tinyDir(variant);
    const reference = await readTinyReference(variant);
    const checkpoint = await openCheckpoint(new NodeFileTree(dir));
    const model = await LlamaModel.load(checkpoint.spec, checkpoint, backend);
    await checkpoint.close();
    // Block size 16 and small prefill chunks so prompts span several blocks and several forward passes.
    const runner = new ModelRunner(model, { maxModelLen: 256, blockSize: 16, maxBatchTokens: 40 });
    const languageModel = await LanguageModel.load(new NodeFileTree(dir), { backend, maxModelLen: 256 });

    for (const prompt of reference.prompts) {
      const scores = await scoreTokens(runner, prompt.tokens);
      let worst = 0;
      prompt.logprobs.forEach((expected, i) => {
        if (expected === null) return assert.equal(scores.logprobs[i], null);
        worst = Math.max(worst, Math.abs((scores.logprobs[i] as number) - expected));
      });
      t.diagnostic(`${prompt.tokens.length}-token prompt: worst log-prob error ${worst.toExponential(2)}`);
      assert.ok(worst < LOGPROB_TOLERANCE[kvDtype], `${prompt.tokens.length}-token prompt: worst log-prob error ${worst}`);
      prompt.argmax.forEach((expected, i) => {
        if (prompt.margins[i] > ARGMAX_NEAR_TIE[kvDtype]) assert.equal(scores.argmax[i], expected, `argmax at position ${i}`);
      });

      const n = prompt.greedy.max_new_tokens;
      const generated: number[] = [];
      for await (const event of languageModel.generate(
        prompt.tokens,
        languageModel.resolveSampling({ temperature: 0, minTokens: n, maxTokens: n }),
      )) {
        if (event.tokenId !== null) generated.push(event.tokenId);
      }
      assert.equal(generated.length, n);
      const firstNearTie = prompt.greedy.margins.findIndex((margin) => margin <= GREEDY_NEAR_TIE);
      const comparable = firstNearTie === -1 ? n : firstNearTie;
      const matching = generated.findIndex((token, i) => token !== prompt.greedy.new_tokens[i]);
      t.diagnostic(
        `${prompt.tokens.length}-token prompt: ${matching === -1 ? n : matching} of ${n} greedy tokens equal (${comparable} comparable)`,
      );
      assert.ok(comparable >= 8, `only ${comparable} comparable greedy tokens: regenerate the fixture with a more peaked model`);
      assert.deepEqual(generated.slice(0, comparable), prompt.greedy.new_tokens.slice(0, comparable));
    }
  });
}

test("sequences batched together get the logits each gets alone (paged KV, mixed prefill and decode)", { skip }, async (t) => {
  const checkpoint = await openCheckpoint(new NodeFileTree(tinyDir("gqa-llama3")));
  const model = await LlamaModel.load(checkpoint.spec, checkpoint, gpu);
  await checkpoint.close();
  const runner = new ModelRunner(model, { maxModelLen: 64, maxNumSeqs: 3, blockSize: 4 });
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
  const [first, second, third] = await runner.step([
    { slots: sequences[0], tokenIds: [next[0]], logits: "last" },
    { slots: sequences[1], tokenIds: [...prompts[1], next[1]], logits: "last" },
    { slots: sequences[2], tokenIds: [...prompts[2], next[2]], logits: "last" },
  ]);
  for (const [i, batched] of [first, second, third].entries()) {
    let worst = 0;
    let scale = 0;
    batched.forEach((value, j) => {
      worst = Math.max(worst, Math.abs(value - alone[i][j]));
      scale = Math.max(scale, Math.abs(alone[i][j]));
    });
    t.diagnostic(`sequence ${i}: batched logits differ by ${worst.toExponential(2)} (largest logit ${scale.toFixed(2)})`);
    assert.ok(worst < 1e-4 * Math.max(1, scale), `sequence ${i}: batched logits differ by ${worst}`);
  }
  sequences.forEach((s) => s.release());
  assert.equal(runner.allocator.numFree, runner.allocator.numBlocks);
});

test("--backend webgpu opens the adapter; auto keeps software adapters off", { skip }, async () => {
  const lines: string[] = [];
  const explicit = await createBackend("webgpu", (line) => lines.push(line));
  assert.equal(explicit.name, "webgpu");
  assert.match(lines[0], /^backend: webgpu on .+/);
  await explicit.dispose();

  lines.length = 0;
  const auto = await createBackend("auto", (line) => lines.push(line));
  assert.equal(lines.length, 1);
  if (gpu.gpu.adapter.isSoftware) {
    assert.equal(auto.name, "cpu");
    assert.match(lines[0], /^backend: cpu \((no GPU device found|the WebGPU adapter .* is a software one)/);
  } else {
    assert.equal(auto.name, "webgpu");
  }
  await auto.dispose();
});
