import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { f32Bits, LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";

const WORKGROUP = 64;

function source(dtype: WeightDtype): string {
  return `
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${weightAccess("weight", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

var<workgroup> partial: array<f32, ${WORKGROUP}>;

// One workgroup per row: sum of squares reduced in workgroup memory, then x * inv * weight.
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linearWorkgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var sum = 0.0;
  for (var c = lid; c < params.cols; c += ${WORKGROUP}u) {
    let v = x[base + c];
    sum += v * v;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = ${WORKGROUP / 2}u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(partial[0] / f32(params.cols) + params.eps);
  for (var c = lid; c < params.cols; c += ${WORKGROUP}u) {
    out[base + c] = x[base + c] * inv * weightAt(c);
  }
}
`;
}

/** Per row: x / sqrt(mean(x²) + eps) * weight. */
export function rmsNorm(ctx: KernelContext, x: GpuActivation, weight: GpuWeight, eps: number): GpuActivation {
  const out = ctx.recorder.output(x.rows, x.cols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get(`rmsNorm/${weight.dtype}`, () => source(weight.dtype));
  ctx.recorder.dispatch(
    pipeline,
    [uniform(x.rows, x.cols, f32Bits(eps)), activationResource(x), weight.resource, activationResource(out)],
    x.rows,
  );
  return out;
}
