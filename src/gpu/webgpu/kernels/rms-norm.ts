import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { f32Bits, LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";
import { attachF16Copy, f16Copyable, f16CopyDecls, f16CopyFlag, f16CopyStore } from "./tensor/f16-copy.js";

const WORKGROUP = 256;

/**
 * One 256-thread workgroup per row. Vectorised variant (cols % 4 == 0): x and out are bound as
 * `array<vec4<f32>>`, each thread walks vec4s of the row; otherwise one element at a time. The sum of
 * squares is reduced with `subgroupAdd` plus one value per subgroup through workgroup memory (1-D
 * workgroups are split into subgroups in invocation order), or without subgroups a workgroup-memory tree.
 */
function source(dtype: WeightDtype, vectorised: boolean, subgroups: boolean, f16Copy: boolean): string {
  const elem = vectorised ? "vec4<f32>" : "f32";
  const reduce = subgroups
    ? `  let sgSum = subgroupAdd(sum);
  if (sgId == 0u) { partial[lid / sgSize] = sgSum; }
  workgroupBarrier();
  var total = 0.0;
  for (var s = 0u; s < WG / sgSize; s++) { total += partial[s]; }`
    : `  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];`;
  const weightOf = (c: string) =>
    vectorised
      ? `vec4<f32>(weightAt(4u * ${c}), weightAt(4u * ${c} + 1u), weightAt(4u * ${c} + 2u), weightAt(4u * ${c} + 3u))`
      : `weightAt(${c})`;
  // With the f16 copy a thread takes two vec4s (one chunk of the copy) at a time: the same values.
  const store = f16Copy
    ? `  var bad = false;
  for (var c = lid; c < n / 2u; c += WG) {
    let a = x[base + 2u * c] * inv * ${weightOf("(2u * c)")};
    let b = x[base + 2u * c + 1u] * inv * ${weightOf("(2u * c + 1u)")};
    out[base + 2u * c] = a;
    out[base + 2u * c + 1u] = b;
    ${f16CopyStore("row * (n / 2u) + c", "a", "b")}
  }
  ${f16CopyFlag("row")}`
    : `  for (var c = lid; c < n; c += WG) {
    out[base + c] = x[base + c] * inv * ${weightOf("c")};
  }`;
  return `${subgroups ? "enable subgroups;\n" : ""}
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<${elem}>;
${weightAccess("weight", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> out: array<${elem}>;
${f16Copy ? f16CopyDecls(4) : ""}
${LINEAR_WORKGROUP}

const WG: u32 = ${WORKGROUP}u;
var<workgroup> partial: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    subgroups ? ",\n        @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgId: u32" : ""
  }) {
  let row = linearWorkgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let n = ${vectorised ? "params.cols / 4u" : "params.cols"};
  let base = row * n;
  var sum = 0.0;
  for (var c = lid; c < n; c += WG) {
    let v = x[base + c];
    sum += ${vectorised ? "dot(v, v)" : "v * v"};
  }
${reduce}
  let inv = 1.0 / sqrt(total / f32(params.cols) + params.eps);
${store}
}
`;
}

/**
 * Per row: x / sqrt(mean(x²) + eps) * weight. With `f16Copy` (x.cols a multiple of 8) it also writes the output's
 * f16 copy for the tensor-core matmul that takes it next and attaches it (tensor/f16-copy.ts).
 */
export function rmsNorm(ctx: KernelContext, x: GpuActivation, weight: GpuWeight, eps: number, f16Copy = false): GpuActivation {
  const out = ctx.recorder.output(x.rows, x.cols);
  if (out.isEmpty) return out;
  const vectorised = x.cols % 4 === 0;
  const withCopy = f16Copy && f16Copyable(x.cols);
  const subgroups = ctx.pipelines.useSubgroups;
  const key = `rmsNorm/${weight.dtype}${vectorised ? "/v4" : ""}${subgroups ? "/sg" : ""}${withCopy ? "/f16copy" : ""}`;
  const pipeline = ctx.pipelines.get(key, () => source(weight.dtype, vectorised, subgroups, withCopy));
  const resources = [uniform(x.rows, x.cols, f32Bits(eps)), activationResource(x), weight.resource, activationResource(out)];
  if (withCopy) resources.push(...attachF16Copy(ctx, out));
  ctx.recorder.dispatch(pipeline, resources, x.rows);
  return out;
}
