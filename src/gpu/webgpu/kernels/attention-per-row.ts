import { activationResource, uniform, type GpuKvLayer, type KernelContext, type KvDtype } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { f32Bits, kvEnable, LINEAR_WORKGROUP } from "../wgsl.js";
import { checkAttentionShapes } from "./attention.js";
import { ROPED_K } from "./write-kv.js";
import { ropedQLoad } from "./rope.js";

const WORKGROUP = 256;

/**
 * The per-row attention kernel: what the backend runs for decode (and, when batch-invariant, for every row; the
 * tiled kernel of attention.ts serves prefill runs). Its arithmetic per row is fixed, so a row's bits never depend
 * on the batch; it differs from the tiled kernel's, which is why a backend picks one of the two for all rows unless
 * it is not batch-invariant. Measured on an H100 (bench/NOTES.md): ~19 µs per layer at decode context ~140 (28 before
 * phase 2's V loads were issued four at a time), where the tiled kernel takes ~54 µs (one row per workgroup, 4 barriers per 32-key tile); ~310 ms at a 2048-token prefill,
 * where the tiled kernel takes 5.5 ms. In decode-only steps (no two rows of one sequence) the KV write is fused in
 * (attentionPerRow's `writeKv`): one dispatch per layer instead of writeKv + attention, saving writeKv's ~10 µs.
 *
 * Causal GQA over the paged cache. One 256-thread workgroup per (token, query head); positions
 * 0..positions[t] are taken in tiles of 256 with an online softmax between tiles:
 *  - phase 1: thread i computes the full q·k score of position tile + i (K read as vec4 when headDim % 4 == 0),
 *    the tile max is reduced with `subgroupMax` (or a workgroup-memory tree), weights exp(s - max) go to
 *    workgroup memory;
 *  - phase 2: the threads form G groups of headDim / VEC threads; thread (g, d) owns output dims d (a vec4)
 *    and accumulates Σ p·v and Σ p over the tile positions g, g + G, …, rescaled when the running max grows.
 * At the end the G partial accumulators and sums are combined through workgroup memory.
 *
 * With `fused` (decode-only steps, attentionPerRow with `writeKv`) the kernel also does writeKv's work: the row's own
 * position p = positions[t] takes its K (roped) and V from the k / v activations, converted to the cache dtype exactly
 * as writeKv stores them, instead of reading them back from the cache; the workgroups of the first query head of each
 * KV head store those values at slots[t]. The own position is the last of the context, so its score is the one of
 * tile thread p % 256 and its p·v term is added after the cached positions of its group, in the same order as
 * before: the row's bits are those of writeKv + the unfused kernel.
 */
function source(kvDtype: KvDtype, headDim: number, subgroups: boolean, rope: boolean, fused: boolean): string {
  const vec = headDim % 4 === 0 ? 4 : 1;
  const lanes = headDim / vec; // threads per output group
  if (lanes > WORKGROUP) throw new Error(`attention: head size ${headDim} is too large`);
  const groups = Math.floor(WORKGROUP / lanes);
  const kvType = vec === 4 ? `vec4<${kvDtype}>` : kvDtype;
  const acc = vec === 4 ? "vec4<f32>" : "f32";
  const cacheAccess = fused ? "read_write" : "read";
  // Fused: (the last tile) the own position is left out of the cached loop and added after it.
  const cachedCount = fused ? "select(count, count - 1u, start + count == length)" : "count";
  const reduceMax = subgroups
    ? `    let sgMax = subgroupMax(score);
    if (sgId == 0u) { scratch[lid / sgSize] = sgMax; }
    workgroupBarrier();
    var tileMax = LOWEST;
    for (var s = 0u; s < WG / sgSize; s++) { tileMax = max(tileMax, scratch[s]); }`
    : `    scratch[lid] = score;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { scratch[lid] = max(scratch[lid], scratch[lid + stride]); }
      workgroupBarrier();
    }
    let tileMax = scratch[0];`;
  return `${kvEnable(kvDtype)}${subgroups ? "enable subgroups;\n" : ""}
struct Params { numTokens: u32, numHeads: u32, groupSize: u32, kvCols: u32, blockSize: u32, maxBlocksPerSeq: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<${acc}>;
@group(0) @binding(2) var<storage, ${cacheAccess}> keys: array<${kvType}>;
@group(0) @binding(3) var<storage, ${cacheAccess}> values: array<${kvType}>;
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> seqIndex: array<i32>;
@group(0) @binding(6) var<storage, read> blockTables: array<i32>;
@group(0) @binding(7) var<storage, read_write> out: array<${acc}>;
${rope ? "@group(0) @binding(8) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]" : ""}
${fused ? fusedDeclarations(kvDtype, headDim, vec, rope) : ""}
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const LANES: u32 = ${lanes}u; // ${acc} elements of a head
const GROUPS: u32 = ${groups}u;
const VEC: u32 = ${vec}u;
const LOWEST: f32 = -3.0e38; // below any score, and exp(LOWEST - finite) is 0 without inf - inf

fn dotAcc(a: ${acc}, b: ${acc}) -> f32 { return ${vec === 4 ? "dot(a, b)" : "a * b"}; }

var<workgroup> qShared: array<${acc}, ${lanes}>;
var<workgroup> weights: array<f32, ${WORKGROUP}>;
var<workgroup> tileSlots: array<u32, ${WORKGROUP}>;
var<workgroup> scratch: array<f32, ${WORKGROUP}>;
var<workgroup> accShared: array<${acc}, ${groups * lanes}>;
var<workgroup> sumShared: array<f32, ${groups}>;
var<workgroup> lengthShared: u32;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    subgroups ? ",\n        @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgId: u32" : ""
  }) {
  let group = linearWorkgroup(wid, nwg);
  if (group >= params.numTokens * params.numHeads) { return; }
  let t = group / params.numHeads;
  let h = group % params.numHeads;
  let qBase = (t * params.numHeads + h) * LANES;
  let kvOffset = (h / params.groupSize) * LANES;
  let kvStride = params.kvCols / VEC;
${
  rope
    ? `  for (var d = lid; d < LANES; d += WG) {\n${ropedQLoad("qShared[d]", "    ")}\n  }`
    : "  for (var d = lid; d < LANES; d += WG) { qShared[d] = q[qBase + d]; }"
}
${fused ? FUSED_OWN_LOAD(kvDtype, rope) : ""}
  if (lid == 0u) { lengthShared = u32(positions[t]) + 1u; }
  workgroupBarrier();
  let length = workgroupUniformLoad(&lengthShared);
${fused ? FUSED_STORE : ""}
  let tableBase = u32(seqIndex[t]) * params.maxBlocksPerSeq;
  let g = lid / LANES;
  let lane = lid % LANES;

  var runningMax = LOWEST;
  var runningSum = 0.0;
  var accum = ${acc}(0.0);
  for (var start = 0u; start < length; start += WG) {
    let p = start + lid;
    var score = LOWEST;
    if (p < length) {
      let block = u32(blockTables[tableBase + p / params.blockSize]);
      let slot = block * params.blockSize + p % params.blockSize;
      tileSlots[lid] = slot;
      let kBase = slot * kvStride + kvOffset;
      var dot = 0.0;
${
  fused
    ? `      if (p + 1u == length) {
        for (var d = 0u; d < LANES; d++) { dot += dotAcc(qShared[d], ${acc}(ownKey(d))); }
      } else {
        for (var d = 0u; d < LANES; d++) { dot += dotAcc(qShared[d], ${acc}(keys[kBase + d])); }
      }`
    : `      for (var d = 0u; d < LANES; d++) { dot += dotAcc(qShared[d], ${acc}(keys[kBase + d])); }`
}
      score = dot * params.scale;
    }
${reduceMax}
    let newMax = max(runningMax, tileMax);
    var weight = 0.0;
    if (p < length) { weight = exp(score - newMax); }
    weights[lid] = weight;
    workgroupBarrier();
    let correction = exp(runningMax - newMax);
    runningMax = newMax;
    var a = accum * correction;
    var s = runningSum * correction;
    if (g < GROUPS) {
      let count = min(WG, length - start);
      let cached = ${cachedCount};
      // Four positions per iteration with their V loads issued before the sums: the loads overlap instead of
      // each waiting on the previous sum. The sums run in the same order as one position at a time.
      var j = g;
      for (; j + 3u * GROUPS < cached; j += 4u * GROUPS) {
        let v0 = ${acc}(values[tileSlots[j] * kvStride + kvOffset + lane]);
        let v1 = ${acc}(values[tileSlots[j + GROUPS] * kvStride + kvOffset + lane]);
        let v2 = ${acc}(values[tileSlots[j + 2u * GROUPS] * kvStride + kvOffset + lane]);
        let v3 = ${acc}(values[tileSlots[j + 3u * GROUPS] * kvStride + kvOffset + lane]);
        let w0 = weights[j];
        let w1 = weights[j + GROUPS];
        let w2 = weights[j + 2u * GROUPS];
        let w3 = weights[j + 3u * GROUPS];
        a += w0 * v0;
        s += w0;
        a += w1 * v1;
        s += w1;
        a += w2 * v2;
        s += w2;
        a += w3 * v3;
        s += w3;
      }
      for (; j < cached; j += GROUPS) {
        let w = weights[j];
        a += w * ${acc}(values[tileSlots[j] * kvStride + kvOffset + lane]);
        s += w;
      }
${
  fused
    ? `      if (cached < count && j == cached) { // the own position, last of this group's positions
        let w = weights[j];
        a += w * ${acc}(ownValue(lane));
        s += w;
      }`
    : ""
}
    }
    accum = a;
    runningSum = s;
    workgroupBarrier();
  }
  if (g < GROUPS) {
    accShared[lid] = accum;
    if (lane == 0u) { sumShared[g] = runningSum; }
  }
  workgroupBarrier();
  if (lid < LANES) {
    var total = ${acc}(0.0);
    var sum = 0.0;
    for (var i = 0u; i < GROUPS; i++) {
      total += accShared[i * LANES + lid];
      sum += sumShared[i];
    }
    out[qBase + lid] = total / sum;
  }
}
`;
}

/** The fused kernel's extra bindings (after cosSin when roping), its own-position K/V and their accessors. */
function fusedDeclarations(kvDtype: KvDtype, headDim: number, vec: number, rope: boolean): string {
  const firstBinding = rope ? 9 : 8;
  const kvType = vec === 4 ? `vec4<${kvDtype}>` : kvDtype;
  const own = (name: string) =>
    vec === 4 ? `${kvType}(${name}[4u * d], ${name}[4u * d + 1u], ${name}[4u * d + 2u], ${name}[4u * d + 3u])` : `${name}[d]`;
  return `@group(0) @binding(${firstBinding}) var<storage, read> k: array<f32>; // [numTokens, kvCols], before RoPE
@group(0) @binding(${firstBinding + 1}) var<storage, read> v: array<f32>; // [numTokens, kvCols]
@group(0) @binding(${firstBinding + 2}) var<storage, read> slots: array<i32>; // [numTokens]
const HEAD_DIM: u32 = ${headDim}u;
// Token t's K (roped) and V for this row's KV head, as the cache holds them. Kept in the cache dtype: f32(f16(x))
// in one expression may be folded to x by the shader compiler (lavapipe does), which the cache round trip is not.
var<workgroup> kOwn: array<${kvDtype}, ${headDim}>;
var<workgroup> vOwn: array<${kvDtype}, ${headDim}>;
fn ownKey(d: u32) -> ${kvType} { return ${own("kOwn")}; }
fn ownValue(d: u32) -> ${kvType} { return ${own("vOwn")}; }
${rope ? ROPED_K : ""}`;
}

/** Fills kOwn / vOwn with writeKv's expressions and conversions (its `ropedK`, then the cache dtype). */
const FUSED_OWN_LOAD = (kvDtype: KvDtype, rope: boolean) => `  let ownRow = t * params.kvCols + (h / params.groupSize) * HEAD_DIM;
  for (var e = lid; e < HEAD_DIM; e += WG) {
    kOwn[e] = ${kvDtype}(${rope ? "ropedK(ownRow, e, t, HEAD_DIM / 2u)" : "k[ownRow + e]"});
    vOwn[e] = ${kvDtype}(v[ownRow + e]);
  }`;

/**
 * The first query head of each KV head stores token t's K/V at slots[t] (after the barrier that completes kOwn /
 * vOwn). No workgroup of this dispatch reads that slot: the row itself uses kOwn / vOwn, and no other row is of
 * the same sequence.
 */
const FUSED_STORE = `  if (h % params.groupSize == 0u) {
    let dst = u32(slots[t]) * kvStride + kvOffset;
    for (var d = lid; d < LANES; d += WG) {
      keys[dst + d] = ownKey(d);
      values[dst + d] = ownValue(d);
    }
  }`;

export interface PerRowAttentionInputs {
  positions: Resource;
  seqIndex: Resource;
  blockTables: Resource;
  maxBlocksPerSeq: number;
}

/** The step's new K / V rows `[T, numKvHeads * headDim]` (K before RoPE when the kernel ropes) and their cache slots. */
export interface KvRows {
  k: GpuActivation;
  v: GpuActivation;
  slots: Resource;
}

/**
 * softmax(q·k * scale) · v per query head over the cache; q and the result are `[T, numHeads * headDim]`.
 *
 * With `writeKv` this is also writeKv, in the same dispatch: for steps in which no two rows belong to the same
 * sequence (the caller checks, and that slots[t] is the block-table slot of positions[t]), each row's own K/V come
 * from `writeKv` and are stored at its slot, all earlier positions from the cache — the same output and cache bits
 * as writeKv then attention. With `ropeCosSin`, q and K are both rotated with it (as writeKv's `rope`).
 */
export function attentionPerRow(
  ctx: KernelContext,
  q: GpuActivation,
  layer: GpuKvLayer,
  kvDtype: KvDtype,
  layout: { numKvHeads: number; headDim: number; blockSize: number },
  inputs: PerRowAttentionInputs,
  numHeads: number,
  scale: number,
  /** (cos, sin) table of the batch's positions: q is rotated as it is loaded (needs headDim % 4 == 0). */
  ropeCosSin: Resource | null = null,
  writeKv: KvRows | null = null,
): GpuActivation {
  const { numKvHeads, headDim, blockSize } = layout;
  checkAttentionShapes(q, layout, numHeads, ropeCosSin);
  for (const [name, x] of Object.entries({ k: writeKv?.k, v: writeKv?.v })) {
    if (x && (x.rows !== q.rows || x.cols !== numKvHeads * headDim))
      throw new Error(`attention: ${name} is [${x.rows}, ${x.cols}], expected [${q.rows}, ${numKvHeads * headDim}] beside q`);
  }
  const out = ctx.recorder.output(q.rows, q.cols);
  if (out.isEmpty) return out;
  const subgroups = ctx.pipelines.useSubgroups;
  const rope = ropeCosSin !== null;
  const fused = writeKv !== null;
  const key = `attention.per-row${fused ? "+writeKv" : ""}/${kvDtype}/d${headDim}${subgroups ? "/sg" : ""}${rope ? "/rope" : ""}`;
  const pipeline = ctx.pipelines.get(key, () => source(kvDtype, headDim, subgroups, rope, fused));
  const cache = (buffer: GPUBuffer): Resource => ({ kind: "buffer", buffer, size: layer.size });
  ctx.recorder.dispatch(
    pipeline,
    [
      uniform(q.rows, numHeads, numHeads / numKvHeads, numKvHeads * headDim, blockSize, inputs.maxBlocksPerSeq, f32Bits(scale)),
      activationResource(q),
      cache(layer.keys),
      cache(layer.values),
      inputs.positions,
      inputs.seqIndex,
      inputs.blockTables,
      activationResource(out),
      ...(ropeCosSin ? [ropeCosSin] : []),
      ...(writeKv ? [activationResource(writeKv.k), activationResource(writeKv.v), writeKv.slots] : []),
    ],
    q.rows * numHeads,
  );
  return out;
}
