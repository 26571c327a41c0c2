import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 256;

/**
 * Greedy sampling on the device, one workgroup per logits row: the argmax (lowest id among equal maxima, as
 * the host sampler) and its log-probability, logit − max − log Σ exp(logit − max), written as two f32 per row
 * (the id is exact in f32: vocabularies are far below 2^24). Rows flagged in `maskStops` ignore the listed
 * stop ids (min_tokens not reached yet), as the host sampler's first step does. The log-probability is of
 * the raw distribution, stop ids included, as vLLM reports it.
 */
const SOURCE = `
struct Params { vocab: u32, numStops: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> maskStops: array<i32>;
@group(0) @binding(3) var<storage, read> stopIds: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
var<workgroup> bestValue: array<f32, ${WORKGROUP}>;
var<workgroup> bestId: array<u32, ${WORKGROUP}>;
var<workgroup> sums: array<f32, ${WORKGROUP}>;

fn isMaskedStop(row: u32, id: u32) -> bool {
  if (maskStops[row] == 0) { return false; }
  for (var s = 0u; s < params.numStops; s++) { if (u32(stopIds[s]) == id) { return true; } }
  return false;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linearWorkgroup(wid, nwg);
  let base = row * params.vocab;
  // Pass 1: each thread's best (value, lowest id) and its raw maximum, over ids lid, lid + WG, …
  var best = -3.0e38;
  var bestAt = 0xffffffffu;
  var rawMax = -3.0e38;
  for (var i = lid; i < params.vocab; i += WG) {
    let v = logits[base + i];
    rawMax = max(rawMax, v);
    if (v > best && !isMaskedStop(row, i)) { best = v; bestAt = i; }
  }
  bestValue[lid] = best;
  bestId[lid] = bestAt;
  sums[lid] = rawMax;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let a = bestValue[lid];
      let b = bestValue[lid + stride];
      if (b > a || (b == a && bestId[lid + stride] < bestId[lid])) { bestValue[lid] = b; bestId[lid] = bestId[lid + stride]; }
      sums[lid] = max(sums[lid], sums[lid + stride]);
    }
    workgroupBarrier();
  }
  let m = sums[0];
  workgroupBarrier();
  // Pass 2: Σ exp(logit − max) over the whole row.
  var s = 0.0;
  for (var i = lid; i < params.vocab; i += WG) { s += exp(logits[base + i] - m); }
  sums[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[row * 2u] = f32(bestId[0]);
    out[row * 2u + 1u] = bestValue[0] - m - log(sums[0]);
  }
}
`;

/** `[rows, 2]`: each logits row's greedy token id (as f32) and its log-probability. */
export function sampleGreedy(
  ctx: KernelContext,
  logits: GpuActivation,
  maskStops: Resource,
  stopIds: Resource,
  numStops: number,
): GpuActivation {
  const out = ctx.recorder.output(logits.rows, 2);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get("sampleGreedy", () => SOURCE);
  ctx.recorder.dispatch(
    pipeline,
    [uniform(logits.cols, numStops), activationResource(logits), maskStops, stopIds, activationResource(out)],
    logits.rows,
  );
  return out;
}
