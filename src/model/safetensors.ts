import { SwallowError } from "../errors.js";
import type { ByteSource } from "./byte-source.js";
import { dtypeFromSafetensors, type WeightDtype } from "./dtype.js";

/**
 * safetensors header reader (format of huggingface/safetensors):
 *
 *   bytes 0..7     N, u64 little-endian, at most 100,000,000
 *   bytes 8..8+N   UTF-8 JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
 *                  possibly padded with trailing spaces
 *   bytes 8+N..    the data buffer; data_offsets are relative to its start, end exclusive
 *
 * Validation follows the reference implementation: every tensor's byte size equals
 * prod(shape) × element size, tensors are laid out back to back without gaps or overlaps, and they
 * cover the data buffer exactly up to the end of the file. Every malformed input raises a SwallowError
 * that names the file (and tensor); nothing is allocated from a length before it is checked against
 * the file size.
 */

/** `MAX_HEADER_SIZE` of the reference implementation. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of every dtype the format defines. */
const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

export interface TensorEntry {
  name: string;
  /** Our dtype, or null when the engine does not run this safetensors dtype (see `safetensorsDtype`). */
  dtype: WeightDtype | null;
  /** The dtype string as written in the file, e.g. "BF16" or "I8". */
  safetensorsDtype: string;
  shape: number[];
  /** Absolute file offset of the first byte (8 + N + begin). */
  dataStartBytes: number;
  byteLength: number;
}

export interface SafetensorsFile {
  /** The file's name as used in messages (ByteSource.name). */
  name: string;
  sizeBytes: number;
  /** 8 + N: where the data buffer starts. */
  dataOffsetBytes: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

function corrupt(fileName: string, problem: string): SwallowError {
  return new SwallowError(`${fileName}: ${problem}; the safetensors file is corrupt or truncated, download it again`);
}

/** Tensor names are attacker-controlled: quote them (escapes newlines) and keep messages short. */
function quoteName(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length > 120 ? `${quoted.slice(0, 117)}..."` : quoted;
}

/** Control characters (newlines included) from parser messages or file text become spaces. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ");
}

function describe(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "nothing" : (JSON.stringify(value) ?? String(value));
  } catch {
    text = typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Reads the header length N from the first 8 bytes and checks it against the limit and the file size.
 * Pure; throws SwallowError.
 */
export function readSafetensorsHeaderLength(prefix: Uint8Array, fileName: string, fileSizeBytes: number): number {
  if (fileSizeBytes < 8 || prefix.byteLength < 8) {
    throw corrupt(
      fileName,
      `only ${Math.min(fileSizeBytes, prefix.byteLength)} bytes, too short for a safetensors header (8-byte length first)`,
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high !== 0 || low > SAFETENSORS_MAX_HEADER_BYTES) {
    const length = high * 2 ** 32 + low; // approximate above 2^53; only printed
    throw corrupt(
      fileName,
      `header length ${length} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (this is not a safetensors file, or its first bytes are damaged)`,
    );
  }
  if (low > fileSizeBytes - 8) {
    throw corrupt(fileName, `header length ${low} passes the end of the file (${fileSizeBytes} bytes)`);
  }
  if (low < 2) throw corrupt(fileName, `header length ${low} is too small for a JSON header`);
  return low;
}

/**
 * Parses and validates the N header bytes (the JSON, without the 8-byte length) of a file of
 * `fileSizeBytes` bytes. Pure and synchronous, so it can be fuzzed directly.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileName: string, fileSizeBytes: number): SafetensorsFile {
  const headerLength = headerBytes.byteLength;
  const dataOffsetBytes = 8 + headerLength;
  if (!Number.isSafeInteger(fileSizeBytes) || fileSizeBytes < dataOffsetBytes) {
    throw corrupt(fileName, `file size ${fileSizeBytes} is smaller than its ${headerLength}-byte header`);
  }
  if (headerLength > SAFETENSORS_MAX_HEADER_BYTES) {
    throw corrupt(fileName, `header length ${headerLength} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`);
  }
  const dataLength = fileSizeBytes - dataOffsetBytes;

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw corrupt(fileName, "header is not valid UTF-8");
  }
  if (!text.startsWith("{")) throw corrupt(fileName, `header does not start with "{" (got ${describe(text.slice(0, 16))})`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? oneLine(error.message).slice(0, 100) : "parse error";
    throw corrupt(fileName, `header is not valid JSON (${reason})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw corrupt(fileName, "header is not a JSON object");
  }

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const tensors = new Map<string, TensorEntry>();
  const ranges: { name: string; begin: number; end: number }[] = [];

  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null) continue;
      if (typeof info !== "object" || Array.isArray(info)) throw corrupt(fileName, `"__metadata__" is not an object of strings`);
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== "string")
          throw corrupt(fileName, `"__metadata__" entry ${quoteName(key)} is not a string (got ${describe(value)})`);
        metadata[key] = value;
      }
      continue;
    }
    const tensor = `tensor ${quoteName(name)}`;
    if (typeof info !== "object" || info === null || Array.isArray(info)) throw corrupt(fileName, `${tensor}: entry is not an object`);
    const fields = info as Record<string, unknown>;
    const own = (key: string): unknown => (Object.prototype.hasOwnProperty.call(fields, key) ? fields[key] : undefined);

    const dtypeName = own("dtype");
    if (typeof dtypeName !== "string") throw corrupt(fileName, `${tensor}: "dtype" is missing or not a string`);
    const bits = Object.prototype.hasOwnProperty.call(DTYPE_BITS, dtypeName) ? DTYPE_BITS[dtypeName] : undefined;
    if (bits === undefined) throw corrupt(fileName, `${tensor}: unknown dtype ${describe(dtypeName)}`);

    const shapeValue = own("shape");
    if (!Array.isArray(shapeValue)) throw corrupt(fileName, `${tensor}: "shape" is missing or not a list`);
    const shape: number[] = [];
    let elements = 1;
    for (const dim of shapeValue) {
      if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
        throw corrupt(fileName, `${tensor}: "shape" has ${describe(dim)}, not a non-negative integer`);
      }
      shape.push(dim);
      elements *= dim;
      if (elements > Number.MAX_SAFE_INTEGER) throw corrupt(fileName, `${tensor}: shape ${describe(shapeValue)} is impossibly large`);
    }
    const bitLength = elements * bits;
    if (!Number.isSafeInteger(bitLength)) throw corrupt(fileName, `${tensor}: shape ${describe(shapeValue)} is impossibly large`);
    if (bitLength % 8 !== 0) throw corrupt(fileName, `${tensor}: ${elements} elements of ${dtypeName} do not fill whole bytes`);
    const expectedBytes = bitLength / 8;

    const offsets = own("data_offsets");
    if (!Array.isArray(offsets) || offsets.length !== 2)
      throw corrupt(fileName, `${tensor}: "data_offsets" is missing or not a [begin, end] pair`);
    const [begin, end] = offsets as unknown[];
    for (const value of [begin, end]) {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
        throw corrupt(fileName, `${tensor}: "data_offsets" has ${describe(value)}, not a non-negative integer`);
      }
    }
    const b = begin as number;
    const e = end as number;
    if (e < b) throw corrupt(fileName, `${tensor}: data_offsets [${b}, ${e}] end before they begin`);
    if (e > dataLength)
      throw corrupt(fileName, `${tensor}: data_offsets [${b}, ${e}] run past the end of the data (${dataLength} bytes after the header)`);
    if (e - b !== expectedBytes) {
      throw corrupt(
        fileName,
        `${tensor}: data_offsets [${b}, ${e}] hold ${e - b} bytes but ${dtypeName} shape [${shape.join(", ")}] needs ${expectedBytes}`,
      );
    }
    tensors.set(name, {
      name,
      dtype: dtypeFromSafetensors(dtypeName),
      safetensorsDtype: dtypeName,
      shape,
      dataStartBytes: dataOffsetBytes + b,
      byteLength: expectedBytes,
    });
    ranges.push({ name, begin: b, end: e });
  }

  // Back to back, no overlaps or gaps, up to the end of the file.
  ranges.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = 0;
  let previous: string | null = null;
  for (const range of ranges) {
    if (range.begin < cursor) {
      throw corrupt(
        fileName,
        `tensor ${quoteName(range.name)} (bytes ${range.begin}..${range.end}) overlaps tensor ${quoteName(previous ?? "")}`,
      );
    }
    if (range.begin > cursor) {
      throw corrupt(
        fileName,
        `${range.begin - cursor} unaccounted bytes before tensor ${quoteName(range.name)} (data_offsets must be contiguous)`,
      );
    }
    cursor = range.end;
    previous = range.name;
  }
  if (cursor !== dataLength) {
    throw corrupt(fileName, `tensors cover ${cursor} bytes but the file holds ${dataLength} bytes of data after the header`);
  }

  return { name: fileName, sizeBytes: fileSizeBytes, dataOffsetBytes, tensors, metadata: { ...metadata } };
}

/** Parses a whole safetensors file held in memory (tests, fuzzing, browser uploads). */
export function parseSafetensors(fileBytes: Uint8Array, fileName: string): SafetensorsFile {
  const headerLength = readSafetensorsHeaderLength(fileBytes, fileName, fileBytes.byteLength);
  return parseSafetensorsHeader(fileBytes.subarray(8, 8 + headerLength), fileName, fileBytes.byteLength);
}

/** Reads `lengthBytes` at `offsetBytes`, turning any non-SwallowError failure into a SwallowError. */
export async function readRange(source: ByteSource, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await source.read(offsetBytes, lengthBytes);
  } catch (error) {
    if (error instanceof SwallowError) throw error;
    const reason = oneLine(error instanceof Error ? error.message : String(error));
    throw new SwallowError(
      `${source.name}: cannot read ${lengthBytes} bytes at offset ${offsetBytes} (${reason}); the file may be truncated, download it again`,
      {
        cause: error,
      },
    );
  }
  if (bytes.byteLength !== lengthBytes) {
    throw new SwallowError(
      `${source.name}: read ${bytes.byteLength} of ${lengthBytes} bytes at offset ${offsetBytes}; the file is truncated, download it again`,
    );
  }
  return bytes;
}

/**
 * Reads and validates a safetensors file's header through two small byte-range reads
 * (8 bytes, then N bytes); tensor data is not read.
 */
export async function readSafetensorsIndex(source: ByteSource): Promise<SafetensorsFile> {
  const size = source.sizeBytes;
  if (!Number.isSafeInteger(size) || size < 8) {
    throw corrupt(source.name, `only ${size} bytes, too short for a safetensors header (8-byte length first)`);
  }
  const prefix = await readRange(source, 0, 8);
  const headerLength = readSafetensorsHeaderLength(prefix, source.name, size);
  const header = await readRange(source, 8, headerLength);
  return parseSafetensorsHeader(header, source.name, size);
}
