import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 256;
/** Logits each thread of the slice pass holds in registers. */
const PER_THREAD = 8;
/** Ids per slice: one slice workgroup reads each logit once. */
const SLICE = WORKGROUP * PER_THREAD;
/** Most slices per row (the combine pass gives each slice one thread): vocabularies up to 524,288 ids. */
const MAX_SLICES = WORKGROUP;

/**
 * WGSL: after a barrier, reduces the workgroup's (bestValue, bestId) pairs to the best value with the lowest id
 * among equals, and `maxes` to its maximum, both into element 0.
 */
function bestAndMaxTree(maxes: string): string {
  return `  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let a = bestValue[lid];
      let b = bestValue[lid + stride];
      if (b > a || (b == a && bestId[lid + stride] < bestId[lid])) { bestValue[lid] = b; bestId[lid] = bestId[lid + stride]; }
      ${maxes}[lid] = max(${maxes}[lid], ${maxes}[lid + stride]);
    }
    workgroupBarrier();
  }`;
}

/** WGSL: after a barrier, sums the workgroup's `sums` into element 0 (a fixed tree). */
const SUM_TREE = `  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }`;

/**
 * Greedy sampling on the device: per logits row the argmax (lowest id among equal maxima, as the host
 * sampler) and its log-probability, logit − max − log Σ exp(logit − max), written as two f32 per row (the id
 * is exact in f32: vocabularies are far below 2^24). Rows flagged in `maskStops` ignore the listed stop ids
 * (min_tokens not reached yet), as the host sampler's first step does. The log-probability is of the raw
 * distribution, stop ids included, as vLLM reports it.
 *
 * Two passes, because one workgroup walking a 128k-id row (the first version) took a few hundred µs of a
 * decode step on an H100, with the rest of the GPU idle: (1) a workgroup per (row, slice of 2,048 ids)
 * takes its slice's best (value, lowest id), its raw maximum m and Σ exp(logit − m); (2) a workgroup per
 * row combines the slices in order: the maximum M over the slices, Σ sᵢ·exp(mᵢ − M), and the best of the
 * bests with the lowest id winning ties. The result is each row's alone: no batch dependence.
 */
const SLICE_SOURCE = `
struct Params { vocab: u32, numStops: u32, slices: u32, groups: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> maskStops: array<i32>;
@group(0) @binding(3) var<storage, read> stopIds: array<i32>;
@group(0) @binding(4) var<storage, read_write> partials: array<vec4<f32>>; // [rows × slices]: best value, its id, max, Σexp
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const NO_ID: u32 = 16777216u; // above every id, exact in f32
const PER_THREAD: u32 = ${PER_THREAD}u;
var<workgroup> bestValue: array<f32, ${WORKGROUP}>;
var<workgroup> bestId: array<u32, ${WORKGROUP}>;
var<workgroup> sums: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linearWorkgroup(wid, nwg);
  if (group >= params.groups) { return; } // the grid's last row may run past rows × slices
  let row = group / params.slices;
  let start = (group % params.slices) * WG * PER_THREAD;
  let base = row * params.vocab;
  let masked = maskStops[row] != 0;
  // Thread lid holds ids start + lid, start + lid + WG, …: coalesced loads, all issued before any use.
  var v: array<f32, ${PER_THREAD}>;
  for (var e = 0u; e < PER_THREAD; e++) {
    let i = start + lid + e * WG;
    v[e] = select(-3.0e38, logits[base + min(i, params.vocab - 1u)], i < params.vocab);
  }
  var best = -3.0e38;
  var bestAt = NO_ID;
  var rawMax = -3.0e38;
  for (var e = 0u; e < PER_THREAD; e++) {
    let i = start + lid + e * WG;
    if (i >= params.vocab) { break; }
    rawMax = max(rawMax, v[e]);
    if (v[e] > best) {
      var stop = false;
      if (masked) { for (var s = 0u; s < params.numStops; s++) { stop = stop || u32(stopIds[s]) == i; } }
      if (!stop) { best = v[e]; bestAt = i; }
    }
  }
  bestValue[lid] = best;
  bestId[lid] = bestAt;
  sums[lid] = rawMax;
${bestAndMaxTree("sums")}
  let m = sums[0];
  workgroupBarrier();
  var s = 0.0;
  for (var e = 0u; e < PER_THREAD; e++) {
    if (start + lid + e * WG < params.vocab) { s += exp(v[e] - m); }
  }
  sums[lid] = s;
${SUM_TREE}
  // Ids below 2^24 are exact in f32 (no bit patterns through float storage: some GPUs flush denormals).
  if (lid == 0u) { partials[group] = vec4<f32>(bestValue[0], f32(bestId[0]), m, sums[0]); }
}
`;

const COMBINE_SOURCE = `
struct Params { slices: u32, rows: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const NO_ID: u32 = 16777216u; // above every id, exact in f32
var<workgroup> bestValue: array<f32, ${WORKGROUP}>;
var<workgroup> bestId: array<u32, ${WORKGROUP}>;
var<workgroup> maxes: array<f32, ${WORKGROUP}>;
var<workgroup> sums: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linearWorkgroup(wid, nwg);
  if (row >= params.rows) { return; }
  var p = vec4<f32>(-3.0e38, f32(NO_ID), -3.0e38, 0.0);
  if (lid < params.slices) { p = partials[row * params.slices + lid]; }
  bestValue[lid] = p.x;
  bestId[lid] = u32(p.y);
  maxes[lid] = p.z;
${bestAndMaxTree("maxes")}
  let m = maxes[0];
  sums[lid] = select(0.0, p.w * exp(p.z - m), lid < params.slices);
${SUM_TREE}
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
  const vocab = logits.cols;
  const slices = Math.ceil(vocab / SLICE);
  if (slices > MAX_SLICES) throw new RangeError(`sampleGreedy: a vocabulary of ${vocab} exceeds ${MAX_SLICES * SLICE} ids`);
  const partials = ctx.recorder.output(logits.rows * slices, 4);
  ctx.recorder.dispatch(
    ctx.pipelines.get("sampleGreedy.slices", () => SLICE_SOURCE),
    [uniform(vocab, numStops, slices, logits.rows * slices), activationResource(logits), maskStops, stopIds, activationResource(partials)],
    logits.rows * slices,
  );
  ctx.recorder.dispatch(
    ctx.pipelines.get("sampleGreedy.combine", () => COMBINE_SOURCE),
    [uniform(slices, logits.rows), activationResource(partials), activationResource(out)],
    logits.rows,
  );
  return out;
}
