import { activationResource, uniform, type GpuKvLayer, type KernelContext, type KvDtype } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { kvEnable, LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

/** `rope`: K arrives unrotated and gets rotate-half RoPE (`ROPED_K`) on the way into the cache. */
function source(kvDtype: KvDtype, rope: boolean): string {
  const key = rope ? `rotated(i, t)` : "k[i]";
  return `${kvEnable(kvDtype)}
struct Params { numTokens: u32, kvCols: u32, headDim: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> slots: array<i32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> keys: array<${kvDtype}>;
@group(0) @binding(5) var<storage, read_write> values: array<${kvDtype}>;
${rope ? ROPE_K : ""}
${LINEAR_WORKGROUP}

// One invocation per element of the [numTokens, kvCols] K and V rows; row t goes to cache slot slots[t].
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.numTokens * params.kvCols) { return; }
  let t = i / params.kvCols;
  let dst = u32(slots[t]) * params.kvCols + i % params.kvCols;
  keys[dst] = ${kvDtype}(${key});
  values[dst] = ${kvDtype}(v[i]);
}
`;
}

/**
 * WGSL `fn ropedK(head, e, t, half) -> f32`: element e of the K head starting at `k[head]` with rotate-half RoPE,
 * (cos, sin) from row t of `cosSin` (both bindings declared by the kernel). The rope kernel's expressions (first half
 * x[e]·cos − x[e + half]·sin, second half x[e]·cos + x[e − half]·sin). Shared by writeKv and the per-row attention
 * kernel's fused KV write, so both store the same bits.
 */
export const ROPED_K = `fn ropedK(head: u32, e: u32, t: u32, half: u32) -> f32 {
  let cs = cosSin[t * half + e % half];
  if (e < half) { return k[head + e] * cs.x - k[head + e + half] * cs.y; }
  return k[head + e] * cs.x + k[head + e - half] * cs.y;
}`;

const ROPE_K = `@group(0) @binding(6) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]
${ROPED_K}
fn rotated(i: u32, t: u32) -> f32 {
  let within = (i % params.kvCols) % params.headDim;
  return ropedK(i - within, within, t, params.headDim / 2u);
}`;

/** Stores K and V rows `[T, kvCols]` at the given cache slots (checked against the cache size by the caller). */
export function writeKv(
  ctx: KernelContext,
  layer: GpuKvLayer,
  kvDtype: KvDtype,
  k: GpuActivation,
  v: GpuActivation,
  slots: Resource,
  rope: { cosSin: Resource; headDim: number } | null = null,
): void {
  if (k.isEmpty) return;
  const pipeline = ctx.pipelines.get(`writeKv/${kvDtype}${rope ? "/rope" : ""}`, () => source(kvDtype, rope !== null));
  const cache = (buffer: GPUBuffer): Resource => ({ kind: "buffer", buffer, size: layer.size });
  ctx.recorder.dispatch(
    pipeline,
    [
      uniform(k.rows, k.cols, rope?.headDim ?? 0),
      slots,
      activationResource(k),
      activationResource(v),
      cache(layer.keys),
      cache(layer.values),
      ...(rope ? [rope.cosSin] : []),
    ],
    Math.ceil((k.rows * k.cols) / WORKGROUP),
  );
}
