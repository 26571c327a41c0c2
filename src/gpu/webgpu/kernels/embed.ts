import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";

const WORKGROUP = 64;

function source(dtype: WeightDtype): string {
  return `
struct Params { numTokens: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
${weightAccess("table", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.numTokens * params.cols) { return; }
  let t = i / params.cols;
  out[i] = tableAt(u32(ids[t]) * params.cols + i % params.cols);
}
`;
}

/** out[t] = table[ids[t]] : [numTokens, cols] in f32. Token ids are checked against the vocabulary by the caller. */
export function embed(ctx: KernelContext, table: GpuWeight, ids: Resource, numTokens: number): GpuActivation {
  const cols = table.shape[1];
  const out = ctx.recorder.output(numTokens, cols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get(`embed/${table.dtype}`, () => source(table.dtype));
  ctx.recorder.dispatch(
    pipeline,
    [uniform(numTokens, cols), ids, table.resource, activationResource(out)],
    Math.ceil((numTokens * cols) / WORKGROUP),
  );
  return out;
}
