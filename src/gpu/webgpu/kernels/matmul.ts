import { elementwise } from "./elementwise.js";
import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext, type MatmulOperand } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { f32Bits, LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";
import { matmulTensor } from "./matmul-tensor.js";
import { tensorIneligibility, tensorOutputIneligibility, type TensorLayout } from "./tensor/plan.js";
import { envVar } from "../env.js";

/**
 * y = x · Wᵀ with x `[T, K]` f32 and W `[N, K]` in stored precision (torch Linear layout): `[T, N]`.
 * Two kernels: a GEMV-style one that reads each weight row once per block of up to 8 tokens, and a tiled
 * one (workgroup-memory tiles of x and W).
 *
 * "auto" uses the GEMV kernel for every batch size, in blocks of 8 tokens. Two reasons: each output's sum
 * over K is then taken in the same order whatever the batch holds (lane-strided partial sums, then the
 * same reduction tree), so a request's logits do not depend on what else runs beside it — batch-invariant,
 * deterministic serving, as vLLM's and SGLang's deterministic modes; and on the H100 the 8-token GEMV
 * (memory-bound, ~16 TFLOP/s of useful work at 2 TB/s) is faster than this untuned f32 tiled kernel
 * (3–6 TFLOP/s) even for long prompts. The tiled kernel stays for the kernel lab and as the base of a
 * tensor-core (subgroup-matrix) prefill path.
 */

/** GEMV layout: ROW_GROUPS lane groups per workgroup, LANES threads along K in each. */
const GEMV_ROW_GROUPS = 8;
const GEMV_LANES = 32;
const GEMV_WORKGROUP = GEMV_ROW_GROUPS * GEMV_LANES;

/**
 * Whether the weight rows can be read as 16-byte vectors: each row must start 16-byte aligned, i.e. K a
 * multiple of 8 for bf16/f16 (8 halves per `vec4<u32>`) and of 4 for f32. Other K use the scalar variant.
 */
function gemvVectorised(dtype: WeightDtype, k: number): boolean {
  return k % (dtype === "f32" ? 4 : 8) === 0;
}

/**
 * WGSL turning the 16-byte weight chunk `q` into `${a}`, `${b}` (8 halves) or `${a}` (4 f32) as vec4<f32>;
 * names default to w0, w1.
 */
function unpackChunk(dtype: WeightDtype, q: string, [a, b] = ["w0", "w1"]): string {
  switch (dtype) {
    case "f32":
      return `let ${a} = ${q};`;
    case "bf16":
      return `let ${a} = vec4<f32>(bitcast<f32>(${q}.x << 16u), bitcast<f32>(${q}.x & 0xffff0000u), bitcast<f32>(${q}.y << 16u), bitcast<f32>(${q}.y & 0xffff0000u));
      let ${b} = vec4<f32>(bitcast<f32>(${q}.z << 16u), bitcast<f32>(${q}.z & 0xffff0000u), bitcast<f32>(${q}.w << 16u), bitcast<f32>(${q}.w & 0xffff0000u));`;
    case "f16":
      return `let ${a} = vec4<f32>(unpack2x16float(${q}.x), unpack2x16float(${q}.y));
      let ${b} = vec4<f32>(unpack2x16float(${q}.z), unpack2x16float(${q}.w));`;
  }
}

/**
 * Chunks whose weight loads are issued together before any is used (more memory requests in flight), for a lane
 * group of one row; one chunk of each row for several (R rows, or gate and up). 8 was no faster than 4 at decode
 * batch 1 on the H100 (bench/NOTES.md, session 8); on the H200 (session 22) every other count tried was slower at
 * batch 1: 5.12 ms per token, against 5.27 / 5.16 with 1 / 2 chunks of one row and 5.53 / 5.41 with 2 / 4 of each of
 * several.
 */
const GEMV_LOADS_IN_FLIGHT = 4;

/** The GEMV variant: weight dtype, token block, vector loads, subgroups, epilogue, weights sharing x, rows per lane group. */
interface GemvVariant {
  dtype: WeightDtype;
  tokens: number;
  vectorised: boolean;
  subgroups: boolean;
  residual: boolean;
  /** Weights multiplied by the same x in one dispatch (q/k/v, gate/up); each has its own output. */
  groups: number;
  /** Weight rows each 32-lane group computes from one pass over x (vectorised only; 1 for the scalar variant). */
  rows: number;
  /** gate/up paired (groups = 2): each lane group computes the same rows of both and writes silu(gate)·up. */
  swiglu: boolean;
  /**
   * RMSNorm of x fused in (dtype of its weight; vectorised bf16/f16 matrices only): products use x·g, each token's
   * Σx² is reduced beside them and the sums are scaled by 1/sqrt(mean(x²) + eps) in the epilogue. One dispatch
   * and one [T, K] round trip fewer; not the separate kernel's rounding order (x·inv·g), so not bit-equal to it.
   */
  norm: WeightDtype | null;
}

/** Most partial sums per row from one subgroup reduction: LANES / the smallest subgroup size WebGPU allows (4). */
const MAX_PARTIALS_PER_ROW = GEMV_LANES / 4;

/**
 * GEMV for a block of up to TOKENS tokens. A 256-thread workgroup is 8 lane groups of LANES = 32 threads; lane
 * group g computes R weight rows (R = `rows`) for every token of the block: its lanes stride along K so
 * consecutive threads read consecutive 16-byte chunks of a row (coalesced), and each x chunk a lane loads
 * serves all R rows (R = 1 re-reads x per row: twice the weight traffic again in L1/L2 at 8 tokens). Each weight
 * element is read once and multiplied into every token's f32 accumulator. Vectorised variant (K a multiple of 8,
 * or 4 for f32): W is bound as `array<vec4<u32>>` (`vec4<f32>`) and x as `array<vec4<f32>>`; otherwise a scalar
 * variant (R = 1) walks K one element at a time through `wAt`.
 *
 * Every output is the same arithmetic whatever R, TOKENS, the grouping or the batch: lane l sums the products of
 * chunks l, l + 32, … in that order (loads are issued several chunks ahead, products still in chunk order), then
 * the 32 lane sums are reduced by the same tree — `subgroupAdd` per subgroup and the subgroups' sums in order,
 * or without subgroups (or subgroups wider than 32) a workgroup-memory tree. So a request's logits are
 * bit-identical alone or batched (batch-invariant, deterministic serving, as vLLM's and SGLang's deterministic
 * modes), and the grouped and SwiGLU variants equal separate dispatches bit for bit.
 *
 * Grouped variant: G weights with the same K share one dispatch, workgroups laid out weight after weight. It
 * turns the small k/v projections (too few workgroups alone to fill the GPU) into part of one large dispatch.
 * SwiGLU variant: gate and up rows n..n+R-1 in one lane group, epilogue silu(gate)·up (the elementwise kernel's
 * expression): one dispatch and two [T, intermediate] round trips through memory fewer per layer.
 */
function gemvSource(v: GemvVariant): string {
  const { dtype, tokens, vectorised, subgroups, residual, groups, swiglu, norm } = v;
  const rowsPerGroup = vectorised ? v.rows : 1;
  const chunk = dtype === "f32" ? 4 : 8; // elements per 16-byte chunk
  const wName = (g: number) => (groups === 1 ? "w" : `w${g}`);
  const yName = (g: number) => (groups === 1 || swiglu ? "y" : `y${g}`);
  const nName = (g: number) => (g === 0 ? "params.n" : `params.n${g}`);
  const vecType = dtype === "f32" ? "vec4<f32>" : "vec4<u32>";
  const outputs = swiglu ? 1 : groups;
  const wDecls = !vectorised
    ? weightAccess("w", 2, dtype)
    : Array.from({ length: groups }, (_, g) => `@group(0) @binding(${2 + g}) var<storage, read> ${wName(g)}: array<${vecType}>;`).join(
        "\n",
      );
  const yDecls = Array.from(
    { length: outputs },
    (_, g) => `@group(0) @binding(${groups === 1 ? 3 : 2 + groups + g}) var<storage, read_write> ${yName(g)}: array<f32>;`,
  ).join("\n");
  const xDecl = `@group(0) @binding(1) var<storage, read> x: array<${vectorised ? "vec4<f32>" : "f32"}>;`;
  // Slots: the weight rows one lane group accumulates — R rows of one weight, or R gate rows then R up rows.
  const slotCount = swiglu ? 2 * rowsPerGroup : rowsPerGroup;
  // Accumulators per token: the slots, then Σx² with a fused norm (reduced by the same code as the slots).
  const accSlots = slotCount + (norm ? 1 : 0);
  const loadsInFlight = slotCount > 1 ? 1 : GEMV_LOADS_IN_FLIGHT;
  const accIndex = (s: number, j: number) => s * tokens + j;

  const core = (g: number) => {
    const N = nName(g);
    const slots = Array.from({ length: slotCount }, (_, s) => ({
      w: swiglu ? wName(s < rowsPerGroup ? 0 : 1) : wName(g),
      r: s % rowsPerGroup,
    }));
    // One load of chunk `c + u·LANES` for every slot, then its products: x loaded once per token for all slots.
    const loads = (u: number) => slots.map((slot, s) => `    let q${u}_${s} = ${slot.w}[wRow${slot.r} + c + ${u}u * LANES];`).join("\n");
    const products = (u: number) => `    {
${norm ? normChunk(norm, `c + ${u}u * LANES`) : ""}
${slots.map((_, s) => unpackChunk(dtype, `q${u}_${s}`, [`w0_${s}`, `w1_${s}`])).join("\n")}
${unrolled(
  tokens,
  (j) => `      {
        let xi = rowOf[${j}] * xStride + (c + ${u}u * LANES) * ${chunk / 4}u;
        ${norm ? "let xa0 = x[xi];\n        let xb0 = x[xi + 1u];" : `let xa = x[xi];${dtype === "f32" ? "" : "\n        let xb = x[xi + 1u];"}`}
${norm ? `        acc[${accIndex(slotCount, j)}] += dot(xa0, xa0) + dot(xb0, xb0);\n        let xa = xa0 * g0;\n        let xb = xb0 * g1;` : ""}
${slots
  .map((_, s) => `        acc[${accIndex(s, j)}] += ${dtype === "f32" ? `dot(xa, w0_${s})` : `dot(xa, w0_${s}) + dot(xb, w1_${s})`};`)
  .join("\n")}
      }`,
)}
    }`;
    const body = vectorised
      ? `  let chunks = select(0u, params.k / ${chunk}u, nBase < ${N}); // 16-byte chunks in a row
${unrolled(rowsPerGroup, (r) => `  let wRow${r} = min(nBase + ${r}u, ${N} - 1u) * (params.k / ${chunk}u); // rows past N: read row N-1, never written`)}
  let xStride = params.k / 4u; // vec4s per token row of x
  // ${loadsInFlight} chunks' loads first, then their products in chunk order: the same sums, in the same order,
  // as one chunk at a time, with more memory requests in flight.
  var c = lane;
  for (; c + ${loadsInFlight - 1}u * LANES < chunks; c += ${loadsInFlight}u * LANES) {
${unrolled(loadsInFlight, loads)}
${unrolled(loadsInFlight, products)}
  }
  for (; c < chunks; c += LANES) {
${loads(0)}
${products(0)}
  }`
      : `  let kEnd = select(0u, params.k, nBase < ${N});
  let wRow = nBase * params.k;
  for (var k = lane; k < kEnd; k += LANES) {
    let wk = wAt(wRow + k);
${unrolled(tokens, (j) => `    acc[${j}] += x[rowOf[${j}] * params.k + k] * wk;`)}
  }`;
    // Reduction: each (slot, token) total into `totals`, then one epilogue writes the outputs.
    const total = (s: number) => `totals[(rowGroup * ACC_SLOTS + ${s}u) * TOKENS + lane]${norm ? " * inv" : ""}`;
    const reduceTree = unrolled(
      accSlots,
      (s) => `    for (var j = 0u; j < TOKENS; j++) { partial[j * WG + lid] = acc[${s}u * TOKENS + j]; }
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
      if (lane < stride) {
        for (var j = 0u; j < TOKENS; j++) { partial[j * WG + lid] += partial[j * WG + lid + stride]; }
      }
      workgroupBarrier();
    }
    if (lane < TOKENS) { totals[(rowGroup * ACC_SLOTS + ${s}u) * TOKENS + lane] = partial[lane * WG + rowGroup * LANES]; }
    workgroupBarrier();`,
    );
    const reduce = !subgroups
      ? reduceTree
      : `  if (sgSize <= LANES) {
    // Subgroups of sgSize threads tile each lane group: LANES / sgSize partial sums per row, added in order.
    let perRow = LANES / sgSize;
    for (var a = 0u; a < ACC_SLOTS * TOKENS; a++) {
      let sum = subgroupAdd(acc[a]);
      if (sgId == 0u) { partial[(rowGroup * ACC_SLOTS * TOKENS + a) * MAX_PARTIALS + lane / sgSize] = sum; }
    }
    workgroupBarrier();
    if (lane < TOKENS) {
      for (var s = 0u; s < ACC_SLOTS; s++) {
        var sum = 0.0;
        for (var p = 0u; p < perRow; p++) { sum += partial[(rowGroup * ACC_SLOTS * TOKENS + s * TOKENS + lane) * MAX_PARTIALS + p]; }
        totals[(rowGroup * ACC_SLOTS + s) * TOKENS + lane] = sum;
      }
    }
    workgroupBarrier();
  } else {
${reduceTree}
  }`;
    const out = (r: number) => `(t0 + lane) * ${N} + nBase + ${r}u`;
    const epilogue = swiglu
      ? unrolled(
          rowsPerGroup,
          (r) => `    if (nBase + ${r}u < ${N}) {
      let gate = ${total(r)};
      let up = ${total(rowsPerGroup + r)};
      y[${out(r)}] = gate / (1.0 + exp(-gate)) * up;
    }`,
        )
      : unrolled(
          rowsPerGroup,
          (r) => `    if (nBase + ${r}u < ${N}) { ${yName(g)}[${out(r)}] = ${total(r)}${residual ? ` + r[${out(r)}]` : ""}; }`,
        );
    return `  var acc: array<f32, ${accSlots * tokens}>;
${body}
${reduce}
  if (lane < count) {
${norm ? `    let inv = 1.0 / sqrt(totals[(rowGroup * ACC_SLOTS + ${slotCount}u) * TOKENS + lane] / f32(params.k) + params.eps);` : ""}
${epilogue}
  }`;
  };

  const rowsPerWorkgroup = GEMV_ROW_GROUPS * rowsPerGroup;
  const blockGroups = swiglu ? 1 : groups;
  const rowBlockCounts = Array.from({ length: blockGroups }, (_, g) => `  let rb${g} = (${nName(g)} + ROWS - 1u) / ROWS;`).join("\n");
  const rowBlocks = Array.from({ length: blockGroups }, (_, g) => `rb${g}`).join(" + ");
  // Weight after weight: rowBlock in [start_g, start_g + rb_g) belongs to weight g (a workgroup-uniform branch).
  let branches = "";
  let start = "0u";
  for (let g = 0; g < blockGroups; g++) {
    const end = g === 0 ? "rb0" : `${start} + rb${g}`;
    const open =
      blockGroups === 1
        ? "  {"
        : g === 0
          ? `  if (rowBlock < ${end}) {`
          : g === blockGroups - 1
            ? "  } else {"
            : `  } else if (rowBlock < ${end}) {`;
    branches += `${open}
  let nBase = (rowBlock - (${start})) * ROWS + rowGroup * ${rowsPerGroup}u;
${core(g)}
`;
    start = end;
  }
  branches += "  }";
  const extraNs = swiglu ? "" : Array.from({ length: groups - 1 }, (_, g) => `, n${g + 1}: u32`).join("");
  const partialSize = Math.max(GEMV_WORKGROUP * tokens, GEMV_ROW_GROUPS * accSlots * tokens * MAX_PARTIALS_PER_ROW);
  // The norm weight binds after the outputs (and the residual): single 3 (+1), grouped 2 + 2G, SwiGLU 5.
  const normBinding = groups === 1 ? (residual ? 5 : 4) : 2 + groups + outputs;
  const normDecl = norm
    ? `@group(0) @binding(${normBinding}) var<storage, read> g: array<${norm === "f32" ? "vec4<f32>" : "vec4<u32>"}>; // norm weight`
    : "";
  return `${subgroups ? "enable subgroups;\n" : ""}
struct Params { numTokens: u32, k: u32, n: u32${extraNs}${norm ? ", eps: f32" : ""} }
@group(0) @binding(0) var<uniform> params: Params;
${xDecl}
${wDecls}
${yDecls}
${residual ? "@group(0) @binding(4) var<storage, read> r: array<f32>;" : ""}
${normDecl}
${LINEAR_WORKGROUP}

const WG: u32 = ${GEMV_WORKGROUP}u;
const ROWS: u32 = ${rowsPerWorkgroup}u; // weight rows per workgroup
const LANES: u32 = ${GEMV_LANES}u;
const TOKENS: u32 = ${tokens}u;
const ACC_SLOTS: u32 = ${accSlots}u; // accumulators per token in a lane group: weight rows (+ Σx² with a norm)
const MAX_PARTIALS: u32 = ${MAX_PARTIALS_PER_ROW}u;
var<workgroup> partial: array<f32, ${partialSize}>;
var<workgroup> totals: array<f32, ${GEMV_ROW_GROUPS * accSlots * tokens}>;

@compute @workgroup_size(${GEMV_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    subgroups ? ",\n        @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgId: u32" : ""
  }) {
  let group = linearWorkgroup(wid, nwg);
${rowBlockCounts}
  let rowBlocks = ${rowBlocks};
  let tokenBlocks = (params.numTokens + TOKENS - 1u) / TOKENS;
  if (group >= rowBlocks * tokenBlocks) { return; }
  let rowGroup = lid / LANES;
  let lane = lid % LANES;
  let rowBlock = group % rowBlocks;
  let t0 = (group / rowBlocks) * TOKENS;
  let count = min(TOKENS, params.numTokens - t0);
  // Rows past the batch repeat its last row (their sums are never written): the token loop is unrolled with
  // constant indices so the accumulators stay in registers (a loop to the dynamic count spilled them to memory).
  var rowOf: array<u32, ${tokens}>;
${unrolled(tokens, (j) => `  rowOf[${j}] = min(t0 + ${j}u, params.numTokens - 1u);`)}
${branches}
}
`;
}

/** WGSL loading the norm weight's 8 values of chunk `c` as g0 (0–3) and g1 (4–7), vec4<f32>. */
function normChunk(dtype: WeightDtype, c: string): string {
  if (dtype === "f32") return `let g0 = g[2u * (${c})];\nlet g1 = g[2u * (${c}) + 1u];`;
  return `let gq = g[${c}];\n${unpackChunk(dtype, "gq", ["g0", "g1"])}`;
}

const TILE_M = 32; // tokens per tile
const TILE_N = 32; // output columns per tile
const TILE_K = 16;
const THREADS = 8; // 8×8 threads, each computing 4×4 outputs spaced 8 apart

/**
 * One workgroup per 32×32 output tile; K in steps of 16 through workgroup memory. Thread (tx, ty)
 * computes rows ty + 8i and columns tx + 8j (i, j < 4). Out-of-range rows, columns and k read as 0.
 */
function tiledSource(dtype: WeightDtype): string {
  const perThread = TILE_M / THREADS;
  return `
struct Params { numTokens: u32, k: u32, n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${weightAccess("w", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${LINEAR_WORKGROUP}

const TM: u32 = ${TILE_M}u;
const TN: u32 = ${TILE_N}u;
const TK: u32 = ${TILE_K}u;
const P: u32 = ${perThread}u;
var<workgroup> xTile: array<f32, ${TILE_M * TILE_K}>; // [m][k]
var<workgroup> wTile: array<f32, ${TILE_N * TILE_K}>; // [n][k]

@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linearWorkgroup(wid, nwg);
  let tilesN = (params.n + TN - 1u) / TN;
  let tilesM = (params.numTokens + TM - 1u) / TM;
  if (group >= tilesN * tilesM) { return; }
  let m0 = (group / tilesN) * TM;
  let n0 = (group % tilesN) * TN;
  var acc: array<array<f32, ${perThread}>, ${perThread}>;
  for (var k0 = 0u; k0 < params.k; k0 += TK) {
    for (var e = lid; e < TM * TK; e += ${THREADS * THREADS}u) {
      let row = m0 + e / TK;
      let k = k0 + e % TK;
      var value = 0.0;
      if (row < params.numTokens && k < params.k) { value = x[row * params.k + k]; }
      xTile[e] = value;
    }
    for (var e = lid; e < TN * TK; e += ${THREADS * THREADS}u) {
      let col = n0 + e / TK;
      let k = k0 + e % TK;
      var value = 0.0;
      if (col < params.n && k < params.k) { value = wAt(col * params.k + k); }
      wTile[e] = value;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var a: array<f32, ${perThread}>;
      var b: array<f32, ${perThread}>;
      for (var i = 0u; i < P; i++) {
        a[i] = xTile[(local.y + ${THREADS}u * i) * TK + kk];
        b[i] = wTile[(local.x + ${THREADS}u * i) * TK + kk];
      }
      for (var i = 0u; i < P; i++) {
        for (var j = 0u; j < P; j++) { acc[i][j] += a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < P; i++) {
    let row = m0 + local.y + ${THREADS}u * i;
    for (var j = 0u; j < P; j++) {
      let col = n0 + local.x + ${THREADS}u * j;
      if (row < params.numTokens && col < params.n) { y[row * params.n + col] = acc[i][j]; }
    }
  }
}
`;
}

function gemvKey(v: GemvVariant): string {
  const groups = v.groups > 1 ? `/g${v.groups}` : "";
  const shape = `${v.vectorised ? "vec4" : "scalar"}/r${v.vectorised ? v.rows : 1}`;
  const epilogue = `${v.residual ? "/res" : ""}${v.swiglu ? "/swiglu" : ""}${v.norm ? `/norm-${v.norm}` : ""}`;
  return `matmul.gemv/${v.dtype}/t${v.tokens}/${shape}/${v.subgroups ? "subgroups" : "wg"}${epilogue}${groups}`;
}

/**
 * Token block and rows per lane group for a batch of `numTokens`: one token reads x once per row and needs
 * many workgroups (R = 1); token blocks share each x chunk among R rows. Overridable for the kernel lab:
 * SWALLOW_GEMV_ROWS="R1,R2,R4,R8" (rows, each 1, 2 or 4, for blocks of 1, 2, 4, 8 tokens). The choice changes no output bit.
 */
export function gemvShape(numTokens: number): { tokens: number; rows: number } {
  const tokens = numTokens <= 1 ? 1 : numTokens <= 2 ? 2 : numTokens <= 4 ? 4 : 8;
  const rows = gemvRowsSetting()[Math.log2(tokens)];
  return { tokens, rows };
}

let rowsSetting: readonly number[] | null = null;
/** Sets the rows per lane group for token blocks of 1, 2, 4, 8 (tests and the kernel lab); null: the default. */
export function setGemvRows(rows: readonly number[] | null): void {
  if (rows && (rows.length !== 4 || !rows.every((r) => [1, 2, 4].includes(r)))) throw new Error(`GEMV rows must be 4 of 1, 2, 4`);
  rowsSetting = rows;
}
function gemvRowsSetting(): readonly number[] {
  if (rowsSetting) return rowsSetting;
  const env = envVar("SWALLOW_GEMV_ROWS");
  const parsed = env?.split(",").map(Number);
  const valid = parsed?.length === 4 && parsed.every((r) => [1, 2, 4].includes(r));
  rowsSetting = valid ? parsed! : DEFAULT_GEMV_ROWS;
  return rowsSetting;
}
const DEFAULT_GEMV_ROWS = [1, 2, 2, 2];

/** Workgroups of one GEMV dispatch for weights of `rows` output rows each. */
function gemvWorkgroups(weightRows: number[], numTokens: number, shape: { tokens: number; rows: number }): number {
  const rowBlocks = weightRows.reduce((sum, n) => sum + Math.ceil(n / (GEMV_ROW_GROUPS * shape.rows)), 0);
  return rowBlocks * Math.ceil(numTokens / shape.tokens);
}

/** An RMSNorm applied to x on its way into a GEMV: its weight `[K]` and epsilon. */
export interface FusedNorm {
  weight: GpuWeight;
  eps: number;
}

/**
 * Whether weights can share one vectorised GEMV dispatch with x: same K (= x's columns) and dtype; with a norm,
 * 16-bit weights (8 values per chunk, the norm weight's chunk lines up) and a norm weight of K values.
 */
function groupable(x: GpuActivation, weights: GpuWeight[], norm: FusedNorm | null): boolean {
  const [first] = weights;
  const k = first.shape[1];
  if (weights.some((w) => w.shape.length !== 2 || w.shape[1] !== k || w.dtype !== first.dtype) || k !== x.cols) return false;
  if (norm && (first.dtype === "f32" || norm.weight.shape.length !== 1 || norm.weight.shape[0] !== k)) return false;
  return gemvVectorised(first.dtype, k);
}

/** The uniform words and extra binding a fused norm adds. */
function normParams(norm: FusedNorm | null): { words: number[]; resources: Resource[] } {
  return norm ? { words: [f32Bits(norm.eps)], resources: [norm.weight.resource] } : { words: [], resources: [] };
}

/**
 * x · Wᵢᵀ for several weights with the same K and dtype in one GEMV dispatch (q/k/v; gate/up): outputs are
 * bit-identical to one `matmul` per weight. Null when the weights cannot be grouped (the caller then runs
 * them one by one).
 */
export function matmulGrouped(
  ctx: KernelContext,
  x: GpuActivation,
  weights: GpuWeight[],
  norm: FusedNorm | null = null,
): GpuActivation[] | null {
  if (weights.length < 2 || weights.length > 3 || !groupable(x, weights, norm)) return null;
  const outs = weights.map((w) => ctx.recorder.output(x.rows, w.shape[0]));
  if (outs.some((o) => o.isEmpty)) return null;
  const shape = gemvShape(x.rows);
  const variant: GemvVariant = {
    dtype: weights[0].dtype,
    ...shape,
    vectorised: true,
    subgroups: ctx.pipelines.useSubgroups,
    residual: false,
    groups: weights.length,
    swiglu: false,
    norm: norm?.weight.dtype ?? null,
  };
  const pipeline = ctx.pipelines.get(gemvKey(variant), () => gemvSource(variant));
  const fused = normParams(norm);
  ctx.recorder.dispatch(
    pipeline,
    [
      uniform(x.rows, x.cols, ...weights.map((w) => w.shape[0]), ...fused.words),
      activationResource(x),
      ...weights.map((w) => w.resource),
      ...outs.map((a) => activationResource(a)),
      ...fused.resources,
    ],
    gemvWorkgroups(
      weights.map((w) => w.shape[0]),
      x.rows,
      shape,
    ),
  );
  return outs;
}

/**
 * silu(x · Gateᵀ) ⊙ (x · Upᵀ) in one GEMV dispatch: bit-identical to the two matmuls and the elementwise
 * siluMul. Null when gate and up cannot be paired (different shapes, dtypes, or a K the GEMV cannot vectorise).
 */
export function matmulSwiGlu(
  ctx: KernelContext,
  x: GpuActivation,
  gate: GpuWeight,
  up: GpuWeight,
  norm: FusedNorm | null = null,
): GpuActivation | null {
  if (!groupable(x, [gate, up], norm) || gate.shape[0] !== up.shape[0]) return null;
  const out = ctx.recorder.output(x.rows, gate.shape[0]);
  if (out.isEmpty) return out;
  const shape = gemvShape(x.rows);
  const variant: GemvVariant = {
    dtype: gate.dtype,
    ...shape,
    vectorised: true,
    subgroups: ctx.pipelines.useSubgroups,
    residual: false,
    groups: 2,
    swiglu: true,
    norm: norm?.weight.dtype ?? null,
  };
  const pipeline = ctx.pipelines.get(gemvKey(variant), () => gemvSource(variant));
  const fused = normParams(norm);
  ctx.recorder.dispatch(
    pipeline,
    [
      uniform(x.rows, x.cols, gate.shape[0], ...fused.words),
      activationResource(x),
      gate.resource,
      up.resource,
      activationResource(out),
      ...fused.resources,
    ],
    gemvWorkgroups([gate.shape[0]], x.rows, shape),
  );
  return out;
}

/** `count` copies of a WGSL statement, one per token index. */
function unrolled(count: number, statement: (j: number) => string): string {
  return Array.from({ length: count }, (_, j) => statement(j)).join("\n");
}

/**
 * Which kernel runs: "gemv" (also what "auto" means here: the backend resolves its own "auto" per call),
 * "tiled", or "tensor" (subgroup matrices, kernels/matmul-tensor.ts; needs `tensor`, the device's layout).
 */
export type MatmulKernel = "auto" | "gemv" | "tiled" | "tensor";

export function matmul(
  ctx: KernelContext,
  x: GpuActivation,
  weight: MatmulOperand,
  path: MatmulKernel = "auto",
  tensor: TensorLayout | null = null,
  residual: GpuActivation | null = null,
): GpuActivation {
  const [n, k] = weight.shape;
  if (weight.shape.length !== 2 || k !== x.cols) {
    throw new Error(`matmul: activation has ${x.cols} columns, weight ${weight.name} has shape [${weight.shape.join(", ")}]`);
  }
  if (path === "tensor") {
    const why = tensor
      ? (tensorIneligibility(weight.dtype, k, tensor, n) ?? tensorOutputIneligibility(tensor, x.rows, n))
      : "the device has no f16→f32 subgroup-matrix configuration";
    if (why) throw new Error(`matmul: the tensor-core path cannot run ${weight.name}: ${why}`);
    const { out, residualAdded } = matmulTensor(ctx, x, weight, tensor!, residual);
    return residual && !residualAdded ? elementwise(ctx, "add", residual, out) : out;
  }
  const out = ctx.recorder.output(x.rows, n);
  if (out.isEmpty) return out;
  const resources = [uniform(x.rows, k, n), activationResource(x), weight.resource, activationResource(out)];
  if (path !== "tiled") {
    const vectorised = gemvVectorised(weight.dtype, k);
    const shape = vectorised ? gemvShape(x.rows) : { tokens: gemvShape(x.rows).tokens, rows: 1 };
    const subgroups = ctx.pipelines.useSubgroups;
    const variant: GemvVariant = {
      dtype: weight.dtype,
      ...shape,
      vectorised,
      subgroups,
      residual: residual !== null,
      groups: 1,
      swiglu: false,
      norm: null,
    };
    const pipeline = ctx.pipelines.get(gemvKey(variant), () => gemvSource(variant));
    if (residual) resources.push(activationResource(residual));
    ctx.recorder.dispatch(pipeline, resources, gemvWorkgroups([n], x.rows, shape));
  } else {
    const pipeline = ctx.pipelines.get(`matmul.tiled/${weight.dtype}`, () => tiledSource(weight.dtype));
    ctx.recorder.dispatch(pipeline, resources, Math.ceil(n / TILE_N) * Math.ceil(x.rows / TILE_M));
    if (residual) return elementwise(ctx, "add", residual, out);
  }
  return out;
}
