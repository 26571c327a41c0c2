import test, { after } from "node:test";
import assert from "node:assert/strict";
import type { Activation, ForwardBatch, KvCache, Weight } from "../src/gpu/backend.js";
import * as ops from "../src/gpu/reference/ops.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { BufferUsage, MAP_MODE_READ } from "../src/gpu/webgpu/buffers.js";
import type { GpuKvLayer, KernelContext } from "../src/gpu/webgpu/context.js";
import { attentionSegment, perRowDesign } from "../src/gpu/webgpu/kernels/attention-per-row.js";
import { openTestBackend } from "./support/webgpu.js";
import { assertClose, F16_OPERANDS, F32_MATH, random } from "./support/random-tensors.js";

/**
 * `writeKvAttention` on WebGPU: in steps with one row per sequence the KV write is fused into the per-row
 * attention kernel (kernels/attention-per-row.ts). Checked against the reference (ops.writeKvRows +
 * ops.pagedAttention), and bit for bit against the unfused writeKv + per-row attention: the same output bits and
 * the same cache bytes. Runs on lavapipe in CI; skipped without an adapter unless SWALLOW_REQUIRE_WEBGPU=1.
 */

const { backend: maybeBackend, skip } = await openTestBackend();
const gpu = maybeBackend as WebGpuBackend;
after(() => maybeBackend?.dispose());

const [NUM_HEADS, NUM_KV_HEADS, BLOCK_SIZE, LAYER] = [4, 2, 4, 1];
const FUSED = "attention.per-row+writeKv";
/** The merge of the rows the lanes design split over the sequence (their segments' softmax states). */
const MERGE = "attention.per-row-merge";

/** Pipeline keys of the dispatches recorded since the last read (the recorder's pending step). */
function pendingKernels(): string[] {
  const recorder = (gpu as unknown as { recorder: { dispatches: { pipeline: { key: string } }[] } }).recorder;
  return recorder.dispatches.map((record) => record.pipeline.key);
}

/** The kernels of those dispatches, without their variant (dtype, head size, …). */
const kernelNames = () => pendingKernels().map((key) => key.split("/")[0]);

type Token = { seq: number; position: number };

/**
 * Sequences whose positions 0..history[s]-1 are in the cache, over scrambled blocks with room for two more
 * tokens each. q/k/v of a (sequence, position) are fixed, so every path sees the same inputs.
 */
class Scene {
  readonly kvCols: number;
  readonly qCols: number;
  readonly maxBlocksPerSeq: number;
  readonly numBlocks: number;
  readonly blockTables: Int32Array;
  readonly reference: ops.PagedKv;
  private readonly data: Float32Array[][]; // [q, k, v][seq]: [positions, cols]

  constructor(
    readonly headDim: number,
    readonly history: number[],
    readonly invFreq: Float32Array | null,
    seed: number,
  ) {
    this.kvCols = NUM_KV_HEADS * headDim;
    this.qCols = NUM_HEADS * headDim;
    const capacity = history.map((length) => Math.ceil((length + 2) / BLOCK_SIZE));
    this.maxBlocksPerSeq = Math.max(...capacity);
    this.numBlocks = capacity.reduce((n, blocks) => n + blocks, 0) + 1;
    const rng = random(seed);
    const free = Array.from({ length: this.numBlocks }, (_, i) => i);
    for (let i = free.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [free[i], free[j]] = [free[j], free[i]];
    }
    this.blockTables = new Int32Array(history.length * this.maxBlocksPerSeq).fill(-1);
    capacity.forEach((blocks, s) => {
      for (let b = 0; b < blocks; b++) this.blockTables[s * this.maxBlocksPerSeq + b] = free.pop()!;
    });
    this.data = [this.qCols, this.kvCols, this.kvCols].map((cols) => history.map((length) => rng.values((length + 2) * cols, 2)));
    const slots = this.numBlocks * BLOCK_SIZE * this.kvCols;
    this.reference = { keys: new Float32Array(slots), values: new Float32Array(slots), blockSize: BLOCK_SIZE, kvCols: this.kvCols };
  }

  get layout() {
    return { numLayers: 2, numKvHeads: NUM_KV_HEADS, headDim: this.headDim, numBlocks: this.numBlocks, blockSize: BLOCK_SIZE };
  }

  batch(tokens: Token[], slots?: Int32Array): ForwardBatch {
    const offset = (seq: number) => seq * this.maxBlocksPerSeq;
    return {
      numTokens: tokens.length,
      tokenIds: new Int32Array(tokens.length),
      positions: Int32Array.from(tokens, (token) => token.position),
      seqIndex: Int32Array.from(tokens, (token) => token.seq),
      slots: slots ?? Int32Array.from(tokens, ({ seq, position }) => ops.slotOf(this.blockTables, offset(seq), BLOCK_SIZE, position)),
      blockTables: this.blockTables,
      maxBlocksPerSeq: this.maxBlocksPerSeq,
      logitRows: new Int32Array(0),
    };
  }

  /** Rows `[tokens, cols]` of q (0), k (1) or v (2), as given to the backend (q and k before RoPE). */
  rows(which: 0 | 1 | 2, tokens: Token[]): Float32Array {
    const cols = which === 0 ? this.qCols : this.kvCols;
    const out = new Float32Array(tokens.length * cols);
    tokens.forEach(({ seq, position }, i) => out.set(this.data[which][seq].subarray(position * cols, (position + 1) * cols), i * cols));
    return out;
  }

  upload(which: 0 | 1 | 2, tokens: Token[]): Activation {
    return gpu.uploadActivation(tokens.length, which === 0 ? this.qCols : this.kvCols, this.rows(which, tokens));
  }

  /** The reference's K/V write and attention output for a step (RoPE applied on the host). */
  referenceStep(batch: ForwardBatch, tokens: Token[]): Float32Array {
    const rope = (x: Float32Array, cols: number) =>
      this.invFreq ? ops.ropeRotateHalf(x, cols, batch.positions, this.invFreq, this.headDim) : x;
    ops.writeKvRows(this.reference, rope(this.rows(1, tokens), this.kvCols), this.rows(2, tokens), batch.slots);
    const q = rope(this.rows(0, tokens), this.qCols);
    const { positions, seqIndex, blockTables, maxBlocksPerSeq } = batch;
    return ops.pagedAttention(
      q,
      this.reference,
      positions,
      seqIndex,
      blockTables,
      maxBlocksPerSeq,
      NUM_HEADS,
      this.headDim,
      1 / Math.sqrt(this.headDim),
    );
  }

  historyTokens(): Token[] {
    return this.history.flatMap((length, seq) => Array.from({ length }, (_, position) => ({ seq, position })));
  }

  /** One row per sequence at position history[s] + step, in a shuffled order. */
  decodeTokens(step: number): Token[] {
    const tokens = this.history.map((length, seq) => ({ seq, position: length + step }));
    return [...tokens.slice(1), tokens[0]].reverse();
  }
}

async function uploadInvFreq(headDim: number): Promise<{ host: Float32Array; weight: Weight }> {
  const host = Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** (-(2 * i) / headDim));
  const weight = await gpu.uploadWeight("inv_freq", { dtype: "f32", shape: [headDim / 2], bytes: new Uint8Array(host.buffer) });
  return { host, weight };
}

/** The bytes of a GPU buffer (the KV cache is created with COPY_SRC). */
async function readBuffer(buffer: GPUBuffer): Promise<Uint8Array> {
  const device = gpu.gpu.device;
  const staging = device.createBuffer({ size: buffer.size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(MAP_MODE_READ);
  const bytes = new Uint8Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return bytes;
}

/** Every layer's keys and values bytes, concatenated. */
async function cacheBytes(cache: KvCache): Promise<Uint8Array[]> {
  const layers = (cache as unknown as { layers: GpuKvLayer[] }).layers;
  return Promise.all(layers.flatMap((layer) => [readBuffer(layer.keys), readBuffer(layer.values)]));
}

/** Float32 bits, so that -0/+0 and NaN payloads count. */
const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

/**
 * Fills two caches with the scene's history (writeKv), then runs two decode steps on each: fused writeKvAttention
 * on one, writeKv + per-row attention on the other. Checks the fused output against the reference, the bits of the
 * two outputs and of the two caches against each other, and that the fused step was one dispatch.
 */
async function fusedAgainstUnfused(
  t: { diagnostic(message: string): void },
  kvDtype: "f16" | "f32",
  scene: Scene,
  rope: Weight | undefined,
  /** Query heads per workgroup of the per-row kernel, unfused and fused (1 or the GQA group: the same bits). */
  heads: { unfused: number; fused: number },
) {
  const label = `${kvDtype} headDim ${scene.headDim}${rope ? " RoPE" : ""}, heads per workgroup ${heads.unfused} / ${heads.fused}`;
  const [fusedCache, unfusedCache] = [gpu.createKvCache(scene.layout, kvDtype), gpu.createKvCache(scene.layout, kvDtype)];
  const history = scene.historyTokens();
  const historyBatch = scene.batch(history);
  for (const cache of [fusedCache, unfusedCache])
    gpu.writeKv(cache, LAYER, scene.upload(1, history), scene.upload(2, history), historyBatch, rope);
  scene.referenceStep(historyBatch, history);
  const scale = 1 / Math.sqrt(scene.headDim);
  for (const step of [0, 1]) {
    const tokens = scene.decodeTokens(step);
    const batch = scene.batch(tokens);
    // Unfused first: its read also sends the history writes, so the fused step records only its own dispatch.
    gpu.writeKv(unfusedCache, LAYER, scene.upload(1, tokens), scene.upload(2, tokens), batch, rope);
    gpu.attentionPath = "per-row";
    gpu.perRowHeads = heads.unfused;
    const unfused = await gpu.read(gpu.attention(scene.upload(0, tokens), unfusedCache, LAYER, batch, NUM_HEADS, scale, rope));
    gpu.attentionPath = "auto";
    gpu.perRowHeads = heads.fused;
    const out = gpu.writeKvAttention(
      scene.upload(0, tokens),
      scene.upload(1, tokens),
      scene.upload(2, tokens),
      fusedCache,
      LAYER,
      batch,
      NUM_HEADS,
      scale,
      rope,
    );
    // The segments' merge where the lanes design runs and a row is longer than a segment (the 130-position history at
    // head size 128).
    const pipelines = (gpu as unknown as { ctx: KernelContext }).ctx.pipelines;
    const lanes = perRowDesign(pipelines, scene.headDim) === "lanes";
    const split = lanes && gpu.perRowSegment <= Math.max(...tokens.map((token) => token.position));
    assert.deepEqual(kernelNames(), split ? [FUSED, MERGE] : [FUSED], `${label}, decode step ${step}: one fused dispatch`);
    const fused = await gpu.read(out);
    const expected = scene.referenceStep(batch, tokens);
    assertClose(t, `${label}, decode step ${step}`, fused, expected, kvDtype === "f16" ? F16_OPERANDS : F32_MATH);
    assert.deepEqual(bits(fused), bits(unfused), `${label}, decode step ${step}: fused and unfused outputs differ`);
    const [a, b] = await Promise.all([cacheBytes(fusedCache), cacheBytes(unfusedCache)]);
    a.forEach((bytes, i) =>
      assert.ok(Buffer.from(bytes).equals(Buffer.from(b[i])), `${label}, decode step ${step}: cache buffer ${i} differs`),
    );
  }
}

test(
  "fused writeKvAttention matches the reference, and writeKv + per-row attention bit for bit (output and cache), one query head or the GQA group per workgroup",
  { skip },
  async (t) => {
    const f16 = gpu.gpu.features.shaderF16;
    // Head size 16 in every variant; 128 (Llama's) once, with RoPE, in the f16 cache Llama runs with: lavapipe takes
    // ~10 s to compile each 128-wide per-row pipeline.
    type Config = ["f16" | "f32", number, boolean];
    const dtypes: ("f16" | "f32")[] = f16 ? ["f32", "f16"] : ["f32"];
    const configs = dtypes.flatMap((kvDtype): Config[] => [
      [kvDtype, 16, false],
      [kvDtype, 16, true],
    ]);
    // Head size 6: scalar lanes (no vec4), so no RoPE (see the next test).
    configs.push([f16 ? "f16" : "f32", 128, true], ["f32", 6, false]);
    try {
      for (const [kvDtype, headDim, withRope] of configs) {
        const rope = withRope ? await uploadInvFreq(headDim) : null;
        // Own positions 0 (no history), mid-block, 255 (the last thread of the first key tile: the unrolled V loop's
        // last position for head size 16) and 299 (second tile); fewer for 128, whose unrolled loop covers most, and
        // 130 in segments of 64 (the lanes design's split over the sequence: the own position in the third segment).
        const history = headDim === 128 ? [0, 6, 41, 130] : [0, 6, 255, 298];
        gpu.perRowSegment = headDim === 128 ? 64 : attentionSegment();
        const scene = new Scene(headDim, history, rope?.host ?? null, 4000 + headDim + (rope ? 1 : 0));
        const group = NUM_HEADS / NUM_KV_HEADS;
        await fusedAgainstUnfused(t, kvDtype, scene, rope?.weight, { unfused: 1, fused: group });
        await fusedAgainstUnfused(t, kvDtype, scene, rope?.weight, { unfused: group, fused: 1 });
        if (headDim !== 128) continue;
        // The lanes design's lab forms (branch-free loads read the own slot as it is stored; q in workgroup memory).
        gpu.perRowForms = { branchFreeLoads: true, qInWorkgroup: true };
        await fusedAgainstUnfused(t, kvDtype, scene, rope?.weight, { unfused: 1, fused: group });
        gpu.perRowForms = undefined;
      }
    } finally {
      gpu.attentionPath = "auto";
      gpu.perRowHeads = "auto";
      gpu.perRowSegment = attentionSegment();
      gpu.perRowForms = undefined;
    }
  },
);

test(
  "writeKvAttention keeps writeKv + attention for steps with two rows of a sequence, the tiled kernel or stray slots",
  { skip },
  async (t) => {
    const headDim = 16;
    const scene = new Scene(headDim, [5, 9, 3], null, 4100);
    const cache = gpu.createKvCache(scene.layout, "f32");
    const scale = 1 / Math.sqrt(headDim);
    const history = scene.historyTokens();
    const historyBatch = scene.batch(history);
    gpu.writeKv(cache, LAYER, scene.upload(1, history), scene.upload(2, history), historyBatch);
    scene.referenceStep(historyBatch, history);
    const step = async (tokens: Token[], slots?: Int32Array) => {
      const batch = scene.batch(tokens, slots);
      const before = pendingKernels().length; // the history's writeKv rides along with the first step
      const out = gpu.writeKvAttention(
        scene.upload(0, tokens),
        scene.upload(1, tokens),
        scene.upload(2, tokens),
        cache,
        LAYER,
        batch,
        NUM_HEADS,
        scale,
      );
      const kernels = kernelNames().slice(before);
      return { kernels, out: await gpu.read(out), batch };
    };
    // Sequence 1 takes two rows (a 2-token run): the first's K/V must be in the cache before the second reads it.
    const mixed = [
      { seq: 1, position: 9 },
      { seq: 0, position: 5 },
      { seq: 1, position: 10 },
    ];
    const first = await step(mixed);
    assert.deepEqual(first.kernels, ["writeKv", "attention.per-row"]);
    assertClose(t, "two rows of one sequence", first.out, scene.referenceStep(first.batch, mixed), F32_MATH);
    gpu.attentionPath = "tiled";
    try {
      const decode = [{ seq: 2, position: 3 }];
      const tiled = await step(decode);
      assert.deepEqual(tiled.kernels, ["writeKv", "attention"]);
      assertClose(t, "tiled kernel", tiled.out, scene.referenceStep(tiled.batch, decode), F32_MATH);
    } finally {
      gpu.attentionPath = "auto";
    }
    // A decode-only step is fused.
    const decode = [
      { seq: 0, position: 6 },
      { seq: 2, position: 4 },
    ];
    const fused = await step(decode);
    assert.deepEqual(fused.kernels, [FUSED]);
    assertClose(t, "decode step", fused.out, scene.referenceStep(fused.batch, decode), F32_MATH);
    // A slot other than the block table's for the position (here the spare block's): the fused kernel would store
    // where the unfused one does not read, so the step stays unfused (its output is not checked: the batch is
    // inconsistent).
    const spare = Array.from({ length: scene.numBlocks }, (_, i) => i).find((block) => !scene.blockTables.includes(block))!;
    const stray = await step([{ seq: 0, position: 6 }], Int32Array.of(spare * BLOCK_SIZE));
    assert.deepEqual(stray.kernels, ["writeKv", "attention.per-row"]);
    // RoPE with a head size that is not a multiple of 4: q takes a rope pass of its own, and the step is not fused.
    const frequencies = await uploadInvFreq(6);
    const odd = new Scene(6, [0], frequencies.host, 4200);
    const oddCache = gpu.createKvCache(odd.layout, "f32");
    const tokens = [{ seq: 0, position: 0 }];
    const oddBatch = odd.batch(tokens);
    const [q, k, v] = ([0, 1, 2] as const).map((which) => odd.upload(which, tokens));
    const oddOut = gpu.writeKvAttention(q, k, v, oddCache, LAYER, oddBatch, NUM_HEADS, 1 / Math.sqrt(6), frequencies.weight);
    assert.deepEqual(kernelNames(), ["writeKv", "rope", "attention.per-row"]);
    assertClose(t, "RoPE, head size 6", await gpu.read(oddOut), odd.referenceStep(oddBatch, tokens), F32_MATH);
  },
);
