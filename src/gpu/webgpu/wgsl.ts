import type { WeightDtype } from "../../model/dtype.js";

/** WGSL pieces shared by the kernels. */

/** Element type of the KV cache buffers. */
export type KvDtype = "f16" | "f32";

/**
 * Declares storage binding `name` holding a weight in its stored precision, and `fn <name>At(i) -> f32`
 * reading element i. BF16 and F16 are read as u32 words holding two elements (little-endian: element
 * 2j in the low half): BF16 is the top half of an f32 (`bitcast<f32>(bits << 16)`), F16 is unpacked by
 * `unpack2x16float` (core WGSL: no shader-f16 needed).
 */
export function weightAccess(name: string, binding: number, dtype: WeightDtype): string {
  switch (dtype) {
    case "f32":
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;
fn ${name}At(i: u32) -> f32 { return ${name}[i]; }`;
    case "bf16":
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;
fn ${name}At(i: u32) -> f32 {
  let word = ${name}[i >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}`;
    case "f16":
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;
fn ${name}At(i: u32) -> f32 {
  let pair = unpack2x16float(${name}[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}`;
  }
}

/** `enable f16;` when the KV cache is f16 (needs the shader-f16 feature). */
export function kvEnable(kvDtype: KvDtype): string {
  return kvDtype === "f16" ? "enable f16;\n" : "";
}

/**
 * Workgroups are dispatched as a 2-D grid (x ≤ maxComputeWorkgroupsPerDimension) and numbered linearly;
 * every kernel guards the last partial row of the grid itself.
 */
export const LINEAR_WORKGROUP = `fn linearWorkgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }`;

/** The f32 bits of `value`, for packing f32 fields into a u32 uniform array. */
export function f32Bits(value: number): number {
  scratchF32[0] = value;
  return scratchU32[0];
}
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);
