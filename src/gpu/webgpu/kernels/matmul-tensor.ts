import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext, type MatmulOperand } from "../context.js";
import type { DispatchRecord, GpuActivation, Resource } from "../recorder.js";
import { rmsNormOfSum, type SplitSum } from "./rms-norm.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";
import { f16CopyDecls, f16CopyFlag, f16CopyStore } from "./tensor/f16-copy.js";
import {
  BF16_F16_LIMIT_BITS,
  BF16_PAIR_RANGE_ADD,
  clampChunkIndex,
  clampMatrixOffset,
  F16_MAX,
  matrixLoad,
  matrixStoreRowMajor,
  tensorAllocation,
  tensorWorkgroups,
  type TensorLayout,
} from "./tensor/plan.js";

/**
 * y[T, N] = x[T, K] · W[N, K]ᵀ on tensor cores through Dawn's subgroup matrices (f16 × f16 → f32).
 *
 * A workgroup owns a bm × bn output tile and walks K in slices of bk: its threads read the x slice (f32,
 * vec4) and the W slice (bf16/f16, 8 halves per vec4<u32>), convert both to f16 and stage them in workgroup
 * memory (x as [row][k], W as [col][k] = the right matrix column-major); each subgroup then multiplies its
 * tileM × tileN result matrices with subgroupMatrixMultiplyAccumulate, f32 accumulators held across all of
 * K. With two buffers the next slice is fetched into registers before the current one is multiplied.
 *
 * Range ("never silently lose range"): an x value beyond ±65504, or a bf16 weight ≥ 65536 / inf / NaN,
 * would not survive the f16 conversion. The staging code flags it in workgroup memory (pairConvert variants: once
 * after the K loop, from range bits kept in a register); a workgroup whose
 * tile saw one discards its MMA result and recomputes the tile with f32 FMAs straight from storage (exact
 * inputs, like the GEMV). Cheap when nothing overflows (one compare per element), slow but correct when
 * something does. Otherwise the only rounding is x to f16 (relative 2^-11) and bf16 weights below 2^-14
 * becoming f16 subnormals (absolute ≤ 2^-25); accumulation is f32. Measured error: bench/NOTES.md.
 *
 * Result matrices are stored straight to y: its buffer holds whole row tiles, and N must be a multiple of the
 * matrix width (tensorIneligibility), so no store needs a bounds check beyond skipping matrices past N.
 */

/** WGSL for the bf16/f16 → f16 conversion of one staged 8-half weight chunk `q` into `ws` at `base`. */
function stageWeightChunk(dtype: WeightDtype): string {
  if (dtype === "f16") {
    // f16 weights are already the operand type: reinterpret the words (inf/NaN propagate as in f32 math).
    return `let h0 = bitcast<vec2<f16>>(q.x); let h1 = bitcast<vec2<f16>>(q.y);
      let h2 = bitcast<vec2<f16>>(q.z); let h3 = bitcast<vec2<f16>>(q.w);
      ws[base] = h0.x; ws[base + 1u] = h0.y; ws[base + 2u] = h1.x; ws[base + 3u] = h1.y;
      ws[base + 4u] = h2.x; ws[base + 5u] = h2.y; ws[base + 6u] = h3.x; ws[base + 7u] = h3.y;`;
  }
  return `let lo = q & vec4<u32>(0x7fffu);
      let hi = (q >> vec4<u32>(16u)) & vec4<u32>(0x7fffu);
      if (any(max(lo, hi) >= vec4<u32>(BF16_LIMIT))) { atomicOr(&overflow[0], 1u); }
      let a = vec4<f32>(bitcast<f32>(q.x << 16u), bitcast<f32>(q.x & 0xffff0000u), bitcast<f32>(q.y << 16u), bitcast<f32>(q.y & 0xffff0000u));
      let b = vec4<f32>(bitcast<f32>(q.z << 16u), bitcast<f32>(q.z & 0xffff0000u), bitcast<f32>(q.w << 16u), bitcast<f32>(q.w & 0xffff0000u));
      let ha = vec4<f16>(clamp(a, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX)));
      let hb = vec4<f16>(clamp(b, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX)));
      ws[base] = ha.x; ws[base + 1u] = ha.y; ws[base + 2u] = ha.z; ws[base + 3u] = ha.w;
      ws[base + 4u] = hb.x; ws[base + 5u] = hb.y; ws[base + 6u] = hb.z; ws[base + 7u] = hb.w;`;
}

/**
 * The pairConvert variants' bf16 → f16 conversion of a fetched weight chunk (8 halves): each u32 holds two bf16
 * values and becomes the two f16 values by one f32 → f16 pack (the same cast as stageWeightChunk's: round to nearest,
 * bf16 below 2^-14 to f16 subnormals). The range check takes the pair at once (BF16_PAIR_RANGE_ADD sets a half's bit
 * 15 exactly where it does not fit f16); the bits are OR-ed into `wRange` over the whole K loop and looked at once
 * after it. A tile that saw one is recomputed exactly, so such a weight's converted value never matters (no clamp).
 */
const PAIR_CONVERT_FNS = `fn f16Pair(q: u32) -> u32 {
  return bitcast<u32>(vec2<f16>(vec2<f32>(bitcast<f32>(q << 16u), bitcast<f32>(q & 0xffff0000u))));
}

fn f16Chunk(q: vec4<u32>) -> vec4<u32> {
  wRange |= (q & vec4<u32>(0x7fff7fffu)) + vec4<u32>(BF16_RANGE_ADD);
  return vec4<u32>(f16Pair(q.x), f16Pair(q.y), f16Pair(q.z), f16Pair(q.w));
}
`;

/** Weight chunk → two vec4<f32> (w0: halves 0–3, w1: 4–7) for the exact f32 fallback. */
function unpackExact(dtype: WeightDtype): string {
  return dtype === "f16"
    ? `let w0 = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
        let w1 = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));`
    : `let w0 = vec4<f32>(bitcast<f32>(q.x << 16u), bitcast<f32>(q.x & 0xffff0000u), bitcast<f32>(q.y << 16u), bitcast<f32>(q.y & 0xffff0000u));
        let w1 = vec4<f32>(bitcast<f32>(q.z << 16u), bitcast<f32>(q.z & 0xffff0000u), bitcast<f32>(q.w << 16u), bitcast<f32>(q.w & 0xffff0000u));`;
}

/**
 * Bindings of the `parts` > 1 kernel's extra weights and outputs (w1, y1, w2, y2, …), after x16 and rowFlags.
 * Storage buffers in all: x, x16, rowFlags and a weight and an output per part.
 */
const PART_BINDINGS_FROM = 6;

/** The residual's binding: after x16 and rowFlags with the xF16 pre-pass, else after y. */
function residualBinding(layout: TensorLayout): number {
  return layout.variant.xF16 ? 6 : 4;
}

/**
 * Whether the kernel can start its accumulators from `residual` (y = residual + x·Wᵀ, no add pass): its buffer
 * must hold the whole 16-row matrices the rows touch (an output of this kernel has whole row tiles; another
 * activation does when its row count is a multiple of the matrix height).
 */
export function residualFusible(layout: TensorLayout, residual: GpuActivation, rows: number): boolean {
  return residual.capacityRows >= Math.ceil(rows / layout.config.M) * layout.config.M;
}

/** Storage buffers the kernel binds for `parts` weights (the device's maxStorageBuffersPerShaderStage must allow them). */
export function tensorStorageBuffers(parts: number): number {
  return 3 + 2 * parts;
}

/**
 * The kernel's WGSL for one layout and weight dtype (exported for the kernel lab). With `parts` > 1 (x16
 * variants only) one dispatch multiplies x by `parts` weights of the same K and dtype into their own outputs
 * (q/k/v, gate/up): the column tiles of the parts follow each other, and each workgroup runs the tile loop of
 * the part its tile falls in (one workgroup-uniform branch around a whole loop per part, each reading only its own
 * weight and output bindings: a first version that chose the weight buffer at every load made the products ~2×
 * slower on the H100). All parts share the x pre-pass and the split-K count.
 */
export function tensorMatmulSource(layout: TensorLayout, dtype: WeightDtype, parts = 1, residual = false): string {
  const { variant, config, bm, bn, threads, stride, majorness: syntax } = layout;
  const { M, N, K } = config;
  const { tileM, tileN, bk, buffers } = variant;
  const xF16 = variant.xF16 === true;
  const xDirect = variant.xDirect === true;
  const prefetch = variant.prefetch === true;
  const ablate = variant.ablate;
  const pairs = variant.pairConvert === true && dtype === "bf16";
  if (residual && parts > 1) throw new Error("tensorMatmulSource: a residual goes with one weight");
  if (parts > 1 && !xF16) throw new Error(`tensorMatmulSource: ${parts} parts need an x16 variant, not ${variant.name}`);
  const multi = parts > 1;
  const partRange = Array.from({ length: parts }, (_, i) => i);
  // Per part p: its weight and output bindings, its output width (row stride) and split stride, and the suffix of
  // its fetch / exactTile functions. Every access names its own binding (no branch per load).
  const partName = (name: string, p: number) => (p === 0 ? name : `${name}${p}`);
  const nOf = (p: number) => (multi ? `params.ns[${p}]` : "params.n");
  const fnName = (name: string, p: number) => (multi ? `${name}${p}` : name);
  // The barrier after a slice is staged is a workgroupUniformLoad of a word that stays 0 and joins the
  // matrix-load offsets. Dawn's SPIR-V does not order subgroupMatrixLoad from workgroup memory with
  // workgroupBarrier (the loads are not marked as visible to other invocations), and on the H100 the driver
  // moved loop-invariant loads above it: single-buffer variants read unstaged data (bench/NOTES.md). A load
  // whose offset depends on a value read after the barrier cannot move above it. workgroupUniformLoad is a
  // barrier, the load and a second barrier; `plainFence` (a lab variant) keeps the first and an ordinary load,
  // which the barrier orders just the same (it is an ordinary workgroup-memory access): one barrier fewer per slice.
  const staged = variant.plainFence === true ? "workgroupBarrier();\n    fence = words[1];" : "fence = workgroupUniformLoad(&words[1]);";
  const subgroups = variant.sgRows * variant.sgCols;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const acc = (i: number, j: number) => `acc${i}_${j}`;
  const left = `subgroup_matrix_left<f16, ${K}, ${M}>`;
  const right = `subgroup_matrix_right<f16, ${N}, ${K}>`;
  const result = `subgroup_matrix_result<f32, ${N}, ${M}>`;
  // With a residual (no split-K) the accumulators start from its matrices: y = residual + x·Wᵀ with no add pass.
  // Its buffer holds whole 16-row matrices (residualFusible); matrices wholly past the last row or column start at 0.
  const declareAcc = range(tileM)
    .flatMap((i) =>
      range(tileN).map((j) =>
        residual
          ? `var ${acc(i, j)} = ${result}();\n    if (sgRow0 + ${i * M}u < params.numTokens && sgCol0 + ${j * N}u < params.n) { ${acc(i, j)} = ${matrixLoad(syntax, result, "&residual", `(sgRow0 + ${i * M}u) * params.n + sgCol0 + ${j * N}u`, false, "params.n")}; }`
          : `var ${acc(i, j)} = ${result}();`,
      ),
    )
    .join("\n    ");
  // One K slice from buffer `buf` (a WGSL expression): bk / K steps, each tileM lefts × tileN rights.
  // With clampOffsets (robustness), workgroup matrix loads take min(offset, last in-bounds offset): see TensorLayout.
  const clamped = (offset: string, matrix: "left" | "right") =>
    !layout.clampOffsets
      ? offset
      : matrix === "left"
        ? clampMatrixOffset(offset, buffers * bm * stride, stride, M, K)
        : clampMatrixOffset(offset, buffers * bn * stride, stride, N, K);
  const multiply = range(bk / K)
    .map((s) =>
      [
        ...range(tileM).map((i) =>
          xDirect
            ? `let a${i} = ${matrixLoad(syntax, left, "&x16", `xBase + ${i * M}u * kPadded + ${s * K}u`, false, "kPadded")};`
            : `let a${i} = ${matrixLoad(syntax, left, "&xs", clamped(`xBase + ${i * M}u * STRIDE + ${s * K}u`, "left"), false, "STRIDE")};`,
        ),
        ...range(tileN).map(
          (j) =>
            `let b${j} = ${matrixLoad(syntax, right, "&ws", clamped(`wBase + ${j * N}u * STRIDE + ${s * K}u`, "right"), true, "STRIDE")};`,
        ),
        ...range(tileM).flatMap((i) =>
          range(tileN).map((j) => `${acc(i, j)} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, ${acc(i, j)});`),
        ),
      ].join("\n        "),
    )
    .map((step) => `{\n        ${step}\n      }`)
    .join("\n      ");
  // Every result matrix straight to y: the output buffer has room for whole row tiles (capacityRows), and N is a
  // multiple of the matrix width, so only matrices wholly past N (a last tile wider than N) are skipped. (Going
  // through workgroup memory instead needs a barrier that Dawn does not order subgroupMatrixStore with.)
  const cells = range(tileM).flatMap((i) => range(tileN).map((j) => [i, j] as const));
  const stores = (p: number) =>
    cells
      .map(
        ([i, j]) =>
          `if (sgCol0 + ${j * N}u < ${nOf(p)}) { ${matrixStoreRowMajor(syntax, `&${partName("y", p)}`, `yBase + (sgRow0 + ${i * M}u) * ${nOf(p)} + sgCol0 + ${j * N}u`, acc(i, j), nOf(p))}; }`,
      )
      .join("\n      ");
  // prefetchDepth D ≥ 2: D register banks, slice s + D fetched into the bank slice s came in (staged before its
  // multiply) while slices s + 1 … s + D − 1 wait in the others; the loop is unrolled by D so each bank keeps its own
  // names (bank i of slice sliceBegin + i mod D: xr, wr, fetch, stage for the first, xr2, wr2, fetch2, stage2, … after).
  const depth = variant.prefetchDepth ?? 1;
  const deep = depth >= 2;
  if (deep && (buffers !== 1 || xDirect || ablate === "stage")) {
    throw new Error(`${variant.name}: prefetchDepth ${depth} needs one buffer, staged x and real staging`);
  }
  const bank = (i: number) => (i === 0 ? "" : String(i + 1));
  const laterBanks = Array.from({ length: depth - 1 }, (_, i) => bank(i + 1));
  // unconditionalFetch: the fetch of slice `next` without a branch, at k = K (nothing loaded) past the split's end.
  const always = variant.unconditionalFetch === true;
  const prefetchCall = (p: number, bank: string, next: string) =>
    always
      ? `${fnName("fetch", p)}${bank}(m0, n0, select(params.k, (${next}) * BK, ${next} < sliceEnd), lid);`
      : `if (${next} < sliceEnd) { ${fnName("fetch", p)}${bank}(m0, n0, (${next}) * BK, lid); }`;
  const deepStep = (p: number, s: string, free: string, held: string) => `  {
    let s = ${s};
    ${prefetchCall(p, free, `s + ${depth}u`)}
    if (isActive) {
      let xBase = xLocal + fence;
      let wBase = wLocal + fence;
      ${ablate === "multiply" ? "" : multiply}
    }
    workgroupBarrier();
    if (s + 1u < sliceEnd) { stage${held}(0u, lid); }
    ${staged}
  }`;
  const deepLoop = (p: number) => `  ${fnName("fetch", p)}(m0, n0, sliceBegin * BK, lid);
  stage(0u, lid);
  ${staged}
${laterBanks.map((b, i) => `  if (sliceBegin + ${i + 1}u < sliceEnd) { ${fnName("fetch", p)}${b}(m0, n0, (sliceBegin + ${i + 1}u) * BK, lid); }`).join("\n")}
  for (var s0 = sliceBegin; s0 < sliceEnd; s0 += ${depth}u) {
${deepStep(p, "s0", bank(0), bank(1 % depth))}
${laterBanks
  .map((b, i) => `    if (s0 + ${i + 1}u < sliceEnd) {\n${deepStep(p, `s0 + ${i + 1}u`, b, bank((i + 2) % depth))}\n    }`)
  .join("\n")}
  }`;
  // With robustness, Tint clamps every workgroup-array index it cannot bound: each scalar store of a staged chunk got
  // its own min() and the stores no longer merged (STS.U16 instead of STS.64). clampChunkIndex bounds the chunk once.
  const bounded = (index: string, length: number, chunk: number) =>
    layout.clampOffsets ? clampChunkIndex(index, length, stride, chunk) : index;
  const stageFn =
    ablate === "stage"
      ? `// Timing ablation: waits for the fetched registers (one OR each) and stores nothing.
fn stage(buf: u32, lid: u32) {
  var keep = 0u;
${xDirect ? "" : "  for (var c = 0u; c < XC; c++) { keep |= xr[c].x; }\n"}  for (var c = 0u; c < WC; c++) { keep |= wr[c].x; }
  if (keep == 0xfffffff7u) { ws[lid] = 1.0h; }
}
`
      : `fn stage(buf: u32, lid: u32) {
${
  xDirect
    ? ""
    : `  for (var c = 0u; c < XC; c++) {
    let e = lid + c * THREADS;
    let base = ${bounded("buf * BM * STRIDE + (e / (BK / XW)) * STRIDE + (e % (BK / XW)) * XW", buffers * bm * stride, xF16 ? 8 : 4)};
    ${
      xF16
        ? `let q = xr[c];
    let h0 = bitcast<vec2<f16>>(q.x); let h1 = bitcast<vec2<f16>>(q.y);
    let h2 = bitcast<vec2<f16>>(q.z); let h3 = bitcast<vec2<f16>>(q.w);
    xs[base] = h0.x; xs[base + 1u] = h0.y; xs[base + 2u] = h1.x; xs[base + 3u] = h1.y;
    xs[base + 4u] = h2.x; xs[base + 5u] = h2.y; xs[base + 6u] = h3.x; xs[base + 7u] = h3.y;`
        : `let v = xr[c];
    if (any(abs(v) > vec4<f32>(F16_MAX))) { atomicOr(&overflow[0], 1u); }
    let h = vec4<f16>(clamp(v, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX)));
    xs[base] = h.x; xs[base + 1u] = h.y; xs[base + 2u] = h.z; xs[base + 3u] = h.w;`
    }
  }
`
}
  for (var c = 0u; c < WC; c++) {
    let e = lid + c * THREADS;
    // pairConvert: f16Chunk's output holds f16 pairs, so it is stored as f16 weights are.
    let q = ${pairs ? "f16Chunk(wr[c])" : "wr[c]"};
    let base = ${bounded("buf * BN * STRIDE + (e / (BK / 8u)) * STRIDE + (e % (BK / 8u)) * 8u", buffers * bn * stride, 8)};
    ${stageWeightChunk(pairs ? "f16" : dtype)}
  }
}
`;
  /** A fetch or stage function's text for register bank `b` ("2", "3", …: xr2 / wr2, …), renamed. */
  const inBank = (text: string, name: string, renamed: string, b: string) =>
    text.replace(name, renamed).replaceAll("xr[", `xr${b}[`).replaceAll("wr[", `wr${b}[`);
  /** A workgroup's work on its tile of part p once n0 and yBase are known: stage, multiply, store (or the exact path). */
  const tileBody = (p: number) => `  // Subgroups beyond SUBGROUPS (a device whose subgroups are smaller than its maximum) only stage data.
  let sg = lid / sgSize;
  let isActive = sg < SUBGROUPS;
  let sgRow0 = m0 + (sg / SG_COLS) * ${tileM * M}u;
  let sgCol0 = n0 + (sg % SG_COLS) * ${tileN * N}u;
  let xLocal = (sg / SG_COLS) * ${tileM * M}u * STRIDE;
  let wLocal = (sg % SG_COLS) * ${tileN * N}u * STRIDE;
  ${declareAcc}
  let slices = (params.k + BK - 1u) / BK;
  let sliceBegin = split * params.slicesPerSplit;
  let sliceEnd = min(slices, sliceBegin + params.slicesPerSplit);
  var fence = 0u;
  let kPadded = slices * BK; // row stride of the padded f16 x (xDirect)
  ${
    xF16
      ? `// Rows the pre-pass found beyond f16's range send this tile to the exact path.
  for (var r = lid; r < BM; r += THREADS) {
    if (m0 + r < params.numTokens && rowFlags[m0 + r] != 0u) { atomicOr(&overflow[0], 1u); }
  }`
      : ""
  }
${
  deep
    ? deepLoop(p)
    : `  ${fnName("fetch", p)}(m0, n0, sliceBegin * BK, lid);
  stage(0u, lid);
  ${staged}
  for (var s = sliceBegin; s < sliceEnd; s++) {
    let buf = ${buffers === 2 ? "(s - sliceBegin) & 1u" : "0u"};
    ${buffers === 2 || prefetch ? prefetchCall(p, "", "s + 1u") : ""}
    if (isActive) {
      let xBase = ${xDirect ? "sgRow0 * kPadded + s * BK" : "buf * BM * STRIDE + xLocal"} + fence;
      let wBase = buf * BN * STRIDE + wLocal + fence;
      ${ablate === "multiply" ? "" : multiply}
    }
    ${
      buffers === 2
        ? `if (s + 1u < sliceEnd) { stage(buf ^ 1u, lid); }\n    ${staged}`
        : prefetch
          ? `workgroupBarrier();\n    if (s + 1u < sliceEnd) { stage(0u, lid); }\n    ${staged}`
          : `workgroupBarrier();\n    if (s + 1u < sliceEnd) { ${fnName("fetch", p)}(m0, n0, (s + 1u) * BK, lid); stage(0u, lid); }\n    ${staged}`
    }
  }`
}
${
  pairs
    ? `  // A weight f16 cannot hold anywhere in the tile's K range (PAIR_CONVERT_FNS): the tile takes the exact path.
  if (any((wRange & vec4<u32>(0x80008000u)) != vec4<u32>(0u))) { atomicOr(&overflow[0], 1u); }
  workgroupBarrier();
`
    : ""
}  if (lid == 0u) { words[0] = atomicLoad(&overflow[0]); }
  if (workgroupUniformLoad(&words[0]) != 0u) {
    ${fnName("exactTile", p)}(m0, n0, lid, yBase, split);
    return;
  }
  if (isActive) {
    ${stores(p)}
  }
`;
  const fetchFn = (p: number) => `/** Reads the K slice at k0 into registers; zeros past the last row, column or k. */
fn ${fnName("fetch", p)}(m0: u32, n0: u32, k0: u32, lid: u32) {
${
  xDirect
    ? ""
    : `  let kVec = params.k / XW;
  for (var c = 0u; c < XC; c++) {
    let e = lid + c * THREADS;
    let row = m0 + e / (BK / XW);
    let k = k0 + (e % (BK / XW)) * XW;
    var v = ${xF16 ? "vec4<u32>(0u)" : "vec4<f32>(0.0)"};
    if (row < params.numTokens && k < params.k) { v = ${ablate === "fetch" ? (xF16 ? "vec4<u32>(row, k, arrayLength(&x16), 0u)" : "vec4<f32>(f32(row), f32(arrayLength(&x)), 0.0, 0.0)") : `${xF16 ? "x16" : "x"}[row * kVec + k / XW]`}; }
    xr[c] = v;
  }
`
}
  let kChunks = params.k / 8u;
  for (var c = 0u; c < WC; c++) {
    let e = lid + c * THREADS;
    let col = n0 + e / (BK / 8u);
    let k = k0 + (e % (BK / 8u)) * 8u;
    var q = vec4<u32>(0u);
    if (col < ${nOf(p)} && k < params.k) { q = ${ablate === "fetch" ? `vec4<u32>(col, k, arrayLength(&${partName("w", p)}), 2u)` : `${partName("w", p)}[col * kChunks + k / 8u]`}; }
    wr[c] = q;
  }
}

`;
  const exactFn = (p: number) => `/** The exact path for a tile whose inputs f16 cannot hold: f32 FMAs from storage. */
fn ${fnName("exactTile", p)}(m0: u32, n0: u32, lid: u32, yBase: u32, split: u32) {
  let kVec = params.k / 4u;
  let kChunks = params.k / 8u;
  for (var e = lid; e < BM * BN; e += THREADS) {
    let row = m0 + e / BN;
    let col = n0 + e % BN;
    if (row < params.numTokens && col < ${nOf(p)}) {
      // With split-K, partial sum 0 takes the whole exact sum and the others hold zeros.
      var sum = 0.0;
      for (var c = 0u; c < select(kChunks, 0u, split > 0u); c++) {
        let q = ${partName("w", p)}[col * kChunks + c];
        ${unpackExact(dtype)}
        sum += dot(x[row * kVec + 2u * c], w0) + dot(x[row * kVec + 2u * c + 1u], w1);
      }
      ${partName("y", p)}[yBase + row * ${nOf(p)} + col] = ${residual ? "residual[row * params.n + col] + sum" : "sum"};
    }
  }
}

`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

// splits > 1: split-K, workgroup (tile, split) sums slices [split·slicesPerSplit, …) into partial sum number
// split at y + split·splitStride (the reduce pass adds them up).${
    multi
      ? `
// With parts: n and splitStride per part, and tileEnds[p] = the column tiles of parts 0..p.
struct Params { numTokens: u32, k: u32, n: u32, splits: u32, slicesPerSplit: u32, splitStride: u32, pad0: u32, pad1: u32,
  ns: vec4<u32>, tileEnds: vec4<u32>, splitStrides: vec4<u32> }`
      : `
struct Params { numTokens: u32, k: u32, n: u32, splits: u32, slicesPerSplit: u32, splitStride: u32 }`
  }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${
  xF16
    ? `@group(0) @binding(4) var<storage, read> x16: ${xDirect ? "array<f16>; // x as f16, padded to whole tiles" : "array<vec4<u32>>; // x as f16, 8 per chunk"} (pre-pass)
@group(0) @binding(5) var<storage, read> rowFlags: array<u32>; // 1 where a row of x does not fit f16`
    : ""
}
${residual ? `@group(0) @binding(${residualBinding(layout)}) var<storage, read> residual: array<f32>; // [rows, n], whole 16-row matrices` : ""}
${
  multi
    ? partRange
        .slice(1)
        .map(
          (p) => `@group(0) @binding(${PART_BINDINGS_FROM + 2 * (p - 1)}) var<storage, read> w${p}: array<vec4<u32>>;
@group(0) @binding(${PART_BINDINGS_FROM + 2 * (p - 1) + 1}) var<storage, read_write> y${p}: array<f32>;`,
        )
        .join("\n")
    : ""
}
${LINEAR_WORKGROUP}

const BM: u32 = ${bm}u;
const BN: u32 = ${bn}u;
const BK: u32 = ${bk}u;
const STRIDE: u32 = ${stride}u;
const THREADS: u32 = ${threads}u;
const SUBGROUPS: u32 = ${subgroups}u;
const SG_COLS: u32 = ${variant.sgCols}u;
const XC: u32 = ${layout.xChunksPerThread}u; // chunks of x (vec4<f32>, or 8 halves) per thread per slice
const XW: u32 = ${xF16 ? 8 : 4}u; // x elements per chunk
const WC: u32 = ${layout.wChunksPerThread}u; // 8-half chunks of W per thread per slice
const F16_MAX: f32 = ${F16_MAX}.0;
const BF16_LIMIT: u32 = ${BF16_F16_LIMIT_BITS}u;${
    pairs
      ? `
const BF16_RANGE_ADD: u32 = ${BF16_PAIR_RANGE_ADD}u; // PAIR_CONVERT_FNS`
      : ""
  }

${xDirect ? "" : `var<workgroup> xs: array<f16, ${buffers * bm * stride}>;`}
var<workgroup> ws: array<f16, ${buffers * bn * stride}>;
// Every workgroup variable a multiple of 16 bytes (the overflow flag; its uniform copy and the fence word, never
// written: 0): with 4-byte variables beside them the H100 read f16 matrices from the staged arrays one element off
// in the tensor attention (bench/NOTES.md, session 11).
var<workgroup> overflow: array<atomic<u32>, 4>; // [0]
var<workgroup> words: array<u32, 4>; // [0]: overflow's uniform copy, [1]: the fence word

${xDirect ? "" : `var<private> xr: array<${xF16 ? "vec4<u32>" : "vec4<f32>"}, XC>;`}
var<private> wr: array<vec4<u32>, WC>;
${pairs ? "var<private> wRange: vec4<u32>; // the weights' range bits, OR-ed over the K loop (PAIR_CONVERT_FNS)" : ""}
${laterBanks.map((b) => `var<private> xr${b}: array<${xF16 ? "vec4<u32>" : "vec4<f32>"}, XC>;\nvar<private> wr${b}: array<vec4<u32>, WC>;`).join("\n")}

${partRange.map(fetchFn).join("\n")}
${laterBanks.map((b) => partRange.map((p) => inBank(fetchFn(p), `fn ${fnName("fetch", p)}(`, `fn ${fnName("fetch", p)}${b}(`, b)).join("\n")).join("\n")}
/** Converts the fetched slice to f16 into buffer buf, flagging values f16 cannot hold. */
${stageFn}${laterBanks.map((b) => inBank(stageFn, "fn stage(", `fn stage${b}(`, b)).join("")}
${pairs ? PAIR_CONVERT_FNS : ""}
${partRange.map(exactFn).join("\n")}
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_size) sgSize: u32) {
  let group = linearWorkgroup(wid, nwg);
  let tilesM = (params.numTokens + BM - 1u) / BM;
  let tilesN = ${multi ? `params.tileEnds[${parts - 1}]` : "(params.n + BN - 1u) / BN"};
  let tiles = tilesM * tilesN;
  if (group >= tiles * params.splits) { return; }
  // Consecutive workgroups share a weight tile (m fastest): W is read from memory about once.
  let tile = group % tiles;
  let split = group / tiles;
  let m0 = (tile % tilesM) * BM;${
    multi
      ? `
  let columnTile = tile / tilesM;
  let tilePart = ${partRange
    .slice(0, -1)
    .map((p) => `select(0u, 1u, columnTile >= params.tileEnds[${p}])`)
    .join(" + ")};
  ${partRange.map((p) => `if (tilePart == ${p}u) {\n  let n0 = (columnTile${p === 0 ? "" : ` - params.tileEnds[${p - 1}]`}) * BN;\n  let yBase = split * params.splitStrides[${p}];\n${tileBody(p)}  }`).join(" else ")}`
      : `
  let n0 = (tile / tilesM) * BN;
  let yBase = split * params.splitStride;
${tileBody(0)}`
  }
}
`;
}

/**
 * The xF16 pre-pass: one 256-thread workgroup per row of the f16 copy converts x to f16 (8 values per
 * vec4<u32>, rows of kPadded values; rows ≥ numTokens and k ≥ K are zeros, for xDirect's whole-tile loads)
 * and writes rowFlags[row] = 1 when the row holds a value beyond ±65504 (clamped in the copy; the main
 * kernel sends tiles with such rows to the exact path).
 */
export function xToF16Source(): string {
  return `
struct Params { numTokens: u32, k: u32, kPadded: u32, rows: u32 } // rows: of the copy (≥ numTokens)
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
${f16CopyDecls(2)}
${LINEAR_WORKGROUP}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linearWorkgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let chunks = params.kPadded / 8u;
  var bad = false;
  for (var c = lid; c < chunks; c += 256u) {
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    if (row < params.numTokens && c * 8u < params.k) {
      a = x[row * (params.k / 4u) + 2u * c];
      b = x[row * (params.k / 4u) + 2u * c + 1u];
    }
    ${f16CopyStore("row * chunks + c", "a", "b")}
  }
  ${f16CopyFlag("row")}
}
`;
}

/**
 * The split-K reduce pass: y[r, c] = (residual[r, c] +) Σ_s partial[s][r, c] over the `splits` partial sums
 * (each `stride` floats apart), in split order, for the rows < numTokens; vec4 over columns (N % 16 == 0).
 */
function splitReduceSource(splits: number, residual: boolean): string {
  const sum = Array.from({ length: splits }, (_, s) => `partial[${s}u * stride + i]`).join(" + ");
  return `
struct Params { count: u32, stride: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
${residual ? "@group(0) @binding(3) var<storage, read> residual: array<vec4<f32>>;" : ""}
${LINEAR_WORKGROUP}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * 256u + lid;
  if (i >= params.count) { return; }
  let stride = params.stride;
  y[i] = ${residual ? "residual[i] + " : ""}(${sum});
}
`;
}

/**
 * The split-K reduce of several outputs in one dispatch (the parts of one product: q/k/v, gate/up): output p's
 * workgroups follow output p − 1's, each the single-output pass's arithmetic (so the same bits).
 */
function splitReducePartsSource(splits: number, parts: number): string {
  const bindings = Array.from(
    { length: parts },
    (_, p) => `@group(0) @binding(${1 + 2 * p}) var<storage, read> partial${p}: array<vec4<f32>>;
@group(0) @binding(${2 + 2 * p}) var<storage, read_write> y${p}: array<vec4<f32>>;`,
  ).join("\n");
  const branch = (p: number) => {
    const sum = Array.from({ length: splits }, (_, s) => `partial${p}[${s}u * params.stride[${p}] + i]`).join(" + ");
    const open = p === 0 ? "if (g < params.start[1])" : p === parts - 1 ? "else" : `else if (g < params.start[${p + 1}])`;
    return `  ${open} {
    let i = (g - params.start[${p}]) * 256u + lid;
    if (i < params.count[${p}]) { y${p}[i] = ${sum}; }
  }`;
  };
  return `
struct Params { count: vec4<u32>, stride: vec4<u32>, start: vec4<u32> } // per output: vec4s, partial block stride, first workgroup
@group(0) @binding(0) var<uniform> params: Params;
${bindings}
${LINEAR_WORKGROUP}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = linearWorkgroup(wid, nwg);
${Array.from({ length: parts }, (_, p) => branch(p)).join("\n")}
}
`;
}

/**
 * Dispatches the tensor-core matmul for `layout` (the caller checked eligibility with tensorIneligibility).
 * With too few output tiles to fill the GPU it splits K (tensorSplits) and adds the partial sums in a reduce
 * pass, which also adds `residual` when given. Without split-K the accumulators start from the residual where its
 * buffer holds whole matrices (residualFusible: 64 add dispatches fewer per 8B step); otherwise the caller adds it.
 */
export function matmulTensor(
  ctx: KernelContext,
  x: GpuActivation,
  weight: MatmulOperand,
  layout: TensorLayout,
  residual: GpuActivation | null = null,
): { out: GpuActivation; residualAdded: boolean } {
  const [n, k] = weight.shape;
  // Whole row tiles are stored (rows past x.rows land in the spare capacity and are never read).
  const { splits, capacityRows, x16: x16Shape } = tensorAllocation(layout, x.rows, n, k);
  const out = tensorOutput(ctx, x.rows, n, splits, capacityRows);
  if (out.isEmpty) return { out, residualAdded: false };
  // Without split-K the residual is fused into the accumulators where its buffer allows; split-K adds it in the reduce.
  const fused = residual !== null && splits === 1 && residualFusible(layout, residual, x.rows);
  const pipeline = ctx.pipelines.get(tensorPipelineKey(layout, weight.dtype, 1, fused), () =>
    tensorMatmulSource(layout, weight.dtype, 1, fused),
  );
  const slices = Math.ceil(k / layout.variant.bk);
  const slicesPerSplit = Math.ceil(slices / splits);
  const params = uniform(x.rows, k, n, splits, slicesPerSplit, capacityRows * n);
  const resources = [params, activationResource(x), weight.resource, activationResource(out)];
  if (x16Shape) resources.push(...convertX(ctx, x, x16Shape));
  if (fused) resources.push(activationResource(residual));
  ctx.recorder.dispatch(pipeline, resources, tensorWorkgroups(layout, x.rows, n) * splits);
  if (splits === 1) return { out, residualAdded: fused };
  return { out: reduceSplits(ctx, out, splits, x.rows, capacityRows, residual), residualAdded: residual !== null };
}

/** The kernel's pipeline-cache key for a layout, weight dtype and number of parts (1: one weight). */
function tensorPipelineKey(layout: TensorLayout, dtype: WeightDtype, parts: number, residual = false): string {
  const { config } = layout;
  const key = `matmul.tensor/${dtype}/${layout.variant.name}/${config.M}x${config.N}x${config.K}/sg${layout.subgroupSize}/${layout.majorness}${layout.clampOffsets ? "/clamp" : ""}`;
  return `${key}${parts > 1 ? `/parts${parts}` : ""}${residual ? "/res" : ""}`;
}

/** The kernel's [rows, n] output with room for whole row tiles, or its `splits` blocks of partial sums. */
function tensorOutput(ctx: KernelContext, rows: number, n: number, splits: number, capacityRows: number): GpuActivation {
  return splits > 1 ? ctx.recorder.output(capacityRows * splits, n) : ctx.recorder.output(rows, n, capacityRows);
}

/** The xF16 pre-pass of x into an f16 copy of `shape`; returns the copy and its row flags as the kernel binds them. */
function convertX(ctx: KernelContext, x: GpuActivation, shape: { rows: number; kPadded: number }): Resource[] {
  const { rows, kPadded } = shape;
  // The kernel that made x wrote the copy already (the same values: f16-copy.ts), unless this layout pads it.
  if (x.f16Copy && rows === x.rows && kPadded === x.cols)
    return [activationResource(x.f16Copy.x16), activationResource(x.f16Copy.rowFlags)];
  const x16 = ctx.recorder.output(rows, kPadded / 2); // kPadded f16 values per row in kPadded/2 words
  const rowFlags = ctx.recorder.output(rows, 1);
  const convert = ctx.pipelines.get("matmul.tensor.x16", xToF16Source);
  const convertResources = [
    uniform(x.rows, x.cols, kPadded, rows),
    activationResource(x),
    activationResource(x16),
    activationResource(rowFlags),
  ];
  ctx.recorder.dispatch(convert, convertResources, rows);
  return [activationResource(x16), activationResource(rowFlags)];
}

/**
 * x · Wᵢᵀ for several weights of the same K and dtype in one tensor-core dispatch (tensorMatmulSource's parts):
 * one x pre-pass, one split-K count for all (from their tiles together), then a reduce pass per output when K
 * is split. The layout must be an x16 variant, every N a multiple of its result matrix width, and the device
 * must bind tensorStorageBuffers(weights.length) storage buffers (the caller checks; at most 4 weights).
 */
export function matmulTensorParts(
  ctx: KernelContext,
  x: GpuActivation,
  weights: readonly MatmulOperand[],
  layout: TensorLayout,
): GpuActivation[] {
  const parts = weights.length;
  const k = x.cols;
  if (parts < 2 || parts > 4 || weights.some((w) => w.shape[1] !== k || w.dtype !== weights[0].dtype) || !layout.variant.xF16) {
    throw new Error(`matmulTensorParts: ${parts} weights of K = ${k} and one dtype (2 to 4) with an x16 layout`);
  }
  const ns = weights.map((w) => w.shape[0]);
  const tileEnds: number[] = [];
  for (const n of ns) tileEnds.push((tileEnds.at(-1) ?? 0) + Math.ceil(n / layout.bn));
  // The parts' tiles side by side: split-K and the allocation as for one output of their tiles' width.
  const { splits, capacityRows, x16: x16Shape } = tensorAllocation(layout, x.rows, tileEnds.at(-1)! * layout.bn, k);
  const outs = ns.map((n) => tensorOutput(ctx, x.rows, n, splits, capacityRows));
  if (x.rows === 0) return outs;
  const dtype = weights[0].dtype;
  const pipeline = ctx.pipelines.get(tensorPipelineKey(layout, dtype, parts), () => tensorMatmulSource(layout, dtype, parts));
  const slicesPerSplit = Math.ceil(Math.ceil(k / layout.variant.bk) / splits);
  const quad = (values: number[]) => [0, 1, 2, 3].map((i) => values[Math.min(i, values.length - 1)]);
  const params = uniform(
    ...[x.rows, k, ns[0], splits, slicesPerSplit, capacityRows * ns[0], 0, 0],
    ...quad(ns),
    ...quad(tileEnds),
    ...quad(ns.map((n) => capacityRows * n)),
  );
  const resources = [params, activationResource(x), weights[0].resource, activationResource(outs[0]), ...convertX(ctx, x, x16Shape!)];
  for (let p = 1; p < parts; p++) resources.push(weights[p].resource, activationResource(outs[p]));
  ctx.recorder.dispatch(pipeline, resources, Math.ceil(x.rows / layout.bm) * tileEnds.at(-1)! * splits);
  return splits === 1 ? outs : reduceSplitsParts(ctx, outs, splits, x.rows, capacityRows);
}

/**
 * reduceSplits for each of `partials` (2 to 4 outputs of one product) in one dispatch, one dependent dispatch
 * instead of one per output; per output where the device binds too few storage buffers.
 */
export function reduceSplitsParts(
  ctx: KernelContext,
  partials: readonly GpuActivation[],
  splits: number,
  rows: number,
  capacityRows: number,
): GpuActivation[] {
  const parts = partials.length;
  if (parts < 2 || parts > 4 || 2 * parts > ctx.pipelines.maxStorageBuffers) {
    return partials.map((p) => reduceSplits(ctx, p, splits, rows, capacityRows));
  }
  for (const p of partials) {
    if (p.cols % 4 !== 0 || p.rows !== splits * capacityRows || rows > capacityRows) {
      throw new Error(
        `reduceSplitsParts: [${p.rows}, ${p.cols}] is not ${splits} blocks of ${capacityRows} ≥ ${rows} rows with N % 4 == 0`,
      );
    }
  }
  const ys = partials.map((p) => ctx.recorder.output(rows, p.cols));
  if (rows === 0) return ys;
  const counts = partials.map((p) => (rows * p.cols) / 4);
  const starts = [0];
  for (const count of counts) starts.push(starts.at(-1)! + Math.ceil(count / 256));
  const quad = (values: number[]) => [0, 1, 2, 3].map((i) => values[i] ?? 0);
  const params = uniform(...quad(counts), ...quad(partials.map((p) => (capacityRows * p.cols) / 4)), ...quad(starts.slice(0, parts)));
  const reduce = ctx.pipelines.get(`matmul.tensor.reduce/${splits}/parts${parts}`, () => splitReducePartsSource(splits, parts));
  const resources = [params, ...partials.flatMap((p, i) => [activationResource(p), activationResource(ys[i])])];
  ctx.recorder.dispatch(reduce, resources, starts[parts]);
  return ys;
}

/**
 * The split-K reduce pass as its own step: `partials` holds `splits` blocks of `capacityRows` rows (N columns,
 * N % 4 == 0); returns [rows, N] = (residual +) the sum of the blocks' first `rows` rows, in block order.
 */
export function reduceSplits(
  ctx: KernelContext,
  partials: GpuActivation,
  splits: number,
  rows: number,
  capacityRows: number,
  residual: GpuActivation | null = null,
): GpuActivation {
  const n = partials.cols;
  if (n % 4 !== 0 || partials.rows !== splits * capacityRows || rows > capacityRows) {
    throw new Error(`reduceSplits: [${partials.rows}, ${n}] is not ${splits} blocks of ${capacityRows} ≥ ${rows} rows with N % 4 == 0`);
  }
  const y = ctx.recorder.output(rows, n);
  if (y.isEmpty) return y;
  const count = (rows * n) / 4;
  const reduce = ctx.pipelines.get(`matmul.tensor.reduce/${splits}${residual ? "/res" : ""}`, () =>
    splitReduceSource(splits, residual !== null),
  );
  const resources = [uniform(count, (capacityRows * n) / 4), activationResource(partials), activationResource(y)];
  if (residual) resources.push(activationResource(residual));
  const record = ctx.recorder.dispatch(reduce, resources, Math.ceil(count / 256));
  if (residual && record) residualSums.set(y, { partials, splits, capacityRows, residual, record });
  return y;
}

/** Residual reduces by their output, while their record may still be the step's last (normOfResidualSum). */
const residualSums = new WeakMap<GpuActivation, SplitSum & { record: DispatchRecord }>();

/**
 * rmsNorm(x) where x is the output of the step's last dispatch, a split-K reduce with its residual: that dispatch is
 * replaced by one that also normalises (rmsNormOfSum; the same bits for x and for the norm). Null otherwise (the
 * caller runs the norm alone). The layers' two norms each follow such a reduce (o and down) at split-K sizes.
 */
export function normOfResidualSum(
  ctx: KernelContext,
  x: GpuActivation,
  weight: GpuWeight,
  eps: number,
  f16Copy: boolean,
): GpuActivation | null {
  const sum = residualSums.get(x);
  if (!sum || !ctx.recorder.removeLast(sum.record)) return null;
  residualSums.delete(x);
  return rmsNormOfSum(ctx, x, sum, weight, eps, f16Copy);
}
