import test, { after } from "node:test";
import assert from "node:assert/strict";
import type { Activation, ForwardBatch } from "../src/gpu/backend.js";
import * as ops from "../src/gpu/reference/ops.js";
import { toF32, type WeightDtype } from "../src/model/dtype.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { checkBindable, sizeClass } from "../src/gpu/webgpu/buffers.js";
import { SwallowError } from "../src/errors.js";
import { openTestBackend } from "./support/webgpu.js";
import { setGemvRows } from "../src/gpu/webgpu/kernels/matmul.js";
import { PipelineCache } from "../src/gpu/webgpu/pipelines.js";
import { normOfResidualSum, reduceSplits, reduceSplitsParts } from "../src/gpu/webgpu/kernels/matmul-tensor.js";
import { rmsNorm } from "../src/gpu/webgpu/kernels/rms-norm.js";
import type { GpuWeight, KernelContext } from "../src/gpu/webgpu/context.js";
import type { GpuActivation } from "../src/gpu/webgpu/recorder.js";
import { assertClose, F16_OPERANDS, F32_MATH, matrix, random, randomTensor } from "./support/random-tensors.js";

/**
 * Every WebGPU kernel against the reference ops (src/gpu/reference/ops.ts) on fresh random inputs, with
 * shapes that are not multiples of the workgroup sizes, asserting ‖out − ref‖ / ‖ref‖ per precision.
 * Runs on whatever adapter Dawn finds (lavapipe in CI, with robustness on); skipped when there is none,
 * unless SWALLOW_REQUIRE_WEBGPU=1 makes that a failure.
 */

const { backend: maybeBackend, skip } = await openTestBackend();
const gpu = maybeBackend as WebGpuBackend;
after(() => maybeBackend?.dispose());

function upload(rows: number, cols: number, data: Float32Array): Activation {
  return gpu.uploadActivation(rows, cols, data);
}

const DTYPES: WeightDtype[] = ["bf16", "f16", "f32"];

test("the pipeline cache counts the kernels it compiles and their compile time, once per key", { skip }, async () => {
  const cache = new PipelineCache(gpu.gpu.device);
  const source = () =>
    "@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(1) fn main() { y[0] = 1.0; }";
  assert.deepEqual(cache.compiled, { kernels: 0, ms: 0, keys: [] });
  cache.get("probe", source);
  cache.get("probe", source);
  const { kernels, ms, keys } = cache.compiled;
  assert.equal(kernels, 1);
  assert.deepEqual(keys, ["probe"]);
  assert.ok(ms > 0, `compile time ${ms} ms`);
  // The backend's kernels go through its own cache: after a step there is at least that step's kernel.
  const x = random(990).values(8);
  await gpu.read(gpu.add(upload(2, 4, x), upload(2, 4, x)));
  assert.ok(gpu.compileStats().kernels > 0, "the backend's kernels are counted");
});

test(
  "kernelClass names the GEMV token block and rows per lane group per weight shape (the warm-up runs one pass per name)",
  { skip },
  () => {
    const shapes = [
      [64, 32],
      [128, 64],
    ] as const;
    setGemvRows([1, 2, 4, 2]); // rows per lane group for blocks of 1, 2, 4, 8 tokens
    try {
      assert.equal(gpu.kernelClass(1, shapes), "gemv1r1,gemv1r1");
      assert.equal(gpu.kernelClass(2, shapes), "gemv2r2,gemv2r2");
      assert.equal(gpu.kernelClass(3, shapes), "gemv4r4,gemv4r4");
      assert.equal(gpu.kernelClass(5, shapes), "gemv8r2,gemv8r2");
      assert.equal(gpu.kernelClass(300, shapes), "gemv8r2,gemv8r2");
    } finally {
      setGemvRows(null);
    }
  },
);

test("forward passes keep the engine's default size unless long batches take tensor cores", { skip }, () => {
  assert.equal(gpu.batchInvariant, true);
  assert.equal(gpu.preferredBatchTokens, undefined);
  gpu.batchInvariant = false;
  try {
    // Not batch-invariant: 2,048 tokens exactly where the device has a tensor-core layout (none on lavapipe).
    assert.equal(gpu.preferredBatchTokens, gpu.tensorLayouts.length > 0 ? 2048 : undefined);
  } finally {
    gpu.batchInvariant = true;
  }
});

test("embed gathers rows of bf16/f16/f32 tables exactly", { skip }, async (t) => {
  for (const [i, dtype] of DTYPES.entries()) {
    const table = randomTensor(dtype, [37, 23], 100 + i);
    const weight = await gpu.uploadWeight("embed", table);
    const tokenIds = Int32Array.from([5, 0, 36, 5, 17, 1, 30, 22, 9, 9, 2, 35, 11]);
    const batch = { numTokens: tokenIds.length, tokenIds } as ForwardBatch;
    const out = await gpu.read(gpu.embed(weight, batch));
    assertClose(t, `embed ${dtype}`, out, ops.embedRows(matrix(table), tokenIds), 0);
  }
  const weight = await gpu.uploadWeight("embed", randomTensor("bf16", [37, 23], 1));
  assert.throws(() => gpu.embed(weight, { numTokens: 1, tokenIds: Int32Array.from([37]) } as ForwardBatch), /outside the vocabulary/);
});

test("rmsNorm matches the reference for every weight dtype", { skip }, async (t) => {
  const pipelines = (gpu as unknown as { pipelines: { useSubgroups: boolean } }).pipelines;
  const subgroups = pipelines.useSubgroups;
  try {
    for (const useSubgroups of subgroups ? [true, false] : [false]) {
      pipelines.useSubgroups = useSubgroups;
      for (const [i, dtype] of DTYPES.entries()) {
        for (const [rows, cols] of [
          [5, 67],
          [3, 1100],
          [2, 4],
        ]) {
          const x = random(200 + i + cols).values(rows * cols, 3);
          const weight = randomTensor(dtype, [cols], 210 + i);
          const out = await gpu.read(gpu.rmsNorm(upload(rows, cols, x), await gpu.uploadWeight("norm", weight), 1e-5));
          const label = `rmsNorm ${dtype} [${rows}, ${cols}]${useSubgroups ? " subgroups" : ""}`;
          assertClose(t, label, out, ops.rmsNorm(x, rows, cols, toF32(weight.bytes, dtype), 1e-5), F32_MATH);
        }
      }
    }
  } finally {
    pipelines.useSubgroups = subgroups;
  }
});

test("matmul (GEMV and tiled paths) matches the reference for every weight dtype", { skip }, async (t) => {
  const shapes: { tokens: number; k: number; n: number; path: "auto" | "gemv" | "tiled" }[] = [
    { tokens: 1, k: 67, n: 45, path: "auto" },
    { tokens: 3, k: 67, n: 45, path: "auto" },
    { tokens: 8, k: 67, n: 45, path: "auto" },
    { tokens: 9, k: 67, n: 45, path: "auto" },
    { tokens: 37, k: 130, n: 97, path: "auto" },
    { tokens: 3, k: 67, n: 45, path: "tiled" },
    { tokens: 37, k: 67, n: 45, path: "gemv" },
    // GEMV: K a multiple of 8 (vectorised loads) with a chunk count that is not a multiple of the 32 lanes,
    // N not a multiple of the 8 rows per workgroup; K a multiple of 4 but not 8 (vectorised for f32 only).
    { tokens: 1, k: 296, n: 45, path: "auto" },
    { tokens: 2, k: 520, n: 13, path: "auto" },
    { tokens: 5, k: 136, n: 7, path: "auto" },
    { tokens: 8, k: 64, n: 8, path: "auto" },
    { tokens: 1, k: 132, n: 19, path: "auto" },
    { tokens: 3, k: 9, n: 3, path: "auto" },
    { tokens: 11, k: 296, n: 21, path: "gemv" },
  ];
  const pipelines = (gpu as unknown as { pipelines: { useSubgroups: boolean } }).pipelines;
  const subgroups = pipelines.useSubgroups;
  let seed = 300;
  for (const useSubgroups of subgroups ? [true, false] : [false]) {
    pipelines.useSubgroups = useSubgroups;
    for (const dtype of DTYPES) {
      for (const { tokens, k, n, path } of shapes) {
        const x = random(seed++).values(tokens * k);
        const w = randomTensor(dtype, [n, k], seed++);
        gpu.matmulPath = path;
        try {
          const out = await gpu.read(gpu.matmul(upload(tokens, k, x), await gpu.uploadWeight("w", w)));
          assertClose(
            t,
            `matmul ${dtype} [${tokens}, ${k}]·[${n}, ${k}]ᵀ ${path}${useSubgroups ? " subgroups" : ""}`,
            out,
            ops.matmulTransposed(x, tokens, matrix(w)),
            F32_MATH,
          );
        } finally {
          gpu.matmulPath = "auto";
          pipelines.useSubgroups = subgroups;
        }
      }
    }
  }
});

test("matmulMany (one grouped GEMV dispatch) equals one matmul per weight, bit for bit", { skip }, async () => {
  const k = 136;
  const weights = await Promise.all([45, 13, 13].map((n, i) => gpu.uploadWeight(`w${i}`, randomTensor("bf16", [n, k], 920 + i))));
  for (const rows of [1, 3, 8, 19]) {
    const x = random(930 + rows).values(rows * k);
    for (const group of [weights, weights.slice(0, 2)]) {
      const together = await Promise.all(gpu.matmulMany(upload(rows, k, x), group).map((a) => gpu.read(a)));
      const alone = [];
      for (const w of group) alone.push(await gpu.read(gpu.matmul(upload(rows, k, x), w)));
      assert.deepEqual(together, alone, `${rows} rows, ${group.length} weights`);
    }
  }
});

test("matmul with a residual equals matmul then add, bit for bit (GEMV epilogue and the separate-add paths)", { skip }, async () => {
  const w = await gpu.uploadWeight("w", randomTensor("bf16", [45, 296], 910));
  for (const [rows, path] of [
    [1, "auto"],
    [5, "auto"],
    [11, "gemv"],
    [7, "tiled"],
  ] as const) {
    const x = random(911 + rows).values(rows * 296);
    const r = random(912 + rows).values(rows * 45);
    gpu.matmulPath = path;
    try {
      const fused = await gpu.read(gpu.matmul(upload(rows, 296, x), w, upload(rows, 45, r)));
      const separate = await gpu.read(gpu.add(upload(rows, 45, r), gpu.matmul(upload(rows, 296, x), w)));
      assert.deepEqual(fused, separate, `${rows} rows, ${path}`);
    } finally {
      gpu.matmulPath = "auto";
    }
  }
});

test(
  "GEMV rows per lane group (1, 2, 4) change no output bit: plain, residual, grouped, SwiGLU and fused-norm variants",
  { skip },
  async () => {
    const k = 296;
    const weights = await Promise.all(
      (["bf16", "f16", "f32"] as const).map((dtype, i) => gpu.uploadWeight(`w${i}`, randomTensor(dtype, [45, k], 940 + i))),
    );
    const [gate, up, small] = await Promise.all(
      [45, 45, 13].map((n, i) => gpu.uploadWeight(`g${i}`, randomTensor("bf16", [n, k], 950 + i))),
    );
    const norm = { weight: await gpu.uploadWeight("norm", randomTensor("bf16", [k], 955)), eps: 1e-5 };
    const run = async (rows: number) => {
      const xs = random(960 + rows).values(rows * k);
      const x = () => upload(rows, k, xs);
      const r = random(970 + rows).values(rows * 45);
      const outs: Float32Array[] = [];
      for (const w of weights) outs.push(await gpu.read(gpu.matmul(x(), w)));
      outs.push(await gpu.read(gpu.matmul(x(), weights[0], upload(rows, 45, r))));
      for (const a of gpu.matmulMany(x(), [gate, up, small])) outs.push(await gpu.read(a));
      for (const a of gpu.matmulMany(x(), [gate, small], norm)) outs.push(await gpu.read(a));
      outs.push(await gpu.read(gpu.swiGlu(x(), gate, up)));
      outs.push(await gpu.read(gpu.swiGlu(x(), gate, up, norm)));
      const [g, u] = gpu.matmulMany(x(), [gate, up]);
      outs.push(await gpu.read(gpu.siluMul(g, u)));
      return outs;
    };
    try {
      for (const rows of [1, 2]) {
        setGemvRows([1, 1, 1, 1]);
        const base = await run(rows);
        assert.deepEqual(base[base.length - 3], base[base.length - 1], `SwiGLU fused = separate, ${rows} rows`);
        for (const perGroup of [2, 4]) {
          setGemvRows([perGroup, perGroup, perGroup, perGroup]);
          assert.deepEqual(await run(rows), base, `${rows} rows, R = ${perGroup}`);
        }
      }
    } finally {
      setGemvRows(null);
    }
  },
);

test("matmulMany and swiGlu with a fused RMSNorm match rmsNorm then the products (reference ops)", { skip }, async (t) => {
  const [k, n] = [136, 21];
  for (const [i, [dtype, normDtype]] of (
    [
      ["bf16", "bf16"],
      ["f16", "f32"],
      ["bf16", "f16"],
    ] as const
  ).entries()) {
    const [gateHost, upHost] = [randomTensor(dtype, [n, k], 980 + i), randomTensor(dtype, [n, k], 985 + i)];
    const normHost = randomTensor(normDtype, [k], 990 + i);
    const [gate, up, normWeight] = await Promise.all([gateHost, upHost, normHost].map((w, j) => gpu.uploadWeight(`n${j}`, w)));
    const norm = { weight: normWeight, eps: 1e-5 };
    for (const rows of [1, 2]) {
      const x = random(995 + rows).values(rows * k);
      const normed = ops.rmsNorm(x, rows, k, toF32(normHost.bytes, normDtype), norm.eps);
      const [g, u] = [ops.matmulTransposed(normed, rows, matrix(gateHost)), ops.matmulTransposed(normed, rows, matrix(upHost))];
      const [gGpu, uGpu] = gpu.matmulMany(upload(rows, k, x), [gate, up], norm);
      assertClose(t, `norm+matmulMany ${dtype}/${normDtype} gate, ${rows} rows`, await gpu.read(gGpu), g, F32_MATH);
      assertClose(t, `norm+matmulMany ${dtype}/${normDtype} up, ${rows} rows`, await gpu.read(uGpu), u, F32_MATH);
      const fused = await gpu.read(gpu.swiGlu(upload(rows, k, x), gate, up, norm));
      assertClose(t, `norm+swiGlu ${dtype}/${normDtype}, ${rows} rows`, fused, ops.siluMul(g, u), F32_MATH);
    }
  }
});

test("matmul is batch-invariant: a row's result is bit-identical whatever else is in the batch", { skip }, async () => {
  const k = 296;
  const n = 45;
  const rows = 37;
  const x = random(900).values(rows * k);
  const w = await gpu.uploadWeight("w", randomTensor("bf16", [n, k], 901));
  gpu.matmulPath = "auto";
  const all = await gpu.read(gpu.matmul(upload(rows, k, x), w));
  // Sub-batches of every GEMV block size, starting at odd offsets so rows land in different block positions.
  for (const [start, count] of [
    [0, 1],
    [5, 2],
    [3, 4],
    [11, 7],
    [17, 8],
    [20, 9],
    [1, 36],
  ]) {
    const part = await gpu.read(gpu.matmul(upload(count, k, x.subarray(start * k, (start + count) * k)), w));
    assert.deepEqual(part, all.subarray(start * n, (start + count) * n), `rows ${start}..${start + count - 1}`);
  }
});

test("rope rotates halves by host-computed angles, large positions included", { skip }, async (t) => {
  for (const [headDim, heads] of [
    [16, 3],
    [32, 2],
  ]) {
    const rng = random(400 + headDim);
    const tokens = 9;
    const cols = heads * headDim;
    const x = rng.values(tokens * cols, 2);
    const positions = Int32Array.from({ length: tokens }, () => rng.int(6000));
    const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** (-(2 * i) / headDim));
    const frequencies = await gpu.uploadWeight("inv_freq", { dtype: "f32", shape: [headDim / 2], bytes: new Uint8Array(invFreq.buffer) });
    const batch = { numTokens: tokens, positions } as ForwardBatch;
    const out = await gpu.read(gpu.rope(upload(tokens, cols, x), batch, frequencies, headDim));
    assertClose(t, `rope headDim ${headDim}`, out, ops.ropeRotateHalf(x, cols, positions, invFreq, headDim), F32_MATH);
  }
});

test("RoPE fused into writeKv and into attention's q load equals a separate rope pass, bit for bit", { skip }, async () => {
  const [headDim, numHeads, numKvHeads, tokens] = [16, 4, 2, 6];
  const rng = random(960);
  const q = rng.values(tokens * numHeads * headDim, 2);
  const k = rng.values(tokens * numKvHeads * headDim, 2);
  const v = rng.values(tokens * numKvHeads * headDim, 2);
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** (-(2 * i) / headDim));
  const frequencies = await gpu.uploadWeight("inv_freq", { dtype: "f32", shape: [headDim / 2], bytes: new Uint8Array(invFreq.buffer) });
  const batch: ForwardBatch = {
    numTokens: tokens,
    tokenIds: new Int32Array(tokens),
    positions: Int32Array.from({ length: tokens }, (_, i) => i), // one sequence: each token attends to those before it
    seqIndex: new Int32Array(tokens),
    slots: Int32Array.from({ length: tokens }, (_, i) => i),
    blockTables: Int32Array.from([0, 1]),
    maxBlocksPerSeq: 2,
    logitRows: new Int32Array(0),
  };
  const layout = { numLayers: 1, numKvHeads, headDim, numBlocks: 2, blockSize: 4 };
  const run = async (fused: boolean) => {
    const cache = gpu.createKvCache(layout);
    const kIn = upload(tokens, numKvHeads * headDim, k);
    const qIn = upload(tokens, numHeads * headDim, q);
    if (fused) gpu.writeKv(cache, 0, kIn, upload(tokens, numKvHeads * headDim, v), batch, frequencies);
    else gpu.writeKv(cache, 0, gpu.rope(kIn, batch, frequencies, headDim), upload(tokens, numKvHeads * headDim, v), batch);
    const query = fused ? qIn : gpu.rope(qIn, batch, frequencies, headDim);
    return gpu.read(gpu.attention(query, cache, 0, batch, numHeads, 0.25, fused ? frequencies : undefined));
  };
  assert.deepEqual(await run(true), await run(false));
});

test("add and siluMul are elementwise (vec4s where the element count allows, else one at a time)", { skip }, async (t) => {
  // 7 × 45 and 3 × 90 are not multiples of 4 (scalar); 9 × 260 and 5 × 36 are (vec4s, the last workgroup partial).
  for (const [rows, cols] of [
    [7, 45],
    [3, 90],
    [9, 260],
    [5, 36],
  ]) {
    const a = random(500 + cols).values(rows * cols, 6);
    const b = random(501 + cols).values(rows * cols, 2);
    // Activations live for their step: each op gets its own uploads.
    const inputs = () => [upload(rows, cols, a), upload(rows, cols, b)] as const;
    assertClose(t, `add ${rows}×${cols}`, await gpu.read(gpu.add(...inputs())), ops.add(a, b), F32_MATH);
    assertClose(t, `siluMul ${rows}×${cols}`, await gpu.read(gpu.siluMul(...inputs())), ops.siluMul(a, b), F32_MATH);
  }
});

test("gatherRows keeps the listed rows in order, repeats included", { skip }, async (t) => {
  const [rows, cols] = [7, 45];
  const x = random(600).values(rows * cols);
  const keep = Int32Array.from([4, 0, 4, 6]);
  const expected = new Float32Array(keep.length * cols);
  keep.forEach((row, i) => expected.set(x.subarray(row * cols, (row + 1) * cols), i * cols));
  assertClose(t, "gatherRows", await gpu.read(gpu.gatherRows(upload(rows, cols, x), keep)), expected, 0);
  assert.throws(() => gpu.gatherRows(upload(rows, cols, x), Int32Array.from([7])), /outside/);
});

// Paged attention against the reference, and its batch invariance: test/webgpu-attention.test.ts.

test("sampleGreedy: argmax (lowest id on ties), its log-prob, stop ids masked per row; embed takes fed ids", { skip }, async () => {
  const vocab = 1031; // not a multiple of the 256 threads
  const rows = 4;
  const logits = random(950)
    .values(rows * vocab)
    .map((v) => v * 6);
  logits[1 * vocab + 17] = 40; // row 1: a clear winner…
  logits[1 * vocab + 900] = 40; // …tied with a higher id: the lower id wins
  logits[2 * vocab + 5] = 50; // row 2: the best is a stop id, masked in this row
  logits[3 * vocab + 5] = 50; // row 3: the same, not masked
  const maskStops = Int32Array.from([0, 0, 1, 0]);
  const stopIds = Int32Array.from([5, 1000]);
  const out = await gpu.read(gpu.sampleGreedy(upload(rows, vocab, logits), maskStops, stopIds));
  for (let r = 0; r < rows; r++) {
    const [id, logprob] = ops.greedyRow(logits.subarray(r * vocab, (r + 1) * vocab), maskStops[r] ? new Set(stopIds) : null);
    assert.equal(out[2 * r], id, `row ${r} id`);
    assert.ok(Math.abs(out[2 * r + 1] - logprob) < 1e-4, `row ${r} logprob ${out[2 * r + 1]} vs ${logprob}`);
  }
  assert.deepEqual([out[2], out[4], out[6]], [17, ops.greedyRow(logits.subarray(2 * vocab, 3 * vocab), new Set([5, 1000]))[0], 5]);

  // A batch whose tokens 0 and 2 take their ids from rows 3 and 1 of the sampled output (5 and 17).
  const hostTable = randomTensor("bf16", [vocab, 24], 951);
  const table = await gpu.uploadWeight("embed", hostTable);
  const sampled = gpu.sampleGreedy(upload(rows, vocab, logits), maskStops, stopIds);
  const batch = {
    numTokens: 3,
    tokenIds: Int32Array.from([0, 42, 0]),
    deviceTokens: { source: sampled, rows: Int32Array.from([3, -1, 1]) },
  } as unknown as ForwardBatch;
  const embedded = await gpu.read(gpu.embed(table, batch));
  assert.deepEqual(embedded, ops.embedRows(matrix(hostTable), Int32Array.from([5, 42, 17])));
});

test("sampleGreedy: a row longer than one slice (2,048 ids) combines its slices' maxima, sums and ties", { skip }, async () => {
  const vocab = 2 * 2048 + 905; // three slices, the last one partial
  const rows = 3;
  const logits = random(952)
    .values(rows * vocab)
    .map((v) => v * 8);
  logits[0 * vocab + 4500] = 30; // row 0: the winner in the last slice…
  logits[0 * vocab + 3000] = 30; // …tied with the middle slice's id 3000, which wins
  logits[1 * vocab + 4200] = 60; // row 1: the best is a stop id, masked here: the best of the rest wins
  logits[1 * vocab + 100] = 20;
  logits[2 * vocab + 2047] = -40; // row 2: nothing special beyond a slice edge value
  const maskStops = Int32Array.from([0, 1, 0]);
  const stopIds = Int32Array.from([4200]);
  const out = await gpu.read(gpu.sampleGreedy(upload(rows, vocab, logits), maskStops, stopIds));
  for (let r = 0; r < rows; r++) {
    const [id, logprob] = ops.greedyRow(logits.subarray(r * vocab, (r + 1) * vocab), maskStops[r] ? new Set(stopIds) : null);
    assert.equal(out[2 * r], id, `row ${r} id`);
    assert.ok(Math.abs(out[2 * r + 1] - logprob) < 1e-4, `row ${r} logprob ${out[2 * r + 1]} vs ${logprob}`);
  }
  assert.deepEqual([out[0], out[2]], [3000, 100]);

  // Llama 3's vocabulary (63 slices, the last partial) with the winner in the last slice.
  const llamaVocab = 128_256;
  const row = random(953)
    .values(llamaVocab)
    .map((v) => v * 8);
  row[128_255] = 25;
  const llama = await gpu.read(gpu.sampleGreedy(upload(1, llamaVocab, row), Int32Array.of(0), Int32Array.of()));
  const [id, logprob] = ops.greedyRow(row, null);
  assert.equal(id, 128_255);
  assert.equal(llama[0], id);
  assert.ok(Math.abs(llama[1] - logprob) < 1e-4, `vocab ${llamaVocab} logprob ${llama[1]} vs ${logprob}`);
});

test("profiling: two steps in flight at once (pipelined) each read their own pass timestamps, in order", { skip }, async () => {
  const x = random(954).values(6 * 8);
  gpu.setProfile("pass");
  try {
    gpu.takeProfiles();
    // Step B is encoded and submitted before step A is read back, as the engine's pipelined decode does.
    const a = gpu.prepareRead(gpu.add(upload(6, 8, x), upload(6, 8, x)), []).submit();
    const b = gpu.prepareRead(gpu.add(gpu.add(upload(6, 8, x), upload(6, 8, x)), upload(6, 8, x)), []).submit();
    const [outA, outB] = await Promise.all([a, b]);
    assert.deepEqual(
      outA,
      x.map((v) => Math.fround(v + v)),
    );
    assert.deepEqual(
      outB,
      x.map((v) => Math.fround(Math.fround(v + v) + v)),
    );
    const profiles = gpu.takeProfiles();
    assert.deepEqual(
      profiles.map((p) => p.labels),
      [["step (1 dispatches)"], ["step (2 dispatches)"]],
    );
    for (const p of profiles) assert.ok(p.ns.length === 2 && p.ns[1] >= p.ns[0], `pass timestamps ${p.ns}`);
    assert.ok(profiles[1].ns[0] >= profiles[0].ns[1], `step B began (${profiles[1].ns[0]}) before step A ended (${profiles[0].ns[1]})`);
  } finally {
    gpu.setProfile("off");
  }
});

test("a step sent to an idle queue is submitted in pieces as it is encoded, with the results of one pass", { skip }, async () => {
  const x = random(955).values(6 * 8);
  // 51 dispatches whose buffers are recycled along the chain (a buffer freed in one piece is bound again in the next).
  const chain = () => {
    let y = gpu.add(upload(6, 8, x), upload(6, 8, x));
    const input = upload(6, 8, x);
    for (let i = 0; i < 50; i++) y = gpu.add(y, input);
    return y;
  };
  const expected = x.map((v) => {
    let y = Math.fround(v + v);
    for (let i = 0; i < 50; i++) y = Math.fround(y + v);
    return y;
  });
  const chunks = gpu.earlySubmit;
  try {
    gpu.earlySubmit = [8, 16];
    assert.deepEqual(await gpu.read(chain()), expected);
    assert.deepEqual(
      { pieces: gpu.lastReadTiming.pieces, encodedAtSubmit: gpu.lastReadTiming.encodedAtSubmit },
      { pieces: 4, encodedAtSubmit: true },
      "pieces of 8, 16, 16 and the remaining 11 dispatches",
    );
    gpu.earlySubmit = null;
    assert.deepEqual(await gpu.read(chain()), expected);
    assert.deepEqual(gpu.lastReadTiming.pieces, 1);
  } finally {
    gpu.earlySubmit = chunks;
  }
  // Behind a step in flight (pipelined decode), a step is encoded when prepared and submitted whole.
  const first = gpu.prepareRead(chain(), []).submit();
  const second = gpu.prepareRead(chain(), []).submit();
  assert.deepEqual(
    { pieces: gpu.lastReadTiming.pieces, encodedAtSubmit: gpu.lastReadTiming.encodedAtSubmit },
    { pieces: 1, encodedAtSubmit: false },
  );
  assert.deepEqual(await first, expected);
  assert.deepEqual(await second, expected);
});

test("activations: recycled after being consumed, readable twice, empty ones read as empty", { skip }, async () => {
  const x = upload(2, 3, Float32Array.from([1, 2, 3, 4, 5, 6]));
  const y = gpu.add(x, x);
  const doubled = gpu.add(y, y);
  assert.deepEqual([...(await gpu.read(doubled))], [4, 8, 12, 16, 20, 24]);
  assert.deepEqual([...(await gpu.read(doubled))], [4, 8, 12, 16, 20, 24], "a read target stays readable");
  assert.throws(() => gpu.add(y, y), /recycled/, "y was consumed in its step");
  assert.deepEqual([...(await gpu.read(gpu.add(doubled, doubled)))], [8, 16, 24, 32, 40, 48], "the target lives one more step");
  await assert.rejects(gpu.read(y), /recycled/);
  const empty = await gpu.read(gpu.gatherRows(upload(2, 3, new Float32Array(6)), new Int32Array(0)));
  assert.equal(empty.length, 0);
});

test("buffers and pipelines are reused from step to step", { skip }, async () => {
  const w = await gpu.uploadWeight("w", randomTensor("bf16", [33, 21], 800));
  const run = async () => {
    const x = upload(5, 21, random(801).values(5 * 21));
    return gpu.read(gpu.siluMul(gpu.matmul(x, w), gpu.matmul(x, w)));
  };
  const first = await run();
  // The second step still holds the first one's result (a read target lives one more step): steady from here.
  assert.deepEqual(await run(), first);
  const pipelines = (gpu as unknown as { pipelines: { size: number } }).pipelines.size;
  const pooled = gpu.pooledBytes;
  for (let i = 0; i < 3; i++) assert.deepEqual(await run(), first);
  assert.equal((gpu as unknown as { pipelines: { size: number } }).pipelines.size, pipelines);
  assert.equal(gpu.pooledBytes, pooled);
});

test("tensors above maxStorageBufferBindingSize are refused with a clear error", { skip }, () => {
  const limit = gpu.gpu.limits.maxStorageBufferBindingSize;
  assert.throws(
    () => checkBindable(gpu.gpu.limits, limit + 4, "weight lm_head"),
    (error: unknown) => {
      assert.ok(error instanceof SwallowError);
      assert.match(error.message, /weight lm_head needs \d+ bytes in one GPU buffer.*maxStorageBufferBindingSize/);
      return true;
    },
  );
  assert.equal(sizeClass(1000), 1024);
  assert.equal(sizeClass(1025), 1536);
  assert.equal(sizeClass(1537), 2048);
});

test("a lost device fails the pending read with a clear error instead of hanging", { skip }, async () => {
  const doomed = await WebGpuBackend.create();
  const x = doomed.uploadActivation(1, 4, Float32Array.from([1, 2, 3, 4]));
  const y = doomed.add(x, x);
  doomed.gpu.device.destroy();
  await assert.rejects(doomed.read(y), (error: unknown) => {
    assert.ok(error instanceof SwallowError, String(error));
    assert.match(error.message, /WebGPU device was lost/);
    return true;
  });
  assert.throws(() => doomed.add(y, y), /WebGPU device was lost/);
});

test("disable_robustness is an option (kernels stay in bounds without clamping)", { skip }, async (t) => {
  const fast = await WebGpuBackend.create({ disableRobustness: true });
  try {
    const w = randomTensor("bf16", [45, 67], 900);
    const x = random(901).values(37 * 67);
    const out = await fast.read(fast.matmul(fast.uploadActivation(37, 67, x), await fast.uploadWeight("w", w)));
    assertClose(t, "matmul without robustness", out, ops.matmulTransposed(x, 37, matrix(w)), F32_MATH);
    for (const dtype of DTYPES) {
      const wv = randomTensor(dtype, [45, 296], 902);
      const xv = random(903).values(3 * 296);
      const outv = await fast.read(fast.matmul(fast.uploadActivation(3, 296, xv), await fast.uploadWeight("w", wv)));
      assertClose(t, `vectorised GEMV ${dtype} without robustness`, outv, ops.matmulTransposed(xv, 3, matrix(wv)), F32_MATH);
    }
  } finally {
    await fast.dispose();
  }
});

test("the tensor path's split-K reduce adds the partial sums in block order (and the residual) for the live rows", { skip }, async () => {
  const ctx = (gpu as unknown as { ctx: KernelContext }).ctx;
  const [splits, capacityRows, rows, n] = [3, 8, 5, 12];
  const partials = random(9400).values(splits * capacityRows * n);
  const residual = random(9401).values(rows * n);
  // The same f32 sums on the host: ((residual + p0) + p1) + p2 as the kernel writes them.
  const expected = (withResidual: boolean) =>
    Float32Array.from({ length: rows * n }, (_, i) => {
      let sum = Math.fround(partials[i] + partials[capacityRows * n + i]);
      sum = Math.fround(sum + partials[2 * capacityRows * n + i]);
      return withResidual ? Math.fround(residual[i] + sum) : sum;
    });
  const upload = (rowCount: number, data: Float32Array) => gpu.uploadActivation(rowCount, n, data) as GpuActivation;
  const plain = reduceSplits(ctx, upload(splits * capacityRows, partials), splits, rows, capacityRows);
  assert.deepEqual(await gpu.read(plain), expected(false));
  const withResidual = reduceSplits(ctx, upload(splits * capacityRows, partials), splits, rows, capacityRows, upload(rows, residual));
  assert.deepEqual(await gpu.read(withResidual), expected(true));
  assert.throws(
    () =>
      reduceSplits(
        ctx,
        upload(splits * capacityRows - 1, partials.subarray(0, (splits * capacityRows - 1) * n)),
        splits,
        rows,
        capacityRows,
      ),
    /not 3 blocks of 8/,
  );
});

test("the split-K reduce of several outputs in one dispatch gives each output's single reduce, bit for bit", { skip }, async () => {
  const ctx = (gpu as unknown as { ctx: KernelContext }).ctx;
  const [splits, capacityRows, rows] = [3, 8, 5];
  // Widths as q/k/v in miniature; 5 × 208 / 4 = 260 vec4s spans two workgroups of 256, the others one.
  const widths = [208, 48, 48];
  const data = widths.map((n, p) => random(9500 + p).values(splits * capacityRows * n));
  const upload = (n: number, values: Float32Array) => gpu.uploadActivation(splits * capacityRows, n, values) as GpuActivation;
  const separate = await Promise.all(widths.map((n, p) => gpu.read(reduceSplits(ctx, upload(n, data[p]), splits, rows, capacityRows))));
  const merged = reduceSplitsParts(
    ctx,
    widths.map((n, p) => upload(n, data[p])),
    splits,
    rows,
    capacityRows,
  );
  for (const [p, y] of merged.entries()) {
    assert.deepEqual([y.rows, y.cols], [rows, widths[p]]);
    assert.deepEqual(await gpu.read(y), separate[p], `output ${p}`);
  }
  assert.throws(() => reduceSplitsParts(ctx, [upload(48, data[1]), upload(48, data[2])], splits, rows, 9), /not 3 blocks of 9/);
});

test("a norm after the residual split-K reduce replaces it with one dispatch: the reduce's and the norm's bits", { skip }, async () => {
  const ctx = (gpu as unknown as { ctx: KernelContext }).ctx;
  const pending = () => (ctx.recorder as unknown as { dispatches: { pipeline: { key: string } }[] }).dispatches.map((d) => d.pipeline.key);
  const [splits, capacityRows, rows, n] = [3, 8, 5, 264];
  const partials = random(9460).values(splits * capacityRows * n);
  const residual = random(9461).values(rows * n);
  const norm = (await gpu.uploadWeight("norm", randomTensor("bf16", [n], 9462))) as unknown as GpuWeight;
  const upload = (rowCount: number, values: Float32Array) => gpu.uploadActivation(rowCount, n, values) as GpuActivation;
  const reduce = () => reduceSplits(ctx, upload(splits * capacityRows, partials), splits, rows, capacityRows, upload(rows, residual));
  // The norm, its f16 copy's words and its row flags side by side, in one read.
  const readNorm = (out: GpuActivation) => gpu.read(gpu.concatColumns([out, out.f16Copy!.x16, out.f16Copy!.rowFlags]));
  // Separately: the reduce, then the norm with its f16 copy.
  const normedSeparate = await readNorm(rmsNorm(ctx, reduce(), norm, 1e-5, true));
  const hSeparate = await gpu.read(reduce());
  // Fused: the reduce's dispatch is taken back, and one dispatch writes h and the norm.
  const h = reduce();
  const fused = normOfResidualSum(ctx, h, norm, 1e-5, true);
  assert.ok(fused, "the reduce was the step's last dispatch");
  const kernels = pending();
  assert.ok(!kernels.some((key) => key.startsWith("matmul.tensor.reduce")), kernels.join(", "));
  assert.deepEqual(
    kernels.filter((key) => key.startsWith("rmsNorm")).map((key) => key.endsWith(`/f16copy/sum${splits}`)),
    [true],
  );
  assert.deepEqual(await readNorm(fused), normedSeparate, "the norm, its f16 copy and flags: the separate kernels' bits");
  assert.deepEqual(await gpu.read(h), hSeparate, "h: the reduce's bits");
  // When another dispatch follows the reduce, the norm runs alone.
  const later = reduce();
  const doubled = gpu.add(later, later);
  assert.equal(normOfResidualSum(ctx, later, norm, 1e-5, true), null);
  await gpu.read(doubled);
});
