import { activationResource, uniform, type GpuKvLayer, type KernelContext, type KvDtype } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { f32Bits, kvEnable, LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

/**
 * Causal GQA over the paged cache. One workgroup per (token, query head); positions 0..positions[t] are
 * taken WORKGROUP at a time (one position per invocation for q·k), with an online softmax: the running max
 * and sum are rescaled per chunk, and each invocation accumulates its own dimensions of the output.
 */
function source(kvDtype: KvDtype, headDim: number): string {
  const dimsPerThread = Math.ceil(headDim / WORKGROUP);
  return `${kvEnable(kvDtype)}
struct Params { numTokens: u32, numHeads: u32, groupSize: u32, kvCols: u32, blockSize: u32, maxBlocksPerSeq: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<${kvDtype}>;
@group(0) @binding(3) var<storage, read> values: array<${kvDtype}>;
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> seqIndex: array<i32>;
@group(0) @binding(6) var<storage, read> blockTables: array<i32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const HEAD_DIM: u32 = ${headDim}u;
const DIMS: u32 = ${dimsPerThread}u;
const LOWEST: f32 = -3.0e38; // below any score, and exp(LOWEST - finite) is 0 without inf - inf

var<workgroup> qShared: array<f32, ${headDim}>;
var<workgroup> weights: array<f32, ${WORKGROUP}>;
var<workgroup> chunkSlots: array<u32, ${WORKGROUP}>;
var<workgroup> scratch: array<f32, ${WORKGROUP}>;
var<workgroup> lengthShared: u32;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linearWorkgroup(wid, nwg);
  if (group >= params.numTokens * params.numHeads) { return; }
  let t = group / params.numHeads;
  let h = group % params.numHeads;
  let qBase = (t * params.numHeads + h) * HEAD_DIM;
  let kvOffset = (h / params.groupSize) * HEAD_DIM;
  for (var d = lid; d < HEAD_DIM; d += WG) { qShared[d] = q[qBase + d]; }
  if (lid == 0u) { lengthShared = u32(positions[t]) + 1u; }
  workgroupBarrier();
  let length = workgroupUniformLoad(&lengthShared);
  let tableBase = u32(seqIndex[t]) * params.maxBlocksPerSeq;

  var runningMax = LOWEST;
  var runningSum = 0.0;
  var acc: array<f32, ${dimsPerThread}>;
  for (var start = 0u; start < length; start += WG) {
    let p = start + lid;
    var score = LOWEST;
    if (p < length) {
      let block = u32(blockTables[tableBase + p / params.blockSize]);
      let slot = block * params.blockSize + p % params.blockSize;
      chunkSlots[lid] = slot;
      let kBase = slot * params.kvCols + kvOffset;
      var dot = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { dot += qShared[d] * f32(keys[kBase + d]); }
      score = dot * params.scale;
    }
    scratch[lid] = score;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { scratch[lid] = max(scratch[lid], scratch[lid + stride]); }
      workgroupBarrier();
    }
    let newMax = max(runningMax, scratch[0]);
    workgroupBarrier();
    var weight = 0.0;
    if (p < length) { weight = exp(score - newMax); }
    weights[lid] = weight;
    scratch[lid] = weight;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { scratch[lid] += scratch[lid + stride]; }
      workgroupBarrier();
    }
    let correction = exp(runningMax - newMax);
    runningSum = runningSum * correction + scratch[0];
    runningMax = newMax;
    let count = min(WG, length - start);
    for (var i = 0u; i < DIMS; i++) {
      let d = lid + i * WG;
      if (d < HEAD_DIM) {
        var sum = acc[i] * correction;
        for (var j = 0u; j < count; j++) { sum += weights[j] * f32(values[chunkSlots[j] * params.kvCols + kvOffset + d]); }
        acc[i] = sum;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < DIMS; i++) {
    let d = lid + i * WG;
    if (d < HEAD_DIM) { out[qBase + d] = acc[i] / runningSum; }
  }
}
`;
}

export interface AttentionInputs {
  positions: Resource;
  seqIndex: Resource;
  blockTables: Resource;
  maxBlocksPerSeq: number;
}

/** softmax(q·k * scale) · v per query head over the cache; q and the result are `[T, numHeads * headDim]`. */
export function attention(
  ctx: KernelContext,
  q: GpuActivation,
  layer: GpuKvLayer,
  kvDtype: KvDtype,
  layout: { numKvHeads: number; headDim: number; blockSize: number },
  inputs: AttentionInputs,
  numHeads: number,
  scale: number,
): GpuActivation {
  const { numKvHeads, headDim, blockSize } = layout;
  if (q.cols !== numHeads * headDim) throw new Error(`attention: q has ${q.cols} columns, expected ${numHeads} heads of ${headDim}`);
  if (numHeads % numKvHeads !== 0) throw new Error(`attention: ${numHeads} query heads are not a multiple of ${numKvHeads} KV heads`);
  const out = ctx.recorder.output(q.rows, q.cols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get(`attention/${kvDtype}/d${headDim}`, () => source(kvDtype, headDim));
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
    ],
    q.rows * numHeads,
  );
  return out;
}
