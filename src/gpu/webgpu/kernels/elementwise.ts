import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";
import { attachF16Copy, f16Copyable, f16CopyDecls, f16CopyFlag, f16CopyStore } from "./tensor/f16-copy.js";

/**
 * Threads per workgroup and elements per thread. A memory-bound pass needs many bytes in flight per thread: one
 * f32 per thread in 64-thread workgroups moved ~1 TB/s on the H100 (siluMul of a 2,048-token prefill: 0.33 ms for
 * 352 MB, bench/NOTES.md session 10), so shapes whose element count is a multiple of 4 take vec4s in 256-thread
 * workgroups. Each element's arithmetic is the same either way.
 */
const WORKGROUP = 256;

/** WGSL of `out[i] = expression` over two same-shaped f32 inputs `a` and `b`, in elements of type `elem`. */
function source(expression: string, elem: "f32" | "vec4<f32>"): string {
  return `
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<${elem}>;
@group(0) @binding(2) var<storage, read> b: array<${elem}>;
@group(0) @binding(3) var<storage, read_write> out: array<${elem}>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.count) { return; }
  let x = a[i];
  let y = b[i];
  out[i] = ${expression};
}
`;
}

/**
 * The same op with one workgroup per row (cols % 8 == 0), which also writes the output's f16 copy for the
 * tensor-core matmul that takes it next (tensor/f16-copy.ts): each thread takes two vec4s, one chunk of the copy.
 */
function rowSource(expression: string): string {
  return `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
${f16CopyDecls(4)}
${LINEAR_WORKGROUP}

fn op(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> { return ${expression}; }

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linearWorkgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let chunks = params.cols / 8u;
  var bad = false;
  for (var c = lid; c < chunks; c += ${WORKGROUP}u) {
    let i = row * (params.cols / 4u) + 2u * c;
    let r0 = op(a[i], b[i]);
    let r1 = op(a[i + 1u], b[i + 1u]);
    out[i] = r0;
    out[i + 1u] = r1;
    ${f16CopyStore("row * chunks + c", "r0", "r1")}
  }
  ${f16CopyFlag("row")}
}
`;
}

/** The elementwise ops of the forward pass (both are to be fused into the matmuls around them later). */
const OPS = {
  /** a + b (the residual add). */
  add: "x + y",
  /** silu(a) * b, silu(z) = z * sigmoid(z) (SwiGLU: a = gate, b = up). */
  siluMul: "x / (1.0 + exp(-x)) * y",
} as const;

/**
 * out = op(a, b) elementwise. With `f16Copy` (cols a multiple of 8) it also writes the output's f16 copy for the
 * tensor-core matmul that takes it next and attaches it (one workgroup per row then).
 */
export function elementwise(ctx: KernelContext, op: keyof typeof OPS, a: GpuActivation, b: GpuActivation, f16Copy = false): GpuActivation {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`${op}: shapes [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}] differ`);
  const out = ctx.recorder.output(a.rows, a.cols);
  if (out.isEmpty) return out;
  if (f16Copy && f16Copyable(a.cols)) {
    const pipeline = ctx.pipelines.get(`${op}/rows/f16copy`, () => rowSource(OPS[op]));
    const resources = [uniform(a.rows, a.cols), activationResource(a), activationResource(b), activationResource(out)];
    ctx.recorder.dispatch(pipeline, [...resources, ...attachF16Copy(ctx, out)], a.rows);
    return out;
  }
  const vectorised = (a.rows * a.cols) % 4 === 0;
  const count = (a.rows * a.cols) / (vectorised ? 4 : 1);
  const pipeline = ctx.pipelines.get(`${op}${vectorised ? "/v4" : ""}`, () => source(OPS[op], vectorised ? "vec4<f32>" : "f32"));
  ctx.recorder.dispatch(
    pipeline,
    [uniform(count), activationResource(a), activationResource(b), activationResource(out)],
    Math.ceil(count / WORKGROUP),
  );
  return out;
}
