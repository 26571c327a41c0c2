/**
 * Writes valid safetensors bytes for tests: header JSON padded with spaces to a multiple of 8,
 * tensors back to back in the given order.
 */

export interface TensorSpec {
  /** safetensors dtype string: "BF16", "F16", "F32", "I8", ... */
  dtype: string;
  shape: number[];
  /** Raw little-endian bytes; when absent, deterministic filler of the right size. */
  data?: Uint8Array;
}

const ELEMENT_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export function tensorByteLength(dtype: string, shape: readonly number[]): number {
  const size = ELEMENT_BYTES[dtype];
  if (size === undefined) throw new Error(`safetensors-writer: no element size for ${dtype}`);
  return shape.reduce((a, b) => a * b, 1) * size;
}

/** Deterministic bytes (a simple LCG over `seed`). */
export function fillerBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

export function writeSafetensors(
  tensors: Record<string, TensorSpec>,
  metadata: Record<string, string> | null = { format: "pt" },
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  let seed = 1;
  for (const [name, tensor] of Object.entries(tensors)) {
    const length = tensorByteLength(tensor.dtype, tensor.shape);
    const data = tensor.data ?? fillerBytes(length, seed++);
    if (data.byteLength !== length) throw new Error(`safetensors-writer: ${name} has ${data.byteLength} bytes, shape needs ${length}`);
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + length] };
    chunks.push(data);
    offset += length;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padded = Math.ceil(headerBytes.byteLength / 8) * 8;
  if (padded !== headerBytes.byteLength) {
    json += " ".repeat(padded - headerBytes.byteLength);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.byteLength;
  }
  return out;
}

/** Builds raw safetensors bytes from an arbitrary header value (for malformed-input tests). */
export function rawSafetensors(header: unknown, dataLength: number, options: { headerLength?: bigint } = {}): Uint8Array {
  const headerBytes = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + headerBytes.byteLength + dataLength);
  new DataView(out.buffer).setBigUint64(0, options.headerLength ?? BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  return out;
}
