import { activationResource, uniform, type GpuKvLayer, type KernelContext, type MatmulOperand } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { f32Bits, LINEAR_WORKGROUP } from "../wgsl.js";
import { checkAttentionShapes } from "./attention.js";

/**
 * Prefill attention as matrix products (opt-in: SWALLOW_PREFILL_ATTENTION=unfused, with tensor cores): for one run of
 * T consecutive tokens of one sequence (positions p0 .. p0 + T − 1, context L = p0 + T) and each KV head, the
 * group's G query heads are gathered as rows [G·T, D], the head's K as an f16 matrix [L', D] and V transposed
 * [D, L'] (L' = L rounded up to 32, zero rows past L), then S = Q·Kᵀ and O = P·V run on the matmul the caller
 * passes (tensor cores on a GPU that has them), with a causal softmax pass between them and O scattered back to
 * the heads' columns. Three passes over S instead of one fused kernel: Dawn does not make a subgroup-matrix
 * result stored to workgroup memory visible to the reads after a barrier (docs/design.md), so the scores cannot
 * go from one product to the next inside a kernel; dispatch boundaries do order them.
 *
 * Numerics: the scores are f32 products of q (rounded to f16 on the tensor path) and the f16 cache, the softmax
 * is f32, P is rounded to f16 on the tensor path; not the tiled kernel's bits (it is taken only when the backend
 * is not batch-invariant). Scratch: S and P are G·T·L'·4 bytes each per KV head (unfusedScratch), so the backend
 * takes this path only while its scratch fits UNFUSED_SCRATCH_BYTES and each buffer the storage-binding limit.
 */

/** The most scratch the path may use (the memory account reserves it); larger runs keep the tiled kernel. */
export const UNFUSED_SCRATCH_BYTES = 256 << 20;

/** Padding of the context to whole K slices of the tensor-core matmul (and whole result matrices). */
export const UNFUSED_CONTEXT_ALIGN = 32;

/** Bytes the memory account reserves for the path where it can run. */
export function unfusedAttentionScratchBytes(): number {
  return UNFUSED_SCRATCH_BYTES;
}

/**
 * Upper bounds of one KV head's buffers (they are not all live at once: their sum bounds the peak): S with its
 * rows rounded up to whole tiles of up to 256 rows, P and the matmul's f16 copy of it, split-K partial sums of
 * O (at most 8), the gathered Q, K, V and O. `largest`: the biggest single buffer, for the binding limit.
 */
export function unfusedScratch(run: UnfusedRun, groupSize: number, headDim: number): { total: number; largest: number } {
  const padded = Math.ceil((run.firstPosition + run.tokens) / UNFUSED_CONTEXT_ALIGN) * UNFUSED_CONTEXT_ALIGN;
  const rows = groupSize * run.tokens;
  const tileRows = Math.ceil(rows / 256) * 256;
  const scores = tileRows * padded * 4;
  const buffers = [
    scores,
    rows * padded * 4,
    rows * padded * 2,
    8 * tileRows * headDim * 4,
    2 * rows * headDim * 4,
    2 * padded * headDim * 2,
  ];
  return { total: buffers.reduce((a, b) => a + b, 0), largest: Math.max(...buffers) };
}

/** One run of consecutive tokens of one sequence: rows t0 .. t0 + tokens − 1 of the step at positions p0 + i. */
export interface UnfusedRun {
  t0: number;
  tokens: number;
  firstPosition: number;
  seq: number;
}

export interface UnfusedLayout {
  numKvHeads: number;
  headDim: number;
  blockSize: number;
}

const WORKGROUP = 256;

/** K of one KV head as f16 rows [L', D] (transposed: V as [D, L']), zeros past the context. One thread per element. */
function gatherSource(transposed: boolean): string {
  return `enable f16;
struct Params { length: u32, padded: u32, kvCols: u32, headOffset: u32, headDim: u32, blockSize: u32, tableBase: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cache: array<f16>;
@group(0) @binding(2) var<storage, read> blockTables: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f16>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (e >= params.padded * params.headDim) { return; }
  let j = ${transposed ? "e % params.padded" : "e / params.headDim"}; // position
  let d = ${transposed ? "e / params.padded" : "e % params.headDim"}; // head element
  var value = f16(0.0);
  if (j < params.length) {
    let block = u32(blockTables[params.tableBase + j / params.blockSize]);
    value = cache[(block * params.blockSize + j % params.blockSize) * params.kvCols + params.headOffset + d];
  }
  out[e] = value;
}
`;
}

/**
 * Between the attention's rows [numTokens, numHeads·D] and one KV head's rows [G·T, D] (head-major: row h·T + i is
 * token t0 + i, head h0 + h): "gather" copies the run's q rows of heads h0 .. h0 + G − 1 out, "scatter" copies O
 * back into those heads' columns.
 */
function headRowsSource(direction: "gather" | "scatter"): string {
  const wide = "((params.t0 + i) * params.numHeads + params.h0 + h) * params.headDim + d";
  return `
struct Params { t0: u32, tokens: u32, group: u32, h0: u32, numHeads: u32, headDim: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (e >= params.group * params.tokens * params.headDim) { return; }
  let r = e / params.headDim;
  let d = e % params.headDim;
  let h = r / params.tokens;
  let i = r % params.tokens;
  ${direction === "gather" ? `dst[e] = src[${wide}];` : `dst[${wide}] = src[e];`}
}
`;
}

/**
 * P = causal softmax of S · scale, one workgroup per row r = h·T + i: keys 0 .. p0 + i, zeros after. Max and sum
 * are reduced over the row's strided thread partials by a fixed tree (the same order for every row length).
 */
const CAUSAL_SOFTMAX = `
struct Params { rows: u32, tokens: u32, firstPosition: u32, padded: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
${LINEAR_WORKGROUP}
const WG: u32 = ${WORKGROUP}u;
var<workgroup> partial: array<f32, ${WORKGROUP}>;

fn reduceMax(value: f32, lid: u32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] = max(partial[lid], partial[lid + stride]); }
    workgroupBarrier();
  }
  let result = partial[0];
  workgroupBarrier();
  return result;
}

fn reduceSum(value: f32, lid: u32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] = partial[lid] + partial[lid + stride]; }
    workgroupBarrier();
  }
  let result = partial[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = linearWorkgroup(wid, nwg);
  if (r >= params.rows) { return; }
  let keys = params.firstPosition + r % params.tokens + 1u; // causal: positions 0 .. p0 + i
  let base = r * params.padded;
  var top = -3.0e38;
  for (var j = lid; j < keys; j += WG) { top = max(top, s[base + j] * params.scale); }
  top = reduceMax(top, lid);
  var sum = 0.0;
  for (var j = lid; j < keys; j += WG) { sum += exp(s[base + j] * params.scale - top); }
  sum = reduceSum(sum, lid);
  for (var j = lid; j < params.padded; j += WG) {
    p[base + j] = select(0.0, exp(s[base + j] * params.scale - top) / sum, j < keys);
  }
}
`;

/**
 * Attention output [numTokens, numHeads·D] for a step that is exactly `run` (t0 = 0, tokens = q.rows): q already
 * roped, the run's own K/V already in the cache (an f16 cache). `multiply(x, w)` computes x · wᵀ for w [N, K].
 */
export function attentionUnfused(
  ctx: KernelContext,
  q: GpuActivation,
  layer: GpuKvLayer,
  layout: UnfusedLayout,
  run: UnfusedRun,
  blockTables: Resource,
  maxBlocksPerSeq: number,
  numHeads: number,
  scale: number,
  multiply: (x: GpuActivation, w: MatmulOperand) => GpuActivation,
): GpuActivation {
  const { numKvHeads, headDim, blockSize } = layout;
  if (run.t0 !== 0 || run.tokens !== q.rows || q.cols !== numHeads * headDim)
    throw new Error(`attention: the unfused path takes a step of one run (q [${q.rows}, ${q.cols}], run of ${run.tokens} from ${run.t0})`);
  checkAttentionShapes(q, layout, numHeads, null);
  if (headDim % 16 !== 0) throw new Error(`attention: the unfused path needs a head size that is a multiple of 16, not ${headDim}`);
  const group = numHeads / numKvHeads;
  const length = run.firstPosition + run.tokens;
  const padded = Math.ceil(length / UNFUSED_CONTEXT_ALIGN) * UNFUSED_CONTEXT_ALIGN;
  const rows = group * run.tokens;
  const cache = (buffer: GPUBuffer): Resource => ({ kind: "buffer", buffer, size: layer.size });
  const gather = (transposed: boolean) =>
    ctx.pipelines.get(`attention.unfused.gather${transposed ? "T" : ""}`, () => gatherSource(transposed));
  const gatherQ = ctx.pipelines.get("attention.unfused.q", () => headRowsSource("gather"));
  const scatter = ctx.pipelines.get("attention.unfused.o", () => headRowsSource("scatter"));
  const softmax = ctx.pipelines.get("attention.unfused.softmax", () => CAUSAL_SOFTMAX);
  const elements = (count: number) => Math.ceil(count / WORKGROUP);
  const out = ctx.recorder.output(q.rows, q.cols);
  if (out.isEmpty) return out;
  for (let kvHead = 0; kvHead < numKvHeads; kvHead++) {
    const h0 = kvHead * group;
    const headParams = uniform(run.t0, run.tokens, group, h0, numHeads, headDim);
    const qRows = ctx.recorder.output(rows, headDim);
    ctx.recorder.dispatch(gatherQ, [headParams, activationResource(q), activationResource(qRows)], elements(rows * headDim));
    // f16 matrices in f32-sized activations: [L', D] halves are L' × D/2 words.
    const kvParams = uniform(length, padded, numKvHeads * headDim, kvHead * headDim, headDim, blockSize, run.seq * maxBlocksPerSeq);
    const keys = ctx.recorder.output(padded, headDim / 2);
    ctx.recorder.dispatch(gather(false), [kvParams, cache(layer.keys), blockTables, activationResource(keys)], elements(padded * headDim));
    const values = ctx.recorder.output(headDim, padded / 2);
    ctx.recorder.dispatch(
      gather(true),
      [kvParams, cache(layer.values), blockTables, activationResource(values)],
      elements(padded * headDim),
    );
    const scores = multiply(qRows, {
      name: `K head ${kvHead}`,
      dtype: "f16",
      shape: [padded, headDim],
      resource: activationResource(keys),
    });
    const probabilities = ctx.recorder.output(rows, padded);
    ctx.recorder.dispatch(
      softmax,
      [uniform(rows, run.tokens, run.firstPosition, padded, f32Bits(scale)), activationResource(scores), activationResource(probabilities)],
      rows,
    );
    const o = multiply(probabilities, {
      name: `V head ${kvHead}`,
      dtype: "f16",
      shape: [headDim, padded],
      resource: activationResource(values),
    });
    const target: Resource = kvHead === 0 ? activationResource(out) : { kind: "activation", activation: out, rewrites: true };
    ctx.recorder.dispatch(scatter, [headParams, activationResource(o), target], elements(rows * headDim));
  }
  return out;
}
