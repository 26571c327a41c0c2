import { activationResource, type KernelContext } from "../../context.js";
import type { GpuActivation, Resource } from "../../recorder.js";
import { F16_MAX } from "./plan.js";

/**
 * The f16 copy of an activation that the tensor-core matmul's x16 variants read: [rows, cols] f16, 8 values per
 * vec4<u32> (cols / 2 words per row), and one flag per row, 1 where the row holds a value beyond ±65504 (clamped in
 * the copy; the matmul sends tiles with such rows to its exact path, which reads the f32 activation).
 *
 * The matmul's own pre-pass (xToF16Source) makes it, one dispatch per product. A kernel whose output only ever
 * feeds such a product (the RMSNorm before q/k/v and gate/up, SwiGLU before down) can write the copy beside its f32
 * output instead and attach it (`GpuActivation.f16Copy`): one dependent dispatch and one [T, K] round trip fewer.
 * Every writer converts the same f32 values with the same clamp and rounding, so the copy is the pre-pass's bit for
 * bit.
 */

/** Values per vec4<u32> chunk of the copy. */
export const F16_CHUNK = 8;

/** Whether an activation of `cols` columns can have a copy (whole chunks per row). */
export function f16Copyable(cols: number): boolean {
  return cols % F16_CHUNK === 0;
}

/**
 * WGSL declarations of the copy's two bindings at `binding` and `binding + 1`, the clamp bound, and the workgroup
 * flag its writers OR a row's range check into (one workgroup writes one row).
 */
export function f16CopyDecls(binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read_write> x16: array<vec4<u32>>; // f16 copy, 8 per chunk
@group(0) @binding(${binding + 1}) var<storage, read_write> rowFlags: array<u32>; // 1: the row has a value beyond f16
const F16_MAX: f32 = ${F16_MAX}.0;
var<workgroup> rowBeyondF16: atomic<u32>;`;
}

/** WGSL storing 8 f32 values (`a`, `b`: vec4<f32>) as chunk `index` of the copy; sets `bad` where one is beyond f16. */
export function f16CopyStore(index: string, a: string, b: string): string {
  return `bad = bad || any(abs(${a}) > vec4<f32>(F16_MAX)) || any(abs(${b}) > vec4<f32>(F16_MAX));
    {
      let ca = clamp(${a}, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX));
      let cb = clamp(${b}, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX));
      x16[${index}] = vec4<u32>(pack2x16float(ca.xy), pack2x16float(ca.zw), pack2x16float(cb.xy), pack2x16float(cb.zw));
    }`;
}

/**
 * WGSL after a workgroup's stores of row `row` (every thread reaches it; `bad` declared `var bad = false` before):
 * the row's flag, written once.
 */
export function f16CopyFlag(row: string): string {
  return `if (bad) { atomicOr(&rowBeyondF16, 1u); }
  workgroupBarrier();
  if (lid == 0u) { rowFlags[${row}] = atomicLoad(&rowBeyondF16); }`;
}

/** Allocates the copy of `out` (the writer binds the returned resources) and attaches it. */
export function attachF16Copy(ctx: KernelContext, out: GpuActivation): Resource[] {
  if (!f16Copyable(out.cols)) throw new Error(`an f16 copy needs whole chunks of ${F16_CHUNK} columns, not ${out.cols}`);
  const x16 = ctx.recorder.output(out.rows, out.cols / 2);
  const rowFlags = ctx.recorder.output(out.rows, 1);
  out.f16Copy = { x16, rowFlags };
  return [activationResource(x16), activationResource(rowFlags)];
}
