import { elementwise } from "./elementwise.js";
import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";
import { matmulTensor } from "./matmul-tensor.js";
import { tensorIneligibility, tensorOutputIneligibility, type TensorLayout } from "./tensor/plan.js";

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

/** GEMV layout: ROWS output columns (weight rows) per workgroup, LANES threads along K for each. */
const GEMV_ROWS = 8;
const GEMV_LANES = 32;
const GEMV_WORKGROUP = GEMV_ROWS * GEMV_LANES;

/**
 * Whether the weight rows can be read as 16-byte vectors: each row must start 16-byte aligned, i.e. K a
 * multiple of 8 for bf16/f16 (8 halves per `vec4<u32>`) and of 4 for f32. Other K use the scalar variant.
 */
function gemvVectorised(dtype: WeightDtype, k: number): boolean {
  return k % (dtype === "f32" ? 4 : 8) === 0;
}

/** WGSL turning the 16-byte weight chunk `q` into `w0`, `w1` (8 halves) or `w0` (4 f32) as vec4<f32>. */
function unpackChunk(dtype: WeightDtype, q: string): string {
  switch (dtype) {
    case "f32":
      return `let w0 = ${q};`;
    case "bf16":
      return `let w0 = vec4<f32>(bitcast<f32>(${q}.x << 16u), bitcast<f32>(${q}.x & 0xffff0000u), bitcast<f32>(${q}.y << 16u), bitcast<f32>(${q}.y & 0xffff0000u));
      let w1 = vec4<f32>(bitcast<f32>(${q}.z << 16u), bitcast<f32>(${q}.z & 0xffff0000u), bitcast<f32>(${q}.w << 16u), bitcast<f32>(${q}.w & 0xffff0000u));`;
    case "f16":
      return `let w0 = vec4<f32>(unpack2x16float(${q}.x), unpack2x16float(${q}.y));
      let w1 = vec4<f32>(unpack2x16float(${q}.z), unpack2x16float(${q}.w));`;
  }
}

/** Chunks whose weight loads are issued together before any is used (more memory requests in flight). */
const GEMV_LOADS_IN_FLIGHT = 4;

/** The GEMV variant: weight dtype, token block, vector loads, subgroups, residual epilogue, weights sharing x. */
interface GemvVariant {
  dtype: WeightDtype;
  tokens: number;
  vectorised: boolean;
  subgroups: boolean;
  residual: boolean;
  /** Weights multiplied by the same x in one dispatch (q/k/v, gate/up); each has its own output. */
  groups: number;
}

/**
 * GEMV for a block of up to TOKENS tokens. A 256-thread workgroup computes ROWS = 8 outputs (weight rows
 * n0..n0+7) for the block: LANES = 32 threads per row stride along K, so consecutive threads read
 * consecutive 16-byte chunks of the row (coalesced), each weight element is read once and multiplied into
 * every token's f32 accumulator. Vectorised variant (K a multiple of 8, or 4 for f32): W is bound as
 * `array<vec4<u32>>` (`vec4<f32>`) and x as `array<vec4<f32>>`; otherwise a scalar variant walks K one
 * element at a time through `wAt`. Rows past N compute nothing but still take part in the barriers.
 *
 * Reduction of the 32 partial sums of a row: with subgroups, `subgroupAdd` per subgroup, then one value
 * per subgroup through workgroup memory (subgroup_size-independent: a subgroup of ≤ 32 threads lies inside
 * one row's lanes, as 1-D workgroups are split into subgroups in invocation order; larger subgroups fall
 * back to the tree); without, a workgroup-memory tree over the row's 32 lanes.
 *
 * Grouped variant (vectorised only): G weights with the same K share one dispatch; the workgroups are laid
 * out weight after weight, and each computes its rows exactly as the single-weight kernel would (the same
 * lanes, order and reduction), so grouping changes no bit of any output. It turns the small k/v projections
 * (128 workgroups each, too few to fill the GPU) into part of one large dispatch.
 */
function gemvSource(v: GemvVariant): string {
  const { dtype, tokens, vectorised, subgroups, residual, groups } = v;
  const chunk = dtype === "f32" ? 4 : 8; // elements per 16-byte chunk
  const wName = (g: number) => (groups === 1 ? "w" : `w${g}`);
  const yName = (g: number) => (groups === 1 ? "y" : `y${g}`);
  const nName = (g: number) => (g === 0 ? "params.n" : `params.n${g}`);
  const vecType = dtype === "f32" ? "vec4<f32>" : "vec4<u32>";
  const wDecls = !vectorised
    ? weightAccess("w", 2, dtype)
    : Array.from({ length: groups }, (_, g) => `@group(0) @binding(${2 + g}) var<storage, read> ${wName(g)}: array<${vecType}>;`).join(
        "\n",
      );
  const yDecls = Array.from(
    { length: groups },
    (_, g) => `@group(0) @binding(${groups === 1 ? 3 : 2 + groups + g}) var<storage, read_write> ${yName(g)}: array<f32>;`,
  ).join("\n");
  const xDecl = `@group(0) @binding(1) var<storage, read> x: array<${vectorised ? "vec4<f32>" : "f32"}>;`;
  // With a residual (single weight only), y = x·Wᵀ + r in the epilogue: one dispatch fewer, the same f32 add.
  const plus = (index: string) => (residual ? ` + r[${index}]` : "");

  // One chunk's products into every token's accumulator.
  const chunkProducts = (q: string, cExpr: string) => `    {
      ${unpackChunk(dtype, q)}
${unrolled(tokens, (j) => `      { let xi = rowOf[${j}] * xStride + (${cExpr}) * ${chunk / 4}u; acc[${j}] += ${dtype === "f32" ? "dot(x[xi], w0)" : "dot(x[xi], w0) + dot(x[xi + 1u], w1)"}; }`)}
    }`;
  const core = (g: number) => {
    const w = wName(g);
    const y = yName(g);
    const N = nName(g);
    const body = vectorised
      ? `  let chunks = select(0u, params.k / ${chunk}u, n < ${N}); // 16-byte chunks in a row
  let wRow = n * (params.k / ${chunk}u);
  let xStride = params.k / 4u; // vec4s per token row of x
  // ${GEMV_LOADS_IN_FLIGHT} chunks' loads first, then their products in chunk order: the same sums, in the same order,
  // as one chunk at a time (so results stay bit-identical across token-block sizes), with more loads in flight.
  var c = lane;
  for (; c + ${GEMV_LOADS_IN_FLIGHT - 1}u * LANES < chunks; c += ${GEMV_LOADS_IN_FLIGHT}u * LANES) {
${unrolled(GEMV_LOADS_IN_FLIGHT, (u) => `    let q${u} = ${w}[wRow + c + ${u}u * LANES];`)}
${unrolled(GEMV_LOADS_IN_FLIGHT, (u) => chunkProducts(`q${u}`, `c + ${u}u * LANES`))}
  }
  for (; c < chunks; c += LANES) {
    let qLast = ${w}[wRow + c];
${chunkProducts("qLast", "c")}
  }`
      : `  let kEnd = select(0u, params.k, n < ${N});
  let wRow = n * params.k;
  for (var k = lane; k < kEnd; k += LANES) {
    let wk = wAt(wRow + k);
${unrolled(tokens, (j) => `    acc[${j}] += x[rowOf[${j}] * params.k + k] * wk;`)}
  }`;
    const out = `(t0 + lane) * ${N} + n`;
    const reduceTree = `    for (var j = 0u; j < TOKENS; j++) { partial[j * WG + lid] = acc[j]; }
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
      if (lane < stride) {
        for (var j = 0u; j < TOKENS; j++) { partial[j * WG + lid] += partial[j * WG + lid + stride]; }
      }
      workgroupBarrier();
    }
    if (lane < count && n < ${N}) { ${y}[${out}] = partial[lane * WG + row * LANES]${plus(out)}; }`;
    const reduce = !subgroups
      ? reduceTree
      : `  if (sgSize <= LANES) {
    // Subgroups of sgSize threads tile each row's LANES lanes: LANES / sgSize partial sums per row.
    let perRow = LANES / sgSize;
    for (var j = 0u; j < TOKENS; j++) {
      let sum = subgroupAdd(acc[j]);
      if (sgId == 0u) { partial[j * WG + lid / sgSize] = sum; }
    }
    workgroupBarrier();
    if (lane < count && n < ${N}) {
      var total = 0.0;
      for (var s = 0u; s < perRow; s++) { total += partial[lane * WG + row * perRow + s]; }
      ${y}[${out}] = total${plus(out)};
    }
  } else {
${reduceTree}
  }`;
    return `  var acc: array<f32, ${tokens}>;
${body}
${reduce}`;
  };

  const rowBlockCounts = Array.from({ length: groups }, (_, g) => `  let rb${g} = (${nName(g)} + ROWS - 1u) / ROWS;`).join("\n");
  const rowBlocks = Array.from({ length: groups }, (_, g) => `rb${g}`).join(" + ");
  // Weight after weight: rowBlock in [start_g, start_g + rb_g) belongs to weight g (a workgroup-uniform branch).
  let branches = "";
  let start = "0u";
  for (let g = 0; g < groups; g++) {
    const end = g === 0 ? "rb0" : `${start} + rb${g}`;
    const open =
      groups === 1 ? "  {" : g === 0 ? `  if (rowBlock < ${end}) {` : g === groups - 1 ? "  } else {" : `  } else if (rowBlock < ${end}) {`;
    branches += `${open}
  let n = (rowBlock - (${start})) * ROWS + row;
${core(g)}
`;
    start = end;
  }
  branches += "  }";
  const extraNs = Array.from({ length: groups - 1 }, (_, g) => `, n${g + 1}: u32`).join("");
  return `${subgroups ? "enable subgroups;\n" : ""}
struct Params { numTokens: u32, k: u32, n: u32${extraNs} }
@group(0) @binding(0) var<uniform> params: Params;
${xDecl}
${wDecls}
${yDecls}
${residual ? "@group(0) @binding(4) var<storage, read> r: array<f32>;" : ""}
${LINEAR_WORKGROUP}

const WG: u32 = ${GEMV_WORKGROUP}u;
const ROWS: u32 = ${GEMV_ROWS}u;
const LANES: u32 = ${GEMV_LANES}u;
const TOKENS: u32 = ${tokens}u;
var<workgroup> partial: array<f32, ${GEMV_WORKGROUP * tokens}>;

@compute @workgroup_size(${GEMV_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    subgroups ? ",\n        @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgId: u32" : ""
  }) {
  let group = linearWorkgroup(wid, nwg);
${rowBlockCounts}
  let rowBlocks = ${rowBlocks};
  let tokenBlocks = (params.numTokens + TOKENS - 1u) / TOKENS;
  if (group >= rowBlocks * tokenBlocks) { return; }
  let row = lid / LANES;
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
  return `matmul.gemv/${v.dtype}/t${v.tokens}/${v.vectorised ? "vec4" : "scalar"}/${v.subgroups ? "subgroups" : "wg"}${v.residual ? "/res" : ""}${groups}`;
}

/**
 * x · Wᵢᵀ for several weights with the same K and dtype in one GEMV dispatch (q/k/v; gate/up): outputs are
 * bit-identical to one `matmul` per weight. Null when the weights cannot be grouped (the caller then runs
 * them one by one).
 */
export function matmulGrouped(ctx: KernelContext, x: GpuActivation, weights: GpuWeight[]): GpuActivation[] | null {
  const [first] = weights;
  const k = first.shape[1];
  if (weights.length < 2 || weights.length > 3) return null;
  if (weights.some((w) => w.shape.length !== 2 || w.shape[1] !== k || w.dtype !== first.dtype) || k !== x.cols) return null;
  if (!gemvVectorised(first.dtype, k)) return null;
  const outs = weights.map((w) => ctx.recorder.output(x.rows, w.shape[0]));
  if (outs.some((o) => o.isEmpty)) return null;
  const tokens = gemvTokens(x.rows);
  const variant: GemvVariant = {
    dtype: first.dtype,
    tokens,
    vectorised: true,
    subgroups: ctx.pipelines.useSubgroups,
    residual: false,
    groups: weights.length,
  };
  const pipeline = ctx.pipelines.get(gemvKey(variant), () => gemvSource(variant));
  const rowBlocks = weights.reduce((sum, w) => sum + Math.ceil(w.shape[0] / GEMV_ROWS), 0);
  ctx.recorder.dispatch(
    pipeline,
    [
      uniform(x.rows, k, ...weights.map((w) => w.shape[0])),
      activationResource(x),
      ...weights.map((w) => w.resource),
      ...outs.map(activationResource),
    ],
    rowBlocks * Math.ceil(x.rows / tokens),
  );
  return outs;
}

/** `count` copies of a WGSL statement, one per token index. */
function unrolled(count: number, statement: (j: number) => string): string {
  return Array.from({ length: count }, (_, j) => statement(j)).join("\n");
}

function gemvTokens(numTokens: number): number {
  return numTokens <= 1 ? 1 : numTokens <= 2 ? 2 : numTokens <= 4 ? 4 : 8;
}

/**
 * Which kernel runs: "gemv" (also what "auto" means here: the backend resolves its own "auto" per call),
 * "tiled", or "tensor" (subgroup matrices, kernels/matmul-tensor.ts; needs `tensor`, the device's layout).
 */
export type MatmulKernel = "auto" | "gemv" | "tiled" | "tensor";

export function matmul(
  ctx: KernelContext,
  x: GpuActivation,
  weight: GpuWeight,
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
      ? (tensorIneligibility(weight.dtype, k) ?? tensorOutputIneligibility(tensor, x.rows, n))
      : "the device has no f16→f32 subgroup-matrix configuration";
    if (why) throw new Error(`matmul: the tensor-core path cannot run ${weight.name}: ${why}`);
    const product = matmulTensor(ctx, x, weight, tensor!);
    return residual ? elementwise(ctx, "add", residual, product) : product;
  }
  const out = ctx.recorder.output(x.rows, n);
  if (out.isEmpty) return out;
  const resources = [uniform(x.rows, k, n), activationResource(x), weight.resource, activationResource(out)];
  if (path !== "tiled") {
    const tokens = gemvTokens(x.rows);
    const vectorised = gemvVectorised(weight.dtype, k);
    const subgroups = ctx.pipelines.useSubgroups;
    const variant: GemvVariant = { dtype: weight.dtype, tokens, vectorised, subgroups, residual: residual !== null, groups: 1 };
    const pipeline = ctx.pipelines.get(gemvKey(variant), () => gemvSource(variant));
    if (residual) resources.push(activationResource(residual));
    ctx.recorder.dispatch(pipeline, resources, Math.ceil(n / GEMV_ROWS) * Math.ceil(x.rows / tokens));
  } else {
    const pipeline = ctx.pipelines.get(`matmul.tiled/${weight.dtype}`, () => tiledSource(weight.dtype));
    ctx.recorder.dispatch(pipeline, resources, Math.ceil(n / TILE_N) * Math.ceil(x.rows / TILE_M));
    if (residual) return elementwise(ctx, "add", residual, out);
  }
  return out;
}
