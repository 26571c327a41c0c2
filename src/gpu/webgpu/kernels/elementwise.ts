import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

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

/** The elementwise ops of the forward pass (both are to be fused into the matmuls around them later). */
const OPS = {
  /** a + b (the residual add). */
  add: "x + y",
  /** silu(a) * b, silu(z) = z * sigmoid(z) (SwiGLU: a = gate, b = up). */
  siluMul: "x / (1.0 + exp(-x)) * y",
} as const;

export function elementwise(ctx: KernelContext, op: keyof typeof OPS, a: GpuActivation, b: GpuActivation): GpuActivation {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`${op}: shapes [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}] differ`);
  const out = ctx.recorder.output(a.rows, a.cols);
  if (out.isEmpty) return out;
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
