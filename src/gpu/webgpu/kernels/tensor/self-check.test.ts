import test from "node:test";
import assert from "node:assert/strict";
import { toF32 } from "../../../../model/dtype.js";
import type { Activation, HostTensor, Weight } from "../../../backend.js";
import type { WebGpuDevice } from "../../device.js";
import { layoutForShape, TENSOR_TILE_CLASSES } from "./plan.js";
import { relativeL2, SELF_CHECK_BOUND, SELF_CHECK_CASES, tensorCoreSelfCheck, type TensorCheckTarget } from "./self-check.js";
import { tensorCoreLayouts } from "./setup.js";

interface HostActivation extends Activation {
  data: Float32Array;
}

/**
 * A device that computes x · Wᵀ exactly (f64 sums of the decoded bf16 weights), its outputs passed through
 * `distort` (what a broken kernel would return).
 */
function target(distort: (out: Float32Array, call: number) => Float32Array = (out) => out): TensorCheckTarget & { calls: number } {
  const checked = {
    calls: 0,
    uploadWeight: async (_name: string, tensor: HostTensor) => ({ ...tensor, f32: toF32(tensor.bytes, tensor.dtype) }) as unknown as Weight,
    uploadActivation: (rows: number, cols: number, data: Float32Array): HostActivation => ({ rows, cols, data }),
    matmul: (x: Activation, weight: Weight) => {
      const { data, rows, cols } = x as HostActivation;
      const { f32, shape } = weight as unknown as { f32: Float32Array; shape: number[] };
      const n = shape[0];
      const out = new Float32Array(rows * n);
      for (let t = 0; t < rows; t++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let c = 0; c < cols; c++) sum += data[t * cols + c] * f32[j * cols + c];
          out[t * n + j] = sum;
        }
      }
      return { rows, cols: n, data: out } as HostActivation;
    },
    matmulMany: (x: Activation, weights: Weight[]) => weights.map((w) => checked.matmul(x, w)),
    read: async (x: Activation) => distort((x as HostActivation).data, checked.calls++),
  };
  return checked;
}

test("tensor-core self-check: exact products pass, every shape is tried", async () => {
  const exact = target();
  assert.equal(await tensorCoreSelfCheck(exact), null);
  assert.equal(
    exact.calls,
    SELF_CHECK_CASES.reduce((sum, c) => sum + c.ns.length, 0),
  );
});

test("tensor-core self-check: f16-sized rounding passes, a misplaced or garbage product fails with a one-line reason", async () => {
  // Rounding every output to 11 significant bits (f16's) stays well inside the bound.
  const rounded = await tensorCoreSelfCheck(target((out) => out.map((v) => Math.fround(Number(v.toPrecision(4))))));
  assert.equal(rounded, null);
  // One product's elements shifted by one (what a misaligned matrix load gives) is caught, in the shape that has it.
  const shift = (at: number) => target((out, call) => (call === at ? out.map((_, i) => out[(i + 1) % out.length]) : out));
  assert.match(
    (await tensorCoreSelfCheck(shift(4))) ?? "",
    /^a \[130, 264\]·\[256, 264\]ᵀ tensor-core product is off by [0-9.e+-]+ \(relative; bound 0\.002\)$/,
  );
  // In a merged product the reason names the part.
  assert.match((await tensorCoreSelfCheck(shift(3))) ?? "", /^a \[40, 264\]·\[256, 264\]ᵀ \(part 2 of 2\) tensor-core product is off by/);
  // NaN (an unwritten output) is not "within the bound".
  const nan = await tensorCoreSelfCheck(target((out) => out.map((v, i) => (i === 7 ? Number.NaN : v))));
  assert.match(nan ?? "", /off by NaN/);
});

test("relativeL2 is ‖a − b‖ / ‖b‖", () => {
  assert.equal(relativeL2(new Float32Array([3, 4]), new Float32Array([3, 4])), 0);
  assert.ok(Math.abs(relativeL2(new Float32Array([3, 5]), new Float32Array([3, 4])) - 1 / 5) < 1e-12);
  assert.ok(SELF_CHECK_BOUND < 1e-2);
});

test("the self-check's products reach every tensor tile class (an H100's configuration, robustness on and off)", () => {
  const device = {
    features: {
      shaderF16: true,
      subgroups: true,
      subgroupMatrixConfigs: [{ componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 }],
    },
    adapter: { subgroupMaxSize: 32 },
    limits: { maxComputeWorkgroupStorageSize: 48 * 1024, maxComputeInvocationsPerWorkgroup: 1024 },
  } as unknown as WebGpuDevice;
  for (const robust of [true, false]) {
    const layouts = tensorCoreLayouts(device, "argument", robust);
    const reached = SELF_CHECK_CASES.map(
      ({ tokens, k, ns }) =>
        layoutForShape(
          layouts,
          tokens,
          ns.reduce((a, b) => a + b),
          k,
        ).variant.name,
    );
    assert.deepEqual(new Set(reached.map((name) => name.replace(/-p8$/, ""))), new Set(TENSOR_TILE_CLASSES));
  }
});
