import test, { after } from "node:test";
import assert from "node:assert/strict";
import type { DeviceSampledRows } from "../src/gpu/backend.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { resolveSamplingParams, Sampler, type SamplingParams } from "../src/engine/sampler.js";
import { openTestBackend } from "./support/webgpu.js";
import { sampleWorkgroup } from "../src/gpu/webgpu/kernels/sample-rows.js";
import { random } from "./support/random-tensors.js";

/**
 * Temperature / min-p / top-k / top-p sampling on the device (kernels/sample-rows.ts) against the host sampler
 * (engine/sampler.ts): for one logits row and u swept over [0, 1) in equal steps, the device's inverse CDF in id
 * order must give every token of the host's filtered distribution a share of the draws equal to its probability
 * (to one draw), no token outside it, and ids that never decrease as u grows; log-probabilities are the raw
 * row's. Runs on lavapipe in CI; skipped without an adapter unless SWALLOW_REQUIRE_WEBGPU=1.
 */

const { backend: maybeBackend, skip } = await openTestBackend();
const gpu = maybeBackend as WebGpuBackend;
after(() => maybeBackend?.dispose());

const VOCAB = 300;
const DRAWS = 1000;

/** A row with a few likely tokens over a long tail, like a language model's (ids of the likely ones scattered). */
function logitsRow(seed: number, vocab: number): Float32Array {
  const rng = random(seed);
  const row = Float32Array.from(rng.values(vocab, 2));
  for (const [id, boost] of [
    [211, 3],
    [5, 2.6],
    [17, 2.4],
    [90, 2.2],
    [260, 1.5],
  ])
    row[id] += boost;
  return row;
}

async function sweep(row: Float32Array, params: SamplingParams, maskStops: boolean): Promise<Float32Array> {
  const vocab = row.length;
  const logits = gpu.uploadActivation(
    DRAWS,
    vocab,
    Float32Array.from({ length: DRAWS * vocab }, (_, i) => row[i % vocab]),
  );
  const stopIds = Int32Array.from(params.stopTokenIds);
  const mask = new Int32Array(DRAWS).fill(maskStops ? 1 : 0);
  const pairs = gpu.sampleGreedy(logits, mask, stopIds);
  const sampled: DeviceSampledRows = {
    rows: Int32Array.from({ length: DRAWS }, (_, i) => i),
    temperature: new Float32Array(DRAWS).fill(params.temperature),
    topP: new Float32Array(DRAWS).fill(params.topP),
    topK: new Int32Array(DRAWS).fill(params.topK),
    minP: new Float32Array(DRAWS).fill(params.minP),
    u: Float32Array.from({ length: DRAWS }, (_, j) => (j + 0.5) / DRAWS),
    maskStops: mask,
  };
  return gpu.read(gpu.sampleRows(logits, pairs, sampled, stopIds));
}

// Rows wider than four workgroups' worth of ids (1,024) also take the kernel's unrolled loop; 2,503 is prime.
const CASES: [string, Partial<SamplingParams>, boolean, number?][] = [
  ["temperature 0.6, top-p 0.9 (the model card's)", { temperature: 0.6, topP: 0.9 }, false],
  ["temperature 1, min-p 0.05", { temperature: 1, minP: 0.05 }, false],
  ["temperature 0.8, top-k 20, top-p 0.95", { temperature: 0.8, topK: 20, topP: 0.95 }, false],
  ["temperature 1.3, top-k 3 (ties of the third logit kept)", { temperature: 1.3, topK: 3 }, false],
  ["temperature 1, no filter", { temperature: 1 }, false],
  ["temperature 0.6, top-p 0.9, stop ids 5 and 17 masked (min_tokens)", { temperature: 0.6, topP: 0.9, minTokens: 4 }, true],
  ["temperature 0.7, top-k 50, top-p 0.8, 2,503 ids", { temperature: 0.7, topK: 50, topP: 0.8 }, false, 2503],
  ["temperature 1.5, top-p 0.99, 2,503 ids", { temperature: 1.5, topP: 0.99 }, false, 2503],
];

for (const [label, user, maskStops, vocab = VOCAB] of CASES) {
  test(`device sampling draws the host sampler's distribution: ${label}`, { skip }, async (t) => {
    const row = logitsRow(label.length, vocab);
    if (label.includes("ties")) row[40] = [...row].sort((a, b) => b - a)[2]; // the third-largest logit, twice
    const params = resolveSamplingParams({ ...user, stopTokenIds: [5, 17], maxTokens: 8 }, null);
    const host = new Sampler().distribution(row, params, { promptTokenIds: [], outputTokenIds: maskStops ? [] : [1, 2, 3, 4] });
    t.diagnostic(`host's filtered set: ${host.tokenIds.length} tokens, the likeliest at p = ${host.probs[0].toFixed(3)}`);
    const pairs = await sweep(row, params, maskStops);
    const counts = new Map<number, number>();
    let previous = -1;
    let maxRaw = -Infinity;
    for (const x of row) maxRaw = Math.max(maxRaw, x);
    const logZ = maxRaw + Math.log(row.reduce((s, x) => s + Math.exp(x - maxRaw), 0));
    for (let j = 0; j < DRAWS; j++) {
      const id = pairs[2 * j];
      assert.ok(id >= previous, `draw ${j}: id ${id} after ${previous} (ids must not decrease as u grows)`);
      previous = id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
      assert.ok(Math.abs(pairs[2 * j + 1] - (row[id] - logZ)) < 1e-4, `draw ${j}: log-prob ${pairs[2 * j + 1]} of id ${id}`);
    }
    const expected = new Map(host.tokenIds.map((id, i) => [id, host.probs[i]]));
    for (const [id, n] of counts) assert.ok(expected.has(id), `id ${id} drawn ${n} times is outside the host's filtered set`);
    for (const [id, p] of expected) {
      const n = counts.get(id) ?? 0;
      assert.ok(Math.abs(n - DRAWS * p) <= 1.01, `id ${id}: ${n} of ${DRAWS} draws for probability ${p.toFixed(5)}`);
    }
    if (maskStops) assert.ok(!counts.has(5) && !counts.has(17), "stop ids masked");
    if (label.includes("ties")) assert.equal(expected.size, 4, "top-k 3 keeps the tied third logit too");
  });
}

test("device sampling: a row listed twice or outside the logits is a RangeError", { skip }, () => {
  const logits = gpu.uploadActivation(2, VOCAB, new Float32Array(2 * VOCAB).fill(1));
  const pairs = gpu.sampleGreedy(logits, new Int32Array(2), new Int32Array(0));
  const rows = (ids: number[]): DeviceSampledRows => {
    const n = ids.length;
    return {
      rows: Int32Array.from(ids),
      temperature: new Float32Array(n).fill(1),
      topP: new Float32Array(n).fill(1),
      topK: new Int32Array(n),
      minP: new Float32Array(n),
      u: new Float32Array(n),
      maskStops: new Int32Array(n),
    };
  };
  assert.throws(() => gpu.sampleRows(logits, pairs, rows([0, 0]), new Int32Array(0)), /listed twice/);
  assert.throws(() => gpu.sampleRows(logits, pairs, rows([2]), new Int32Array(0)), /outside 0\.\.1/);
});

test("device sampling's workgroup: 1,024 threads where the device allows them and their workgroup memory, else fewer", () => {
  assert.equal(sampleWorkgroup(1024, 49152), 1024); // the H100 through Dawn
  assert.equal(sampleWorkgroup(1024, 32768), 512);
  assert.equal(sampleWorkgroup(256, 16384), 256); // WebGPU's default limits
  assert.equal(sampleWorkgroup(64, 16384), 64);
});
