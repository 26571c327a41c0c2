import { activationResource, uniform, type GpuKvLayer, type KernelContext, type KvDtype } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { kvEnable, LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

function source(kvDtype: KvDtype): string {
  return `${kvEnable(kvDtype)}
struct Params { numTokens: u32, kvCols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> slots: array<i32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> keys: array<${kvDtype}>;
@group(0) @binding(5) var<storage, read_write> values: array<${kvDtype}>;
${LINEAR_WORKGROUP}

// One invocation per element of the [numTokens, kvCols] K and V rows; row t goes to cache slot slots[t].
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.numTokens * params.kvCols) { return; }
  let t = i / params.kvCols;
  let dst = u32(slots[t]) * params.kvCols + i % params.kvCols;
  keys[dst] = ${kvDtype}(k[i]);
  values[dst] = ${kvDtype}(v[i]);
}
`;
}

/** Stores K and V rows `[T, kvCols]` at the given cache slots (checked against the cache size by the caller). */
export function writeKv(
  ctx: KernelContext,
  layer: GpuKvLayer,
  kvDtype: KvDtype,
  k: GpuActivation,
  v: GpuActivation,
  slots: Resource,
): void {
  if (k.isEmpty) return;
  const pipeline = ctx.pipelines.get(`writeKv/${kvDtype}`, () => source(kvDtype));
  const cache = (buffer: GPUBuffer): Resource => ({ kind: "buffer", buffer, size: layer.size });
  ctx.recorder.dispatch(
    pipeline,
    [uniform(k.rows, k.cols), slots, activationResource(k), activationResource(v), cache(layer.keys), cache(layer.values)],
    Math.ceil((k.rows * k.cols) / WORKGROUP),
  );
}
