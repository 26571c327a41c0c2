import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";

/**
 * y = x · Wᵀ with x `[T, K]` f32 and W `[N, K]` in stored precision (torch Linear layout): `[T, N]`.
 * Two paths: a GEMV-style kernel for a few tokens (decode), where each weight row is read once per
 * workgroup, and a tiled kernel (workgroup-memory tiles of x and W) for prefill-sized T.
 */

/** Up to this many tokens use the GEMV path. */
export const GEMV_MAX_TOKENS = 8;

const GEMV_WORKGROUP = 64;

/**
 * One workgroup per (output column n, block of TOKENS tokens): threads stride over K reading each weight
 * element once and multiplying it into every token's accumulator, then a tree reduction.
 */
function gemvSource(dtype: WeightDtype, tokens: number): string {
  return `
struct Params { numTokens: u32, k: u32, n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${weightAccess("w", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${LINEAR_WORKGROUP}

const WG: u32 = ${GEMV_WORKGROUP}u;
const TOKENS: u32 = ${tokens}u;
var<workgroup> partial: array<f32, ${GEMV_WORKGROUP * tokens}>;

@compute @workgroup_size(${GEMV_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linearWorkgroup(wid, nwg);
  let tokenBlocks = (params.numTokens + TOKENS - 1u) / TOKENS;
  if (group >= params.n * tokenBlocks) { return; }
  let n = group % params.n;
  let t0 = (group / params.n) * TOKENS;
  let rows = min(TOKENS, params.numTokens - t0);
  var acc: array<f32, ${tokens}>;
  let wBase = n * params.k;
  for (var k = lid; k < params.k; k += WG) {
    let wk = wAt(wBase + k);
    for (var j = 0u; j < rows; j++) {
      acc[j] += x[(t0 + j) * params.k + k] * wk;
    }
  }
  for (var j = 0u; j < TOKENS; j++) { partial[j * WG + lid] = acc[j]; }
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      for (var j = 0u; j < TOKENS; j++) { partial[j * WG + lid] += partial[j * WG + lid + stride]; }
    }
    workgroupBarrier();
  }
  if (lid < rows) { y[(t0 + lid) * params.n + n] = partial[lid * WG]; }
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

function gemvTokens(numTokens: number): number {
  return numTokens <= 1 ? 1 : numTokens <= 2 ? 2 : numTokens <= 4 ? 4 : 8;
}

export function matmul(ctx: KernelContext, x: GpuActivation, weight: GpuWeight, path: "auto" | "gemv" | "tiled" = "auto"): GpuActivation {
  const [n, k] = weight.shape;
  if (weight.shape.length !== 2 || k !== x.cols) {
    throw new Error(`matmul: activation has ${x.cols} columns, weight ${weight.name} has shape [${weight.shape.join(", ")}]`);
  }
  const out = ctx.recorder.output(x.rows, n);
  if (out.isEmpty) return out;
  const resources = [uniform(x.rows, k, n), activationResource(x), weight.resource, activationResource(out)];
  const useGemv = path === "gemv" || (path === "auto" && x.rows <= GEMV_MAX_TOKENS);
  if (useGemv) {
    const tokens = gemvTokens(x.rows);
    const pipeline = ctx.pipelines.get(`matmul.gemv/${weight.dtype}/t${tokens}`, () => gemvSource(weight.dtype, tokens));
    ctx.recorder.dispatch(pipeline, resources, n * Math.ceil(x.rows / tokens));
  } else {
    const pipeline = ctx.pipelines.get(`matmul.tiled/${weight.dtype}`, () => tiledSource(weight.dtype));
    ctx.recorder.dispatch(pipeline, resources, Math.ceil(n / TILE_N) * Math.ceil(x.rows / TILE_M));
  }
  return out;
}
