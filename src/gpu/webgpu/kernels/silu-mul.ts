import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

const SOURCE = `
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.count) { return; }
  let z = gate[i];
  out[i] = z / (1.0 + exp(-z)) * up[i];
}
`;

/** silu(gate) * up, elementwise; silu(z) = z * sigmoid(z). */
export function siluMul(ctx: KernelContext, gate: GpuActivation, up: GpuActivation): GpuActivation {
  if (gate.rows !== up.rows || gate.cols !== up.cols) {
    throw new Error(`siluMul: shapes [${gate.rows}, ${gate.cols}] and [${up.rows}, ${up.cols}] differ`);
  }
  const out = ctx.recorder.output(gate.rows, gate.cols);
  if (out.isEmpty) return out;
  const count = gate.rows * gate.cols;
  const pipeline = ctx.pipelines.get("siluMul", () => SOURCE);
  ctx.recorder.dispatch(
    pipeline,
    [uniform(count), activationResource(gate), activationResource(up), activationResource(out)],
    Math.ceil(count / WORKGROUP),
  );
  return out;
}
