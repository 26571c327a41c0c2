/** Tensor element types the engine accepts in checkpoints (safetensors names them BF16, F16, F32). */
export type WeightDtype = "bf16" | "f16" | "f32";

export const BYTES_PER_ELEMENT: Record<WeightDtype, number> = { bf16: 2, f16: 2, f32: 4 };

/** Maps a safetensors dtype string to ours; null for types the engine does not run. */
export function dtypeFromSafetensors(name: string): WeightDtype | null {
  switch (name) {
    case "BF16":
      return "bf16";
    case "F16":
      return "f16";
    case "F32":
      return "f32";
    default:
      return null;
  }
}

const f16Table = buildF16Table();

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[bits] = mantissa ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/**
 * Decodes `count` little-endian elements of `dtype` starting at element `start` of `bytes` into `out`
 * (f32). BF16 is the top half of an f32 (`bits << 16`); F16 is IEEE half.
 */
export function decodeToF32(bytes: Uint8Array, dtype: WeightDtype, start: number, count: number, out: Float32Array, outOffset = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "f32") {
    for (let i = 0; i < count; i++) out[outOffset + i] = view.getFloat32((start + i) * 4, true);
    return;
  }
  if (dtype === "f16") {
    for (let i = 0; i < count; i++) out[outOffset + i] = f16Table[view.getUint16((start + i) * 2, true)];
    return;
  }
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < count; i++) {
    bits[0] = view.getUint16((start + i) * 2, true) << 16;
    out[outOffset + i] = asFloat[0];
  }
}

/** A whole tensor as f32 (for small tensors and the reference backend). */
export function toF32(bytes: Uint8Array, dtype: WeightDtype): Float32Array {
  const count = bytes.byteLength / BYTES_PER_ELEMENT[dtype];
  const out = new Float32Array(count);
  decodeToF32(bytes, dtype, 0, count, out);
  return out;
}
