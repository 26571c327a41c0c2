import { activationResource, uniform, type KernelContext } from "../context.js";
import type { DeviceSampledRows } from "../../backend.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

/** Threads per row: the most (≤ 1,024) the device allows with the kernel's workgroup memory (WORKGROUP_BYTES). */
const MAX_WORKGROUP = 1024;
/** Workgroup memory per thread: sums, counts, prefix (4 bytes each), half of sum8's vec4 pairs (16) and two candidates (16). */
const WORKGROUP_BYTES = 44;
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
 * WGSL: the statements `body` (which see `id` and `x`, the logit) for every id of the row. Scalar rows: thread
 * `lid` takes ids lid, lid + WG, lid + 2·WG, …, four loads in flight. vec4 rows (the vocabulary a multiple of 4):
 * thread `lid` takes the 4 ids of vec4 number lid, lid + WG, …, two 16-byte loads in flight. Either way each
 * subgroup reads consecutive memory and each thread visits its ids in increasing order, so its partial sums have
 * a fixed order. (One workgroup reads a whole row: at batch 1 it alone must keep enough bytes in flight.)
 */
function overRow(vec4: boolean, body: string): string {
  if (vec4) {
    const lanes = (v: string, at: string) =>
      ["x", "y", "z", "w"].map((c, q) => `{ let id = 4u * (${at}) + ${q}u; let x = ${v}.${c}; ${body} }`).join("\n      ");
    return `{
    let V4 = V / 4u;
    let base4 = base / 4u;
    var j = lid;
    for (; j + WG < V4; j += 2u * WG) {
      let a = logits[base4 + j];
      let b = logits[base4 + j + WG];
      ${lanes("a", "j")}
      ${lanes("b", "j + WG")}
    }
    for (; j < V4; j += WG) {
      let a = logits[base4 + j];
      ${lanes("a", "j")}
    }
  }`;
  }
  const step = (offset: string, value: string) => `{ let id = i${offset}; let x = ${value}; ${body} }`;
  return `{
    var i = lid;
    for (; i + 3u * WG < V; i += 4u * WG) {
      let x0 = logits[base + i];
      let x1 = logits[base + i + WG];
      let x2 = logits[base + i + 2u * WG];
      let x3 = logits[base + i + 3u * WG];
      ${step("", "x0")}
      ${step(" + WG", "x1")}
      ${step(" + 2u * WG", "x2")}
      ${step(" + 3u * WG", "x3")}
    }
    for (; i < V; i += WG) { ${step("", "logits[base + i]")} }
  }`;
}

/** WGSL: the statements `body` (which see `cw`: (id bits, w)) for every top-p candidate in workgroup memory. */
function overCandidates(body: string): string {
  return `for (var c = lid; c < numCandidates; c += WG) { let cw = candidates[c]; ${body} }`;
}

/**
 * WGSL for one search over a monotone statistic: the largest u32 `m` in [lo, hi] with f(m) ≥ `target`, where
 * f(m) sums `value` over the elements `over` visits with `key` ≥ m (WGSL expressions of `w`, the element's
 * `weightOf`, and of what `over` defines; only where `w` > 0), so f does not increase with m. Each pass evaluates
 * f at 8 points spread over the interval (two vec4 accumulators) and keeps the sub-interval where f crosses the
 * target: the interval shrinks ~9× per pass (a 32-bit range in 11 passes, where bisection needs 32). Leaves the
 * answer in `lo`.
 */
function searchLargest(over: (body: string) => string, keyOf: string, valueOf: string, target: string, weightOf: string): string {
  return `loop {
      if (lo >= hi) { break; }
      let span = hi - lo;
      let step = span / 9u + select(0u, 1u, span % 9u != 0u); // ≥ 1, and 8·step < 2^32
      let pA = vec4<u32>(lo) + min(vec4<u32>(1u, 2u, 3u, 4u) * step, vec4<u32>(span));
      let pB = vec4<u32>(lo) + min(vec4<u32>(5u, 6u, 7u, 8u) * step, vec4<u32>(span));
      var accA = vec4<f32>(0.0);
      var accB = vec4<f32>(0.0);
      ${over(
        `let w = ${weightOf};
        if (w > 0.0) {
          let key = vec4<u32>(${keyOf});
          let value = vec4<f32>(${valueOf});
          accA += select(vec4<f32>(0.0), value, key >= pA);
          accB += select(vec4<f32>(0.0), value, key >= pB);
        }`,
      )}
      let f = sum8(lid, accA, accB);
      // f at points 1..8 does not increase: the points that reach the target are a prefix 1..J.
      let reachA = f.a >= vec4<f32>(${target});
      let reachB = f.b >= vec4<f32>(${target});
      let J = dot(select(vec4<u32>(0u), vec4<u32>(1u), reachA), vec4<u32>(1u)) + dot(select(vec4<u32>(0u), vec4<u32>(1u), reachB), vec4<u32>(1u));
      let points = array<u32, 10>(lo, pA.x, pA.y, pA.z, pA.w, pB.x, pB.y, pB.z, pB.w, hi + 1u);
      if (J == 0u) {
        hi = pA.x - 1u;
      } else {
        let next = points[J + 1u];
        lo = points[J];
        if (J < 8u) { hi = next - 1u; }
      }
    }`;
}

/**
 * Temperature sampling with min-p, top-k and top-p on the device, one workgroup per sampled row, so that a
 * sampled decode step reads back two floats per row instead of the row's logits (128,256 floats for Llama 3)
 * and needs no host pass over them. The filters are the host sampler's (engine/sampler.ts, steps 1 and 4–8),
 * computed with thresholds instead of sorting:
 *  1. rows flagged `mask` ignore the stop ids (min_tokens);
 *  2. weights w = exp((logit − max) / T); min-p drops w < min_p (w is p / p_max);
 *  3. top-k keeps the logits ≥ the k-th largest surviving logit (ties kept): the largest logit order key (a
 *     u32 that orders like the f32) with at least k survivors at or above it, found by a 9-way search (11 passes);
 *  4. top-p keeps the survivors with w ≥ τ for the largest τ whose kept mass reaches top_p × the survivors' mass
 *     (the most-likely-first prefix that crosses top_p, plus exact ties of its last weight): the same search over
 *     the bits of τ ∈ [0, 1], run over the few survivors that can be kept, copied to workgroup memory (2 passes
 *     over the row), or over the row (10 passes) when too many can;
 *  5. the host's uniform u (one draw of the request's generator per sampled token, as the host sampler) picks the
 *     token by inverse CDF over the kept weights in id order.
 * The token's log-probability is of the raw row (stop ids included), as the host sampler and vLLM report it.
 * Sums run per thread over a fixed set of ids in increasing order, then over the threads in a fixed tree, so a
 * row's result does not depend on the batch. Counts are summed as f32, exact below 2^24. The host sampler walks
 * the same id order in float64, so a seed picks the same token on both paths but where rounding moves a boundary.
 * (The first version bisected, 32 + 31 passes, with each thread reading a contiguous chunk of the row: 9 ms per
 * sampled token at batch 1 on an H100; the 9-way search over the row with vec4 loads, 1.0 ms: bench/NOTES.md
 * session 7. The candidate copy came after the device time was spent: not yet timed.)
 */
function sampleRowsSource(workgroup: number, vec4: boolean): string {
  return `
struct Params { vocab: u32, numStops: u32, numRows: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<${vec4 ? "vec4<f32>" : "f32"}>; // [rows, V]
// Per sampled row, ROW_WORDS words: logits row, mask stops (0/1), top-k (0: off), unused, then the bits of 1/T, top-p, min-p, u.
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> stopIds: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // [logits rows, 2]: token id, log-probability
${LINEAR_WORKGROUP}

const WG: u32 = ${workgroup}u;
const CANDIDATES: u32 = ${2 * workgroup}u;
const ROW_WORDS: u32 = ${SAMPLED_ROW_WORDS}u;

var<workgroup> sums: array<f32, ${workgroup}>;
var<workgroup> counts: array<u32, ${workgroup}>;
var<workgroup> pairs: array<vec4<f32>, ${workgroup}>;
// Top-p candidates (id bits, w), CANDIDATES = 2 per thread, and how many the row has.
var<workgroup> candidates: array<vec2<f32>, ${2 * workgroup}>;
var<workgroup> numCandidates: u32;
var<workgroup> prefix: array<f32, ${workgroup + 1}>;
var<workgroup> picked: atomic<u32>;

${reduction("sumAll", "sums", "f32", (a, b) => `${a} + ${b}`)}
${reduction("maxAll", "sums", "f32", (a, b) => `max(${a}, ${b})`)}
${reduction("maxCountAll", "counts", "u32", (a, b) => `max(${a}, ${b})`)}

struct Pair { a: vec4<f32>, b: vec4<f32> }

/** The workgroup's sums of (a, b) in a fixed tree, returned to every thread (uniform control flow only). */
fn sum8(lid: u32, a: vec4<f32>, b: vec4<f32>) -> Pair {
  // The upper half's values are added to the lower half's as they arrive, so the array holds WG / 2 pairs.
  let half = WG / 2u;
  workgroupBarrier();
  if (lid >= half) {
    pairs[2u * (lid - half)] = a;
    pairs[2u * (lid - half) + 1u] = b;
  }
  workgroupBarrier();
  if (lid < half) {
    pairs[2u * lid] = a + pairs[2u * lid];
    pairs[2u * lid + 1u] = b + pairs[2u * lid + 1u];
  }
  workgroupBarrier();
  for (var stride = half / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      pairs[2u * lid] += pairs[2u * (lid + stride)];
      pairs[2u * lid + 1u] += pairs[2u * (lid + stride) + 1u];
    }
    workgroupBarrier();
  }
  return Pair(workgroupUniformLoad(&pairs[0]), workgroupUniformLoad(&pairs[1]));
}

// An order-preserving key of an f32: a < b exactly when key(a) < key(b) (NaN aside).
fn orderKey(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn logit(i: u32) -> f32 {
  return ${vec4 ? "logits[i >> 2u][i & 3u]" : "logits[i]"};
}

fn isStop(id: u32) -> bool {
  for (var s = 0u; s < params.numStops; s++) {
    if (u32(stopIds[s]) == id) { return true; }
  }
  return false;
}

// w of a survivor of the min_tokens mask and min-p, else 0.
fn survivorWeight(id: u32, x: f32, mask: bool, maskedMax: f32, invT: f32, minP: f32) -> f32 {
  if (mask && isStop(id)) { return 0.0; }
  let w = exp((x - maskedMax) * invT);
  if (!(w > 0.0) || w < minP) { return 0.0; }
  return w;
}

@compute @workgroup_size(${workgroup})
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

  // Raw maximum (stop ids included) and the maximum the weights are taken against.
  var rawMax = -3.0e38;
  var maskedMax = -3.0e38;
  ${overRow(
    vec4,
    `rawMax = max(rawMax, x);
    if (!(mask && isStop(id))) { maskedMax = max(maskedMax, x); }`,
  )}
  rawMax = maxAll(lid, rawMax);
  maskedMax = maxAll(lid, maskedMax);

  // The raw log-normaliser, and the survivors of min-p: their count (top-k filters only below it) and mass.
  var rawSum = 0.0;
  var alive = 0.0;
  var aliveMass = 0.0;
  ${overRow(
    vec4,
    `rawSum += exp(x - rawMax);
    let w = survivorWeight(id, x, mask, maskedMax, invT, minP);
    if (w > 0.0) { alive += 1.0; aliveMass += w; }`,
  )}
  let raw = sum8(lid, vec4<f32>(rawSum, alive, aliveMass, 0.0), vec4<f32>(0.0));
  rawSum = raw.a.x;

  // Top-k: the largest key K with at least k survivors whose logit key is ≥ K (that is the k-th largest logit).
  var keyFloor = 0u;
  var total = raw.a.z;
  if (topK > 0u && f32(topK) < raw.a.y) {
    var lo = 0u;
    var hi = 0xffffffffu;
    ${searchLargest((body) => overRow(vec4, body), "orderKey(x)", "1.0", "f32(topK)", "survivorWeight(id, x, mask, maskedMax, invT, minP)")}
    keyFloor = lo;
    var kept = 0.0;
    ${overRow(vec4, `kept += topKSurvivorWeight(id, x, mask, maskedMax, invT, minP, keyFloor);`)}
    total = sumAll(lid, kept);
  }

  // Top-p: the largest weight threshold τ (as f32 bits) whose kept mass reaches top_p × the survivors' mass.
  var tauBits = 0u;
  if (topP < 1.0) {
    let massTarget = topP * total;
    // Candidates: one pass finds, of θ = 4^-1 … 4^-8, the largest whose survivors (w ≥ θ) hold the target mass. Then
    // τ ≥ θ, every survivor the search can keep is among them, and when at most CANDIDATES of them are, they are
    // copied to workgroup memory (in a fixed order: thread by thread) and searched there: one more pass over the row
    // instead of ten. (A language model's nucleus is usually a few tokens; a flat row searches the row itself.)
    let thetaA = vec4<f32>(0.25, 0.0625, 0.015625, 0.00390625);
    let thetaB = vec4<f32>(0.0009765625, 0.000244140625, 0.00006103515625, 0.0000152587890625);
    var massA = vec4<f32>(0.0);
    var massB = vec4<f32>(0.0);
    var countA = vec4<f32>(0.0);
    var countB = vec4<f32>(0.0);
    ${overRow(
      vec4,
      `let w = topKSurvivorWeight(id, x, mask, maskedMax, invT, minP, keyFloor);
      if (w > 0.0) {
        let inA = vec4<f32>(w) >= thetaA;
        let inB = vec4<f32>(w) >= thetaB;
        massA += select(vec4<f32>(0.0), vec4<f32>(w), inA);
        massB += select(vec4<f32>(0.0), vec4<f32>(w), inB);
        countA += select(vec4<f32>(0.0), vec4<f32>(1.0), inA);
        countB += select(vec4<f32>(0.0), vec4<f32>(1.0), inB);
      }`,
    )}
    let mass = sum8(lid, massA, massB);
    let count = sum8(lid, countA, countB);
    // The smallest j whose θ_j holds the target (the mass grows as θ falls), if its survivors fit.
    let reach = dot(select(vec4<u32>(0u), vec4<u32>(1u), mass.a < vec4<f32>(massTarget)), vec4<u32>(1u)) +
      dot(select(vec4<u32>(0u), vec4<u32>(1u), mass.b < vec4<f32>(massTarget)), vec4<u32>(1u));
    let thetas = array<f32, 8>(thetaA.x, thetaA.y, thetaA.z, thetaA.w, thetaB.x, thetaB.y, thetaB.z, thetaB.w);
    let counts8 = array<f32, 8>(count.a.x, count.a.y, count.a.z, count.a.w, count.b.x, count.b.y, count.b.z, count.b.w);
    let mine8 = array<f32, 8>(countA.x, countA.y, countA.z, countA.w, countB.x, countB.y, countB.z, countB.w);
    var lo = 0u;
    var hi = 0x3f800000u; // 1.0: the most likely token's weight
    if (reach < 8u && counts8[min(reach, 7u)] <= f32(CANDIDATES)) {
      let theta = thetas[reach];
      if (lid == 0u) { numCandidates = u32(counts8[reach]); }
      // This thread's first slot: the candidates of the threads before it (an inclusive scan of the counts).
      let own = u32(mine8[reach]);
      counts[lid] = own;
      for (var offset = 1u; offset < WG; offset <<= 1u) {
        workgroupBarrier();
        let before = select(0u, counts[select(0u, lid - offset, lid >= offset)], lid >= offset);
        workgroupBarrier();
        counts[lid] += before;
      }
      workgroupBarrier();
      var slot = counts[lid] - own;
      ${overRow(
        vec4,
        `let w = topKSurvivorWeight(id, x, mask, maskedMax, invT, minP, keyFloor);
        if (w > 0.0 && w >= theta) {
          candidates[slot] = vec2<f32>(bitcast<f32>(id), w);
          slot++;
        }`,
      )}
      workgroupBarrier();
      lo = bitcast<u32>(theta);
      ${searchLargest(overCandidates, "bitcast<u32>(w)", "w", "massTarget", "cw.y")}
    } else {
      ${searchLargest((body) => overRow(vec4, body), "bitcast<u32>(w)", "w", "massTarget", "topKSurvivorWeight(id, x, mask, maskedMax, invT, minP, keyFloor)")}
    }
    tauBits = lo;
  }
  let tau = bitcast<f32>(tauBits);

  // Inverse CDF in id order: each thread's kept mass over its contiguous chunk of ids, their prefix sums (thread
  // 0, in thread order) cut [0, total) into one range per thread, and the thread whose range holds u × total walks
  // its ids. Past the last range (u × total rounded up to total) the last kept id wins, as in the host sampler.
  let chunk = (V + WG - 1u) / WG;
  let first = min(lid * chunk, V);
  let end = min(first + chunk, V);
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
    out[row * 2u + 1u] = logit(base + id) - rawMax - log(rawSum);
  }
}

// w of a survivor of the min_tokens mask, min-p and top-k (its logit's key at least keyFloor), else 0.
fn topKSurvivorWeight(id: u32, x: f32, mask: bool, maskedMax: f32, invT: f32, minP: f32, keyFloor: u32) -> f32 {
  return select(0.0, survivorWeight(id, x, mask, maskedMax, invT, minP), orderKey(x) >= keyFloor);
}

// w of id i if it survives every filter (min_tokens mask, min-p, top-k key floor, weight threshold τ), else 0.
fn keptWeight(i: u32, base: u32, mask: bool, maskedMax: f32, invT: f32, minP: f32, keyFloor: u32, tau: f32) -> f32 {
  let w = topKSurvivorWeight(i, logit(base + i), mask, maskedMax, invT, minP, keyFloor);
  return select(0.0, w, w >= tau);
}
`;
}

/** The largest power-of-two workgroup (≤ MAX_WORKGROUP, ≥ 64) the device's limits allow. */
export function sampleWorkgroup(maxInvocations: number, maxWorkgroupBytes: number): number {
  let size = MAX_WORKGROUP;
  while (size > 64 && (size > maxInvocations || size * WORKGROUP_BYTES + 16 > maxWorkgroupBytes)) size /= 2;
  return size;
}

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
  const workgroup = sampleWorkgroup(ctx.pipelines.maxInvocations, ctx.pipelines.maxWorkgroupBytes);
  const vec4 = logits.cols % 4 === 0;
  ctx.recorder.dispatch(
    ctx.pipelines.get(`sampleRows/${workgroup}/${vec4 ? "vec4" : "f32"}`, () => sampleRowsSource(workgroup, vec4)),
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
