import { activationResource, uniform, type GpuKvLayer, type KernelContext, type KvDtype } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import type { CachedPipeline } from "../pipelines.js";
import { f32Bits, kvEnable, LINEAR_WORKGROUP } from "../wgsl.js";
import { ropedQLoad } from "./rope.js";

const WORKGROUP = 256;

/** Rows (token, query head) a workgroup holds and keys per tile; the keys per tile fix every row's arithmetic. */
export interface AttentionTiles {
  rows: number;
  keys: number;
}

/** Preferred first: 32 rows share each K/V tile; 32 keys per tile (fewer barriers per key). */
const TILE_CHOICES: AttentionTiles[] = [
  { rows: 32, keys: 32 },
  { rows: 16, keys: 32 },
  { rows: 16, keys: 16 },
  { rows: 8, keys: 16 },
  { rows: 4, keys: 8 },
  { rows: 1, keys: 8 },
];

/** Workgroup bytes of the kernel for these tiles: padded q tile, padded K/V tile, padded scores, per-row values, f32 each. */
export function attentionWorkgroupBytes(headDim: number, tiles: AttentionTiles): number {
  const vec = headDim % 4 === 0 ? 4 : 1;
  return 4 * (tiles.rows * (headDim + vec) + tiles.keys * (headDim + vec) + tiles.rows * (tiles.keys + 1) + 2 * tiles.rows + 1);
}

/**
 * The largest tiles whose workgroup memory fits `maxWorkgroupBytes` (the device's
 * maxComputeWorkgroupStorageSize: 48 KiB on an H100 gives 32 rows × 32 keys at head size 128, lavapipe's
 * 32 KiB 16 × 32). Fixed per device and head size, so a row's bits do not depend on the batch.
 */
export function attentionTiles(headDim: number, maxWorkgroupBytes: number): AttentionTiles {
  const fit = TILE_CHOICES.find((tiles) => attentionWorkgroupBytes(headDim, tiles) <= maxWorkgroupBytes);
  if (!fit) throw new Error(`attention: head size ${headDim} does not fit ${maxWorkgroupBytes} bytes of workgroup memory`);
  return fit;
}

/**
 * Fewer work items than this and single-token items (decode) are split into one item per query head, so a
 * decode batch of 1 still runs numHeads workgroups (32 for Llama-3.1-8B) instead of numKvHeads (8).
 */
export const SPLIT_BELOW_ITEMS = 128;

/**
 * The work list, 4 u32 per item: (t0, nTokens | nHeads << 16, h0, seq) — rows (token t0 + i, head h0 + k)
 * for i < nTokens, k < nHeads, all reading KV head h0 / groupSize. Tokens of one sequence that follow each
 * other in the batch with consecutive positions form runs of up to rows / groupSize tokens; each run gets
 * one item per KV head. Items are ordered longest context first (causal prefill: late blocks have the most
 * tiles, so they start first).
 */
export function attentionWorkList(
  positions: Int32Array,
  seqIndex: Int32Array,
  numTokens: number,
  numHeads: number,
  groupSize: number,
  rows: number,
  splitSingles?: boolean,
  /** Leave out the single-token rows (singleTokenRows): another kernel serves them. */
  skipSingles = false,
  /** Query heads per item when not the whole group (the tensor-core kernel: one subgroup per head). */
  maxHeadsPerItem = groupSize,
): Uint32Array {
  const headsPerItem = Math.min(groupSize, rows, maxHeadsPerItem);
  const tokensPerItem = Math.max(1, Math.floor(rows / headsPerItem));
  const runs: [number, number][] = [];
  for (let t = 0; t < numTokens;) {
    let n = 1;
    while (n < tokensPerItem && t + n < numTokens && continues(positions, seqIndex, t + n - 1, numTokens)) n++;
    const single = n === 1 && !continues(positions, seqIndex, t - 1, numTokens) && !continues(positions, seqIndex, t, numTokens);
    if (!(skipSingles && single)) runs.push([t, n]);
    t += n;
  }
  const numKvHeads = numHeads / groupSize;
  const plain = runs.length * numKvHeads * Math.ceil(groupSize / headsPerItem);
  const split = splitSingles ?? plain < SPLIT_BELOW_ITEMS;
  const items: number[][] = [];
  for (const [t0, n] of runs) {
    const length = positions[t0 + n - 1];
    for (let h = 0; h < numHeads;) {
      const heads = n === 1 && split ? 1 : Math.min(headsPerItem, groupSize - (h % groupSize));
      items.push([t0, n | (heads << 16), h, seqIndex[t0], length]);
      h += heads;
    }
  }
  items.sort((a, b) => b[4] - a[4]);
  const list = new Uint32Array(items.length * 4);
  items.forEach((item, i) => list.set(item.slice(0, 4), i * 4));
  return list;
}

/** Whether row t + 1 is the next position of row t's sequence (false past either end of the batch). */
function continues(positions: Int32Array, seqIndex: Int32Array, t: number, numTokens: number): boolean {
  return t >= 0 && t + 1 < numTokens && seqIndex[t + 1] === seqIndex[t] && positions[t + 1] === positions[t] + 1;
}

/**
 * The rows that are alone in their run: no neighbour in the batch is the previous or next position of the same
 * sequence (decode tokens). A step that holds both these and longer runs can serve them with the per-row kernel,
 * which takes a single row far faster than a tiled work item does (its 4 barriers per 32-key tile serve one row).
 */
export function singleTokenRows(positions: Int32Array, seqIndex: Int32Array, numTokens: number): Int32Array {
  const rows: number[] = [];
  for (let t = 0; t < numTokens; t++) {
    if (!continues(positions, seqIndex, t - 1, numTokens) && !continues(positions, seqIndex, t, numTokens)) rows.push(t);
  }
  return Int32Array.from(rows);
}

/**
 * WGSL the item kernels (this and attention-tensor.ts) share: the storage index of element e (in the cache
 * binding's element type) of key position pos's row of a KV head (pos has a block: pos < length), and the
 * workgroup's item (one workgroup per item; the grid's last row guarded).
 */
export const ITEM_KV_INDEX = `fn kvIndex(pos: u32, tableBase: u32, kvOffset: u32, e: u32) -> u32 {
  let block = u32(blockTables[tableBase + pos / params.blockSize]);
  return (block * params.blockSize + pos % params.blockSize) * params.kvStride + kvOffset + e;
}`;
export const ITEM_PROLOGUE = `  let itemIndex = linearWorkgroup(wid, nwg);
  if (itemIndex >= params.numItems) { return; }
  let item = items[itemIndex];
  let t0 = item.x;
  let nTokens = item.y & 0xffffu;
  let nHeads = item.y >> 16u;
  let h0 = item.z;
  let tableBase = item.w * params.maxBlocksPerSeq;`;

/**
 * Causal GQA over the paged cache, FlashAttention-style with f32 math. One workgroup serves one work item of
 * the host-built list (attention-plan.ts): up to `tiles.rows` (token, query head) rows that share a KV head —
 * a run of consecutive tokens of one sequence × the heads of one KV head, or a single (decode token, head).
 * Keys are taken in tiles of `tiles.keys` from position 0; each K tile, then V tile, is loaded once (coalesced
 * vec4) into workgroup memory as f32 and used by every row of the item. Per tile:
 *  A. K tile stored to `kv`; the next tile's K load is issued (in flight during B and C);
 *  B. scores: s[r][j] = (Σ_dv q[r][dv]·k[j][dv]) · scale, summed in dv order by the thread owning (r, j);
 *     keys past row r's position get LOWEST;
 *  C. thread r: tile max, m' = max(m, tileMax), corr = exp(m − m'), p[j] = exp(s − m') in place,
 *     l = l·corr + Σ_j p[j] (j order); the V tile is stored to `kv` and the next V load issued;
 *  D. acc[r][dv] = acc·corr + Σ_j p[r][j]·v[j][dv] (j order) by the thread owning (r, dv).
 * Every row's arithmetic is this fixed sequence, whatever else shares its workgroup, so results are
 * batch-invariant bit for bit (a row whose position ends before a tile skips that tile: it would only add
 * exact zeros). Rows a workgroup does not hold are skipped, never read or written.
 */
function source(kvDtype: KvDtype, headDim: number, rope: boolean, tiles: AttentionTiles): string {
  const vec = headDim % 4 === 0 ? 4 : 1;
  const lanes = headDim / vec; // `acc`-typed elements of a head
  const { rows, keys } = tiles;
  const kvType = vec === 4 ? `vec4<${kvDtype}>` : kvDtype;
  const acc = vec === 4 ? "vec4<f32>" : "f32";
  const stride = lanes + 1; // padded K/V tile row: threads reading consecutive keys hit different banks
  const scoreUnits = rows * keys;
  const outUnits = rows * lanes;
  const loadUnits = keys * lanes;
  const perThread = (units: number) => Math.ceil(units / WORKGROUP);
  if (WORKGROUP % keys !== 0 || rows > WORKGROUP)
    throw new Error(`attention: tiles of ${rows} rows × ${keys} keys do not fit ${WORKGROUP} threads`);
  // Phases B and D give each thread one row and several keys (elements): the row's q (p) value is then one
  // broadcast load for all of them, and a warp's K (V) loads touch few distinct rows of the tile.
  const scoreThreads = keys / perThread(scoreUnits);
  const outThreads = Math.ceil(lanes / perThread(outUnits));
  if (!Number.isInteger(scoreThreads) || rows * scoreThreads > WORKGROUP || rows * outThreads > WORKGROUP)
    throw new Error(`attention: tiles of ${rows} rows × ${keys} keys (head size ${headDim}) do not map onto ${WORKGROUP} threads`);
  return `${kvEnable(kvDtype)}
struct Params { numItems: u32, numHeads: u32, groupSize: u32, kvStride: u32, blockSize: u32, maxBlocksPerSeq: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<${acc}>;
@group(0) @binding(2) var<storage, read> keys: array<${kvType}>;
@group(0) @binding(3) var<storage, read> values: array<${kvType}>;
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> blockTables: array<i32>;
@group(0) @binding(6) var<storage, read> items: array<vec4<u32>>; // (t0, nTokens | nHeads << 16, h0, seq)
@group(0) @binding(7) var<storage, read_write> out: array<${acc}>;
${rope ? "@group(0) @binding(8) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]" : ""}
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
const LANES: u32 = ${lanes}u;
const STRIDE: u32 = ${stride}u;
const ROWS: u32 = ${rows}u;
const KT: u32 = ${keys}u;
const SCORE_THREADS: u32 = ${scoreThreads}u; // threads per row in phase B, each with ${perThread(scoreUnits)} keys spaced SCORE_THREADS apart
const OUT_THREADS: u32 = ${outThreads}u; // threads per row in phase D, each with ${perThread(outUnits)} elements spaced OUT_THREADS apart
const LOWEST: f32 = -3.0e38; // below any score, and exp(LOWEST - finite) is 0 without inf - inf

var<workgroup> qTile: array<${acc}, ${rows * (lanes + 1)}>; // rows of LANES + 1: a warp's rows hit different banks
var<workgroup> kv: array<${acc}, ${keys * stride}>;
var<workgroup> p: array<f32, ${rows * (keys + 1)}>; // rows of KT + 1, as qTile
var<workgroup> corrShared: array<f32, ${rows}>;
var<workgroup> rowPos: array<u32, ${rows}>;
var<workgroup> lengthShared: u32;

fn dotAcc(a: ${acc}, b: ${acc}) -> f32 { return ${vec === 4 ? "dot(a, b)" : "a * b"}; }

${ITEM_KV_INDEX}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${ITEM_PROLOGUE}
  let nRows = nTokens * nHeads;
  let kvOffset = (h0 / params.groupSize) * LANES;

  // Rows r = (token t0 + r / nHeads, head h0 + r % nHeads); the last token has the largest position.
  if (lid == 0u) { lengthShared = u32(positions[t0 + nTokens - 1u]) + 1u; }
  if (lid < nRows) { rowPos[lid] = u32(positions[t0 + lid / nHeads]); }
  for (var u = lid; u < nRows * LANES; u += WG) {
    let r = u / LANES;
    let t = t0 + r / nHeads;
    let qBase = (t * params.numHeads + h0 + r % nHeads) * LANES;
    let d = u % LANES;
${rope ? ropedQLoad("qTile[r * (LANES + 1u) + d]", "    ") : "    qTile[r * (LANES + 1u) + d] = q[qBase + d];"}
  }
  let length = workgroupUniformLoad(&lengthShared);

  // Prefetch registers: load unit i of a tile is u = lid + i·WG → key u / LANES, element u % LANES.
  var kNext: array<${kvType}, ${perThread(loadUnits)}>; // in the cache's type: half the registers for f16
  var vNext: array<${kvType}, ${perThread(loadUnits)}>;
  var index: array<u32, ${perThread(loadUnits)}>;
  var valid: array<bool, ${perThread(loadUnits)}>;
  for (var i = 0u; i < ${perThread(loadUnits)}u; i++) {
    let u = lid + i * WG;
    valid[i] = u < ${loadUnits}u && u / LANES < length;
    if (valid[i]) {
      index[i] = kvIndex(u / LANES, tableBase, kvOffset, u % LANES);
      kNext[i] = keys[index[i]];
    }
  }

  var runningMax = LOWEST; // row lid's m and l (threads lid < nRows)
  var runningSum = 0.0;
  var accum: array<${acc}, ${perThread(outUnits)}>;
  for (var i = 0u; i < ${perThread(outUnits)}u; i++) { accum[i] = ${acc}(0.0); }

  for (var start = 0u; start < length; start += KT) {
    let count = min(KT, length - start);
    // A: this tile's K into workgroup memory; next tile's K load issued.
    for (var i = 0u; i < ${perThread(loadUnits)}u; i++) {
      let u = lid + i * WG;
      if (u < ${loadUnits}u) { kv[(u / LANES) * STRIDE + u % LANES] = select(${acc}(0.0), ${acc}(kNext[i]), valid[i]); }
    }
    for (var i = 0u; i < ${perThread(loadUnits)}u; i++) {
      if (valid[i]) { vNext[i] = values[index[i]]; }
      let u = lid + i * WG;
      valid[i] = u < ${loadUnits}u && start + KT + u / LANES < length;
      if (valid[i]) {
        index[i] = kvIndex(start + KT + u / LANES, tableBase, kvOffset, u % LANES);
        kNext[i] = keys[index[i]];
      }
    }
    workgroupBarrier();

    // B: scores of (row, key) units u = lid + i·WG.
${scores(perThread(scoreUnits))}
    workgroupBarrier();

    // C: per-row online-softmax update (thread r owns row r); V tile into workgroup memory.
    if (lid < nRows && start <= rowPos[lid]) {
      let base = lid * (KT + 1u);
      var tileMax = LOWEST;
      for (var j = 0u; j < count; j++) { tileMax = max(tileMax, p[base + j]); }
      let newMax = max(runningMax, tileMax);
      let correction = exp(runningMax - newMax);
      var tileSum = 0.0;
      for (var j = 0u; j < count; j++) {
        let weight = exp(p[base + j] - newMax);
        p[base + j] = weight;
        tileSum += weight;
      }
      runningSum = runningSum * correction + tileSum;
      runningMax = newMax;
      corrShared[lid] = correction;
    }
    for (var i = 0u; i < ${perThread(loadUnits)}u; i++) {
      let u = lid + i * WG;
      let previous = start + u / LANES < length; // the V just loaded belongs to this tile
      if (u < ${loadUnits}u) { kv[(u / LANES) * STRIDE + u % LANES] = select(${acc}(0.0), ${acc}(vNext[i]), previous && u / LANES < count); }
    }
    workgroupBarrier();

    // D: acc = acc·corr + Σ_j p·v over this tile's keys.
${weightedValues(perThread(outUnits), acc)}
    workgroupBarrier();
  }

  if (lid < nRows) { corrShared[lid] = runningSum; }
  workgroupBarrier();
  let outRow = lid / OUT_THREADS;
  for (var i = 0u; i < ${perThread(outUnits)}u; i++) {
    let lane = lid % OUT_THREADS + i * OUT_THREADS;
    if (outRow < nRows && lane < LANES) {
      let t = t0 + outRow / nHeads;
      out[(t * params.numHeads + h0 + outRow % nHeads) * LANES + lane] = accum[i] / corrShared[outRow];
    }
  }
}
`;
}

/**
 * Phase B: thread lid owns row lid / SCORE_THREADS and keys lid % SCORE_THREADS + m·SCORE_THREADS (m < units): one
 * q load serves all of its keys. Each score is Σ_dv q·k in element order by this one thread; rows the item lacks
 * are not computed or stored.
 */
function scores(units: number): string {
  // Zeroed explicitly: a WGSL var without initializer inside the tile loop kept its last value on lavapipe.
  return `    var totals: array<f32, ${units}>;
    for (var i = 0u; i < ${units}u; i++) { totals[i] = 0.0; }
    let r = lid / SCORE_THREADS;
    let j0 = lid % SCORE_THREADS;
    if (r < nRows) {
      for (var dv = 0u; dv < LANES; dv++) {
        let qv = qTile[r * (LANES + 1u) + dv];
        for (var i = 0u; i < ${units}u; i++) { totals[i] += dotAcc(qv, kv[(j0 + i * SCORE_THREADS) * STRIDE + dv]); }
      }
      for (var i = 0u; i < ${units}u; i++) {
        let j = j0 + i * SCORE_THREADS;
        p[r * (KT + 1u) + j] = select(LOWEST, totals[i] * params.scale, start + j <= rowPos[r]);
      }
    }`;
}

/**
 * Phase D: thread lid owns row lid / OUT_THREADS and output elements lid % OUT_THREADS + m·OUT_THREADS (m < units):
 * one p load serves all of its elements. Each element's tile sum Σ_j p·v runs in key order in this one thread,
 * then acc = acc·corr + sum.
 */
function weightedValues(units: number, acc: string): string {
  return `    let outRow = lid / OUT_THREADS;
    if (outRow < nRows) {
      var parts: array<${acc}, ${units}>;
      for (var i = 0u; i < ${units}u; i++) { parts[i] = ${acc}(0.0); }
      for (var j = 0u; j < count; j++) {
        let w = p[outRow * (KT + 1u) + j];
        for (var i = 0u; i < ${units}u; i++) { parts[i] += w * kv[j * STRIDE + min(lid % OUT_THREADS + i * OUT_THREADS, LANES - 1u)]; }
      }
      if (start <= rowPos[outRow]) {
        for (var i = 0u; i < ${units}u; i++) { accum[i] = accum[i] * corrShared[outRow] + parts[i]; }
      }
    }`;
}

export interface AttentionInputs {
  /** Host copies of the batch's positions and sequence rows ([numTokens] each): the work list is built from them. */
  hostPositions: Int32Array;
  hostSeqIndex: Int32Array;
  positions: Resource;
  blockTables: Resource;
  maxBlocksPerSeq: number;
  /** The step's work list is uploaded once per (owner, shape) and shared by every layer's attention. */
  owner: object;
  /** Tile sizes (attentionTiles: from the device's workgroup-memory limit). */
  tiles: AttentionTiles;
  /** Split decode items into one per head: default when the list is short (SPLIT_BELOW_ITEMS); the lab forces it. */
  splitSingles?: boolean;
  /** Leave the single-token rows (singleTokenRows) out: the per-row kernel writes them into the same output. */
  skipSingles?: boolean;
}

/** The argument checks both attention kernels make (q's columns, GQA grouping, fused RoPE's head size). */
export function checkAttentionShapes(
  q: GpuActivation,
  layout: { numKvHeads: number; headDim: number },
  numHeads: number,
  ropeCosSin: Resource | null,
): void {
  const { numKvHeads, headDim } = layout;
  if (ropeCosSin && headDim % 4 !== 0) throw new Error(`attention: fused RoPE needs a head size that is a multiple of 4, not ${headDim}`);
  if (q.cols !== numHeads * headDim) throw new Error(`attention: q has ${q.cols} columns, expected ${numHeads} heads of ${headDim}`);
  if (numHeads % numKvHeads !== 0) throw new Error(`attention: ${numHeads} query heads are not a multiple of ${numKvHeads} KV heads`);
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
  /** (cos, sin) table of the batch's positions: q is rotated as it is loaded (needs headDim % 4 == 0). */
  ropeCosSin: Resource | null = null,
): GpuActivation {
  const { numKvHeads, headDim, blockSize } = layout;
  checkAttentionShapes(q, layout, numHeads, ropeCosSin);
  const out = ctx.recorder.output(q.rows, q.cols);
  if (out.isEmpty) return out;
  const rope = ropeCosSin !== null;
  const { tiles } = inputs;
  const pipeline = ctx.pipelines.get(`attention/${kvDtype}/d${headDim}/r${tiles.rows}k${tiles.keys}${rope ? "/rope" : ""}`, () =>
    source(kvDtype, headDim, rope, tiles),
  );
  const groupSize = numHeads / numKvHeads;
  const skip = inputs.skipSingles ?? false;
  const { hostPositions, hostSeqIndex, splitSingles } = inputs;
  const vec = headDim % 4 === 0 ? 4 : 1;
  dispatchWorkItems(
    ctx,
    pipeline,
    {
      owner: inputs.owner,
      tag: `attention-items/${q.rows}/${numHeads}/${groupSize}/${tiles.rows}/${splitSingles ?? "auto"}/${skip}`,
      make: () => attentionWorkList(hostPositions, hostSeqIndex, q.rows, numHeads, groupSize, tiles.rows, splitSingles, skip),
    },
    (itemCount) => uniform(itemCount, numHeads, groupSize, (numKvHeads * headDim) / vec, blockSize, inputs.maxBlocksPerSeq, f32Bits(scale)),
    { q, layer, positions: inputs.positions, blockTables: inputs.blockTables, out, ropeCosSin },
  );
  return out;
}

/**
 * Dispatches one workgroup per item of a step's work list with the bindings the item kernels (tiled and
 * tensor-core attention) share: params, q, keys, values, positions, block tables, items, out and the RoPE table.
 * The list is uploaded once per (owner, tag) and shared by every layer; its item count travels beside its buffer.
 */
export function dispatchWorkItems(
  ctx: KernelContext,
  pipeline: CachedPipeline,
  list: { owner: object; tag: string; make: () => Uint32Array },
  params: (itemCount: number) => Resource,
  bindings: {
    q: GpuActivation;
    layer: GpuKvLayer;
    positions: Resource;
    blockTables: Resource;
    out: GpuActivation;
    ropeCosSin: Resource | null;
  },
): void {
  let made: Uint32Array | null = null;
  const items = ctx.recorder.input(list.owner, list.tag, () => (made = list.make()));
  if (items.kind !== "buffer") throw new Error("attention: the work list is a buffer input");
  if (made !== null) itemCounts.set(items.buffer, (made as Uint32Array).length / 4);
  const itemCount = itemCounts.get(items.buffer) ?? 0;
  const { q, layer, out, ropeCosSin } = bindings;
  const cache = (buffer: GPUBuffer): Resource => ({ kind: "buffer", buffer, size: layer.size });
  ctx.recorder.dispatch(
    pipeline,
    [
      params(itemCount),
      activationResource(q),
      cache(layer.keys),
      cache(layer.values),
      bindings.positions,
      bindings.blockTables,
      items,
      activationResource(out),
      ...(ropeCosSin ? [ropeCosSin] : []),
    ],
    itemCount,
  );
}

/** Item count of the work list a buffer holds this step (set whenever a list is uploaded into it). */
const itemCounts = new WeakMap<GPUBuffer, number>();
