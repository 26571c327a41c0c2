import test, { after } from "node:test";
import assert from "node:assert/strict";
import { toF32 } from "../src/model/dtype.js";
import type { GpuWeight, KernelContext } from "../src/gpu/webgpu/context.js";
import type { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { elementwise } from "../src/gpu/webgpu/kernels/elementwise.js";
import { rmsNorm } from "../src/gpu/webgpu/kernels/rms-norm.js";
import { F16_MAX, roundToF16 } from "../src/gpu/webgpu/kernels/tensor/plan.js";
import type { GpuActivation } from "../src/gpu/webgpu/recorder.js";
import { openTestBackend } from "./support/webgpu.js";
import { random, randomTensor } from "./support/random-tensors.js";

/**
 * The kernels that write the tensor-core matmul's f16 copy of their output (RMSNorm, SwiGLU; kernels/tensor/f16-copy.ts):
 * the f32 output is the plain kernel's bit for bit, the copy holds each f32 value clamped to ±65504 and rounded to
 * the nearest f16 (host reference: roundToF16), and a row's flag is 1 exactly where the row holds a value beyond
 * f16. Runs on lavapipe in CI (no tensor cores needed: the copy is plain storage).
 */

const { backend: maybeBackend, skip } = await openTestBackend();
const gpu = maybeBackend as WebGpuBackend;
after(() => maybeBackend?.dispose());

/** The attached copy read back: f16 values as numbers, and the row flags. */
async function readCopy(out: GpuActivation): Promise<{ values: Float32Array; flags: number[] }> {
  assert.ok(out.f16Copy, "the kernel attached an f16 copy");
  const words = await gpu.read(out.f16Copy.x16);
  const values = toF32(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), "f16");
  const flags = Array.from(new Uint32Array((await gpu.read(out.f16Copy.rowFlags)).buffer));
  return { values, flags };
}

/** Checks the copy against the f32 output: clamp, round to nearest f16, and a flag per row beyond ±65504. */
function assertCopyOf(label: string, f32: Float32Array, copy: { values: Float32Array; flags: number[] }, rows: number, cols: number) {
  assert.equal(copy.values.length, rows * cols, `${label}: copy size`);
  for (let i = 0; i < f32.length; i++) {
    const expected = roundToF16(Math.min(F16_MAX, Math.max(-F16_MAX, f32[i])));
    if (copy.values[i] !== expected) assert.fail(`${label}: element ${i} is ${copy.values[i]}, expected f16(${f32[i]}) = ${expected}`);
  }
  const beyond = Array.from({ length: rows }, (_, r) =>
    f32.subarray(r * cols, (r + 1) * cols).some((v) => Math.abs(v) > F16_MAX) ? 1 : 0,
  );
  assert.deepEqual(copy.flags, beyond, `${label}: row flags`);
}

test("RMSNorm with an f16 copy: the plain norm's output, its f16 copy and the rows beyond f16 flagged", { skip }, async () => {
  const ctx = (gpu as unknown as { ctx: KernelContext }).ctx;
  for (const [rows, cols] of [
    [1, 136],
    [5, 264],
    [3, 4096],
  ]) {
    const x = random(9600 + cols).values(rows * cols, 2);
    // A norm weight that takes one column of row 1 beyond f16 (x · inv · w), so that row is flagged.
    const weightHost = randomTensor("f32", [cols], 9700 + cols);
    const w = new Float32Array(weightHost.bytes.buffer, weightHost.bytes.byteOffset, cols);
    if (rows > 1) {
      w[7] = 3e5;
      x[cols + 7] = 1; // row 1's value there is certainly far from zero
    }
    const weight = (await gpu.uploadWeight("norm", weightHost)) as unknown as GpuWeight;
    const input = gpu.uploadActivation(rows, cols, x) as GpuActivation;
    const plain = await gpu.read(rmsNorm(ctx, input, weight, 1e-5));
    const out = rmsNorm(ctx, gpu.uploadActivation(rows, cols, x) as GpuActivation, weight, 1e-5, true);
    const copy = await readCopy(out);
    const f32 = await gpu.read(out);
    assert.deepEqual(f32, plain, `[${rows}, ${cols}]: the f32 output is the plain norm's`);
    assertCopyOf(`rmsNorm [${rows}, ${cols}]`, f32, copy, rows, cols);
    if (rows > 1) assert.equal(copy.flags[1], 1, "row 1 holds a value beyond f16");
  }
  // Columns that are not whole chunks of 8: the plain norm, no copy.
  const odd = rmsNorm(
    ctx,
    gpu.uploadActivation(2, 12, random(9800).values(24)) as GpuActivation,
    (await gpu.uploadWeight("n", randomTensor("f32", [12], 9801))) as unknown as GpuWeight,
    1e-5,
    true,
  );
  assert.equal(odd.f16Copy, null);
});

test("SwiGLU with an f16 copy: the elementwise kernel's output, its f16 copy and the flags", { skip }, async () => {
  const ctx = (gpu as unknown as { ctx: KernelContext }).ctx;
  for (const [rows, cols] of [
    [1, 136],
    [4, 2056],
  ]) {
    const gate = random(9900 + cols).values(rows * cols, 8);
    const up = random(9950 + cols).values(rows * cols, 8);
    if (rows > 1) [gate[2 * cols + 5], up[2 * cols + 5]] = [300, 400]; // silu(300) · 400 = 120,000: beyond f16
    const upload = (v: Float32Array) => gpu.uploadActivation(rows, cols, v) as GpuActivation;
    const plain = await gpu.read(elementwise(ctx, "siluMul", upload(gate), upload(up)));
    const out = elementwise(ctx, "siluMul", upload(gate), upload(up), true);
    const copy = await readCopy(out);
    const f32 = await gpu.read(out);
    assert.deepEqual(f32, plain, `[${rows}, ${cols}]: the f32 output is the elementwise kernel's`);
    assertCopyOf(`siluMul [${rows}, ${cols}]`, f32, copy, rows, cols);
    if (rows > 1) assert.deepEqual(copy.flags, [0, 0, 1, 0]);
  }
});
