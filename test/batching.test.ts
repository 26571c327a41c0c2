import test from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openCheckpoint } from "../src/model/checkpoint.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { LlamaModel } from "../src/model/llama.js";
import { ReferenceBackend } from "../src/gpu/reference/backend.js";
import { ModelRunner } from "../src/engine/runner.js";
import { fixturesDir } from "./support/paths.js";

test("sequences batched together get the logits each gets alone (paged KV, mixed prefill and decode)", async () => {
  const checkpoint = await openCheckpoint(new NodeFileTree(join(fixturesDir, "tiny", "gqa-llama3")));
  const model = await LlamaModel.load(checkpoint.spec, checkpoint, new ReferenceBackend());
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

  // Interleave: the first sequence decodes while the others still prefill, all in one forward pass.
  const sequences = prompts.map(() => runner.newSequence());
  await runner.prefill(sequences[0], prompts[0], "last");
  const [first, second, third] = await runner.step([
    { slots: sequences[0], tokenIds: [next[0]], logits: "last" },
    { slots: sequences[1], tokenIds: [...prompts[1], next[1]], logits: "last" },
    { slots: sequences[2], tokenIds: [...prompts[2], next[2]], logits: "last" },
  ]);
  for (const [i, batched] of [first, second, third].entries()) {
    let worst = 0;
    batched.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - alone[i][j]))));
    assert.ok(worst < 1e-5, `sequence ${i}: batched logits differ by ${worst}`);
  }
  sequences.forEach((s) => s.release());
  assert.equal(runner.allocator.numFree, runner.allocator.numBlocks);
});
