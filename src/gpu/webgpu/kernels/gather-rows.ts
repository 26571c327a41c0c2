import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

const SOURCE = `
struct Params { numRows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rows: array<i32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.numRows * params.cols) { return; }
  out[i] = x[u32(rows[i / params.cols]) * params.cols + i % params.cols];
}
`;

/** Keeps the listed rows (checked against x.rows by the caller): [numRows, cols]. */
export function gatherRows(ctx: KernelContext, x: GpuActivation, rows: Resource, numRows: number): GpuActivation {
  const out = ctx.recorder.output(numRows, x.cols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get("gatherRows", () => SOURCE);
  ctx.recorder.dispatch(
    pipeline,
    [uniform(numRows, x.cols), rows, activationResource(x), activationResource(out)],
    Math.ceil((numRows * x.cols) / WORKGROUP),
  );
  return out;
}
