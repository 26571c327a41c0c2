import test, { after } from "node:test";
import assert from "node:assert/strict";
import type { Activation, ForwardBatch, Weight } from "../src/gpu/backend.js";
import * as ops from "../src/gpu/reference/ops.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import {
  attentionTiles,
  attentionWorkgroupBytes,
  attentionWorkList,
  singleTokenRows,
  SPLIT_BELOW_ITEMS,
} from "../src/gpu/webgpu/kernels/attention.js";
import {
  KEY_BLOCKS,
  TOKEN_TILES,
  tensorAttentionHeads,
  tensorAttentionLayout,
  type TensorAttentionOptions,
} from "../src/gpu/webgpu/kernels/attention-tensor.js";
import { tensorCoreSetup } from "../src/gpu/webgpu/kernels/tensor/setup.js";
import {
  attentionPerRow,
  type PerRowAttentionInputs,
  GROUPED_HEADS_MIN_WORKGROUPS,
  GROUP_LANES,
  lanesAvailable,
  perRowHeads,
  perRowWorkgroupBytes,
} from "../src/gpu/webgpu/kernels/attention-per-row.js";
import type { GpuKvLayer, KernelContext } from "../src/gpu/webgpu/context.js";
import type { GpuActivation } from "../src/gpu/webgpu/recorder.js";
import { probeConsecutiveSubgroups } from "../src/gpu/webgpu/kernels/subgroup-layout-probe.js";
import type { PipelineCache } from "../src/gpu/webgpu/pipelines.js";
import { openTestBackend } from "./support/webgpu.js";
import { assertClose, F16_OPERANDS, F32_MATH, random } from "./support/random-tensors.js";

/**
 * The WebGPU attention kernel (src/gpu/webgpu/kernels/attention.ts) against the reference `pagedAttention`,
 * and its batch invariance: a row's output bits may not depend on what else is in the step or how its
 * prompt was chunked. Runs on lavapipe in CI (robustness on); skipped without an adapter unless
 * SWALLOW_REQUIRE_WEBGPU=1.
 */

const { backend: maybeBackend, skip } = await openTestBackend();
const gpu = maybeBackend as WebGpuBackend;
after(() => maybeBackend?.dispose());

function upload(rows: number, cols: number, data: Float32Array): Activation {
  return gpu.uploadActivation(rows, cols, data);
}

/** Block ids 0..count-1 in a shuffled order (pages of a sequence are scattered over the cache). */
function shuffledBlocks(count: number, rng: ReturnType<typeof random>): number[] {
  const free = Array.from({ length: count }, (_, i) => i);
  for (let i = free.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [free[i], free[j]] = [free[j], free[i]];
  }
  return free;
}

function stepBatch(tokens: { seq: number; position: number }[], blockTables: Int32Array, maxBlocksPerSeq: number, blockSize: number) {
  const numTokens = tokens.length;
  const positions = Int32Array.from(tokens, (token) => token.position);
  const seqIndex = Int32Array.from(tokens, (token) => token.seq);
  const slots = Int32Array.from(tokens, ({ seq, position }) => ops.slotOf(blockTables, seq * maxBlocksPerSeq, blockSize, position));
  const batch: ForwardBatch = {
    numTokens,
    tokenIds: new Int32Array(numTokens),
    positions,
    seqIndex,
    slots,
    blockTables,
    maxBlocksPerSeq,
    logitRows: new Int32Array(0),
  };
  return batch;
}

const run = (seq: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ seq, position: from + i }));

/**
 * Three sequences over a paged cache with scrambled block ids: the first two written and attended in one
 * step, the third split over two steps (its second half attends to K/V written by the first step).
 */
async function checkAttention(
  t: { diagnostic(message: string): void },
  kvDtype: "f16" | "f32",
  headDim: number,
  bound: number,
  lengths = [70, 9, 23],
  heads: { numHeads: number; numKvHeads: number } = { numHeads: 6, numKvHeads: 2 },
  /** Keys scaled by 1 + keyGrowth·position: scores whose maximum keeps growing along the sequence. */
  keyGrowth = 0,
) {
  const rng = random(700 + headDim + (kvDtype === "f16" ? 1 : 0) + heads.numHeads);
  const { numHeads, numKvHeads } = heads;
  const blockSize = 4;
  const maxBlocksPerSeq = Math.ceil(Math.max(...lengths) / blockSize);
  const numBlocks = lengths.reduce((n, length) => n + Math.ceil(length / blockSize), 0) + 3;
  const layout = { numLayers: 2, numKvHeads, headDim, numBlocks, blockSize };
  const cache = gpu.createKvCache(layout, kvDtype);
  const kvCols = numKvHeads * headDim;
  const qCols = numHeads * headDim;
  const reference: ops.PagedKv = {
    keys: new Float32Array(numBlocks * blockSize * kvCols),
    values: new Float32Array(numBlocks * blockSize * kvCols),
    blockSize,
    kvCols,
  };
  const free = shuffledBlocks(numBlocks, rng);
  const blockTables = new Int32Array(lengths.length * maxBlocksPerSeq).fill(-1);
  lengths.forEach((length, s) => {
    for (let b = 0; b < Math.ceil(length / blockSize); b++) blockTables[s * maxBlocksPerSeq + b] = free.pop()!;
  });
  const scale = 1 / Math.sqrt(headDim);
  const layer = 1;

  const runStep = async (tokens: { seq: number; position: number }[]) => {
    const batch = stepBatch(tokens, blockTables, maxBlocksPerSeq, blockSize);
    const { numTokens, positions, seqIndex, slots } = batch;
    const q = rng.values(numTokens * qCols, 2);
    const k = rng.values(numTokens * kvCols, 2);
    if (keyGrowth) k.forEach((value, i) => (k[i] = value * (1 + keyGrowth * positions[Math.floor(i / kvCols)])));
    const v = rng.values(numTokens * kvCols);
    gpu.writeKv(cache, layer, upload(numTokens, kvCols, k), upload(numTokens, kvCols, v), batch);
    const out = await gpu.read(gpu.attention(upload(numTokens, qCols, q), cache, layer, batch, numHeads, scale));
    ops.writeKvRows(reference, k, v, slots);
    const expected = ops.pagedAttention(q, reference, positions, seqIndex, blockTables, maxBlocksPerSeq, numHeads, headDim, scale);
    const label = `attention (${gpu.attentionPath}) KV ${kvDtype} headDim ${headDim}, ${numHeads}/${numKvHeads} heads, ${numTokens} tokens`;
    assertClose(t, label, out, expected, bound);
  };
  const split = 11;
  await runStep([...run(0, 0, lengths[0]), ...run(2, 0, split), ...run(1, 0, lengths[1] - 1)]);
  // A prefill chunk beside a decode token of another sequence (a step the "split" path serves with both kernels).
  await runStep([...run(2, split, lengths[2]), ...run(1, lengths[1] - 1, lengths[1])]);
}

/** Runs `body` once with each attention path forced (the backend picks one per step; all must match the reference). */
async function withEachKernel(body: (kernel: string) => Promise<void>): Promise<void> {
  try {
    for (const kernel of ["tiled", "per-row", "split"] as const) {
      gpu.attentionPath = kernel;
      await body(kernel);
    }
  } finally {
    gpu.attentionPath = "auto";
  }
}

test("writeKv + paged attention (causal GQA, several steps) with an f32 KV cache, both kernels", { skip }, async (t) => {
  await withEachKernel(async () => {
    await checkAttention(t, "f32", 16, F32_MATH);
    await checkAttention(t, "f32", 80, F32_MATH);
    await checkAttention(t, "f32", 6, F32_MATH);
  });
  // Contexts over many key tiles (online-softmax rescaling between tiles), with and without subgroups
  // (the per-row kernel reduces its tile max with subgroupMax when it can; the tiled kernel uses none).
  const pipelines = (gpu as unknown as { pipelines: { useSubgroups: boolean } }).pipelines;
  const subgroups = pipelines.useSubgroups;
  try {
    await withEachKernel(async () => {
      for (const useSubgroups of subgroups ? [true, false] : [false]) {
        pipelines.useSubgroups = useSubgroups;
        await checkAttention(t, "f32", 16, F32_MATH, [600, 9, 23]);
        await checkAttention(t, "f32", 128, F32_MATH, [300, 9, 23]);
      }
    });
  } finally {
    pipelines.useSubgroups = subgroups;
    gpu.attentionPath = "auto";
  }
});

test(
  "writeKv + paged attention with an f16 KV cache, both kernels",
  { skip: skip || (gpu.gpu.features.shaderF16 ? false : "no shader-f16") },
  async (t) => {
    await withEachKernel(async () => {
      await checkAttention(t, "f16", 16, F16_OPERANDS);
      await checkAttention(t, "f16", 80, F16_OPERANDS);
    });
    gpu.attentionPath = "tiled";
    try {
      await checkAttention(t, "f16", 128, F16_OPERANDS, [520, 9, 23]);
    } finally {
      gpu.attentionPath = "auto";
    }
  },
);

const noTensorCores = !gpu || !tensorCoreSetup(gpu.gpu) ? "no subgroup matrices (f16 → f32) on this device" : false;

test(
  "tensor-core attention (prefill runs) matches the reference: GQA groups of 1, 3, 4 and 8, heads of 16 to 128",
  { skip: skip || noTensorCores },
  async (t) => {
    gpu.attentionPath = "tensor";
    const defaults = gpu.tensorAttentionOptions; // clampOffsets follows the device's robustness
    try {
      // Runs shorter than a 16-token item, a chunk after cached positions, a decode row of another sequence
      // (checkAttention's two steps), contexts over many key blocks and ones past a block's end by one key.
      // Every variant the device fits at head size 128 (the largest tested).
      const setup = tensorCoreSetup(gpu.gpu)!;
      const variants: TensorAttentionOptions[] = TOKEN_TILES.flatMap((tokenTiles) =>
        KEY_BLOCKS.flatMap((keyBlock) => [false, true].map((qThroughP) => ({ keyBlock, tokenTiles, qThroughP }))),
      ).filter(
        (options) => typeof tensorAttentionLayout(setup, 128, 4, options.keyBlock, options.tokenTiles, options.qThroughP) !== "string",
      );
      for (const options of variants) {
        gpu.tensorAttentionOptions = { ...defaults, ...options };
        t.diagnostic(`variant ${JSON.stringify(options)}:`);
        for (const heads of [
          { numHeads: 6, numKvHeads: 2 },
          { numHeads: 8, numKvHeads: 2 },
          { numHeads: 16, numKvHeads: 2 },
          { numHeads: 4, numKvHeads: 4 },
        ]) {
          await checkAttention(t, "f16", 16, F16_OPERANDS, [70, 9, 65], heads);
          await checkAttention(t, "f16", 80, F16_OPERANDS, [33, 9, 23], heads);
        }
        await checkAttention(t, "f16", 128, F16_OPERANDS, [520, 9, 23], { numHeads: 8, numKvHeads: 2 });
        // Scores whose maximum grows along the sequence: the kernel moves rows' references and rescales O.
        await checkAttention(t, "f16", 64, F16_OPERANDS, [300, 9, 140], { numHeads: 8, numKvHeads: 2 }, 0.01);
      }
      await assert.rejects(checkAttention(t, "f32", 16, F16_OPERANDS), /needs an f16 KV cache/);
    } finally {
      gpu.tensorAttentionOptions = defaults;
      gpu.attentionPath = "auto";
    }
  },
);

test(
  "tensor-core attention with RoPE fused into its q load gives the tiled kernel's rows (f16 operands apart)",
  { skip: skip || noTensorCores },
  async (t) => {
    const headDim = 64;
    const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** (-(2 * i) / headDim));
    const frequencies = await gpu.uploadWeight("inv_freq", { dtype: "f32", shape: [headDim / 2], bytes: new Uint8Array(invFreq.buffer) });
    const rows = new Map<string, Float32Array>();
    try {
      for (const kernel of ["tiled", "tensor"] as const) {
        gpu.attentionPath = kernel;
        rows.set(kernel, await attendSequence(t, "f16", headDim, frequencies, [run(0, 0, 23), run(0, 23, 70)]));
      }
    } finally {
      gpu.attentionPath = "auto";
    }
    assertClose(t, "tensor vs tiled, fused RoPE", rows.get("tensor")!, rows.get("tiled")!, F16_OPERANDS);
  },
);

test("forcing the tensor-core attention where it cannot run is a one-line error that says why", { skip }, async (t) => {
  gpu.attentionPath = "tensor";
  try {
    // An f32 cache never takes it; a device without subgroup matrices (lavapipe) says so first.
    const why = noTensorCores ? /cannot run on .*: no subgroup matrices/ : /cannot run on .*: it needs an f16 KV cache/;
    await assert.rejects(checkAttention(t, "f32", 16, F32_MATH), why);
  } finally {
    gpu.attentionPath = "auto";
  }
});

test("the tensor-core attention's shape rules: heads per item divide the GQA group, memory within the limit", () => {
  assert.deepEqual([1, 2, 3, 4, 6, 8, 5].map(tensorAttentionHeads), [1, 2, 3, 4, 3, 4, 1]);
  const h100 = {
    config: { componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 },
    majorness: "argument" as const,
    subgroupSize: 32,
    maxWorkgroupBytes: 48 * 1024,
    maxInvocations: 1024,
  };
  // Default: two 16-token tiles per item (8 subgroups, 128 rows), 32 keys per block, Q staged through sP.
  const layout = tensorAttentionLayout(h100, 128, 4);
  assert.ok(
    typeof layout !== "string" && layout.keyBlock === 32 && layout.tokenTiles === 2 && layout.qThroughP,
    `default: ${JSON.stringify(layout)}`,
  );
  assert.ok(layout.bytes <= 48 * 1024 && layout.threads === 256 && layout.rows === 128 && layout.perRow === 2, JSON.stringify(layout));
  const oneTile = tensorAttentionLayout(h100, 128, 4, undefined, 1, false);
  assert.ok(typeof oneTile !== "string" && oneTile.threads === 128 && oneTile.keyBlock === 32, JSON.stringify(oneTile));
  // 64-key blocks do not fit two tiles: one tile, more memory than one tile of 32 keys.
  const wide = tensorAttentionLayout(h100, 128, 4, 64, undefined, false);
  assert.ok(
    typeof wide !== "string" && wide.tokenTiles === 1 && wide.bytes <= 48 * 1024 && wide.bytes > oneTile.bytes,
    JSON.stringify(wide),
  );
  // Q staged through sP: kvs holds one 32-key block, so one tile fits two workgroups into ~48 KB per SM.
  const oneTileQp = tensorAttentionLayout(h100, 128, 4, 32, 1, true);
  assert.ok(typeof oneTileQp !== "string" && oneTileQp.qThroughP && oneTileQp.bytes < 24 * 1024, JSON.stringify(oneTileQp));
  assert.equal(oneTile.bytes - oneTileQp.bytes, 2 * (64 - 32) * (128 + 8), "kvs: 32 rows of 136 halves fewer");
  assert.match(String(tensorAttentionLayout(h100, 128, 4, 64, 2)), /exceed/);
  assert.match(String(tensorAttentionLayout({ ...h100, maxWorkgroupBytes: 40 * 1024 }, 128, 4, 64)), /exceed/);
  assert.match(String(tensorAttentionLayout(h100, 6, 1)), /not a multiple/);
  assert.match(String(tensorAttentionLayout({ ...h100, maxWorkgroupBytes: 16 * 1024 }, 128, 4)), /exceed/);
  // Where two tiles exceed the memory (head size 256 with Q staged through kvs), one is taken; through sP two fit.
  const big = tensorAttentionLayout(h100, 256, 4, undefined, undefined, false);
  assert.ok(typeof big !== "string" && big.tokenTiles === 1, JSON.stringify(big));
  const bigQp = tensorAttentionLayout(h100, 256, 4);
  assert.ok(typeof bigQp !== "string" && bigQp.tokenTiles === 2 && bigQp.bytes <= 48 * 1024, JSON.stringify(bigQp));
  assert.match(String(tensorAttentionLayout(h100, 128, 4, 32, 3)), /token tiles/);
  // Items of the tensor kernel: 16 tokens × at most 4 heads, also when the group has 8.
  const positions = Int32Array.from({ length: 40 }, (_, i) => i);
  const list = attentionWorkList(positions, new Int32Array(40), 40, 16, 8, 64, false, false, 4);
  for (let i = 0; i < list.length; i += 4) assert.ok((list[i + 1] & 0xffff) <= 16 && list[i + 1] >>> 16 === 4);
  assert.equal(list.length / 4, 3 * 2 * 2, "3 runs × 2 KV heads × 2 items of 4 heads");
});

/**
 * Sequence 0 (70 tokens) attended in different batchings; sequences 1 and 2 are the other traffic. Returns
 * sequence 0's output rows in position order, and checks the one-step run against the reference.
 */
async function attendSequence(
  t: { diagnostic(message: string): void },
  kvDtype: "f16" | "f32",
  headDim: number,
  fusedRope: Weight | null,
  steps: { seq: number; position: number }[][],
): Promise<Float32Array> {
  const [numHeads, numKvHeads, blockSize] = [8, 2, 16];
  const lengths = [70, 40, 5];
  const kvCols = numKvHeads * headDim;
  const qCols = numHeads * headDim;
  const maxBlocksPerSeq = Math.ceil(Math.max(...lengths) / blockSize);
  const numBlocks = lengths.reduce((n, length) => n + Math.ceil(length / blockSize), 0) + 2;
  const rng = random(1200 + headDim);
  const free = shuffledBlocks(numBlocks, rng);
  const blockTables = new Int32Array(lengths.length * maxBlocksPerSeq).fill(-1);
  lengths.forEach((length, s) => {
    for (let b = 0; b < Math.ceil(length / blockSize); b++) blockTables[s * maxBlocksPerSeq + b] = free.pop()!;
  });
  // The same q/k/v for a (sequence, position) in every batching.
  const [q, k, v] = [qCols, kvCols, kvCols].map((cols, i) =>
    lengths.map((length, s) => random(1300 + 10 * s + i).values(length * cols, 2)),
  );
  const cache = gpu.createKvCache({ numLayers: 1, numKvHeads, headDim, numBlocks, blockSize }, kvDtype);
  const scale = 1 / Math.sqrt(headDim);
  const rows = new Float32Array(lengths[0] * qCols);
  for (const tokens of steps) {
    const batch = stepBatch(tokens, blockTables, maxBlocksPerSeq, blockSize);
    const gather = (all: Float32Array[], cols: number) => {
      const out = new Float32Array(tokens.length * cols);
      tokens.forEach(({ seq, position }, i) => out.set(all[seq].subarray(position * cols, (position + 1) * cols), i * cols));
      return upload(tokens.length, cols, out);
    };
    gpu.writeKv(cache, 0, gather(k, kvCols), gather(v, kvCols), batch, fusedRope ?? undefined);
    const out = await gpu.read(gpu.attention(gather(q, qCols), cache, 0, batch, numHeads, scale, fusedRope ?? undefined));
    tokens.forEach(({ seq, position }, i) => {
      if (seq === 0) rows.set(out.subarray(i * qCols, (i + 1) * qCols), position * qCols);
    });
  }
  if (steps.length === 1 && !fusedRope) {
    // Sanity: the bits compared below are right, not merely equal.
    const positions = Int32Array.from({ length: lengths[0] }, (_, i) => i);
    const reference: ops.PagedKv = {
      keys: new Float32Array(numBlocks * blockSize * kvCols),
      values: new Float32Array(numBlocks * blockSize * kvCols),
      blockSize,
      kvCols,
    };
    const slots = Int32Array.from(positions, (p) => ops.slotOf(blockTables, 0, blockSize, p));
    ops.writeKvRows(reference, k[0], v[0], slots);
    const expected = ops.pagedAttention(
      q[0],
      reference,
      positions,
      new Int32Array(lengths[0]),
      blockTables,
      maxBlocksPerSeq,
      numHeads,
      headDim,
      scale,
    );
    assertClose(t, `invariance run ${kvDtype} headDim ${headDim}`, rows, expected, kvDtype === "f16" ? F16_OPERANDS : F32_MATH);
  }
  return rows;
}

const BATCHINGS: [string, { seq: number; position: number }[][]][] = [
  ["one prefill step", [run(0, 0, 70)]],
  ["3 uneven chunks", [run(0, 0, 23), run(0, 23, 41), run(0, 41, 70)]],
  ["token by token", Array.from({ length: 70 }, (_, p) => run(0, p, p + 1))],
  // No two neighbours consecutive: 70 single-token runs × 2 KV heads ≥ SPLIT_BELOW_ITEMS, so each item holds
  // one token with all 4 heads of its KV head (token by token above splits them: one row per workgroup).
  ["one step, positions in reverse order", [run(0, 0, 70).reverse()]],
  [
    "one step mixed with other sequences",
    [[...run(1, 0, 9), ...run(0, 0, 30), ...run(2, 0, 1), ...run(0, 30, 70), ...run(1, 9, 40), ...run(2, 1, 5)]],
  ],
];

/** Float32 bits of a row, so that -0/+0 and NaN payloads count. */
const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

test("attention is batch-invariant: a row's bits do not depend on chunking or on the rest of the batch", { skip }, async (t) => {
  assert.ok(70 * 2 >= SPLIT_BELOW_ITEMS, "the reverse-order batching must keep decode items whole");
  const headDim = 16; // the pipelines of the checks above (lavapipe compiles each kernel variant for seconds)
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** (-(2 * i) / headDim));
  const frequencies = await gpu.uploadWeight("inv_freq", { dtype: "f32", shape: [headDim / 2], bytes: new Uint8Array(invFreq.buffer) });
  const dtypes: ("f16" | "f32")[] = gpu.gpu.features.shaderF16 ? ["f32", "f16"] : ["f32"];
  gpu.attentionPath = "tiled"; // the per-row kernel's rows share nothing: invariant by construction
  t.after(() => {
    gpu.attentionPath = "auto";
  });
  for (const kvDtype of dtypes) {
    for (const rope of [null, frequencies]) {
      let first: Float32Array | null = null;
      for (const [label, steps] of BATCHINGS) {
        const rows = await attendSequence(t, kvDtype, headDim, rope, steps);
        if (!first) first = rows;
        else assert.deepEqual(bits(rows), bits(first), `${kvDtype}${rope ? " fused RoPE" : ""}: ${label} differs from one prefill step`);
      }
    }
  }
});

test("the split path: a step's single-token rows get the per-row kernel's bits, its runs the tiled kernel's", { skip }, async () => {
  const [numHeads, numKvHeads, headDim, blockSize] = [8, 2, 16, 4];
  const lengths = [120, 90, 7, 70]; // contexts over several key tiles: the kernels' online softmaxes then round differently
  const rng = random(1900);
  const maxBlocksPerSeq = Math.ceil(Math.max(...lengths) / blockSize);
  const numBlocks = lengths.reduce((n, length) => n + Math.ceil(length / blockSize), 0);
  const free = shuffledBlocks(numBlocks, rng);
  const blockTables = new Int32Array(lengths.length * maxBlocksPerSeq).fill(-1);
  lengths.forEach((length, s) => {
    for (let b = 0; b < Math.ceil(length / blockSize); b++) blockTables[s * maxBlocksPerSeq + b] = free.pop()!;
  });
  const cache = gpu.createKvCache({ numLayers: 1, numKvHeads, headDim, numBlocks, blockSize }, "f32");
  const [kvCols, qCols] = [numKvHeads * headDim, numHeads * headDim];
  // Earlier positions already cached, then one step: a prefill chunk of sequence 0, decode tokens of 1 and 3
  // around it, and sequence 2's last two positions as a run of two (not single rows).
  const cached = [...run(0, 0, 100), ...run(1, 0, 89), ...run(2, 0, 5), ...run(3, 0, 69)];
  const step = [{ seq: 1, position: 89 }, ...run(0, 100, 120), { seq: 3, position: 69 }, ...run(2, 5, 7)];
  for (const tokens of [cached, step]) {
    const batch = stepBatch(tokens, blockTables, maxBlocksPerSeq, blockSize);
    const k = upload(tokens.length, kvCols, rng.values(tokens.length * kvCols, 2));
    gpu.writeKv(cache, 0, k, upload(tokens.length, kvCols, rng.values(tokens.length * kvCols)), batch);
  }
  const batch = stepBatch(step, blockTables, maxBlocksPerSeq, blockSize);
  const singles = singleTokenRows(batch.positions, batch.seqIndex, batch.numTokens);
  assert.deepEqual([...singles], [0, 21]);
  const q = rng.values(step.length * qCols, 2);
  const outputs = new Map<string, Uint32Array>();
  try {
    for (const kernel of ["tiled", "per-row", "split"] as const) {
      gpu.attentionPath = kernel;
      const out = await gpu.read(gpu.attention(upload(step.length, qCols, q), cache, 0, batch, numHeads, 1 / Math.sqrt(headDim)));
      outputs.set(kernel, bits(out));
    }
  } finally {
    gpu.attentionPath = "auto";
  }
  const row = (kernel: string, t: number) => outputs.get(kernel)!.subarray(t * qCols, (t + 1) * qCols);
  assert.notDeepEqual(outputs.get("tiled"), outputs.get("per-row"), "the two kernels round differently (else this test shows nothing)");
  for (let t = 0; t < step.length; t++) {
    const expected = singles.includes(t) ? "per-row" : "tiled";
    assert.deepEqual(row("split", t), row(expected, t), `row ${t} (${step[t].seq}:${step[t].position}) should have the ${expected} bits`);
  }
});

test("attention's work list covers every (token, head) once, in runs of one sequence's consecutive positions", () => {
  const positions = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 9, 10, 7, 0, 3, 4]);
  const seqIndex = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 2, 0, 0]);
  for (const [numHeads, groupSize, rows, split] of [
    [8, 4, 32, false],
    [8, 4, 32, true],
    [6, 3, 16, undefined],
    [8, 8, 4, false], // more heads per KV head than rows: heads split over items
    [4, 1, 8, true],
  ] as const) {
    const list = attentionWorkList(positions, seqIndex, positions.length, numHeads, groupSize, rows, split);
    const seen = new Int32Array(positions.length * numHeads);
    let previousLength = Infinity;
    for (let i = 0; i < list.length; i += 4) {
      const [t0, packed, h0, seq] = list.subarray(i, i + 4);
      const [nTokens, nHeads] = [packed & 0xffff, packed >>> 16];
      assert.ok(nTokens * nHeads <= rows && nTokens >= 1 && nHeads >= 1, `item ${i / 4}: ${nTokens} tokens × ${nHeads} heads`);
      assert.equal(Math.floor(h0 / groupSize), Math.floor((h0 + nHeads - 1) / groupSize), "one KV head per item");
      if (split && nTokens === 1) assert.equal(nHeads, 1, "decode items split per head");
      const length = positions[t0 + nTokens - 1];
      assert.ok(length <= previousLength, "longest context first");
      previousLength = length;
      for (let n = 0; n < nTokens; n++) {
        assert.equal(seqIndex[t0 + n], seq);
        assert.equal(positions[t0 + n], positions[t0] + n, "consecutive positions");
        for (let h = h0; h < h0 + nHeads; h++) seen[(t0 + n) * numHeads + h]++;
      }
    }
    assert.deepEqual([...new Set(seen)], [1], `heads ${numHeads}, group ${groupSize}, rows ${rows}`);
    // Without the single-token rows: every other row once, those never.
    const singles = new Set(singleTokenRows(positions, seqIndex, positions.length));
    const kept = attentionWorkList(positions, seqIndex, positions.length, numHeads, groupSize, rows, split, true);
    const covered = new Int32Array(positions.length * numHeads);
    for (let i = 0; i < kept.length; i += 4) {
      const [t0, packed, h0] = kept.subarray(i, i + 4);
      for (let n = 0; n < (packed & 0xffff); n++) for (let h = h0; h < h0 + (packed >>> 16); h++) covered[(t0 + n) * numHeads + h]++;
    }
    for (let t = 0; t < positions.length; t++) {
      const counts = new Set(covered.subarray(t * numHeads, (t + 1) * numHeads));
      assert.deepEqual([...counts], [singles.has(t) ? 0 : 1], `row ${t} with single rows skipped (rows ${rows})`);
    }
  }
  // Rows 7, 8 (sequence 1 at 9, 10) and 11, 12 (sequence 0 at 3, 4) are runs of two; row 9 (sequence 0 at 7) is alone
  // although sequence 0's position 6 is in the batch: only neighbouring rows make a run. Row 10 is alone too.
  assert.deepEqual([...singleTokenRows(positions, seqIndex, positions.length)], [9, 10]);
  assert.deepEqual([...singleTokenRows(Int32Array.from([5, 9, 6]), Int32Array.from([0, 0, 0]), 3)], [0, 1, 2]);
});

test("attention tiles fit the workgroup-memory limit: 32 rows × 32 keys on an H100, smaller on lavapipe", () => {
  assert.deepEqual(attentionTiles(128, 48 * 1024), { rows: 32, keys: 32 });
  assert.deepEqual(attentionTiles(128, 32 * 1024), { rows: 16, keys: 32 });
  assert.deepEqual(attentionTiles(128, 16 * 1024), { rows: 8, keys: 16 });
  for (const headDim of [6, 16, 80, 128, 256]) {
    for (const limit of [16 * 1024, 32 * 1024, 48 * 1024])
      assert.ok(attentionWorkgroupBytes(headDim, attentionTiles(headDim, limit)) <= limit);
  }
  assert.throws(() => attentionTiles(4096, 16 * 1024), /does not fit/);
});

test("the per-row kernel takes the GQA group per workgroup from GROUPED_HEADS_MIN_WORKGROUPS on, where its memory fits", () => {
  const rowsAtThreshold = GROUPED_HEADS_MIN_WORKGROUPS / 8; // Llama-3.1-8B: 8 KV heads of 4 query heads
  assert.equal(perRowHeads(1, 8, 4, 128, 48 * 1024), 1);
  assert.equal(perRowHeads(rowsAtThreshold - 1, 8, 4, 128, 48 * 1024), 1);
  assert.equal(perRowHeads(rowsAtThreshold, 8, 4, 128, 48 * 1024), 4);
  assert.equal(perRowHeads(4096, 8, 1, 128, 48 * 1024), 1, "no GQA: one head per KV head already");
  const grouped = perRowWorkgroupBytes(128, 4);
  assert.ok(grouped > perRowWorkgroupBytes(128, 1));
  assert.equal(perRowHeads(4096, 8, 4, 128, grouped - 1), 1, "a device whose workgroup memory is too small keeps one head");
  assert.equal(perRowHeads(4096, 8, 4, 128, grouped), 4);
});

/**
 * Sequences of `lengths` positions over a paged cache with shuffled block ids, every position's K/V written to
 * `backend`'s cache and to the reference's: exact in f16 (multiples of 2^-9 below 2 in magnitude) for an f16 cache,
 * so both sides see the same values.
 */
function filledPagedCache(
  backend: WebGpuBackend,
  rng: ReturnType<typeof random>,
  shape: { lengths: number[]; numKvHeads: number; headDim: number; blockSize: number; kvDtype: "f16" | "f32" },
) {
  const { lengths, numKvHeads, headDim, blockSize, kvDtype } = shape;
  const kvCols = numKvHeads * headDim;
  const maxBlocksPerSeq = Math.ceil(Math.max(...lengths) / blockSize);
  const numBlocks = lengths.reduce((n, length) => n + Math.ceil(length / blockSize), 0) + 2;
  const free = shuffledBlocks(numBlocks, rng);
  const blockTables = new Int32Array(lengths.length * maxBlocksPerSeq).fill(-1);
  lengths.forEach((length, s) => {
    for (let b = 0; b < Math.ceil(length / blockSize); b++) blockTables[s * maxBlocksPerSeq + b] = free.pop()!;
  });
  const kvValues = (count: number) =>
    kvDtype === "f32" ? rng.values(count) : Float32Array.from({ length: count }, () => ((rng.int(2) ? 1 : -1) * (1 + rng.int(1023))) / 512);
  const history = lengths.flatMap((length, seq) => run(seq, 0, length));
  const historyBatch = stepBatch(history, blockTables, maxBlocksPerSeq, blockSize);
  const [k, v] = [kvValues(history.length * kvCols), kvValues(history.length * kvCols)];
  const cache = backend.createKvCache({ numLayers: 1, numKvHeads, headDim, numBlocks, blockSize }, kvDtype);
  const activation = (data: Float32Array) => backend.uploadActivation(history.length, kvCols, data);
  backend.writeKv(cache, 0, activation(k), activation(v), historyBatch);
  const reference: ops.PagedKv = {
    keys: new Float32Array(numBlocks * blockSize * kvCols),
    values: new Float32Array(numBlocks * blockSize * kvCols),
    blockSize,
    kvCols,
  };
  ops.writeKvRows(reference, k, v, historyBatch.slots);
  /** The reference attention of q [T, numHeads·headDim] at `batch`'s positions over these sequences. */
  const expected = (q: Float32Array, batch: ForwardBatch, numHeads: number, scale: number) =>
    ops.pagedAttention(q, reference, batch.positions, batch.seqIndex, blockTables, maxBlocksPerSeq, numHeads, headDim, scale);
  return { cache, blockTables, maxBlocksPerSeq, expected };
}

test("the per-row kernel's designs match the reference, each with the same bits for 1, 2 or 4 (the GQA group) query heads per workgroup", async (t) => {
  const ctx = (gpu as unknown as { ctx?: KernelContext }).ctx;
  if (skip || !ctx) return t.skip(skip || "no backend");
  if (!lanesAvailable(ctx.pipelines, 64)) return t.skip("the lanes design needs subgroups of at least 8");
  const [numHeads, numKvHeads, blockSize] = [8, 2, 16];
  const group = numHeads / numKvHeads;
  const lengths = [1, 7, 64, 65, 300]; // one chunk of 64 positions and its neighbours, several chunks
  const dtypes: ("f16" | "f32")[] = gpu.gpu.features.shaderF16 ? ["f32", "f16"] : ["f32"];
  for (const headDim of [64, 128]) {
    for (const kvDtype of dtypes) {
      const rng = random(2300 + headDim + (kvDtype === "f16" ? 1 : 0));
      const qCols = numHeads * headDim;
      const {
        cache,
        blockTables,
        maxBlocksPerSeq,
        expected: attendReference,
      } = filledPagedCache(gpu, rng, {
        lengths,
        numKvHeads,
        headDim,
        blockSize,
        kvDtype,
      });
      // One decode row per sequence at its last cached position, in a shuffled order.
      const tokens = lengths.map((length, seq) => ({ seq, position: length - 1 })).reverse();
      const batch = stepBatch(tokens, blockTables, maxBlocksPerSeq, blockSize);
      const q = rng.values(tokens.length * qCols, 2);
      const scale = 1 / Math.sqrt(headDim);
      const expected = attendReference(q, batch, numHeads, scale);
      // Step inputs live for one step (StepRecorder.input): built again for each.
      const stepInputs = (owner = {}): PerRowAttentionInputs => ({
        positions: ctx.recorder.input(owner, "positions", () => batch.positions),
        seqIndex: ctx.recorder.input(owner, "seqIndex", () => batch.seqIndex),
        blockTables: ctx.recorder.input(owner, "blockTables", () => blockTables),
        maxBlocksPerSeq,
        hostPositions: batch.positions,
        owner,
      });
      const layer = (cache as unknown as { layers: GpuKvLayer[] }).layers[0];
      const layout = { numKvHeads, headDim, blockSize };
      const run = async (options: Partial<PerRowAttentionInputs>): Promise<Float32Array> => {
        const qIn = upload(tokens.length, qCols, q) as GpuActivation;
        return gpu.read(attentionPerRow(ctx, qIn, layer, kvDtype, layout, { ...stepInputs(), ...options }, numHeads, scale));
      };
      // The lanes design also in segments of 64 and 128 positions: the 300-position row in 5 / 3 workgroups merged by
      // a second dispatch, the 65-position one in 2 / 1.
      // The lanes design also in segments of 128 positions (the 300-position row in 3 workgroups merged by a second
      // dispatch) and in its lab forms, at head size 64 only: lavapipe compiles each pipeline for seconds, the 128-wide
      // ones for tens.
      const extras = headDim === 64;
      for (const [design, segment, lanesForms] of [
        ["threads", undefined, undefined],
        ["lanes", undefined, undefined],
        ...(extras
          ? ([
              ["lanes", 128, undefined],
              ["lanes", undefined, { branchFreeLoads: true, qInWorkgroup: true }],
            ] as const)
          : []),
      ] as const) {
        // The default form at 1, 2 and 4 query heads per workgroup; the others at the GQA group only.
        const headCounts = segment || lanesForms ? [group] : [1, group / 2, group];
        const outputs: Float32Array[] = [];
        for (const headsPerWorkgroup of headCounts) outputs.push(await run({ design, headsPerWorkgroup, segment, lanesForms }));
        const form = segment ? ` in segments of ${segment}` : lanesForms ? " (lab forms)" : "";
        const label = `${design} design${form}, ${kvDtype} cache, head size ${headDim}`;
        assertClose(t, label, outputs[0], expected, F32_MATH);
        headCounts.forEach((heads, i) =>
          assert.deepEqual(bits(outputs[i]), bits(outputs[0]), `${label}: ${heads} heads per workgroup differ from ${headCounts[0]}`),
        );
        if (design === "threads") continue;
        // Same pipeline from here on: softmax states for at most 3 work items per dispatch, the rows in several
        // dispatches (and merges), the same bits.
        const same = { design, segment, lanesForms, headsPerWorkgroup: headCounts[0] };
        const inPieces = await run({ ...same, partialBytesCap: 3 * numHeads * (headDim + 4) * 4 });
        assert.deepEqual(bits(inPieces), bits(outputs[0]), `${label}: rows in several dispatches`);
        // A subset of the rows (the split kernel's decode rows) into an output whose other rows another kernel wrote:
        // the same bits for those rows, the others untouched.
        const picked = Int32Array.from([0, 2, 4]);
        const into = upload(tokens.length, qCols, new Float32Array(tokens.length * qCols).fill(7)) as GpuActivation;
        const qIn = upload(tokens.length, qCols, q) as GpuActivation;
        const subset = { rows: picked, into };
        attentionPerRow(ctx, qIn, layer, kvDtype, layout, { ...stepInputs(), ...same, subset }, numHeads, scale);
        const partial = await gpu.read(into);
        for (let row = 0; row < tokens.length; row++) {
          const got = partial.subarray(row * qCols, (row + 1) * qCols);
          const want = picked.includes(row) ? outputs[0].subarray(row * qCols, (row + 1) * qCols) : new Float32Array(qCols).fill(7);
          assert.deepEqual(bits(got), bits(want), `${label}: row ${row} of a subset run`);
        }
      }
    }
  }
});

test("the subgroup layout probe: consecutive subgroups of 8 or more here, and no subgroup of 1,024 lanes; the lanes design only where it said yes", async (t) => {
  if (skip) return t.skip(skip);
  const { device } = gpu.gpu;
  if (!device.features.has("subgroups")) return t.skip("no subgroups");
  // lavapipe (subgroups of 8) and the H100 (32) number their subgroups consecutively: the lanes design's tests above
  // must not skip there for want of a probe.
  assert.equal(await probeConsecutiveSubgroups(device, GROUP_LANES), true);
  assert.equal(await probeConsecutiveSubgroups(device, 1024), false, "the probe must be able to say no");
  const ctx = (gpu as unknown as { ctx: KernelContext }).ctx;
  assert.equal(ctx.pipelines.consecutiveSubgroups, true, "the backend probed at creation");
  const probed = (consecutiveSubgroups: boolean, maxStorageBuffers = 16) =>
    ({ useSubgroups: true, subgroupMinSize: 8, consecutiveSubgroups, maxWorkgroupBytes: 32 * 1024, maxStorageBuffers }) as PipelineCache;
  assert.equal(lanesAvailable(probed(true), 128), true);
  assert.equal(lanesAvailable(probed(false), 128), false);
  // Its unfused kernel with RoPE binds 10 storage buffers (WebGPU's default limit is 8).
  assert.equal(lanesAvailable(probed(true, 10), 128), true);
  assert.equal(lanesAvailable(probed(true, 9), 128), false);
});
