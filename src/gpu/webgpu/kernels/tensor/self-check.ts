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
  /** x · Wᵢᵀ for each weight; the tensor path merges them into one dispatch (q/k/v, gate/up). */
  matmulMany(x: Activation, weights: Weight[]): Activation[];
  read(x: Activation): Promise<Float32Array>;
}

/** One checked product: x [tokens, k] times one weight [n, k] (matmul), or several (matmulMany, merged parts). */
export interface SelfCheckCase {
  tokens: number;
  k: number;
  ns: readonly number[];
}

/**
 * Products that reach each tile class of TENSOR_TILE_CLASSES (layoutForShape) and both kernel forms, with K not a
 * multiple of the K slice: the 16-row skinny tile (two slices prefetched) with split-K, the 32-row one, merged parts on the 64-row
 * skinny tile, the 64×128 tile (too few tiles for 128×128), and the 128×128 tile (6 × 22 tiles).
 */
export const SELF_CHECK_CASES: readonly SelfCheckCase[] = [
  { tokens: 12, k: 1040, ns: [128] },
  { tokens: 24, k: 520, ns: [256] },
  { tokens: 40, k: 264, ns: [128, 256] },
  { tokens: 130, k: 264, ns: [256] },
  { tokens: 650, k: 40, ns: [2736] },
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
 * Runs SELF_CHECK_CASES through `target` (bf16 weights, x in ±2) and compares each product with the reference: null
 * when every relative error is within SELF_CHECK_BOUND, else a one-line reason. Its weights stay allocated (a few
 * hundred KB) until the backend is disposed.
 */
export async function tensorCoreSelfCheck(target: TensorCheckTarget, seed = 20261128): Promise<string | null> {
  const rng = new Rng(seed);
  for (const { tokens, k, ns } of SELF_CHECK_CASES) {
    const x = Float32Array.from({ length: tokens * k }, () => (2 * rng.nextFloat() - 1) * 2);
    const hosts = ns.map((n) => randomBf16(rng, n, k, 0.1));
    const weights = await Promise.all(hosts.map((w) => target.uploadWeight(`tensor self-check [${w.shape.join(", ")}]`, w)));
    const input = target.uploadActivation(tokens, k, x);
    const outs = weights.length === 1 ? [target.matmul(input, weights[0])] : target.matmulMany(input, weights);
    for (const [i, out] of outs.entries()) {
      const n = ns[i];
      const ref = ops.matmulTransposed(x, tokens, { dtype: "bf16", rows: n, cols: k, bytes: hosts[i].bytes });
      const error = relativeL2(await target.read(out), ref);
      // NaN (an unwritten or garbage output) fails too.
      if (!(error <= SELF_CHECK_BOUND)) {
        const product = `[${tokens}, ${k}]·[${n}, ${k}]ᵀ${ns.length > 1 ? ` (part ${i + 1} of ${ns.length})` : ""}`;
        return `a ${product} tensor-core product is off by ${error.toExponential(2)} (relative; bound ${SELF_CHECK_BOUND})`;
      }
    }
  }
  return null;
}
