import assert from "node:assert/strict";
import type { HostTensor } from "../../src/gpu/backend.js";
import type * as ops from "../../src/gpu/reference/ops.js";
import type { WeightDtype } from "../../src/model/dtype.js";

/** Random inputs for the kernel tests (fresh values, never zeros) and the relative-error measure they assert on. */

/** Deterministic uniform values in [-scale, scale], never 0 (mulberry32). */
export function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    values(count: number, scale = 1): Float32Array {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const magnitude = 0.001 + 0.999 * next();
        out[i] = (next() < 0.5 ? -1 : 1) * magnitude * scale;
      }
      return out;
    },
    int(below: number): number {
      return Math.floor(next() * below);
    },
  };
}

export function f16Bits(value: number): number {
  const sign = value < 0 ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  let exponent = Math.floor(Math.log2(magnitude));
  let mantissa = Math.round((magnitude / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** A random tensor stored in `dtype` (its stored values are the exact inputs of both sides). */
export function randomTensor(dtype: WeightDtype, shape: number[], seed: number, scale = 1): HostTensor {
  const values = random(seed).values(
    shape.reduce((a, b) => a * b, 1),
    scale,
  );
  if (dtype === "f32") return { dtype, shape, bytes: new Uint8Array(values.buffer) };
  const halves = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < values.length; i++) halves[i] = dtype === "bf16" ? bits[i] >>> 16 : f16Bits(values[i]);
  return { dtype, shape, bytes: new Uint8Array(halves.buffer) };
}

export function matrix(tensor: HostTensor): ops.StoredMatrix {
  return { dtype: tensor.dtype, rows: tensor.shape[0], cols: tensor.shape[1], bytes: tensor.bytes };
}

export function relativeError(out: Float32Array, ref: Float32Array): number {
  assert.equal(out.length, ref.length, "output length");
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Number.isFinite(out[i]), `output ${i} is ${out[i]}`);
    diff += (out[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  assert.ok(norm > 0, "the reference is all zeros: the test inputs are degenerate");
  return Math.sqrt(diff / norm);
}

/** f32 math on exact inputs (weights in any stored precision are exact): only summation order differs. */
export const F32_MATH = 1e-5;
/** Operands rounded to f16 (e.g. K/V in an f16 cache). */
export const F16_OPERANDS = 2e-3;

/** Asserts ‖out − ref‖ / ‖ref‖ ≤ bound and reports the error as a test diagnostic. */
export function assertClose(
  t: { diagnostic(message: string): void },
  label: string,
  out: Float32Array,
  ref: Float32Array,
  bound: number,
): void {
  const error = relativeError(out, ref);
  t.diagnostic(`${label}: relative error ${error.toExponential(2)}`);
  assert.ok(error <= bound, `${label}: relative error ${error} above ${bound}`);
}
