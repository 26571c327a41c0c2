import { activationResource, uniform, type GpuKvLayer, type KernelContext, type KvDtype } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { f32Bits, kvEnable, LINEAR_WORKGROUP } from "../wgsl.js";
import { checkAttentionShapes } from "./attention.js";
import { ROPED_K } from "./write-kv.js";
import { ropedQLoad } from "./rope.js";
import { envVar } from "../env.js";
import type { PipelineCache } from "../pipelines.js";

const WORKGROUP = 256;

/**
 * The per-row attention kernel: what the backend runs for decode (and, when batch-invariant, for every row; the
 * tiled kernel of attention.ts serves prefill runs). Its arithmetic per row is fixed, so a row's bits never depend
 * on the batch; it differs from the tiled kernel's, which is why a backend picks one of the two for all rows unless
 * it is not batch-invariant. In decode-only steps (no two rows of one sequence) the KV write is fused in
 * (attentionPerRow's `writeKv`): one dispatch per layer instead of writeKv + attention, saving writeKv's ~10 µs.
 *
 * Causal GQA over the paged cache, one workgroup per (token, query head), or per (token, KV head) serving all its
 * query heads (`heads`: perRowHeads picks it for large batches, where each K/V row is then read once instead of once
 * per query head; at batch 1 the 4× fewer workgroups are slower). Each head's arithmetic is the same either way, so
 * the choice changes no bit. Two designs, which round differently: perRowDesign takes one per device and head size,
 * never per batch (SWALLOW_ATTENTION_PER_ROW=threads|lanes forces one).
 *
 * "lanes" (lanesSource), taken where the device has subgroups of at least 8, probed to be consecutive runs of the
 * workgroup (subgroup-layout-probe.ts), and headDim % 32 == 0: 128 threads in 16 groups of 8 lanes, lane l owning
 * head dims [l·D/8, (l+1)·D/8) (vec4 loads; 16 bytes at a time from an f16 cache where D/8 % 8 == 0), its q slice of
 * each head in registers. The positions go in chunks of 64: group g takes the 4
 * consecutive positions 64c + 4g + u, issues their K and V loads together, sums each head's dot over its 8 lanes
 * with subgroupShuffleXor (8 consecutive invocations of a subgroup), and runs an online softmax per group (one
 * rescale per chunk). The 16 groups' (max, sum, Σ w·v) are combined at the end through workgroup memory, one head at
 * a time, in group order. A warp reads whole 16-byte pieces of 4 K/V rows instead of the threads design's 32
 * rows 2 KB apart. H100, 8B shapes, f16 KV (bench/attention-lab.ts, robustness on): decode batch 256 at context 336
 * 1.34 → 0.72 ms per layer (heads = group), batch 32 at 1,376 0.57 → 0.28 ms, batch 1 at 384 0.060 → 0.036 ms
 * (one head per workgroup), against the threads design on the same card (lab readings from before session 20 found
 * that a lab process's first cases read up to 3× slow). Warm, on an H200 (session 20), batch 256 at context 336 takes
 * ~0.15 ms per layer (~2.3 TB/s of K/V), about a sixth of a batch-256 decode step.
 *
 * The lanes design splits a row over its sequence (flash-decoding): each segment of attentionSegment() positions is
 * a work item with its own workgroup per query head (group), which leaves its softmax state (max, Σ weights,
 * Σ weight·v) in `partial`; a second dispatch (mergeSource) rescales a row's states to their largest max, adds them
 * in segment order and divides. A row of one segment is written at once, exactly as before the split. The segments
 * depend on the row's own length only, so its bits never depend on the batch. H100, 8B shapes, same call: decode at
 * batch 1 with an 8,192-token prompt 11.02 → 7.23 ms per token (32 workgroups per layer, each walking 128 chunks,
 * before), 1,024 tokens 6.97 → 6.75; the lab's layer at batch 1 and context 4,096 0.117 → 0.045 ms, batch 32 at
 * 2,048 0.332 → 0.123 ms (bench/NOTES.md, session 19).
 *
 * "threads" (threadsSource), the fallback: one 256-thread workgroup; positions 0..positions[t] in tiles of 256 with
 * an online softmax between tiles:
 *  - phase 1: thread i computes the full q·k score of position tile + i for each head (K read as vec4 when
 *    headDim % 4 == 0, two vec4 per 16-byte load from an f16 cache when headDim % 8 == 0), the tile max is reduced
 *    with `subgroupMax` (or a workgroup-memory tree), weights exp(s - max) go to workgroup memory;
 *  - phase 2: the threads form G groups of headDim / VEC threads; thread (g, d) owns output dims d (a vec4)
 *    and accumulates Σ p·v and Σ p over the tile positions g, g + G, …, rescaled when the running max grows.
 * At the end the G partial accumulators and sums are combined through workgroup memory. Each thread reads a whole K
 * row by itself (a warp's loads are 32 rows apart): decode batch 256 at context 336 ran at ~260 GB/s on an H100.
 *
 * With `fused` (decode-only steps, attentionPerRow with `writeKv`) the kernel also does writeKv's work: the row's own
 * position p = positions[t] takes its K (roped) and V from the k / v activations, converted to the cache dtype exactly
 * as writeKv stores them (kOwn / vOwn), instead of reading them back from the cache; the workgroups of the first query
 * head of each KV head store those values at slots[t]. The own position is the last of the context and takes the
 * place of its cache read in the same arithmetic (threads: tile thread p % 256, its p·v term last of its group;
 * lanes: its group's lane registers): the row's bits are those of writeKv + the unfused kernel.
 */
/** Variant of the per-row kernel's WGSL (see attentionPerRow for when each is taken). */
interface PerRowVariant {
  kvDtype: KvDtype;
  headDim: number;
  subgroups: boolean;
  rope: boolean;
  /** The KV write fused in (decode-only steps). */
  fused: boolean;
  /** Rows from a row list (the split path) instead of every row. */
  subset: boolean;
  /** Query heads per workgroup: 1, or all the heads of a KV head (GQA), which then read each K/V row once. */
  heads: number;
  /** Positions per segment of a row (the lanes design's split over the sequence; see perRowWork). */
  segment: number;
  /** Lab forms of the lanes design with the same bits (LanesForms). */
  forms: LanesForms;
  /** Positions per cache block: a constant of the lanes design's WGSL (its block arithmetic in shifts, not divisions). */
  blockSize: number;
}

/**
 * Kernel-lab forms of the lanes design (session 19), each with the same bits as the default:
 * `loads`: a chunk's K/V loads without the `if (first < cached)` branch (they read a clamped cached position, which
 * the selects after them replace), so that no branch joins the loaded registers (session 18's GEMM waited on its
 * loads at such a join); `q`: q in workgroup memory instead of registers (64 fewer per thread with the GQA group per
 * workgroup, where ~200 registers leave two workgroups per SM). Measured in session 20 (H200, lab, warm, each beside
 * the default in one process; run with a third form, V loads forced to issue with the K loads, which alone changed
 * nothing and was removed): q alone is 5–9% slower; loads and q together 23% faster at batch 1 × 4,096 positions and
 * 10% at 256 × 1,024, 15% slower at 8 × 4,096, within 3% elsewhere. So the default keeps neither.
 */
export interface LanesForms {
  branchFreeLoads?: boolean;
  qInWorkgroup?: boolean;
}

const LANES_FORM_NAMES = ["loads", "q"];

/** SWALLOW_LANES_FORMS=loads,q (either or both; read once) turns the lab forms on. */
function lanesFormsFromEnv(): LanesForms {
  const names = (envVar("SWALLOW_LANES_FORMS") ?? "").split(",").filter(Boolean);
  for (const name of names)
    if (!LANES_FORM_NAMES.includes(name))
      throw new Error(`SWALLOW_LANES_FORMS=${names.join(",")}: expected some of ${LANES_FORM_NAMES.join(", ")}`);
  return lanesForms(names);
}

/** The lab forms named (loads, q). */
export function lanesForms(names: string[]): LanesForms {
  return { branchFreeLoads: names.includes("loads"), qInWorkgroup: names.includes("q") };
}
const LANES_FORMS = lanesFormsFromEnv();

/** Whether K rows are read 16 bytes (8 halves) at a time: an f16 cache with a head size that is a multiple of 8. */
function wideKeys(kvDtype: KvDtype, headDim: number): boolean {
  return kvDtype === "f16" && headDim % 8 === 0;
}

function threadsSource({ kvDtype, headDim, subgroups, rope, fused, subset, heads }: PerRowVariant): string {
  const vec = headDim % 4 === 0 ? 4 : 1;
  const lanes = headDim / vec; // threads per output group
  if (lanes > WORKGROUP) throw new Error(`attention: head size ${headDim} is too large`);
  const groups = Math.floor(WORKGROUP / lanes);
  const kvType = vec === 4 ? `vec4<${kvDtype}>` : kvDtype;
  const acc = vec === 4 ? "vec4<f32>" : "f32";
  const wide = wideKeys(kvDtype, headDim);
  const cacheAccess = fused ? "read_write" : "read";
  // Fused: (the last tile) the own position is left out of the cached loop and added after it.
  const cachedCount = fused ? "select(count, count - 1u, start + count == length)" : "count";
  const perHead = (body: string) => `for (var h = 0u; h < HEADS; h++) { ${body} }`;
  // Phase 1's sums over the head's elements, in element order for every head: with wide keys one 16-byte load
  // gives elements 2c and 2c + 1 (vec4s), added in that order, as two 8-byte loads would.
  const keyDots = (key: (d: string) => string, wideLoad: boolean) =>
    wideLoad
      ? `        for (var c = 0u; c < LANES / 2u; c++) {
          let w = keys[kBase / 2u + c];
          let k0 = vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
          let k1 = vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w));
          ${perHead("dots[h] += dot(qShared[h * LANES + 2u * c], k0); dots[h] += dot(qShared[h * LANES + 2u * c + 1u], k1);")}
        }`
      : `        for (var d = 0u; d < LANES; d++) {
          let k = ${acc}(${key("d")});
          ${perHead("dots[h] += dotAcc(qShared[h * LANES + d], k);")}
        }`;
  const cachedKey = (d: string) => `keys[kBase + ${d}]`;
  const reduceMax = subgroups
    ? `    for (var h = 0u; h < HEADS; h++) {
      let sgMax = subgroupMax(scores[h]);
      if (sgId == 0u) { scratch[h * WG + lid / sgSize] = sgMax; }
    }
    workgroupBarrier();
    var tileMax: array<f32, HEADS>;
    for (var h = 0u; h < HEADS; h++) {
      tileMax[h] = LOWEST;
      for (var sg = 0u; sg < WG / sgSize; sg++) { tileMax[h] = max(tileMax[h], scratch[h * WG + sg]); }
    }`
    : `    for (var h = 0u; h < HEADS; h++) { scratch[h * WG + lid] = scores[h]; }
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) {
        for (var h = 0u; h < HEADS; h++) { scratch[h * WG + lid] = max(scratch[h * WG + lid], scratch[h * WG + lid + stride]); }
      }
      workgroupBarrier();
    }
    var tileMax: array<f32, HEADS>;
    for (var h = 0u; h < HEADS; h++) { tileMax[h] = scratch[h * WG]; }`;
  const keysType = wide ? "vec4<u32>" : kvType;
  return `${kvEnable(kvDtype)}${subgroups ? "enable subgroups;\n" : ""}
struct Params { numTokens: u32, numHeads: u32, groupSize: u32, kvCols: u32, blockSize: u32, maxBlocksPerSeq: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<${acc}>;
@group(0) @binding(2) var<storage, ${cacheAccess}> keys: array<${keysType}>;${wide ? " // 8 halves per element" : ""}
@group(0) @binding(3) var<storage, ${cacheAccess}> values: array<${kvType}>;
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> seqIndex: array<i32>;
@group(0) @binding(6) var<storage, read> blockTables: array<i32>;
@group(0) @binding(7) var<storage, read_write> out: array<${acc}>;
${rope ? "@group(0) @binding(8) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]" : ""}
${fused ? fusedDeclarations(kvDtype, headDim, vec, rope) : ""}
${subset ? `@group(0) @binding(${rope ? 9 : 8}) var<storage, read> rowList: array<i32>; // the rows this dispatch serves` : ""}
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const LANES: u32 = ${lanes}u; // ${acc} elements of a head
const GROUPS: u32 = ${groups}u;
const VEC: u32 = ${vec}u;
const HEADS: u32 = ${heads}u; // query heads of this workgroup (one KV head)
const LOWEST: f32 = -3.0e38; // below any score, and exp(LOWEST - finite) is 0 without inf - inf

fn dotAcc(a: ${acc}, b: ${acc}) -> f32 { return ${vec === 4 ? "dot(a, b)" : "a * b"}; }

var<workgroup> qShared: array<${acc}, ${heads * lanes}>;
var<workgroup> weights: array<f32, ${heads * WORKGROUP}>;
var<workgroup> tileSlots: array<u32, ${WORKGROUP}>;
var<workgroup> scratch: array<f32, ${heads * WORKGROUP}>;
var<workgroup> accShared: array<${acc}, ${heads * groups * lanes}>;
var<workgroup> sumShared: array<f32, ${heads * groups}>;
var<workgroup> lengthShared: u32;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    subgroups ? ",\n        @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgId: u32" : ""
  }) {
  let group = linearWorkgroup(wid, nwg);
  let headGroups = params.numHeads / HEADS;
  if (group >= params.numTokens * headGroups) { return; }
  let t = ${subset ? "u32(rowList[group / headGroups])" : "group / headGroups"};
  let h0 = (group % headGroups) * HEADS; // first query head
  let kvOffset = (h0 / params.groupSize) * LANES;
  let kvStride = params.kvCols / VEC;
  for (var i = lid; i < HEADS * LANES; i += WG) {
    let d = i % LANES;
    let qBase = (t * params.numHeads + h0 + i / LANES) * LANES;
${rope ? ropedQLoad("qShared[i]", "    ") : "    qShared[i] = q[qBase + d];"}
  }
${rowPrologue(kvDtype, rope, fused, wide, false)}
  let g = lid / LANES;
  let lane = lid % LANES;

  var runningMax: array<f32, HEADS>;
  var runningSum: array<f32, HEADS>;
  var accum: array<${acc}, HEADS>;
  for (var h = 0u; h < HEADS; h++) { runningMax[h] = LOWEST; runningSum[h] = 0.0; accum[h] = ${acc}(0.0); }
  for (var start = 0u; start < length; start += WG) {
    let p = start + lid;
    var scores: array<f32, HEADS>;
    for (var h = 0u; h < HEADS; h++) { scores[h] = LOWEST; }
    if (p < length) {
      let block = u32(blockTables[tableBase + p / params.blockSize]);
      let slot = block * params.blockSize + p % params.blockSize;
      tileSlots[lid] = slot;
      let kBase = slot * kvStride + kvOffset;
      // Zeroed by a statement: the implicit zero of a var declared in a loop was the first iteration's only on
      // lavapipe (the tile loop's second tile started from the first tile's dot products).
      var dots: array<f32, HEADS>;
      for (var h = 0u; h < HEADS; h++) { dots[h] = 0.0; }
${
  fused
    ? `      if (p + 1u == length) {
${keyDots((d) => `ownKey(${d})`, false)}
      } else {
${keyDots(cachedKey, wide)}
      }`
    : keyDots(cachedKey, wide)
}
      for (var h = 0u; h < HEADS; h++) { scores[h] = dots[h] * params.scale; }
    }
${reduceMax}
    var newMax: array<f32, HEADS>;
    for (var h = 0u; h < HEADS; h++) {
      newMax[h] = max(runningMax[h], tileMax[h]);
      var weight = 0.0;
      if (p < length) { weight = exp(scores[h] - newMax[h]); }
      weights[h * WG + lid] = weight;
    }
    workgroupBarrier();
    var a: array<${acc}, HEADS>;
    var s: array<f32, HEADS>;
    for (var h = 0u; h < HEADS; h++) {
      let correction = exp(runningMax[h] - newMax[h]);
      runningMax[h] = newMax[h];
      a[h] = accum[h] * correction;
      s[h] = runningSum[h] * correction;
    }
    if (g < GROUPS) {
      let count = min(WG, length - start);
      let cached = ${cachedCount};
      // Four positions per iteration with their V loads issued before the sums: the loads overlap instead of
      // each waiting on the previous sum. Each head's sums run in the same order as one position at a time.
      var j = g;
      for (; j + 3u * GROUPS < cached; j += 4u * GROUPS) {
        let v0 = ${acc}(values[tileSlots[j] * kvStride + kvOffset + lane]);
        let v1 = ${acc}(values[tileSlots[j + GROUPS] * kvStride + kvOffset + lane]);
        let v2 = ${acc}(values[tileSlots[j + 2u * GROUPS] * kvStride + kvOffset + lane]);
        let v3 = ${acc}(values[tileSlots[j + 3u * GROUPS] * kvStride + kvOffset + lane]);
        for (var h = 0u; h < HEADS; h++) {
          let w0 = weights[h * WG + j];
          let w1 = weights[h * WG + j + GROUPS];
          let w2 = weights[h * WG + j + 2u * GROUPS];
          let w3 = weights[h * WG + j + 3u * GROUPS];
          a[h] += w0 * v0;
          s[h] += w0;
          a[h] += w1 * v1;
          s[h] += w1;
          a[h] += w2 * v2;
          s[h] += w2;
          a[h] += w3 * v3;
          s[h] += w3;
        }
      }
      for (; j < cached; j += GROUPS) {
        let v = ${acc}(values[tileSlots[j] * kvStride + kvOffset + lane]);
        for (var h = 0u; h < HEADS; h++) {
          let w = weights[h * WG + j];
          a[h] += w * v;
          s[h] += w;
        }
      }
${
  fused
    ? `      if (cached < count && j == cached) { // the own position, last of this group's positions
        let v = ${acc}(ownValue(lane));
        for (var h = 0u; h < HEADS; h++) {
          let w = weights[h * WG + j];
          a[h] += w * v;
          s[h] += w;
        }
      }`
    : ""
}
    }
    for (var h = 0u; h < HEADS; h++) { accum[h] = a[h]; runningSum[h] = s[h]; }
    workgroupBarrier();
  }
  if (g < GROUPS) {
    for (var h = 0u; h < HEADS; h++) {
      accShared[(h * GROUPS + g) * LANES + lane] = accum[h];
      if (lane == 0u) { sumShared[h * GROUPS + g] = runningSum[h]; }
    }
  }
  workgroupBarrier();
  for (var i = lid; i < HEADS * LANES; i += WG) {
    let h = i / LANES;
    let d = i % LANES;
    var total = ${acc}(0.0);
    var sum = 0.0;
    for (var k = 0u; k < GROUPS; k++) {
      total += accShared[(h * GROUPS + k) * LANES + d];
      sum += sumShared[h * GROUPS + k];
    }
    out[(t * params.numHeads + h0 + h) * LANES + d] = total / sum;
  }
}
`;
}

/**
 * The lanes design: threads per workgroup, lanes per group (one position at a time), positions per group and chunk.
 * SWALLOW_LANES_WORKGROUP=256 (read once, for the kernel lab) doubles the groups: chunks of 128 positions, half as
 * many in a row's serial loop (decode at batch 1 is that loop's latency). Not measured yet; it rounds differently
 * (32 groups combined), the same for every batch.
 */
const LANES_WORKGROUP = envVar("SWALLOW_LANES_WORKGROUP") === "256" ? 256 : 128;
/** Lanes per position in the lanes design: consecutive invocations of one subgroup (probed, subgroup-layout-probe.ts). */
export const GROUP_LANES = 8;
const POSITION_GROUPS = LANES_WORKGROUP / GROUP_LANES;
const UNROLL = 4; // the scores of a group's chunk are one vec4 per head

/** Whether the lanes design can run: each lane a whole number of vec4s, and its workgroup memory within the limit. */
function lanesFit(headDim: number, maxWorkgroupBytes: number): boolean {
  return headDim % (4 * GROUP_LANES) === 0 && lanesWorkgroupBytes(headDim) <= maxWorkgroupBytes;
}

/** Workgroup memory of the lanes design (any number of heads: the combine reuses one head's buffers). */
export function lanesWorkgroupBytes(headDim: number): number {
  return 4 * (POSITION_GROUPS * headDim + 2 * POSITION_GROUPS + 1) + 2 * headDim * 4; // kOwn / vOwn in at most f32
}

function lanesSource({ kvDtype, headDim, rope, fused, heads, segment, forms, blockSize }: PerRowVariant): string {
  const { branchFreeLoads, qInWorkgroup } = forms;
  const vecs = headDim / GROUP_LANES / 4; // vec4<f32> of head dims per lane
  // An f16 cache is read 16 bytes (8 halves, two vec4s) at a time where a lane's dims allow.
  const wide = kvDtype === "f16" && vecs % 2 === 0;
  const loads = wide ? vecs / 2 : vecs; // cache elements per lane and position
  const raw = wide ? "vec4<u32>" : `vec4<${kvDtype}>`;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const [us, hs, js, ws] = [range(UNROLL), range(heads), range(vecs), range(loads)];
  const lines = (items: number[], line: (i: number) => string, indent: string) => items.map((i) => indent + line(i)).join("\n");
  // Everything a thread keeps per head, position or load is a named register, the loops unrolled here: no array
  // indexed by a loop variable, which a compiler may leave in local memory.
  const unpacked = (name: string, j: number) =>
    wide
      ? `vec4<f32>(unpack2x16float(${name}_${j >> 1}.${j & 1 ? "z" : "x"}), unpack2x16float(${name}_${j >> 1}.${j & 1 ? "w" : "y"}))`
      : `vec4<f32>(${name}_${j})`;
  // Cache element w of this lane from the own K / V row (fused), in the layout the cache has.
  const own = (fn: string, w: number) => `${fn}Element(laneBase + ${w}u)`;
  const ownElements = ["ownKey", "ownValue"]
    .map((fn) => `fn ${fn}Element(e: u32) -> ${raw} { return ${wide ? packHalves(`${fn}(2u * e)`, `${fn}(2u * e + 1u)`) : `${fn}(e)`}; }`)
    .join("\n");
  // Cache element w of position u's K or V row ("k" / "v"); positions past the cached ones read the last cached one
  // (no branch per position: the loads issue together) and are replaced below.
  const cacheLoads = (name: string, array: string) =>
    us.flatMap((u) => ws.map((w) => `      ${name}${u}_${w} = ${array}[base${u} + ${w}u];`)).join("\n");
  const zero = (name: string, indent: string) => us.flatMap((u) => ws.map((w) => `${indent}${name}${u}_${w} = ${raw}();`)).join("\n");
  // Past the cached positions: the own position's K / V (fused), zeros beyond the context.
  const replace = (u: number) =>
    fused
      ? `    if (p${u} >= cached) {
${lines(ws, (w) => `k${u}_${w} = select(${raw}(), ${own("ownKey", w)}, p${u} < length);`, "      ")}
${lines(ws, (w) => `v${u}_${w} = select(${raw}(), ${own("ownValue", w)}, p${u} < length);`, "      ")}
    }`
      : `${lines(ws, (w) => `k${u}_${w} = select(${raw}(), k${u}_${w}, p${u} < cached);`, "    ")}
${lines(ws, (w) => `v${u}_${w} = select(${raw}(), v${u}_${w}, p${u} < cached);`, "    ")}`;
  const block = (position: string) => `u32(blockTables[tableBase + min(${position}, lastCached) / BLOCK])`;
  // Head h's vec4 j of q for this lane: a register, or workgroup memory (qInWorkgroup); the same values either way.
  const qValue = (h: number, j: number) => (qInWorkgroup ? `qShared[${h}u * LANES + lane * VECS + ${j}u]` : `q${h}_${j}`);
  // The lane's partial dot of head h with position u (its dims in order), for the 4 positions at once.
  const partial = (h: number) =>
    `vec4<f32>(${us.map((u) => js.map((j) => `dot(${qValue(h, j)}, ${unpacked(`k${u}`, j)})`).join(" + ")).join(",\n      ")})`;
  const perHead = (h: number) => `    {
      let scores = select(vec4<f32>(LOWEST), groupSum(${partial(h)}) * params.scale, valid);
      let newMax = max(m${h}, max(max(scores.x, scores.y), max(scores.z, scores.w)));
      let correction = exp(m${h} - newMax);
      m${h} = newMax;
      let w = select(vec4<f32>(0.0), exp(scores - newMax), valid);
      s${h} = s${h} * correction;
${lines(js, (j) => `a${h}_${j} = a${h}_${j} * correction;`, "      ")}
${us
  .map(
    (u) => `      s${h} = s${h} + w.${"xyzw"[u]};
${lines(js, (j) => `a${h}_${j} = a${h}_${j} + w.${"xyzw"[u]} * vf${u}_${j};`, "      ")}`,
  )
  .join("\n")}
    }`;
  const combine = (h: number) => `  if (lane == 0u) {
    maxShared[g] = m${h};
    sumShared[g] = s${h};
  }
${lines(js, (j) => `accShared[g * LANES + lane * VECS + ${j}u] = a${h}_${j};`, "  ")}
  workgroupBarrier();
  for (var i = lid; i < LANES; i += WG) {
    var top = LOWEST;
    for (var k = 0u; k < GROUPS; k++) { top = max(top, maxShared[k]); }
    var total = vec4<f32>(0.0);
    var sum = 0.0;
    for (var k = 0u; k < GROUPS; k++) {
      let factor = exp(maxShared[k] - top);
      total += accShared[k * LANES + i] * factor;
      sum += sumShared[k] * factor;
    }
    if (segments == 1u) {
      out[(t * params.numHeads + h0 + ${h}u) * LANES + i] = total / sum;
    } else { // this segment's softmax state, for mergeSource
      let slot = (itemIndex * params.numHeads + h0 + ${h}u) * (LANES + 1u);
      if (i == 0u) { partial[slot] = vec4<f32>(top, sum, 0.0, 0.0); }
      partial[slot + 1u + i] = total;
    }
  }
  workgroupBarrier();`;
  const workBinding = 8 + (rope ? 1 : 0) + (fused ? 3 : 0);
  const qLoad = (h: number, j: number) => `  {
    let d = lane * VECS + ${j}u;
    let qBase = (t * params.numHeads + h0 + ${h}u) * LANES;
${rope ? ropedQLoad(`q${h}_${j}`, "    ") : `    q${h}_${j} = q[qBase + d];`}
  }`;
  // qInWorkgroup: the workgroup's heads of q, loaded together (the prologue's barrier orders them before any use).
  const qSharedLoad = `  for (var i = lid; i < ${heads}u * LANES; i += WG) {
    let d = i % LANES;
    let qBase = (t * params.numHeads + h0 + i / LANES) * LANES;
${rope ? ropedQLoad("qShared[i]", "    ") : "    qShared[i] = q[qBase + d];"}
  }`;
  const qRegisters = `  var ${hs.flatMap((h) => js.map((j) => `q${h}_${j}`)).join(": vec4<f32>;\n  var ")}: vec4<f32>;
${hs.flatMap((h) => js.map((j) => qLoad(h, j))).join("\n")}`;
  return `${kvEnable(kvDtype)}enable subgroups;
struct Params { numTokens: u32, numHeads: u32, groupSize: u32, kvCols: u32, blockSize: u32, maxBlocksPerSeq: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, ${fused ? "read_write" : "read"}> keys: array<${raw}>;${wide ? " // 8 halves per element" : ""}
@group(0) @binding(3) var<storage, ${fused ? "read_write" : "read"}> values: array<${raw}>;
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> seqIndex: array<i32>;
@group(0) @binding(6) var<storage, read> blockTables: array<i32>;
@group(0) @binding(7) var<storage, read_write> out: array<vec4<f32>>;
${rope ? "@group(0) @binding(8) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]" : ""}
${fused ? `${fusedDeclarations(kvDtype, headDim, 4, rope)}\n// Cache element e of the own K / V head (${wide ? "8" : "4"} values).\n${ownElements}` : ""}
@group(0) @binding(${workBinding}) var<storage, read> workItems: array<vec2<i32>>; // (row, segment) per item
@group(0) @binding(${workBinding + 1}) var<storage, read_write> partial: array<vec4<f32>>; // [items, numHeads, LANES + 1]
${LINEAR_WORKGROUP}

const WG: u32 = ${LANES_WORKGROUP}u;
const SEGMENT: u32 = ${segment}u; // positions per segment of a row
const BLOCK: u32 = ${blockSize}u; // positions per cache block
const LANES: u32 = ${headDim / 4}u; // vec4s of a head (the name ropedQLoad expects)
const VECS: u32 = ${vecs}u; // vec4s of a head per lane
const RAW: u32 = ${wide ? 8 : 4}u; // cache values per cache element
const GROUPS: u32 = ${POSITION_GROUPS}u;
const LOWEST: f32 = -3.0e38; // below any score, and exp(LOWEST - finite) is 0 without inf - inf

var<workgroup> accShared: array<vec4<f32>, ${POSITION_GROUPS * (headDim / 4)}>;
var<workgroup> maxShared: array<f32, ${POSITION_GROUPS}>;
var<workgroup> sumShared: array<f32, ${POSITION_GROUPS}>;
var<workgroup> lengthShared: u32;
${qInWorkgroup ? `var<workgroup> qShared: array<vec4<f32>, ${heads * (headDim / 4)}>;` : ""}

// The sum over the 8 lanes of a group (8 consecutive invocations of a subgroup), in every lane. Each step adds
// the same two values in both partners (a + b and b + a): all lanes end with the same bits.
fn groupSum(x: vec4<f32>) -> vec4<f32> {
  let x1 = x + subgroupShuffleXor(x, 1u);
  let x2 = x1 + subgroupShuffleXor(x1, 2u);
  return x2 + subgroupShuffleXor(x2, 4u);
}

@compute @workgroup_size(${LANES_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linearWorkgroup(wid, nwg);
  let headGroups = params.numHeads / ${heads}u;
  if (group >= params.numTokens * headGroups) { return; } // numTokens: the work items
  let itemIndex = group / headGroups;
  let item = workItems[itemIndex];
  let t = u32(item.x);
  let segment = u32(item.y);
  let h0 = (group % headGroups) * ${heads}u; // first query head
  let kvHead = h0 / params.groupSize;
  let kvStride = params.kvCols / 4u; // vec4 units (the fused store's)
  let kvOffset = kvHead * LANES;
  let rawStride = params.kvCols / RAW; // cache elements
  let rawOffset = kvHead * (LANES * 4u / RAW);
  let g = lid / ${GROUP_LANES}u;
  let lane = lid % ${GROUP_LANES}u;
  let laneBase = lane * ${loads}u; // the lane's first cache element of a head
${qInWorkgroup ? qSharedLoad : qRegisters}
${rowPrologue(kvDtype, rope, fused, wide, wide, "segment == 0u")}
  let cached = ${fused ? "length - 1u; // the own position comes from kOwn / vOwn" : "length;"}
  // This workgroup's positions begin..end - 1 of the row's segments (a multiple of the chunk long).
  let segments = (length + SEGMENT - 1u) / SEGMENT;
  let begin = segment * SEGMENT;
  let end = min(length, begin + SEGMENT);
${lines(hs, (h) => `var m${h} = LOWEST;\n  var s${h} = 0.0;\n  ${js.map((j) => `var a${h}_${j} = vec4<f32>(0.0);`).join("\n  ")}`, "  ")}
  // A cached position to clamp to (none when cached is 0: then no chunk loads from the cache).
  let lastCached = max(cached, 1u) - 1u;
  // Block ids of the group's positions in the first chunk. Each chunk then asks for the next chunk's block ids
  // before its K / V loads, so that only the K / V latency is on the chunk's critical path.
${lines(us, (u) => `var block${u} = ${block(`begin + g * ${UNROLL}u + ${u}u`)};`, "  ")}
  for (var c0 = begin; c0 < end; c0 += GROUPS * ${UNROLL}u) {
    let first = c0 + g * ${UNROLL}u; // the group's consecutive positions first..first + ${UNROLL - 1}
    let valid = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(end);
${lines(us, (u) => `let p${u} = first + ${u}u;`, "    ")}
${lines(us, (u) => `let nextBlock${u} = ${block(`first + ${u}u + GROUPS * ${UNROLL}u`)};`, "    ")}
    // All K and V loads of the chunk before any arithmetic: they overlap.
${lines(
  us,
  (u) =>
    `var k${u}_${ws.join(`: ${raw};
    var k${u}_`)}: ${raw};`,
  "    ",
)}
${lines(
  us,
  (u) =>
    `var v${u}_${ws.join(`: ${raw};
    var v${u}_`)}: ${raw};`,
  "    ",
)}
${
  branchFreeLoads
    ? `${lines(us, (u) => `let base${u} = (block${u} * BLOCK + min(p${u}, lastCached) % BLOCK) * rawStride + rawOffset + laneBase;`, "    ")}
${cacheLoads("k", "keys")}
${cacheLoads("v", "values")}`
    : `    if (first < cached) {
${lines(us, (u) => `let base${u} = (block${u} * BLOCK + min(p${u}, lastCached) % BLOCK) * rawStride + rawOffset + laneBase;`, "      ")}
${cacheLoads("k", "keys")}
${cacheLoads("v", "values")}
    } else {
${zero("k", "      ")}
${zero("v", "      ")}
    }`
}
${us.map(replace).join("\n")}
${lines(us, (u) => `block${u} = nextBlock${u};`, "    ")}
${us.flatMap((u) => js.map((j) => `    let vf${u}_${j} = ${unpacked(`v${u}`, j)};`)).join("\n")}
${hs.map(perHead).join("\n")}
  }
${hs.map(combine).join("\n")}
}
`;
}

/**
 * Both designs' start of a row: the fused kernel's own K/V (roped) into workgroup memory, the row's length
 * (positions[t] + 1) read uniformly, the fused store of its K/V, and its block-table base.
 */
function rowPrologue(kvDtype: KvDtype, rope: boolean, fused: boolean, wideKeys: boolean, wideValues: boolean, storer = "true"): string {
  return `${fused ? FUSED_OWN_LOAD(kvDtype, rope) : ""}
  if (lid == 0u) { lengthShared = u32(positions[t]) + 1u; }
  workgroupBarrier();
  let length = workgroupUniformLoad(&lengthShared);
${fused ? FUSED_STORE(wideKeys, wideValues, storer) : ""}
  let tableBase = u32(seqIndex[t]) * params.maxBlocksPerSeq;`;
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
const FUSED_OWN_LOAD = (kvDtype: KvDtype, rope: boolean) => `  let ownRow = t * params.kvCols + (h0 / params.groupSize) * HEAD_DIM;
  for (var e = lid; e < HEAD_DIM; e += WG) {
    kOwn[e] = ${kvDtype}(${rope ? "ropedK(ownRow, e, t, HEAD_DIM / 2u)" : "k[ownRow + e]"});
    vOwn[e] = ${kvDtype}(v[ownRow + e]);
  }`;

/**
 * The first query head of each KV head stores token t's K/V at slots[t] (after the barrier that completes kOwn /
 * vOwn); in the lanes design only the workgroup of the row's first segment (`storer`). No workgroup of this
 * dispatch reads that slot: the row itself uses kOwn / vOwn, and no other row is of the same sequence.
 */
const FUSED_STORE = (wideKeys: boolean, wideValues: boolean, storer: string) => `  if (h0 % params.groupSize == 0u && ${storer}) {
    let dst = u32(slots[t]) * kvStride + kvOffset;
${
  wideValues
    ? `    for (var c = lid; c < LANES / 2u; c += WG) { values[dst / 2u + c] = ${packHalves("ownValue(2u * c)", "ownValue(2u * c + 1u)")}; }`
    : "    for (var d = lid; d < LANES; d += WG) { values[dst + d] = ownValue(d); }"
}
${
  wideKeys
    ? `    for (var c = lid; c < LANES / 2u; c += WG) { keys[dst / 2u + c] = ${packHalves("ownKey(2u * c)", "ownKey(2u * c + 1u)")}; }`
    : "    for (var d = lid; d < LANES; d += WG) { keys[dst + d] = ownKey(d); }"
}
  }`;

/** WGSL: two vec4<f16> as the 16 bytes of one vec4<u32> (a wide cache element), `a` in the low half. */
function packHalves(a: string, b: string): string {
  return `vec4<u32>(bitcast<u32>((${a}).xy), bitcast<u32>((${a}).zw), bitcast<u32>((${b}).xy), bitcast<u32>((${b}).zw))`;
}

export interface PerRowAttentionInputs {
  positions: Resource;
  seqIndex: Resource;
  blockTables: Resource;
  maxBlocksPerSeq: number;
  /** `positions` on the host: the lanes design plans its segments from them (perRowWork). */
  hostPositions: Int32Array;
  /** The owner of the step inputs built from hostPositions and subset.rows (StepRecorder.input): the batch. */
  owner: object;
  /**
   * Only these rows (row indices), written into `into` (q's shape), whose other rows another kernel writes: the
   * tiled kernel serves a step's prefill runs and this one its decode rows (singleTokenRows).
   */
  subset?: { rows: Int32Array; into: GpuActivation };
  /** Query heads per workgroup, a divisor of the GQA group size (tests and the lab; default perRowHeads). Same bits either way. */
  headsPerWorkgroup?: number;
  /** Forces a design (tests, the lab; default perRowDesign). Not the same bits: a backend keeps one for all rows. */
  design?: PerRowDesign;
  /** Positions per segment in the lanes design (tests, the lab; default attentionSegment()). Not the same bits either. */
  segment?: number;
  /** Most bytes of softmax states per lanes dispatch (tests; default PARTIAL_BYTES_CAP). The same bits for any. */
  partialBytesCap?: number;
  /** Lab forms of the lanes design (tests; default from SWALLOW_LANES_FORMS). The same bits for any. */
  lanesForms?: LanesForms;
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
  const { subset } = inputs;
  if (subset && writeKv) throw new Error("attention: the per-row kernel writes KV rows only when it serves every row");
  if (subset && (subset.into.rows !== q.rows || subset.into.cols !== q.cols))
    throw new Error(`attention: the output is [${subset.into.rows}, ${subset.into.cols}], expected q's [${q.rows}, ${q.cols}]`);
  const out = subset?.into ?? ctx.recorder.output(q.rows, q.cols);
  const rowCount = subset?.rows.length ?? q.rows;
  if (out.isEmpty || rowCount === 0) return out;
  const groupSize = numHeads / numKvHeads;
  const design = inputs.design ?? perRowDesign(ctx.pipelines, headDim);
  if (design === "lanes" && !lanesAvailable(ctx.pipelines, headDim))
    throw new Error(
      `attention: the per-row lanes design needs consecutive subgroups of at least ${GROUP_LANES} lanes (probed when the backend opens) and a head size that is a multiple of 32 (head size ${headDim}, workgroup memory ${lanesWorkgroupBytes(headDim)} B); unset SWALLOW_ATTENTION_PER_ROW`,
    );
  const lanes = design === "lanes";
  const segment = inputs.segment ?? attentionSegment();
  checkSegment(segment);
  const served = subset?.rows ?? null;
  const rowsTag = subset ? `rows${subset.rows.length}` : "all";
  // The lanes design's work (segments, pieces, work and merge lists), planned once per step for every layer.
  const maxItems = Math.floor((inputs.partialBytesCap ?? PARTIAL_BYTES_CAP) / stateBytes(numHeads, headDim));
  const plan = lanes ? lanesPlan(inputs, served, rowCount, segment, maxItems, rowsTag) : null;
  // Workgroups per query head (group): one per row, or in the lanes design one per segment of each row.
  const items = plan?.items ?? rowCount;
  const heads = inputs.headsPerWorkgroup ?? perRowHeads(items, numKvHeads, groupSize, headDim, ctx.pipelines.maxWorkgroupBytes);
  if (!Number.isInteger(heads) || heads < 1 || groupSize % heads !== 0) {
    throw new Error(`attention: ${heads} query heads per workgroup; a divisor of the GQA group size ${groupSize}`);
  }
  const variant: PerRowVariant = {
    kvDtype,
    headDim,
    subgroups: ctx.pipelines.useSubgroups,
    rope: ropeCosSin !== null,
    fused: writeKv !== null,
    subset: subset !== undefined,
    heads,
    segment,
    forms: inputs.lanesForms ?? LANES_FORMS,
    blockSize,
  };
  const { subgroups, rope, fused } = variant;
  // The lanes design serves any rows through its work list; the threads design has a variant for a row list.
  const flags = `${fused ? "+writeKv" : ""}${subset && !lanes ? "+rows" : ""}`;
  const { branchFreeLoads, qInWorkgroup } = variant.forms;
  const formsTag = `${branchFreeLoads ? "/bl" : ""}${qInWorkgroup ? "/qw" : ""}`;
  const kind = lanes ? `/lanes/s${segment}/b${blockSize}${formsTag}` : subgroups ? "/sg" : "";
  const key = `attention.per-row${flags}/${kvDtype}/d${headDim}/h${heads}${kind}${rope ? "/rope" : ""}`;
  const storage = perRowStorageBuffers(design, variant);
  if (storage > ctx.pipelines.maxStorageBuffers)
    throw new Error(
      `attention: the per-row kernel (${key}) binds ${storage} storage buffers, more than this device's ${ctx.pipelines.maxStorageBuffers}`,
    );
  const pipeline = ctx.pipelines.get(key, () => (lanes ? lanesSource(variant) : threadsSource(variant)));
  const cache = (buffer: GPUBuffer): Resource => ({ kind: "buffer", buffer, size: layer.size });
  const { recorder } = ctx;
  // The threads design: one dispatch over every served row.
  const pieces = plan?.pieces ?? [{ count: rowCount, items: rowCount, work: null, merges: null, tag: rowsTag }];
  for (const [p, piece] of pieces.entries()) {
    const work = piece.work && recorder.input(inputs.owner, `per-row-work/${piece.tag}`, () => piece.work!);
    const split = piece.items > piece.count;
    // Each (item, query head)'s softmax state where a row has more than one segment; else a placeholder.
    const partial = split ? recorder.output(piece.items * numHeads, headDim + 4) : lanes ? recorder.output(1, 4) : null;
    // The first piece makes the output unless it is another kernel's (subset); the others write their rows into it.
    const written: Resource = subset || p > 0 ? { kind: "activation", activation: out, rewrites: true } : activationResource(out);
    recorder.dispatch(
      pipeline,
      [
        uniform(piece.items, numHeads, groupSize, numKvHeads * headDim, blockSize, inputs.maxBlocksPerSeq, f32Bits(scale)),
        activationResource(q),
        cache(layer.keys),
        cache(layer.values),
        inputs.positions,
        inputs.seqIndex,
        inputs.blockTables,
        written,
        ...(ropeCosSin ? [ropeCosSin] : []),
        ...(writeKv ? [activationResource(writeKv.k), activationResource(writeKv.v), writeKv.slots] : []),
        ...(work && partial ? [work, activationResource(partial)] : []),
        ...(subset && !lanes ? [recorder.input(inputs.owner, `per-row-rows/${rowsTag}`, () => subset.rows)] : []),
      ],
      (piece.items * numHeads) / heads,
    );
    if (!split || !partial || !piece.merges) continue;
    const merges = piece.merges;
    const mergeList = recorder.input(inputs.owner, `per-row-merges/${piece.tag}`, () => merges);
    const mergeCount = merges.length / 2;
    const mergePipeline = ctx.pipelines.get(`attention.per-row-merge/d${headDim}/s${segment}`, () => mergeSource(headDim, segment));
    recorder.dispatch(
      mergePipeline,
      [
        uniform(mergeCount, numHeads),
        inputs.positions,
        mergeList,
        activationResource(partial),
        { kind: "activation", activation: out, rewrites: true },
      ],
      Math.ceil((mergeCount * numHeads * (headDim / 4)) / MERGE_WORKGROUP),
    );
  }
  return out;
}

/** One lanes dispatch of a step: its row count, work items, and work and merge lists. */
interface LanesPiece {
  count: number;
  items: number;
  work: Int32Array | null;
  merges: Int32Array | null;
  /** Names its step inputs (StepRecorder.input). */
  tag: string;
}

/** Plans by step owner (the batch) and settings: every layer of a step runs the same. */
const lanesPlans = new WeakMap<object, Map<string, { items: number; pieces: LanesPiece[] }>>();

/** The lanes design's work for the served rows: its pieces (perRowPieces) with their lists, and the items in all. */
function lanesPlan(
  inputs: PerRowAttentionInputs,
  served: Int32Array | null,
  rowCount: number,
  segment: number,
  maxItems: number,
  rowsTag: string,
): { items: number; pieces: LanesPiece[] } {
  const key = `${segment}/${rowsTag}/${rowCount}/${maxItems}`;
  let byKey = lanesPlans.get(inputs.owner);
  if (!byKey) lanesPlans.set(inputs.owner, (byKey = new Map()));
  const known = byKey.get(key);
  if (known) return known;
  const positions = inputs.hostPositions;
  const pieces = perRowPieces(positions, served, rowCount, segment, maxItems).map(({ start, end }): LanesPiece => {
    const whole = start === 0 && end === rowCount;
    const rows = whole ? served : Int32Array.from({ length: end - start }, (_, i) => servedRow(served, start + i));
    const count = end - start;
    const work = perRowWork(positions, rows, count, segment);
    return {
      count,
      items: work.length / 2,
      work,
      merges: perRowMerges(positions, rows, count, segment),
      tag: `${key}/${start}-${end}`,
    };
  });
  const plan = { items: pieces.reduce((sum, piece) => sum + piece.items, 0), pieces };
  byKey.set(key, plan);
  return plan;
}

/** Bytes of one work item's softmax states: (max, Σ weights, two unused) and Σ weight·v for each query head. */
function stateBytes(numHeads: number, headDim: number): number {
  return numHeads * (headDim + 4) * 4;
}

/**
 * Most bytes of softmax states one lanes dispatch keeps (`partial`): rows whose states would take more go in further
 * dispatches. Within the default binding limit (128 MiB); ~3,900 segments of 512 positions on Llama-3.1-8B.
 */
export const PARTIAL_BYTES_CAP = 64 * 2 ** 20;

/**
 * The served rows (indices into `rows`, or 0..count - 1) in consecutive ranges of at most `maxItems` work items each
 * (a row with more alone).
 */
export function perRowPieces(
  positions: Int32Array,
  rows: Int32Array | null,
  count: number,
  segment: number,
  maxItems: number,
): { start: number; end: number }[] {
  const pieces: { start: number; end: number }[] = [];
  let [start, items] = [0, 0];
  for (let r = 0; r < count; r++) {
    const segments = segmentsOf(positions[servedRow(rows, r)], segment);
    if (r > start && items + segments > maxItems) {
      pieces.push({ start, end: r });
      [start, items] = [r, 0];
    }
    items += segments;
  }
  pieces.push({ start, end: count });
  return pieces;
}

/**
 * Positions per segment of a row in the lanes design: a row of more than this many positions is split over the
 * sequence (flash-decoding), one workgroup per segment, and its segments' softmax states are merged by a second
 * dispatch (mergeSource). Fixed per process, never a function of the batch: a row's segments, and so its bits,
 * depend only on its own length. SWALLOW_ATTENTION_SEGMENT=N (a multiple of the chunk, read once) for the lab.
 */
export const DEFAULT_ATTENTION_SEGMENT = 512;
const SEGMENT_OVERRIDE = envVar("SWALLOW_ATTENTION_SEGMENT");

/** The segment length the backend runs (DEFAULT_ATTENTION_SEGMENT unless SWALLOW_ATTENTION_SEGMENT says otherwise). */
export function attentionSegment(): number {
  if (SEGMENT_OVERRIDE === undefined || SEGMENT_OVERRIDE === "") return DEFAULT_ATTENTION_SEGMENT;
  const segment = Number(SEGMENT_OVERRIDE);
  checkSegment(segment, "SWALLOW_ATTENTION_SEGMENT");
  return segment;
}

/**
 * The most bytes of softmax states (`partial`) one lanes dispatch takes for up to `maxRows` rows of up to
 * `maxPositions` positions: a state per (segment, query head) where a row has more than one segment, in pieces of
 * at most PARTIAL_BYTES_CAP.
 */
export function perRowScratchBytes(numHeads: number, headDim: number, maxRows: number, maxPositions: number, segment: number): number {
  const segments = Math.ceil(maxPositions / segment);
  const bytes = stateBytes(numHeads, headDim);
  // Pieces of at most PARTIAL_BYTES_CAP, or one row's states where they alone are more.
  return segments > 1 ? Math.min(maxRows * segments * bytes, Math.max(PARTIAL_BYTES_CAP, segments * bytes)) : 0;
}

/** A segment is a whole number of the lanes design's chunks (its groups × 4 positions). */
export function checkSegment(segment: number, name = "segment"): void {
  const chunk = POSITION_GROUPS * UNROLL;
  if (!Number.isInteger(segment) || segment < chunk || segment % chunk !== 0)
    throw new Error(`${name}=${segment}: expected a positive multiple of ${chunk} positions`);
}

/** Segments of a row whose last position is `position`. */
function segmentsOf(position: number, segment: number): number {
  return Math.floor(position / segment) + 1;
}

/** The served rows' row indices: `rows`, or 0..count - 1. */
function servedRow(rows: Int32Array | null, r: number): number {
  return rows ? rows[r] : r;
}

/** Work items of the served rows: one per segment. */
export function perRowWorkCount(positions: Int32Array, rows: Int32Array | null, count: number, segment: number): number {
  let items = 0;
  for (let r = 0; r < count; r++) items += segmentsOf(positions[servedRow(rows, r)], segment);
  return items;
}

/**
 * The lanes design's work list: (row, segment) for each segment of each served row, a row's segments consecutive.
 * Each item is one workgroup per query head (group); its index is the row of its softmax state in `partial`.
 */
export function perRowWork(positions: Int32Array, rows: Int32Array | null, count: number, segment: number): Int32Array {
  const work = new Int32Array(2 * perRowWorkCount(positions, rows, count, segment));
  let item = 0;
  for (let r = 0; r < count; r++) {
    const row = servedRow(rows, r);
    for (let s = 0; s < segmentsOf(positions[row], segment); s++, item++) work.set([row, s], 2 * item);
  }
  return work;
}

/** Served rows of more than one segment. */
function perRowMergeCount(positions: Int32Array, rows: Int32Array | null, count: number, segment: number): number {
  let merges = 0;
  for (let r = 0; r < count; r++) if (segmentsOf(positions[servedRow(rows, r)], segment) > 1) merges++;
  return merges;
}

/** (row, its first work item) for each served row of more than one segment: the merge dispatch's list. */
export function perRowMerges(positions: Int32Array, rows: Int32Array | null, count: number, segment: number): Int32Array {
  const merges = new Int32Array(2 * perRowMergeCount(positions, rows, count, segment));
  let [item, m] = [0, 0];
  for (let r = 0; r < count; r++) {
    const row = servedRow(rows, r);
    const segments = segmentsOf(positions[row], segment);
    if (segments > 1) merges.set([row, item], 2 * m++);
    item += segments;
  }
  return merges;
}

const MERGE_WORKGROUP = 64;

/**
 * The merge of a split row: each of its segments left (max score, Σ weights, Σ weight·v) for a query head in
 * `partial`; one thread per (row, head, vec4 of the head) rescales them to the largest max, adds them in segment
 * order and divides — the same combine as the lanes kernel's over its position groups.
 */
function mergeSource(headDim: number, segment: number): string {
  return `struct Params { count: u32, numHeads: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> positions: array<i32>;
@group(0) @binding(2) var<storage, read> merges: array<vec2<i32>>; // (row, first work item)
@group(0) @binding(3) var<storage, read> partial: array<vec4<f32>>; // [items, numHeads, LANES + 1]
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
${LINEAR_WORKGROUP}

const LANES: u32 = ${headDim / 4}u;
const SEGMENT: u32 = ${segment}u;
const LOWEST: f32 = -3.0e38;

@compute @workgroup_size(${MERGE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = linearWorkgroup(wid, nwg) * ${MERGE_WORKGROUP}u + lid;
  if (index >= params.count * params.numHeads * LANES) { return; }
  let i = index % LANES;
  let pair = index / LANES;
  let h = pair % params.numHeads;
  let merge = merges[pair / params.numHeads];
  let t = u32(merge.x);
  let firstItem = u32(merge.y);
  let segments = u32(positions[t]) / SEGMENT + 1u;
  var top = LOWEST;
  for (var s = 0u; s < segments; s++) { top = max(top, partial[((firstItem + s) * params.numHeads + h) * (LANES + 1u)].x); }
  var total = vec4<f32>(0.0);
  var sum = 0.0;
  for (var s = 0u; s < segments; s++) {
    let slot = ((firstItem + s) * params.numHeads + h) * (LANES + 1u);
    let state = partial[slot];
    let factor = exp(state.x - top);
    total += partial[slot + 1u + i] * factor;
    sum += state.y * factor;
  }
  out[(t * params.numHeads + h) * LANES + i] = total / sum;
}
`;
}

/** The per-row kernel's two designs (see the top of this file). */
export type PerRowDesign = "threads" | "lanes";

/** SWALLOW_ATTENTION_PER_ROW=threads|lanes forces a design (the lab, the tests); read once. */
const DESIGN_OVERRIDE = envVar("SWALLOW_ATTENTION_PER_ROW");

/**
 * The design of every per-row dispatch on this device for this head size: lanes where it can run, else threads.
 * Never a function of the batch (the designs round differently: a row's bits would depend on its batch).
 */
export function perRowDesign(pipelines: PipelineCache, headDim: number): PerRowDesign {
  if (DESIGN_OVERRIDE !== undefined && DESIGN_OVERRIDE !== "") {
    if (DESIGN_OVERRIDE !== "threads" && DESIGN_OVERRIDE !== "lanes")
      throw new Error(`SWALLOW_ATTENTION_PER_ROW=${DESIGN_OVERRIDE}: expected threads or lanes`);
    return DESIGN_OVERRIDE;
  }
  return lanesAvailable(pipelines, headDim) ? "lanes" : "threads";
}

/**
 * Whether the lanes design can run: subgroups of at least one group of lanes, probed to be consecutive runs of the
 * workgroup (PipelineCache.consecutiveSubgroups), a head size it splits evenly, and storage buffers for its unfused
 * kernel with RoPE (the fused one is checked where a step would take it: perRowStorageBuffers).
 */
export function lanesAvailable(pipelines: PipelineCache, headDim: number): boolean {
  const { useSubgroups, subgroupMinSize, consecutiveSubgroups, maxWorkgroupBytes, maxStorageBuffers } = pipelines;
  return (
    useSubgroups &&
    consecutiveSubgroups &&
    subgroupMinSize !== null &&
    subgroupMinSize >= GROUP_LANES &&
    lanesFit(headDim, maxWorkgroupBytes) &&
    perRowStorageBuffers("lanes", { rope: true, fused: false, subset: true }) <= maxStorageBuffers
  );
}

/**
 * Storage buffers a per-row kernel binds: q, the K and V caches, positions, sequence indices, block tables and the
 * output; the RoPE table; the fused KV write's K, V and slots; the lanes design's work list and softmax states, or
 * the threads design's row list (subset).
 */
export function perRowStorageBuffers(design: PerRowDesign, v: { rope: boolean; fused: boolean; subset: boolean }): number {
  const rows = design === "lanes" ? 2 : v.subset ? 1 : 0;
  return 7 + (v.rope ? 1 : 0) + (v.fused ? 3 : 0) + rows;
}

/**
 * Below this many (work item, KV head) workgroups the kernel takes one query head per workgroup (more workgroups for
 * few rows: decode at batch 1 is latency-bound); from it on, all the heads of a KV head share one (each K/V row read
 * once instead of groupSize times). Either way a row gets the same bits, so the switch keeps batch invariance. H100, 8B
 * shapes (bench/attention-lab.ts): batch 1 0.044 vs 0.087 ms, batch 8 0.123 vs 0.129, batch 32 0.81 vs 0.57 (one
 * head vs the group per workgroup), so the group from 32 rows × 8 KV heads on. A work item is a row, or in the
 * lanes design a segment of one (a row of 32,768 positions is 64 of 512), so long rows read each K/V row once too.
 */
export const GROUPED_HEADS_MIN_WORKGROUPS = 256;

/** Query heads per workgroup for `rows` work items: groupSize once there are enough and its workgroup memory fits. */
export function perRowHeads(rows: number, numKvHeads: number, groupSize: number, headDim: number, maxWorkgroupBytes: number): number {
  if (groupSize === 1 || rows * numKvHeads < GROUPED_HEADS_MIN_WORKGROUPS) return 1;
  return perRowWorkgroupBytes(headDim, groupSize) <= maxWorkgroupBytes ? groupSize : 1;
}

/** Workgroup memory of the per-row kernel with `heads` query heads per workgroup (the fused K/V rows included). */
export function perRowWorkgroupBytes(headDim: number, heads: number): number {
  const vec = headDim % 4 === 0 ? 4 : 1;
  const lanes = headDim / vec;
  const groups = Math.floor(WORKGROUP / lanes);
  const words = heads * lanes * vec + 2 * heads * WORKGROUP + WORKGROUP + heads * groups * lanes * vec + heads * groups + 1;
  return 4 * words + 2 * 2 * headDim * 2; // kOwn / vOwn in at most f32
}
