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
function source(dtype: WeightDtype, vectorised: boolean, subgroups: boolean, f16Copy: boolean, splits = 0): string {
  const elem = vectorised ? "vec4<f32>" : "f32";
  // With `splits` (rmsNormOfSum), x holds split-K partial sums: the row is first h = residual + Σ partials, written
  // out, then normalised from h, which the copy's pairs of vec4s read across threads: a storage barrier between.
  // Its two bindings follow the copy's.
  const sum = Array.from({ length: splits }, (_, s) => `x[${s}u * params.stride + base + c]`).join(" + ");
  const rowValue = splits > 0 ? `residual[base + c] + (${sum})` : "x[base + c]";
  const src = splits > 0 ? "h" : "x";
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
    let a = ${src}[base + 2u * c] * inv * ${weightOf("(2u * c)")};
    let b = ${src}[base + 2u * c + 1u] * inv * ${weightOf("(2u * c + 1u)")};
    out[base + 2u * c] = a;
    out[base + 2u * c + 1u] = b;
    ${f16CopyStore("row * (n / 2u) + c", "a", "b")}
  }
  ${f16CopyFlag("row")}`
    : `  for (var c = lid; c < n; c += WG) {
    out[base + c] = ${src}[base + c] * inv * ${weightOf("c")};
  }`;
  return `${subgroups ? "enable subgroups;\n" : ""}
struct Params { rows: u32, cols: u32, eps: f32, stride: u32 } // stride: between partial sums, in elems
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<${elem}>;
${weightAccess("weight", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> out: array<${elem}>;
${f16Copy ? f16CopyDecls(4) : ""}
${
  splits > 0
    ? `@group(0) @binding(${f16Copy ? 6 : 4}) var<storage, read> residual: array<${elem}>;
@group(0) @binding(${f16Copy ? 7 : 5}) var<storage, read_write> h: array<${elem}>;`
    : ""
}
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
    let v = ${rowValue};${splits > 0 ? "\n    h[base + c] = v;" : ""}
    sum += ${vectorised ? "dot(v, v)" : "v * v"};
  }${splits > 0 ? "\n  storageBarrier();" : ""}
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
  return dispatchNorm(ctx, x, weight, eps, f16Copy, null);
}

/** The split-K partial sums and residual whose sum is a row (rmsNormOfSum). */
export interface SplitSum {
  /** `splits` blocks of `capacityRows` rows, each [capacityRows, cols]. */
  partials: GpuActivation;
  splits: number;
  capacityRows: number;
  residual: GpuActivation;
}

/**
 * The split-K reduce with its residual (matmul-tensor.ts reduceSplits) and the RMSNorm of its result in one
 * dispatch: writes `h` = residual + Σ partials (the reduce's bits) and returns rmsNorm(h) (the norm's bits), with the
 * f16 copy as rmsNorm's. One dependent dispatch fewer where a norm follows the residual add (each layer's two).
 */
export function rmsNormOfSum(
  ctx: KernelContext,
  h: GpuActivation,
  sum: SplitSum,
  weight: GpuWeight,
  eps: number,
  f16Copy: boolean,
): GpuActivation {
  const { partials, splits, capacityRows, residual } = sum;
  if (h.cols % 4 !== 0 || partials.cols !== h.cols || partials.rows !== splits * capacityRows || residual.rows !== h.rows) {
    throw new Error(
      `rmsNormOfSum: [${partials.rows}, ${partials.cols}] is not ${splits} blocks of ${capacityRows} rows of [${h.rows}, ${h.cols}]`,
    );
  }
  return dispatchNorm(ctx, partials, weight, eps, f16Copy, { ...sum, h });
}

function dispatchNorm(
  ctx: KernelContext,
  x: GpuActivation,
  weight: GpuWeight,
  eps: number,
  f16Copy: boolean,
  sum: (SplitSum & { h: GpuActivation }) | null,
): GpuActivation {
  const rows = sum ? sum.h.rows : x.rows;
  const out = ctx.recorder.output(rows, x.cols);
  if (out.isEmpty) return out;
  const vectorised = x.cols % 4 === 0;
  const withCopy = f16Copy && f16Copyable(x.cols);
  const subgroups = ctx.pipelines.useSubgroups;
  const splits = sum?.splits ?? 0;
  const key = `rmsNorm/${weight.dtype}${vectorised ? "/v4" : ""}${subgroups ? "/sg" : ""}${withCopy ? "/f16copy" : ""}${splits ? `/sum${splits}` : ""}`;
  const pipeline = ctx.pipelines.get(key, () => source(weight.dtype, vectorised, subgroups, withCopy, splits));
  const stride = sum ? (sum.capacityRows * x.cols) / 4 : 0;
  const resources = [uniform(rows, x.cols, f32Bits(eps), stride), activationResource(x), weight.resource, activationResource(out)];
  if (withCopy) resources.push(...attachF16Copy(ctx, out));
  if (sum) resources.push(activationResource(sum.residual), activationResource(sum.h));
  ctx.recorder.dispatch(pipeline, resources, rows);
  return out;
}
