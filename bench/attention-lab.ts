/**
 * Kernel lab for paged attention (src/gpu/webgpu/kernels/attention.ts) on Llama-3.1-8B shapes: 32 query
 * heads, 8 KV heads, head size 128, f16 KV cache in blocks of 16 tokens with scrambled block ids.
 *
 *   node dist/bench/attention-lab.js [--no-robustness] [--quick] [--reps N] [--tiles ROWSxKEYS] [--only TEXT]
 *                                    [--tensor-variants V1,V2,…] [--contiguous] [--lanes-forms base,loads,q,loads+q]
 *                                    [--repeat N] [--chain] [--warm-seconds 5]
 *
 * First checks the kernel against the reference `pagedAttention` (src/gpu/reference/ops.ts) on a small case
 * (a prefill chunk beside decode tokens, several key tiles) and exits 1 on a mismatch, so a wrong kernel
 * prints an error, not a number. Then times each case with R dispatches in one compute pass between two
 * timestamp queries (Dawn quantizes timestamps to 65.5 µs: R spreads that), and prints ms per call and
 * effective TFLOP/s counting 4·headDim flops per (query head, key) pair the causal mask keeps. Decode cases
 * also run with the per-head split of single-token items forced on and off (SPLIT_BELOW_ITEMS tuning). The
 * per-row decode cases run in each design of the per-row kernel (threads; lanes where the device has subgroups
 * of at least 8), each checked against the reference first; SWALLOW_ATTENTION_PER_ROW sets the others' design.
 * --quick: contexts divided by 8 (to try the script on lavapipe). --tiles: other tile sizes than the device's
 * default (attentionTiles), e.g. 16x64 (fewer key tiles for decode, less K/V reuse for prefill); they must fit
 * the workgroup-memory limit. --only: the cases whose name contains TEXT. --tensor-variants: each tensor-core case
 * again per variant, a `+`-joined set of k64 (64-key blocks), t1 / t2 (16-token tiles per item)
 * and the timing ablations no-mma, no-stage (wrong results: not checked); each other variant
 * is checked against the reference first. --contiguous: timed caches with their blocks in order (as one prompt's
 * prefill leaves them) instead of shuffled. --lanes-forms: each `long:` case once per lab form of the lanes design
 * (same bits as the default). --repeat N: the case list N times over (interleaved, in one process: the spread
 * between forms without the ±15–25% between processes). --chain: each per-row call of a timed pass takes the previous
 * call's output as q, so the calls run one after another as in a model's step (without it they are independent and
 * may overlap). --warm-seconds S (default 5): the first timed case runs that long before anything is timed (the card
 * speeds up over seconds of work; without it a process's first cases read up to 2.4× slow). One JSON line per case,
 * then a table.
 */
import { openWebGpu, type WebGpuDevice } from "../src/gpu/webgpu/device.js";
import { BufferPool, BufferUsage, storageBytes } from "../src/gpu/webgpu/buffers.js";
import type { GpuKvLayer, KernelContext } from "../src/gpu/webgpu/context.js";
import {
  attention,
  attentionTiles,
  attentionWorkgroupBytes,
  singleTokenRows,
  type AttentionTiles,
} from "../src/gpu/webgpu/kernels/attention.js";
import {
  attentionPerRow,
  GROUP_LANES,
  lanesAvailable,
  lanesForms,
  type LanesForms,
  type PerRowDesign,
} from "../src/gpu/webgpu/kernels/attention-per-row.js";
import { probeConsecutiveSubgroups } from "../src/gpu/webgpu/kernels/subgroup-layout-probe.js";
import { attentionTensor, type TensorAttentionOptions } from "../src/gpu/webgpu/kernels/attention-tensor.js";
import type { TensorCoreSetup } from "../src/gpu/webgpu/kernels/tensor/plan.js";
import { tensorCoreSetup } from "../src/gpu/webgpu/kernels/tensor/setup.js";
import { probeMajornessSyntax } from "../src/gpu/webgpu/kernels/tensor/majorness-probe.js";
import { PipelineCache } from "../src/gpu/webgpu/pipelines.js";
import { StepRecorder, type GpuActivation } from "../src/gpu/webgpu/recorder.js";
import * as ops from "../src/gpu/reference/ops.js";
import { xorshift } from "./xorshift.js";
import { afterWarmup, warmProcessOnce } from "./warm.js";

const SHAPE = { numHeads: 32, numKvHeads: 8, headDim: 128, blockSize: 16 };

function parseArgs(argv: string[]) {
  const opts = {
    noRobustness: false,
    quick: false,
    reps: 0,
    tiles: null as AttentionTiles | null,
    only: "",
    tensorVariants: [] as string[],
    contiguous: false,
    lanesForms: [] as string[],
    repeat: 1,
    chain: false,
    warmSeconds: 5,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-robustness") opts.noRobustness = true;
    else if (a === "--quick") opts.quick = true;
    else if (a === "--contiguous") opts.contiguous = true;
    else if (a === "--reps") opts.reps = Number(argv[++i]);
    else if (a === "--only") opts.only = argv[++i] ?? "";
    else if (a === "--tensor-variants") opts.tensorVariants = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (a === "--lanes-forms") opts.lanesForms = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (a === "--repeat") opts.repeat = Number(argv[++i]);
    else if (a === "--chain") opts.chain = true;
    else if (a === "--warm-seconds") opts.warmSeconds = Number(argv[++i]);
    else if (a === "--tiles") {
      const [rows, keys] = (argv[++i] ?? "").split("x").map(Number);
      opts.tiles = { rows, keys };
    } else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

/** f16 bits of v (|v| < 2, round to nearest; exact enough for random test data) and back. */
function f16Bits(v: number): number {
  const sign = v < 0 ? 0x8000 : 0;
  const m = Math.abs(v);
  if (m < 2 ** -14) return sign | Math.round(m / 2 ** -24);
  const e = Math.floor(Math.log2(m));
  const q = Math.round((m / 2 ** e - 1) * 1024);
  return q === 1024 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | q;
}
function f16Value(bits: number): number {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  const s = bits & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/** One batch: tokens (sequence, position) over sequences with the given context lengths already cached. */
interface Case {
  name: string;
  tokens: { seq: number; position: number }[];
  seqLengths: number[];
  split?: boolean;
  /**
   * "tiled" (default): the tiled kernel for every row; "per-row"; "split": tiled for runs, per-row for single rows;
   * "tensor": the tensor-core kernel for runs, per-row for single rows (the --tensor-cores path).
   */
  kernel?: "tiled" | "per-row" | "split" | "tensor";
  /** The per-row kernel's query heads per workgroup (default: its own choice, perRowHeads). */
  heads?: number;
  /** The per-row kernel's design (default: its own choice, perRowDesign). */
  design?: PerRowDesign;
  /** The tensor-core kernel's variant (--tensor-variants). */
  tensorOptions?: TensorAttentionOptions;
  /** Lab forms of the per-row lanes design (--lanes-forms); the process's own (SWALLOW_LANES_FORMS) otherwise. */
  lanesForms?: LanesForms;
}

/** A --lanes-forms entry ("base", "loads", "q", or "loads+q") as the kernel's forms. */
function lanesFormsOf(name: string): LanesForms {
  const parts = name.split("+").filter((p) => p !== "base");
  for (const p of parts) if (!["loads", "q"].includes(p)) throw new Error(`--lanes-forms: unknown form ${p} (base, loads, q)`);
  return lanesForms(parts);
}

const ABLATIONS = ["no-mma", "no-stage"] as const;

/** A --tensor-variants entry ("t1+k64", "qkvs": Q staged through kvs, "no-mma", …) as kernel options. */
function tensorVariant(name: string): TensorAttentionOptions {
  const options: TensorAttentionOptions = {};
  for (const part of name.split("+")) {
    if (part === "k64") options.keyBlock = 64;
    else if (part === "t2") options.tokenTiles = 2;
    else if (part === "t1") options.tokenTiles = 1;
    else if (part === "qkvs") options.qThroughP = false;
    else if ((ABLATIONS as readonly string[]).includes(part)) options.ablate = part as TensorAttentionOptions["ablate"];
    else if (part !== "base") throw new Error(`unknown tensor variant part ${part} (k64, t1, t2, qkvs, ${ABLATIONS.join(", ")}, base)`);
  }
  return options;
}

interface Lab {
  gpu: WebGpuDevice;
  ctx: KernelContext;
  recorder: StepRecorder;
  tiles: AttentionTiles;
  /** The tensor-core attention's setup; null without subgroup matrices. */
  tensor: TensorCoreSetup | null;
  /** --chain: each timed per-row call takes the previous call's output as its q. */
  chain: boolean;
}

/**
 * A paged f16 cache holding `seqLengths` tokens per sequence, block ids shuffled (or in order), random K/V in [-1, 1)
 * (kept on the host for a check), or for timing only with magnitudes in [1/8, 1/2).
 */
function makeCache(lab: Lab, seqLengths: number[], kvCols: number, seed: number, keepHost: boolean, contiguous = false) {
  const { blockSize } = SHAPE;
  const maxBlocksPerSeq = Math.max(...seqLengths.map((n) => Math.ceil(n / blockSize)));
  const numBlocks = seqLengths.reduce((n, length) => n + Math.ceil(length / blockSize), 0);
  const order = Array.from({ length: numBlocks }, (_, i) => i);
  const next = xorshift(seed);
  if (!contiguous) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(((next() + 1) / 2) * (i + 1)) % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  const blockTables = new Int32Array(seqLengths.length * maxBlocksPerSeq).fill(-1);
  let taken = 0;
  seqLengths.forEach((length, s) => {
    for (let b = 0; b < Math.ceil(length / blockSize); b++) blockTables[s * maxBlocksPerSeq + b] = order[taken++];
  });
  const elements = numBlocks * blockSize * kvCols;
  const size = storageBytes(elements * 2);
  const host: { keys: Float32Array; values: Float32Array } | null = keepHost
    ? { keys: new Float32Array(elements), values: new Float32Array(elements) }
    : null;
  const buffer = (which: "keys" | "values") => {
    const b = lab.gpu.device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST, mappedAtCreation: true });
    if (host) {
      const bits = new Uint16Array(b.getMappedRange(), 0, elements);
      const values = xorshift(seed * 31 + (which === "keys" ? 1 : 2));
      for (let i = 0; i < elements; i++) {
        bits[i] = f16Bits(values());
        host[which][i] = f16Value(bits[i]);
      }
    } else {
      // Timing only (GBs at long contexts): two halves per xorshift32 word, random sign and mantissa, magnitudes in
      // [1/8, 1/2) (exponent 12 or 13), cheap enough that the cache is not most of a case's time.
      const words = new Uint32Array(b.getMappedRange(), 0, elements / 2);
      let x = (seed * 31 + (which === "keys" ? 1 : 2)) | 1;
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[i] = (x & 0x87ff87ff) | 0x30003000;
      }
    }
    b.unmap();
    return b;
  };
  const layer: GpuKvLayer = { keys: buffer("keys"), values: buffer("values"), size };
  return { layer, blockTables, maxBlocksPerSeq, host };
}

/** Records `reps` attention calls of the case in one step; returns the last output. */
function record(lab: Lab, c: Case, cache: ReturnType<typeof makeCache>, q: GpuActivation, reps: number): GpuActivation {
  const positions = Int32Array.from(c.tokens, (t) => t.position);
  const seqIndex = Int32Array.from(c.tokens, (t) => t.seq);
  const owner = {};
  const inputs = {
    hostPositions: positions,
    hostSeqIndex: seqIndex,
    positions: lab.recorder.input(positions, "positions", () => positions),
    blockTables: lab.recorder.input(cache.blockTables, "blockTables", () => cache.blockTables),
    maxBlocksPerSeq: cache.maxBlocksPerSeq,
    owner,
    tiles: lab.tiles,
    splitSingles: c.split,
  };
  const { numHeads, numKvHeads, headDim, blockSize } = SHAPE;
  const layout = { numKvHeads, headDim, blockSize };
  const scale = 1 / Math.sqrt(headDim);
  const kernel = c.kernel ?? "tiled";
  const perRow = {
    positions: inputs.positions,
    seqIndex: lab.recorder.input(seqIndex, "seqIndex", () => seqIndex),
    blockTables: inputs.blockTables,
    maxBlocksPerSeq: cache.maxBlocksPerSeq,
    hostPositions: positions,
    owner: positions,
    ...(c.heads ? { headsPerWorkgroup: c.heads } : {}),
    ...(c.design ? { design: c.design } : {}),
    ...(c.lanesForms ? { lanesForms: c.lanesForms } : {}),
  };
  const singles = singleTokenRows(positions, seqIndex, positions.length);
  let out = q;
  for (let r = 0; r < reps; r++) {
    if (kernel === "per-row") {
      // Chained, each call waits for the one before (a barrier between them, as between a model's kernels); else the
      // calls are independent and the GPU may overlap one's tail with the next one's start.
      out = attentionPerRow(lab.ctx, lab.chain && r > 0 ? out : q, cache.layer, "f16", layout, perRow, numHeads, scale);
      continue;
    }
    const skipSingles = kernel === "split" || kernel === "tensor";
    out =
      kernel === "tensor"
        ? attentionTensor(lab.ctx, lab.tensor!, q, cache.layer, layout, { ...inputs, skipSingles }, numHeads, scale, null, c.tensorOptions)
        : attention(lab.ctx, q, cache.layer, "f16", layout, { ...inputs, skipSingles }, numHeads, scale);
    if (skipSingles) {
      const subset = { rows: singles, into: out };
      attentionPerRow(lab.ctx, q, cache.layer, "f16", layout, { ...perRow, subset }, numHeads, scale);
    }
  }
  return out;
}

/** Submits the recorded step; the target's values and the pass's GPU time. */
async function submit(lab: Lab, target: GpuActivation): Promise<{ values: Float32Array; ns: number }> {
  const { device } = lab.gpu;
  device.pushErrorScope("validation");
  const encoder = device.createCommandEncoder();
  lab.recorder.encode(encoder, target);
  const staging = device.createBuffer({ size: target.bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(target.buffer!, 0, staging, 0, target.bytes);
  device.queue.submit([encoder.finish()]);
  lab.recorder.finishStep();
  const error = await device.popErrorScope();
  const errors = await lab.ctx.pipelines.takeErrors();
  if (error || errors.length > 0) throw new Error(`WebGPU error: ${[error?.message, ...errors].filter(Boolean).join("; ")}`);
  await staging.mapAsync(1 /* GPUMapMode.READ */);
  const values = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  const profile = await lab.recorder.takeProfile();
  return { values, ns: profile ? Number(profile.ns[1] - profile.ns[0]) : NaN };
}

function randomQ(tokens: number, seed: number): Float32Array {
  const next = xorshift(seed);
  return Float32Array.from({ length: tokens * SHAPE.numHeads * SHAPE.headDim }, () => next() * 2);
}

/** Kernel vs reference on a prefill chunk at positions 40..139 of one sequence beside 3 decode tokens. */
async function check(lab: Lab, kernel: Case["kernel"], design?: PerRowDesign, tensorOptions?: TensorAttentionOptions): Promise<boolean> {
  const { numHeads, numKvHeads, headDim } = SHAPE;
  const kvCols = numKvHeads * headDim;
  const seqLengths = [140, 77, 5, 300];
  const tokens = [
    ...Array.from({ length: 100 }, (_, i) => ({ seq: 0, position: 40 + i })),
    { seq: 1, position: 76 },
    { seq: 2, position: 4 },
    { seq: 3, position: 299 },
  ];
  const cache = makeCache(lab, seqLengths, kvCols, 7, true);
  const q = randomQ(tokens.length, 11);
  const { values } = await submit(
    lab,
    record(
      lab,
      { name: "check", tokens, seqLengths, kernel, design, tensorOptions },
      cache,
      lab.recorder.upload(tokens.length, numHeads * headDim, q),
      1,
    ),
  );
  const reference: ops.PagedKv = { keys: cache.host!.keys, values: cache.host!.values, blockSize: SHAPE.blockSize, kvCols };
  const expected = ops.pagedAttention(
    q,
    reference,
    Int32Array.from(tokens, (t) => t.position),
    Int32Array.from(tokens, (t) => t.seq),
    cache.blockTables,
    cache.maxBlocksPerSeq,
    numHeads,
    headDim,
    1 / Math.sqrt(headDim),
  );
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Number.isFinite(values[i]) ? values[i] - expected[i] : Infinity;
    diff += d * d;
    norm += expected[i] * expected[i];
  }
  const relative = Math.sqrt(diff / norm);
  // f32 math on the same f16 cache values: only summation order differs; the tensor kernel's q and weights are f16.
  const ok = relative <= (kernel === "tensor" ? 2e-3 : 1e-5);
  console.log(
    `check ${kernel}${design ? ` (${design})` : ""}${tensorOptions ? ` ${JSON.stringify(tensorOptions)}` : ""} vs reference (${tokens.length} tokens, contexts up to 300): relative error ${relative.toExponential(2)} ${ok ? "ok" : "FAIL"}`,
  );
  for (const c of [cache.layer.keys, cache.layer.values]) c.destroy();
  return ok;
}

function cases(quick: boolean, designs: PerRowDesign[], withTensor: boolean, tensorVariants: string[], formNames: string[]): Case[] {
  const k = quick ? 8 : 1;
  const prefill = (n: number): Case => ({
    name: `prefill ${n}`,
    tokens: Array.from({ length: n }, (_, position) => ({ seq: 0, position })),
    seqLengths: [n],
  });
  const decode = (batch: number, context: number, split?: boolean): Case => ({
    name: `decode batch ${batch} ctx ${context}${split === undefined ? "" : split ? " split" : " no-split"}`,
    tokens: Array.from({ length: batch }, (_, seq) => ({ seq, position: context - 1 })),
    seqLengths: new Array(batch).fill(context),
    split,
  });
  const chunk = 512 / k;
  const serving: Case = {
    name: `serving: prefill chunk ${2048 / k - chunk}..${2048 / k - 1} + 32 decode at ~${Math.round(1000 / k)}`,
    tokens: [
      ...Array.from({ length: chunk }, (_, i) => ({ seq: 0, position: 2048 / k - chunk + i })),
      ...Array.from({ length: 32 }, (_, i) => ({ seq: 1 + i, position: Math.round(1000 / k) - 16 + i })),
    ],
    seqLengths: [2048 / k, ...Array.from({ length: 32 }, (_, i) => Math.round(1000 / k) - 15 + i)],
  };
  // A serving step at concurrency 256 with a 2048-token budget: one prompt's first 1,792 tokens beside 256 decode
  // tokens at contexts 100..1,120.
  const decodeRows = 256;
  const busy = (kernel: Case["kernel"]): Case => ({
    name: `serving: prefill chunk 0..${1792 / k - 1} + ${decodeRows} decode at ${Math.round(100 / k)}..${Math.round(1120 / k)} (${kernel})`,
    tokens: [
      ...Array.from({ length: 1792 / k }, (_, position) => ({ seq: 0, position })),
      ...Array.from({ length: decodeRows }, (_, i) => ({ seq: 1 + i, position: Math.round((100 + 4 * i) / k) })),
    ],
    seqLengths: [1792 / k, ...Array.from({ length: decodeRows }, (_, i) => Math.round((100 + 4 * i) / k) + 1)],
    kernel,
  });
  // The per-row kernel in each design with one query head per workgroup, two, and the 4 of a KV head.
  const perRow = (batch: number, context: number, heads: number, design: PerRowDesign): Case => ({
    ...decode(batch, context),
    name: `decode batch ${batch} ctx ${context} (per-row ${design}, ${heads} heads per workgroup)`,
    kernel: "per-row",
    heads,
    design,
  });
  // A tensor-core case, then the same per --tensor-variants entry.
  const tensor = (c: Case): Case[] => {
    const base: Case = c.kernel === "tensor" ? c : { ...c, name: `${c.name} (tensor)`, kernel: "tensor" };
    return [base, ...tensorVariants.map((v): Case => ({ ...base, name: `${base.name} ${v}`, tensorOptions: tensorVariant(v) }))];
  };
  return [
    prefill(512 / k),
    prefill(2048 / k),
    ...(withTensor ? [...tensor(prefill(512 / k)), ...tensor(prefill(2048 / k)), ...tensor(busy("tensor"))] : []),
    serving,
    { ...serving, name: `${serving.name} (split)`, kernel: "split" },
    busy("tiled"),
    busy("split"),
    ...designs.flatMap((design) =>
      [1, 2, 4].flatMap((heads) =>
        [1, 8, 32, 256].map((batch) => perRow(batch, (batch === 256 ? 336 : batch * 32 + 352) / k, heads, design)),
      ),
    ),
    // Long contexts in the lanes design (the backend's query heads per workgroup), in the segments the process runs
    // (SWALLOW_ATTENTION_SEGMENT: run the lab once per length to compare).
    ...(designs.includes("lanes")
      ? [
          [1, 384],
          [1, 1024],
          [1, 4096],
          [1, 8192],
          [1, 32768],
          [8, 4096],
          [32, 2048],
          [256, 336],
          [256, 1024],
        ].flatMap(([batch, context]) =>
          (formNames.length > 0 ? formNames : [null]).map((form): Case => ({
            ...decode(batch, context / k),
            name: `long: decode batch ${batch} ctx ${context / k} (per-row lanes${form ? ` ${form}` : ""})`,
            kernel: "per-row",
            design: "lanes",
            ...(form ? { lanesForms: lanesFormsOf(form) } : {}),
          })),
        )
      : []),
    ...[384, 4096].flatMap((ctx) => [undefined, true, false].map((split) => decode(1, ctx / k, split))),
    ...[undefined, true, false].map((split) => decode(32, 1024 / k, split)),
  ];
}

/** Flops the causal mask keeps: 4·headDim per (query head, attended key). */
function flops(c: Case): number {
  return c.tokens.reduce((sum, t) => sum + (t.position + 1), 0) * SHAPE.numHeads * 4 * SHAPE.headDim;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const gpu = await openWebGpu(opts.noRobustness ? { disableRobustness: true } : {});
  if (!gpu.features.shaderF16) throw new Error("this device lacks shader-f16: the lab times an f16 KV cache");
  if (!gpu.features.timestampQuery) throw new Error("this device lacks timestamp-query");
  const pool = new BufferPool(gpu.device, gpu.limits, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, "lab");
  const recorder = new StepRecorder(gpu.device, gpu.limits, pool);
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  const tiles = opts.tiles ?? attentionTiles(SHAPE.headDim, limit);
  if (attentionWorkgroupBytes(SHAPE.headDim, tiles) > limit)
    throw new Error(`tiles ${tiles.rows}x${tiles.keys} need more than ${limit} bytes`);
  const consecutiveSubgroups = await probeConsecutiveSubgroups(gpu.device, GROUP_LANES);
  const setup = tensorCoreSetup(gpu);
  const majorness = setup ? await probeMajornessSyntax(gpu.device, setup.config, setup.subgroupSize) : "argument";
  const tensor = setup && { ...setup, majorness };
  const ctx = { pipelines: new PipelineCache(gpu.device, { consecutiveSubgroups }), recorder };
  const lab: Lab = { gpu, ctx, recorder, tiles, tensor, chain: opts.chain };
  console.log(
    `device: ${gpu.adapter.name} [${gpu.adapter.description}], robustness ${opts.noRobustness ? "off" : "on"}, ` +
      `tiles ${tiles.rows} rows × ${tiles.keys} keys (workgroup memory limit ${gpu.limits.maxComputeWorkgroupStorageSize} B)`,
  );
  // The per-row kernel's lanes design where the device has it (subgroups of at least 8), and always its threads design.
  const designs: PerRowDesign[] = lanesAvailable(lab.ctx.pipelines, SHAPE.headDim) ? ["threads", "lanes"] : ["threads"];
  const checks = [];
  for (const kernel of ["tiled", "per-row", "split"] as const) checks.push(await check(lab, kernel));
  if (lab.tensor) checks.push(await check(lab, "tensor"));
  for (const v of opts.tensorVariants) {
    const options = tensorVariant(v);
    if (lab.tensor && !options.ablate) checks.push(await check(lab, "tensor", undefined, options));
  }
  for (const design of designs) checks.push(await check(lab, "per-row", design));
  if (!checks.every(Boolean)) {
    console.error("attention-lab: the kernel disagrees with the reference; no timings");
    process.exitCode = 1;
    return;
  }
  const rows: string[] = [];
  const { numHeads, numKvHeads, headDim } = SHAPE;
  let timed: { key: string; cache: ReturnType<typeof makeCache> } | undefined;
  const all = cases(opts.quick, designs, lab.tensor !== null, opts.tensorVariants, opts.lanesForms);
  // --repeat: the whole list again (interleaved repeats show the spread between forms measured in one process).
  for (const [ci, c] of Array.from({ length: opts.repeat }, () => all)
    .flat()
    .entries()) {
    if (!c.name.includes(opts.only)) continue;
    // Consecutive cases of one batch (the lab forms, a repeat) time the same cache.
    const cacheKey = c.seqLengths.join(",");
    if (timed?.key !== cacheKey) {
      for (const b of timed ? [timed.cache.layer.keys, timed.cache.layer.values] : []) b.destroy();
      timed = { key: cacheKey, cache: makeCache(lab, c.seqLengths, numKvHeads * headDim, 100 + ci, false, opts.contiguous) };
    }
    const { cache } = timed;
    const q = randomQ(c.tokens.length, 200 + ci);
    // Warm-up call (pipeline compilation), then a timed pass of R calls; R keeps the pass ≥ ~20 ms of work
    // and the R outputs (all kept alive in one step) under 2 GB.
    recorder.profileMode = "pass";
    const probe = await submit(lab, record(lab, c, cache, recorder.upload(c.tokens.length, numHeads * headDim, q), 3));
    const outBytes = c.tokens.length * numHeads * headDim * 4;
    const reps = opts.reps || Math.max(5, Math.min(200, Math.ceil(20e6 / (probe.ns / 3)), Math.floor(2e9 / outBytes)));
    // The first timed case for --warm-seconds before any timing (warmProcessOnce: the card speeds up over seconds).
    await warmProcessOnce(
      () => submit(lab, record(lab, c, cache, recorder.upload(c.tokens.length, numHeads * headDim, q), reps)),
      opts.warmSeconds,
    );
    // Timed passes until the card has been busy 200 ms, the last one kept.
    const ns = await afterWarmup(
      async () => (await submit(lab, record(lab, c, cache, recorder.upload(c.tokens.length, numHeads * headDim, q), reps))).ns,
    );
    recorder.profileMode = "off";
    const ms = ns / reps / 1e6;
    const tflops = flops(c) / (ms * 1e-3) / 1e12;
    console.log(
      JSON.stringify({
        bench: "attention-lab",
        device: gpu.adapter.name,
        tiles: `${tiles.rows}x${tiles.keys}`,
        case: c.name,
        tokens: c.tokens.length,
        reps,
        ms,
        tflops,
      }),
    );
    rows.push(`| ${c.name} | ${c.tokens.length} | ${reps} | ${ms.toFixed(4)} | ${tflops.toFixed(2)} |`);
  }
  console.log(`\n| case (8B: 32 q heads, 8 KV heads, head 128, f16 KV) | tokens | reps | ms per call | TFLOP/s |`);
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const row of rows) console.log(row);
  gpu.device.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
