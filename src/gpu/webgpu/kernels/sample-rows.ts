import { activationResource, uniform, type KernelContext } from "../context.js";
import type { DeviceSampledRows } from "../../backend.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 256;
/** u32 words per sampled row in the kernel's `rows` input (packSampledRows). */
export const SAMPLED_ROW_WORDS = 8;

/**
 * WGSL: `name(lid, x)` combines the workgroup's x with `op` in a fixed tree through `array` and returns the result
 * to every thread (call it from uniform control flow: it has barriers).
 */
function reduction(name: string, array: string, type: string, op: (a: string, b: string) => string): string {
  return `fn ${name}(lid: u32, x: ${type}) -> ${type} {
  workgroupBarrier();
  ${array}[lid] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { ${array}[lid] = ${op(`${array}[lid]`, `${array}[lid + stride]`)}; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&${array}[0]);
}`;
}

/**
 * Temperature sampling with min-p, top-k and top-p on the device, one workgroup per sampled row, so that a
 * sampled decode step reads back two floats per row instead of the row's logits (128,256 floats for Llama 3)
 * and needs no host pass over them. The filters are the host sampler's (engine/sampler.ts, steps 1 and 4–8),
 * computed with thresholds instead of sorting:
 *  1. rows flagged `mask` ignore the stop ids (min_tokens);
 *  2. weights w = exp((logit − max) / T); min-p drops w < min_p (w is p / p_max);
 *  3. top-k keeps the logits ≥ the k-th largest surviving logit (ties kept): found by bisection over the logits'
 *     order-preserving u32 keys, 32 counting passes;
 *  4. top-p keeps the survivors with w ≥ τ for the largest τ whose kept mass reaches top_p × the survivors' mass
 *     (the most-likely-first prefix that crosses top_p, plus exact ties of its last weight): bisection over the
 *     bits of τ ∈ [0, 1], 31 mass passes;
 *  5. the host's uniform u (one draw of the request's generator per sampled token, as the host sampler) picks the
 *     token by inverse CDF over the kept weights in id order.
 * The token's log-probability is of the raw row (stop ids included), as the host sampler and vLLM report it.
 * Sums run per thread over its contiguous chunk of ids, then over the threads in a fixed tree, so a row's result
 * does not depend on the batch. The host sampler walks the same id order in float64, so a seed picks the same
 * token on both paths but where rounding moves a boundary.
 */
const SOURCE = `
struct Params { vocab: u32, numStops: u32, numRows: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
// Per sampled row, ROW_WORDS words: logits row, mask stops (0/1), top-k (0: off), unused, then the bits of 1/T, top-p, min-p, u.
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> stopIds: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // [logits rows, 2]: token id, log-probability
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const ROW_WORDS: u32 = ${SAMPLED_ROW_WORDS}u;

var<workgroup> sums: array<f32, ${WORKGROUP}>;
var<workgroup> counts: array<u32, ${WORKGROUP}>;
var<workgroup> prefix: array<f32, ${WORKGROUP + 1}>;
var<workgroup> picked: atomic<u32>;

${reduction("sumAll", "sums", "f32", (a, b) => `${a} + ${b}`)}
${reduction("maxAll", "sums", "f32", (a, b) => `max(${a}, ${b})`)}
${reduction("countAll", "counts", "u32", (a, b) => `${a} + ${b}`)}
${reduction("maxCountAll", "counts", "u32", (a, b) => `max(${a}, ${b})`)}

// An order-preserving key of an f32: a < b exactly when key(a) < key(b) (NaN aside).
fn orderKey(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn isStop(id: u32) -> bool {
  for (var s = 0u; s < params.numStops; s++) {
    if (u32(stopIds[s]) == id) { return true; }
  }
  return false;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = linearWorkgroup(wid, nwg);
  if (r >= params.numRows) { return; } // the whole workgroup: uniform
  let row = rows[r * ROW_WORDS];
  let mask = rows[r * ROW_WORDS + 1u] != 0u;
  let topK = rows[r * ROW_WORDS + 2u];
  let invT = bitcast<f32>(rows[r * ROW_WORDS + 4u]);
  let topP = bitcast<f32>(rows[r * ROW_WORDS + 5u]);
  let minP = bitcast<f32>(rows[r * ROW_WORDS + 6u]);
  let u = bitcast<f32>(rows[r * ROW_WORDS + 7u]);
  let V = params.vocab;
  let base = row * V;
  let chunk = (V + WG - 1u) / WG;
  let first = min(lid * chunk, V);
  let end = min(first + chunk, V);

  // Raw maximum and log-normaliser (stop ids included), and the maximum the weights are taken against.
  var rawMax = -3.0e38;
  var maskedMax = -3.0e38;
  for (var i = first; i < end; i++) {
    let x = logits[base + i];
    rawMax = max(rawMax, x);
    if (!(mask && isStop(i))) { maskedMax = max(maskedMax, x); }
  }
  rawMax = maxAll(lid, rawMax);
  maskedMax = maxAll(lid, maskedMax);
  var rawSum = 0.0;
  for (var i = first; i < end; i++) { rawSum += exp(logits[base + i] - rawMax); }
  rawSum = sumAll(lid, rawSum);

  // Survivors of min-p (w ≥ min_p, w > 0); their count decides whether top-k filters at all.
  var alive = 0u;
  for (var i = first; i < end; i++) {
    let x = logits[base + i];
    let w = exp((x - maskedMax) * invT);
    if (!(mask && isStop(i)) && w > 0.0 && w >= minP) { alive++; }
  }
  alive = countAll(lid, alive);

  // Top-k: the largest key K with at least k survivors whose logit key is ≥ K (that is the k-th largest logit).
  var keyFloor = 0u;
  if (topK > 0u && topK < alive) {
    var lo = 0u;
    var hi = 0xffffffffu;
    for (var step = 0u; step < 32u; step++) {
      let mid = lo + (hi - lo) / 2u + (hi - lo) % 2u; // upper middle: lo < mid ≤ hi while lo < hi
      var n = 0u;
      for (var i = first; i < end; i++) {
        let x = logits[base + i];
        let w = exp((x - maskedMax) * invT);
        if (!(mask && isStop(i)) && w > 0.0 && w >= minP && orderKey(x) >= mid) { n++; }
      }
      n = countAll(lid, n);
      if (lo < hi) {
        if (n >= topK) { lo = mid; } else { hi = mid - 1u; }
      }
    }
    keyFloor = lo;
  }

  // Top-p: the largest weight threshold τ (as f32 bits) whose kept mass reaches top_p × the survivors' mass.
  var tauBits = 0u;
  let total = keptMass(lid, base, first, end, mask, maskedMax, invT, minP, keyFloor, 0.0);
  if (topP < 1.0) {
    let massTarget = topP * total;
    var lo = 0u;
    var hi = 0x3f800000u; // 1.0: the most likely token's weight
    for (var step = 0u; step < 31u; step++) {
      let mid = lo + (hi - lo) / 2u + (hi - lo) % 2u;
      let mass = keptMass(lid, base, first, end, mask, maskedMax, invT, minP, keyFloor, bitcast<f32>(mid));
      if (lo < hi) {
        if (mass >= massTarget) { lo = mid; } else { hi = mid - 1u; }
      }
    }
    tauBits = lo;
  }
  let tau = bitcast<f32>(tauBits);

  // Inverse CDF in id order: each thread's kept mass, their prefix sums (thread 0, in thread order) cut [0, total)
  // into one range per thread, and the thread whose range holds u × total walks its ids. Past the last range
  // (u × total rounded up to total) the last kept id wins, as in the host sampler.
  var mine = 0.0;
  var lastPlusOne = 0u;
  for (var i = first; i < end; i++) {
    let w = keptWeight(i, base, mask, maskedMax, invT, minP, keyFloor, tau);
    mine += w;
    if (w > 0.0) { lastPlusOne = i + 1u; }
  }
  let lastKept = maxCountAll(lid, lastPlusOne) - 1u;
  prefix[lid] = mine;
  if (lid == 0u) { atomicStore(&picked, lastKept); }
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0.0;
    for (var t = 0u; t < WG; t++) {
      let m = prefix[t];
      prefix[t] = acc;
      acc += m;
    }
    prefix[WG] = acc;
  }
  workgroupBarrier();
  let drawAt = u * prefix[WG];
  let rangeStart = prefix[lid];
  let rangeEnd = prefix[lid + 1u];
  if (drawAt >= rangeStart && drawAt < rangeEnd) {
    var acc = rangeStart;
    var id = lastPlusOne - 1u; // the walk's own rounding may end just below rangeEnd: then this range's last kept id
    for (var i = first; i < end; i++) {
      acc += keptWeight(i, base, mask, maskedMax, invT, minP, keyFloor, tau);
      if (drawAt < acc) {
        id = i;
        break;
      }
    }
    atomicMin(&picked, id);
  }
  workgroupBarrier();
  if (lid == 0u) {
    let id = atomicLoad(&picked);
    out[row * 2u] = f32(id);
    out[row * 2u + 1u] = logits[base + id] - rawMax - log(rawSum);
  }
}

// w of id i if it survives every filter (min_tokens mask, min-p, top-k key floor, weight threshold τ), else 0.
fn keptWeight(i: u32, base: u32, mask: bool, maskedMax: f32, invT: f32, minP: f32, keyFloor: u32, tau: f32) -> f32 {
  if (mask && isStop(i)) { return 0.0; }
  let x = logits[base + i];
  let w = exp((x - maskedMax) * invT);
  if (!(w > 0.0) || w < minP || orderKey(x) < keyFloor || w < tau) { return 0.0; }
  return w;
}

fn keptMass(lid: u32, base: u32, first: u32, end: u32, mask: bool, maskedMax: f32, invT: f32, minP: f32, keyFloor: u32, tau: f32) -> f32 {
  var m = 0.0;
  for (var i = first; i < end; i++) { m += keptWeight(i, base, mask, maskedMax, invT, minP, keyFloor, tau); }
  return sumAll(lid, m);
}
`;

/** The rows' settings as the kernel reads them: SAMPLED_ROW_WORDS u32 per row. */
export function packSampledRows(sampled: DeviceSampledRows): Uint32Array {
  const n = sampled.rows.length;
  const words = new Uint32Array(n * SAMPLED_ROW_WORDS);
  const floats = new Float32Array(words.buffer);
  for (let r = 0; r < n; r++) {
    const at = r * SAMPLED_ROW_WORDS;
    words[at] = sampled.rows[r];
    words[at + 1] = sampled.maskStops[r] ? 1 : 0;
    words[at + 2] = Math.max(0, sampled.topK[r]);
    floats[at + 4] = 1 / sampled.temperature[r];
    floats[at + 5] = sampled.topP[r];
    floats[at + 6] = sampled.minP[r];
    floats[at + 7] = sampled.u[r];
  }
  return words;
}

/**
 * Overwrites the (token id, log-probability) pairs of the sampled rows in `pairs` (sampleGreedy's `[rows, 2]`
 * output for the same logits) with draws from their filtered distributions.
 */
export function sampleRows(
  ctx: KernelContext,
  logits: GpuActivation,
  pairs: GpuActivation,
  rows: Resource,
  count: number,
  stopIds: Resource,
  numStops: number,
): GpuActivation {
  if (pairs.rows !== logits.rows || pairs.cols !== 2)
    throw new Error(`sampleRows: pairs are [${pairs.rows}, ${pairs.cols}], expected [${logits.rows}, 2]`);
  if (count === 0) return pairs;
  ctx.recorder.dispatch(
    ctx.pipelines.get("sampleRows", () => SOURCE),
    [
      uniform(logits.cols, numStops, count),
      activationResource(logits),
      rows,
      stopIds,
      { kind: "activation", activation: pairs, rewrites: true },
    ],
    count,
  );
  return pairs;
}
