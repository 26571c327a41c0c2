import { Rng } from "../../../../engine/rng.js";
import * as ops from "../../../reference/ops.js";
import type { Activation, HostTensor, Weight } from "../../../backend.js";

/**
 * The start-up check that decides whether a device's tensor cores are used by default: a few tensor-core products
 * on fresh random inputs against the reference. The kernels are tested on an H100 only (CI's lavapipe has no
 * subgroup matrices), and Dawn's subgroup matrices are an experimental feature whose lowering differs by vendor and
 * driver (on the H100, 16-byte-misaligned workgroup arrays once read wrong values: bench/NOTES.md, session 11), so a
 * device whose products come out wrong keeps the batch-invariant kernels instead of serving wrong tokens.
 */

/** What the check needs from the backend (WebGpuBackend, with its matmul path forced to "tensor" by the caller). */
export interface TensorCheckTarget {
  uploadWeight(name: string, tensor: HostTensor): Promise<Weight>;
  uploadActivation(rows: number, cols: number, data: Float32Array): Activation;
  matmul(x: Activation, weight: Weight): Activation;
  read(x: Activation): Promise<Float32Array>;
}

/**
 * [tokens, k] · [n, k]ᵀ products that reach the tile classes a model's batches take: a skinny or small tile with
 * split-K (24 rows), a whole 128-row tile and a ragged one past it (130 rows), K not a multiple of the K slice.
 */
export const SELF_CHECK_SHAPES: readonly (readonly [tokens: number, k: number, n: number])[] = [
  [24, 1040, 128],
  [130, 264, 256],
];

/** The kernels' bound with f16 operands (the tensor-core tests' too); measured errors are ~2e-4. */
export const SELF_CHECK_BOUND = 2e-3;

/** bf16 bits of an f32 (round to nearest even; the inputs here are finite). */
function bf16Bits(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A random bf16 [n, k] weight with values in ±scale. */
function randomBf16(rng: Rng, n: number, k: number, scale: number): HostTensor {
  const halves = new Uint16Array(n * k);
  for (let i = 0; i < halves.length; i++) halves[i] = bf16Bits((2 * rng.nextFloat() - 1) * scale);
  return { dtype: "bf16", shape: [n, k], bytes: new Uint8Array(halves.buffer) };
}

/** ‖a − b‖ / ‖b‖. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    ref += b[i] ** 2;
  }
  return Math.sqrt(diff / ref);
}

/**
 * Runs SELF_CHECK_SHAPES through `target.matmul` (bf16 weights, x in ±2) and compares each with the reference: null
 * when every relative error is within SELF_CHECK_BOUND, else a one-line reason. Its weights stay allocated (a few
 * hundred KB) until the backend is disposed.
 */
export async function tensorCoreSelfCheck(target: TensorCheckTarget, seed = 20261128): Promise<string | null> {
  const rng = new Rng(seed);
  for (const [tokens, k, n] of SELF_CHECK_SHAPES) {
    const x = Float32Array.from({ length: tokens * k }, () => (2 * rng.nextFloat() - 1) * 2);
    const w = randomBf16(rng, n, k, 0.1);
    const weight = await target.uploadWeight(`tensor self-check [${n}, ${k}]`, w);
    const out = await target.read(target.matmul(target.uploadActivation(tokens, k, x), weight));
    const ref = ops.matmulTransposed(x, tokens, { dtype: "bf16", rows: n, cols: k, bytes: w.bytes });
    const error = relativeL2(out, ref);
    // NaN (an unwritten or garbage output) fails too.
    if (!(error <= SELF_CHECK_BOUND)) {
      return `a [${tokens}, ${k}]·[${n}, ${k}]ᵀ tensor-core product is off by ${error.toExponential(2)} (relative; bound ${SELF_CHECK_BOUND})`;
    }
  }
  return null;
}
