import { uniform, type GpuKvLayer, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { f32Bits, LINEAR_WORKGROUP } from "../wgsl.js";
import {
  attentionWorkList,
  checkAttentionShapes,
  dispatchWorkItems,
  ITEM_KV_INDEX,
  ITEM_PROLOGUE,
  type AttentionInputs,
} from "./attention.js";
import { ropedQLoad } from "./rope.js";
import { clampChunkIndex, clampMatrixOffset, matrixLoad, matrixStoreRowMajor, F16_MAX, type TensorCoreSetup } from "./tensor/plan.js";

/**
 * Causal GQA attention for prefill runs on the tensor cores (subgroup matrices, f16 × f16 → f32), over the paged
 * f16 KV cache. A work item (attention.ts attentionWorkList) is a run of up to tokenTiles·M consecutive tokens of
 * one sequence (M = the matrix height, 16 on the H100) × `heads` query heads of one KV head; subgroup s owns the M
 * rows of head h0 + s % heads and token tile s / heads, so one K/V block staged in workgroup memory serves every
 * row of the item.
 *
 * One pass over the keys, in blocks of `keyBlock` (32; 64 on request) from position 0: S = Q·Kᵀ (Q scaled by
 * scale·log2 e, held as left matrices) stored to workgroup memory; scalar code takes each row's block max and
 * writes P = exp2(S − m) as f16 for the row's reference m, adding P to the row's sum l; O += P·V on the tensor
 * cores; O / l on the way out (through workgroup memory, so that rows past the run are not written). Result
 * matrices cannot be scaled per row, so m is not a running max: it moves only when a block's max exceeds it by
 * more than RESCALE_ABOVE (P stays ≤ 2^8 otherwise), and then O goes through workgroup memory once to be scaled
 * by exp2(m_old − m_new) — on a row's first block O is still zero and nothing moves. A two-pass version (a pass
 * for each row's max and sum, then P normalised) took 1.27 against 0.87 ms per layer of a 2,048-token prefill on
 * the H100 (bench/NOTES.md, session 11).
 *
 * Dawn does not order subgroupMatrixLoad with workgroupBarrier (docs/design.md), so every matrix load after
 * staged data takes the GEMM's fence: its offset adds a word read by workgroupUniformLoad after the barrier. A
 * result matrix stored to workgroup memory and read by scalar code after a plain workgroupBarrier was read
 * right on the H100 (bench/mma-visibility.ts, session 10), which S and O rely on; the tests check the whole
 * kernel there. Every row is a multiple of 16 bytes plus a pad that spreads rows over memory banks (D + 8 and
 * keyBlock + 8 halves, keyBlock + 4 and RC + 4 f32), and so is every workgroup variable (see `words`).
 *
 * q·scale beyond f16's range (|q| > ~740k at head size 128) is clamped: f16 operands are this path's premise, like
 * the KV cache's f16 elements. Only with tensor cores (not batch-invariant: the row's bits depend on its run).
 */

/**
 * Keys per block, preferred first: S is M × keyBlock per subgroup (result matrices of width N); the V block reuses
 * the K block's workgroup memory. 64 halves the sync points per key but measured slower on the H100 (two-pass
 * kernel, one token tile, prefill 2048: 2.82 against 2.57 ms per layer, bench/NOTES.md session 10: twice the
 * prefetch registers), and two token tiles of it exceed 48 KiB.
 */
export const KEY_BLOCKS = [32, 64] as const;

/**
 * M-token tiles per work item, preferred first. Two (8 subgroups for a GQA group of 4: 128 rows per staged K/V
 * block) halved the H100's attention time in a 2,048-token prefill against one (1.28 against 2.57 ms per layer,
 * prefill 294 against 328 ms; bench/NOTES.md session 11); Q is then staged a tile at a time so that 48 KiB hold it.
 */
export const TOKEN_TILES = [2, 1] as const;

/** Query heads per work item: the largest divisor of the GQA group that is at most 4 (one subgroup each). */
export function tensorAttentionHeads(groupSize: number): number {
  for (let heads = Math.min(4, groupSize); heads > 1; heads--) if (groupSize % heads === 0) return heads;
  return 1;
}

/** Halves of padding per staged Q, K or V row: rows of a multiple of 16 bytes (head sizes are multiples of 16). */
const ROW_PAD = 8;
/** The P rows (halves): 40 or 72, multiples of 16 bytes. */
const pStride = (keyBlock: number) => keyBlock + 8;
/** The S / O rows (f32). */
const sStride = (keyBlock: number) => keyBlock + 4;

/**
 * Variants of the kernel (A/B runs and the kernel lab; the defaults are the measured best).
 * - `keyBlock`: keys per block (KEY_BLOCKS); default the first that fits.
 * - `tokenTiles`: M-token tiles per item (1 or 2): subgroups = heads × tokenTiles, each staged K/V block serving
 *   twice the rows for the same staging work and barriers. Q is staged one token tile at a time (workgroup memory).
 * - `ablate`: timing only, wrong results: "no-mma" (no matrix loads or products), "no-stage" (no K/V fetches or
 *   workgroup stores).
 */
export interface TensorAttentionOptions {
  keyBlock?: number;
  tokenTiles?: number;
  ablate?: "no-mma" | "no-stage";
  /**
   * Q staged through sP, keyBlock head columns of every row at a time (default), instead of through kvs a token tile
   * at a time: kvs then holds one K or V block only (38 against 46 KB of workgroup memory at the default tiles; still
   * one workgroup per SM). On the H200 the attention of an 8,192-token prefill took 297 against 327 ms, two rounds
   * each (bench/NOTES.md, session 26; why is not known: more of the SM's memory left to the L1 cache is a guess). One
   * token tile with it fits two workgroups per SM (~23 KB) but took 648 ms.
   */
  qThroughP?: boolean;
  /** With robustness: workgroup matrix offsets and the K/V staging's store indices bounded for Tint (TensorLayout.clampOffsets). */
  clampOffsets?: boolean;
}

export interface TensorAttentionLayout {
  keyBlock: number;
  /** M-token tiles per item. */
  tokenTiles: number;
  threads: number;
  rows: number;
  /** Threads per row in the scalar phases. */
  perRow: number;
  /** Q staged through sP (TensorAttentionOptions.qThroughP). */
  qThroughP: boolean;
  bytes: number;
}

/**
 * The kernel's layout for a head size, heads per item, key block and token tiles (defaults: the first of
 * TOKEN_TILES, then of KEY_BLOCKS, that fits), or why it cannot run (a message: the last choice's).
 */
export function tensorAttentionLayout(
  setup: TensorCoreSetup,
  headDim: number,
  heads: number,
  keyBlock?: number,
  tokenTiles?: number,
  qThroughP = true,
): TensorAttentionLayout | string {
  if (keyBlock === undefined || tokenTiles === undefined) {
    const choices = (tokenTiles === undefined ? TOKEN_TILES : [tokenTiles]).flatMap((tiles) =>
      (keyBlock === undefined ? KEY_BLOCKS : [keyBlock]).map((kb) => tensorAttentionLayout(setup, headDim, heads, kb, tiles, qThroughP)),
    );
    return choices.find((layout) => typeof layout !== "string") ?? choices[choices.length - 1];
  }
  const { M, N, K } = setup.config;
  if (headDim % 16 !== 0 || headDim % N !== 0 || headDim % K !== 0) return `head size ${headDim} is not a multiple of the matrix size`;
  if (keyBlock % N !== 0 || keyBlock % K !== 0) return `the ${M}×${N}×${K} matrices do not tile ${keyBlock} keys`;
  if (tokenTiles !== 1 && tokenTiles !== 2) return `${tokenTiles} token tiles per item (1 or 2)`;
  const threads = heads * tokenTiles * setup.subgroupSize;
  if (threads > setup.maxInvocations) return `${threads} threads exceed ${setup.maxInvocations} per workgroup`;
  const rows = heads * tokenTiles * M;
  const perRow = threads / rows;
  // A row's threads combine their maxima and sums by subgroup shuffles: a power of two of consecutive lanes.
  if (threads % rows !== 0 || keyBlock % perRow !== 0 || (perRow & (perRow - 1)) !== 0) {
    return `${threads} threads do not split ${rows} rows evenly`;
  }
  const stride = headDim + ROW_PAD;
  // kvs holds a K or V block, or (unless Q goes through sP) Q one token tile at a time.
  const kvsBytes = 2 * kvsRows(keyBlock, heads * M, qThroughP) * stride;
  const sBytes = 4 * rows * sStride(keyBlock);
  // rowPos and rowScale per row; words (fenceWord, lengthShared, rescaleWord).
  const bytes = kvsBytes + sBytes + 2 * rows * pStride(keyBlock) + 8 * rows + 16;
  if (bytes > setup.maxWorkgroupBytes) return `${bytes} bytes of workgroup memory exceed ${setup.maxWorkgroupBytes}`;
  return { keyBlock, tokenTiles, threads, rows, perRow, qThroughP, bytes };
}

/** Rows of kvs: a K or V block's keys, and a token tile's Q rows (heads · M) unless Q is staged through sP. */
function kvsRows(keyBlock: number, tileRows: number, qThroughP: boolean): number {
  return qThroughP ? keyBlock : Math.max(keyBlock, tileRows);
}

export function tensorAttentionSource(
  setup: TensorCoreSetup,
  headDim: number,
  heads: number,
  rope: boolean,
  options: TensorAttentionOptions = {},
): string {
  const layout = tensorAttentionLayout(setup, headDim, heads, options.keyBlock, options.tokenTiles, options.qThroughP);
  if (typeof layout === "string") throw new Error(`tensor attention: ${layout}`);
  const { M, N, K } = setup.config;
  const { threads, rows, perRow, tokenTiles, qThroughP } = layout;
  const ablate = options.ablate;
  const KEY_BLOCK = layout.keyBlock;
  const S_STRIDE = sStride(KEY_BLOCK);
  const P_STRIDE = pStride(KEY_BLOCK);
  const syntax = setup.majorness ?? "argument";
  const lanes = headDim / 4;
  const stride = headDim + ROW_PAD;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const left = `subgroup_matrix_left<f16, ${K}, ${M}>`;
  const right = `subgroup_matrix_right<f16, ${N}, ${K}>`;
  const result = `subgroup_matrix_result<f32, ${N}, ${M}>`;
  const dSteps = headDim / K;
  const keyTiles = KEY_BLOCK / N;
  const keySteps = KEY_BLOCK / K;
  const dTiles = headDim / N;
  // Workgroup matrix accesses: offset clamped (options.clampOffsets) for an array of `length` elements, rows `stride`
  // apart, `major` rows (columns when column-major) of `minor` elements.
  const KVS_LENGTH = kvsRows(KEY_BLOCK, heads * M, qThroughP) * stride;
  const at = (offset: string, length: number, rowStride: number, major: number, minor: number) =>
    options.clampOffsets ? clampMatrixOffset(offset, length, rowStride, major, minor) : offset;
  const kvsRight = (offset: string, colMajor: boolean) =>
    colMajor ? at(offset, KVS_LENGTH, stride, N, K) : at(offset, KVS_LENGTH, stride, K, N);
  // The first of four scalar f16 stores to kvs, bounded once with robustness (clampChunkIndex, as the GEMM's staging).
  const vec4At = (index: string) => (options.clampOffsets ? clampChunkIndex(index, KVS_LENGTH, stride, 4) : index);
  // The same for sP, where Q is staged with qThroughP.
  const pVec4At = (index: string) => (options.clampOffsets ? clampChunkIndex(index, rows * P_STRIDE, P_STRIDE, 4) : index);
  const sResult = (offset: string, rowStride: number) => at(offset, rows * S_STRIDE, rowStride, M, N);
  // S = Q·Kᵀ for this block: keyTiles result matrices, stored to sS.
  const scores = [
    ...range(keyTiles).map((j) => `var s${j} = ${result}();`),
    ...range(dSteps).flatMap((d) =>
      range(keyTiles).map(
        (j) =>
          `s${j} = subgroupMatrixMultiplyAccumulate(q${d}, ${matrixLoad(syntax, right, "&kvs", kvsRight(`${j * N}u * STRIDE + ${d * K}u + fence`, true), true, "STRIDE")}, s${j});`,
      ),
    ),
    ...range(keyTiles).map(
      (j) => `${matrixStoreRowMajor(syntax, "&sS", sResult(`sgRow0 * S_STRIDE + ${j * N}u`, S_STRIDE), `s${j}`, "S_STRIDE")};`,
    ),
  ].join("\n      ");
  const weighted = range(keySteps)
    .flatMap((kk) => [
      `{ let p = ${matrixLoad(syntax, left, "&sP", at(`sgRow0 * P_STRIDE + ${kk * K}u + fence`, rows * P_STRIDE, P_STRIDE, M, K), false, "P_STRIDE")};`,
      ...range(dTiles).map(
        (d) =>
          `  o${d} = subgroupMatrixMultiplyAccumulate(p, ${matrixLoad(syntax, right, "&kvs", kvsRight(`${kk * K}u * STRIDE + ${d * N}u + fence`, false), false, "STRIDE")}, o${d});`,
      ),
      "}",
    ])
    .join("\n      ");
  const mma = ablate === "no-mma" ? "false" : "multiplies";
  // A block's K or V is fetched into registers one block ahead (in flight during the block before's products and
  // softmax), then stored to kvs: unit u = lid + i·THREADS is key u / LANES, vec4 u % LANES.
  const units = Math.ceil((KEY_BLOCK * lanes) / threads);
  const fetch = (name: string, registers: string, from: string) =>
    ablate === "no-stage"
      ? ""
      : `for (var i = 0u; i < ${units}u; i++) {
      let u = lid + i * THREADS;
      var v = vec4<f16>(0.0);
      if (u < KEY_BLOCK * LANES && ${from} + u / LANES < length) { v = ${name}[kvIndex(${from} + u / LANES, tableBase, kvOffset, u % LANES)]; }
      ${registers}[i] = v;
    }`;
  const stage = (registers: string, base: string) =>
    ablate === "no-stage"
      ? ""
      : `for (var i = 0u; i < ${units}u; i++) {
      let u = lid + i * THREADS;
      if (u < KEY_BLOCK * LANES) {
        let v = ${registers}[i];
        let at = ${vec4At(`${base} + (u / LANES) * STRIDE + (u % LANES) * 4u`)};
        kvs[at] = v.x; kvs[at + 1u] = v.y; kvs[at + 2u] = v.z; kvs[at + 3u] = v.w;
      }
    }`;
  // Both passes start a block alike: its K staged (the next one's fetched), then S = Q·Kᵀ into sS.
  const scoreBlock = `    ${stage("kNext", "0u")}
    ${fetch("keys", "kNext", "start + KEY_BLOCK")}
    fence = workgroupUniformLoad(&words[0]);
    if (${mma}) {
      ${scores}
    }`;
  // O leaves through sS in chunks of up to KEY_BLOCK columns that divide the head.
  const outCols = [KEY_BLOCK, 32, N].find((cols) => cols <= KEY_BLOCK && headDim % cols === 0 && cols % N === 0) ?? N;
  // Lane distances between a row's threads (consecutive lanes of one subgroup; PER_ROW is a power of two).
  const rowLanes = range(Math.log2(perRow)).map((i) => 2 ** i);
  // O rescaled through sS, RC columns at a time, in rows of RC + 4 f32.
  const RC = outCols;
  const rescaleO = range(headDim / RC)
    .map(
      (c) => `      if (multiplies) {
${range(RC / N)
  .map(
    (j) =>
      `        ${matrixStoreRowMajor(syntax, "&sS", sResult(`sgRow0 * ${RC + 4}u + ${j * N}u`, RC + 4), `o${(c * RC) / N + j}`, `${RC + 4}u`)};`,
  )
  .join("\n")}
      }
      workgroupBarrier();
      for (var u = lid; u < ROWS * ${RC}u; u += THREADS) {
        let row = u / ${RC}u;
        sS[row * ${RC + 4}u + u % ${RC}u] *= rowScale[row];
      }
      fence = workgroupUniformLoad(&words[0]);
      if (multiplies) {
${range(RC / N)
  .map(
    (j) =>
      `        o${(c * RC) / N + j} = ${matrixLoad(syntax, result, "&sS", sResult(`sgRow0 * ${RC + 4}u + ${j * N}u + fence`, RC + 4), false, `${RC + 4}u`)};`,
  )
  .join("\n")}
      }
      workgroupBarrier();`,
    )
    .join("\n");
  // Q (scaled by scale·log2 e, so that the softmax is exp2) as f16: each row's vec4 d, q[qBase + d] (RoPE'd as loaded).
  const qLoad = `var v = vec4<f32>(0.0);
      if (rowToken(r) < nTokens && rowHead(r) < nHeads) {
        let t = t0 + rowToken(r);
        let qBase = (t * params.numHeads + h0 + rowHead(r)) * LANES;
${rope ? ropedQLoad("v", "        ") : "        v = q[qBase + d];"}
      }
      let h = vec4<f16>(clamp(v * params.qScale, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX)));`;
  // Through kvs, one token tile (HEADS·M rows) at a time.
  const qThroughKvsStaging = `  for (var tile = 0u; tile < ${tokenTiles}u; tile++) {
    for (var u = lid; u < HEADS * M * LANES; u += THREADS) {
      let r = tile * HEADS * M + u / LANES;
      let d = u % LANES;
      ${qLoad}
      let at = ${vec4At("(u / LANES) * STRIDE + d * 4u")};
      kvs[at] = h.x; kvs[at + 1u] = h.y; kvs[at + 2u] = h.z; kvs[at + 3u] = h.w;
    }
    fence = workgroupUniformLoad(&words[0]);
    if (multiplies && sg / HEADS == tile) {
${range(dSteps)
  .map(
    (d) =>
      `      q${d} = ${matrixLoad(syntax, left, "&kvs", at(`(sg % HEADS) * M * STRIDE + ${d * K}u + fence`, KVS_LENGTH, stride, M, K), false, "STRIDE")};`,
  )
  .join("\n")}
    }
    workgroupBarrier();
  }`;
  // Through sP (qThroughP), QC head columns of every row at a time: rows r · P_STRIDE as the weights P.
  const QC = [KEY_BLOCK, 32, K].find((cols) => cols <= KEY_BLOCK && headDim % cols === 0 && cols % K === 0 && cols % 4 === 0) ?? K;
  const qThroughPStaging = range(headDim / QC)
    .map(
      (c) => `  for (var u = lid; u < ROWS * ${QC / 4}u; u += THREADS) {
    let r = u / ${QC / 4}u;
    let d = ${(c * QC) / 4}u + u % ${QC / 4}u;
    ${qLoad}
    let at = ${pVec4At(`r * P_STRIDE + (u % ${QC / 4}u) * 4u`)};
    sP[at] = h.x; sP[at + 1u] = h.y; sP[at + 2u] = h.z; sP[at + 3u] = h.w;
  }
  fence = workgroupUniformLoad(&words[0]);
  if (multiplies) {
${range(QC / K)
  .map(
    (kk) =>
      `    q${(c * QC) / K + kk} = ${matrixLoad(syntax, left, "&sP", at(`sgRow0 * P_STRIDE + ${kk * K}u + fence`, rows * P_STRIDE, P_STRIDE, M, K), false, "P_STRIDE")};`,
  )
  .join("\n")}
  }
  workgroupBarrier();`,
    )
    .join("\n");
  const body = `
  // One pass. Each row keeps a reference m (a block max it has seen) and l = Σ P over its keys with P = exp2(s − m)
  // as f16, at most 2^RESCALE_ABOVE: m moves only when a block's max exceeds it by more than that, and then O (in
  // result matrices, which cannot be scaled per row) goes through sS to be scaled by exp2(m_old − m_new): rare
  // after a row's first block, where O is still zero and nothing is scaled. O / l on the way out.
  var m = LOWEST;
  var l = 0.0;
  var kNext: array<vec4<f16>, ${units}>;
  var vNext: array<vec4<f16>, ${units}>;
${range(dTiles)
  .map((d) => `  var o${d} = ${result}();`)
  .join("\n")}
  ${fetch("keys", "kNext", "0u")}
  ${fetch("values", "vNext", "0u")}
  for (var start = 0u; start < length; start += KEY_BLOCK) {
${scoreBlock}
    workgroupBarrier();
    var blockMax = LOWEST;
    for (var j = part; j < KEY_BLOCK; j += PER_ROW) {
      if (i32(start + j) <= pos) { blockMax = max(blockMax, sS[r * S_STRIDE + j]); }
    }
${rowLanes.map((d) => `    blockMax = max(blockMax, subgroupShuffleXor(blockMax, ${d}u));`).join("\n")}
    var alpha = 1.0;
    if (blockMax > m + RESCALE_ABOVE) {
      if (m > LOWEST) {
        alpha = exp2(m - blockMax);
        words[2] = 1u;
      }
      m = blockMax;
      l *= alpha;
    }
    if (part == 0u) { rowScale[r] = alpha; }
    for (var j = part; j < KEY_BLOCK; j += PER_ROW) {
      let weight = f16(select(0.0, exp2(sS[r * S_STRIDE + j] - m), i32(start + j) <= pos));
      sP[r * P_STRIDE + j] = weight;
      l += f32(weight);
    }
    ${stage("vNext", "0u")}
    ${fetch("values", "vNext", "start + KEY_BLOCK")}
    let rescale = workgroupUniformLoad(&words[2]);
    fence = words[0];
    if (rescale != 0u) {
${rescaleO}
      if (lid == 0u) { words[2] = 0u; }
    }
    if (${mma}) {
      ${weighted}
    }
    workgroupBarrier();
  }
  // Each row's sum over its threads (a butterfly: the same bits on each), its reciprocal for the way out.
${rowLanes.map((d) => `  l += subgroupShuffleXor(l, ${d}u);`).join("\n")}
  if (part == 0u) { rowScale[r] = select(0.0, 1.0 / l, l > 0.0); }
`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

struct Params { numItems: u32, numHeads: u32, groupSize: u32, kvStride: u32, blockSize: u32, maxBlocksPerSeq: u32, qScale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keys: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> values: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read> positions: array<i32>;
@group(0) @binding(5) var<storage, read> blockTables: array<i32>;
@group(0) @binding(6) var<storage, read> items: array<vec4<u32>>; // (t0, nTokens | nHeads << 16, h0, seq)
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
${rope ? "@group(0) @binding(8) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]" : ""}
${LINEAR_WORKGROUP}

const THREADS: u32 = ${threads}u;
const HEADS: u32 = ${heads}u; // query heads per item
const SUBGROUPS: u32 = ${heads * tokenTiles}u; // subgroups that multiply: subgroup s has head s % HEADS, token tile s / HEADS
const M: u32 = ${M}u;
const ROWS: u32 = ${rows}u; // row r: subgroup r / M's head, token t0 + (r / M / HEADS)·M + r % M
const PER_ROW: u32 = ${perRow}u; // threads per row in the scalar phases; thread lid has row lid / PER_ROW
const KEY_BLOCK: u32 = ${KEY_BLOCK}u;
const LANES: u32 = ${lanes}u; // vec4 elements per head
const HEAD_DIM: u32 = ${headDim}u;
const STRIDE: u32 = ${stride}u; // halves per staged row of Q, K and V
const S_STRIDE: u32 = ${S_STRIDE}u;
const P_STRIDE: u32 = ${P_STRIDE}u;
const F16_MAX: f32 = ${F16_MAX}.0;
const LOWEST: f32 = -3.0e38;
const RESCALE_ABOVE: f32 = 8.0; // a row's reference max moves when a block's max exceeds it by more (log2 units)

var<workgroup> kvs: array<f16, ${KVS_LENGTH}>; // ${qThroughP ? "each block's K, then its V" : "Q (a token tile at a time), then each block's K, then its V"}
var<workgroup> sS: array<f32, ${rows * S_STRIDE}>; // scores; O on its way out or being rescaled
var<workgroup> sP: array<f16, ${rows * P_STRIDE}>; // the weights P as f16
var<workgroup> rowPos: array<i32, ROWS>; // the row's position, -1 for rows the item lacks
var<workgroup> rowScale: array<f32, ROWS>; // the block's O factor per row, then 1 / l
// fenceWord (stays 0: read after each staging barrier into the matrix-load offsets), lengthShared and rescaleWord
// (some row's reference moved in this block) as one 16-byte variable. Every workgroup variable's size is then a
// multiple of 16 bytes: with the three as separate u32 variables the H100 read the f16 arrays' matrices one element
// off (bench/NOTES.md, session 11).
var<workgroup> words: array<u32, 4>;

${ITEM_KV_INDEX}

/** Row r's token index in the item and its head's offset from h0. */
fn rowToken(r: u32) -> u32 { return (r / M / HEADS) * M + r % M; }
fn rowHead(r: u32) -> u32 { return (r / M) % HEADS; }

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sgSize: u32) {
${ITEM_PROLOGUE}
${ablate === "no-stage" ? "  if (arrayLength(&keys) == 0u || arrayLength(&values) == 0u || arrayLength(&blockTables) == 0u) { return; } // the ablation keeps its bindings\n" : ""}  let kvOffset = (h0 / params.groupSize) * LANES;
  // Subgroups past SUBGROUPS (a device whose subgroups are smaller than its maximum) take part in the scalar phases only.
  let sg = lid / sgSize;
  let multiplies = sg < SUBGROUPS;
  let sgRow0 = sg * M;

  if (lid == 0u) { words[1] = u32(positions[t0 + nTokens - 1u]) + 1u; }
  for (var r = lid; r < ROWS; r += THREADS) {
    var p = -1;
    if (rowToken(r) < nTokens && rowHead(r) < nHeads) { p = positions[t0 + rowToken(r)]; }
    rowPos[r] = p;
  }
  var fence = 0u;
${range(dSteps)
  .map((d) => `  var q${d} = ${left}();`)
  .join("\n")}
${qThroughP ? qThroughPStaging : qThroughKvsStaging}
  let length = workgroupUniformLoad(&words[1]);

  // The scalar phases: thread lid holds row r's keys part, part + PER_ROW, … of each block.
  let r = lid / PER_ROW;
  let part = lid % PER_ROW;
  let pos = rowPos[r];

${body}
  // O through sS, ${outCols} columns at a time, to the rows the item holds.
${range(headDim / outCols)
  .map(
    (c) => `  if (multiplies) {
${range(outCols / N)
  .map(
    (j) =>
      `    ${matrixStoreRowMajor(syntax, "&sS", sResult(`sgRow0 * S_STRIDE + ${j * N}u`, S_STRIDE), `o${(c * outCols) / N + j}`, "S_STRIDE")};`,
  )
  .join("\n")}
  }
  workgroupBarrier();
  for (var u = lid; u < ROWS * ${outCols}u; u += THREADS) {
    let row = u / ${outCols}u;
    if (rowPos[row] >= 0) {
      let t = t0 + rowToken(row);
      out[(t * params.numHeads + h0 + rowHead(row)) * HEAD_DIM + ${c * outCols}u + u % ${outCols}u] = sS[row * S_STRIDE + u % ${outCols}u] * rowScale[row];
    }
  }
  workgroupBarrier();`,
  )
  .join("\n")}
}
`;
}

/** softmax(q·k · scale) · v per query head over the f16 cache on the tensor cores; shapes as attention.ts `attention`. */
export function attentionTensor(
  ctx: KernelContext,
  setup: TensorCoreSetup,
  q: GpuActivation,
  layer: GpuKvLayer,
  layout: { numKvHeads: number; headDim: number; blockSize: number },
  inputs: Omit<AttentionInputs, "tiles" | "splitSingles">,
  numHeads: number,
  scale: number,
  ropeCosSin: Resource | null = null,
  /** Variants (TensorAttentionOptions); default: the first of TOKEN_TILES and KEY_BLOCKS that fits. */
  options: TensorAttentionOptions = {},
): GpuActivation {
  const { numKvHeads, headDim, blockSize } = layout;
  checkAttentionShapes(q, layout, numHeads, ropeCosSin);
  const out = ctx.recorder.output(q.rows, q.cols);
  if (out.isEmpty) return out;
  const groupSize = numHeads / numKvHeads;
  const heads = tensorAttentionHeads(groupSize);
  const rope = ropeCosSin !== null;
  const layoutFor = tensorAttentionLayout(setup, headDim, heads, options.keyBlock, options.tokenTiles, options.qThroughP);
  if (typeof layoutFor === "string") throw new Error(`tensor attention: ${layoutFor}`);
  const { keyBlock, tokenTiles, rows, qThroughP } = layoutFor;
  const variant = `k${keyBlock}/t${tokenTiles}${qThroughP ? "/qp" : ""}${options.ablate ? `/${options.ablate}` : ""}${options.clampOffsets ? "/clamp" : ""}`;
  const key = `attention-tensor/d${headDim}/h${heads}/${variant}/${setup.majorness ?? "argument"}${rope ? "/rope" : ""}`;
  const chosen = { ...options, keyBlock, tokenTiles, qThroughP };
  const pipeline = ctx.pipelines.get(key, () => tensorAttentionSource(setup, headDim, heads, rope, chosen));
  const skip = inputs.skipSingles ?? false;
  dispatchWorkItems(
    ctx,
    pipeline,
    {
      owner: inputs.owner,
      tag: `attention-tensor-items/${q.rows}/${numHeads}/${groupSize}/${rows}/${skip}`,
      make: () => attentionWorkList(inputs.hostPositions, inputs.hostSeqIndex, q.rows, numHeads, groupSize, rows, false, skip, heads),
    },
    (itemCount) =>
      uniform(itemCount, numHeads, groupSize, (numKvHeads * headDim) / 4, blockSize, inputs.maxBlocksPerSeq, f32Bits(scale * Math.LOG2E)),
    { q, layer, positions: inputs.positions, blockTables: inputs.blockTables, out, ropeCosSin },
  );
  return out;
}
