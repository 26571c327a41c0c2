import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

const SOURCE = `
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.count) { return; }
  out[i] = a[i] + b[i];
}
`;

/** a + b, elementwise. */
export function add(ctx: KernelContext, a: GpuActivation, b: GpuActivation): GpuActivation {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`add: shapes [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}] differ`);
  const out = ctx.recorder.output(a.rows, a.cols);
  if (out.isEmpty) return out;
  const count = a.rows * a.cols;
  const pipeline = ctx.pipelines.get("add", () => SOURCE);
  ctx.recorder.dispatch(
    pipeline,
    [uniform(count), activationResource(a), activationResource(b), activationResource(out)],
    Math.ceil(count / WORKGROUP),
  );
  return out;
}
