import test from "node:test";
import assert from "node:assert/strict";
import { SwallowError } from "../errors.js";
import { MemoryByteSource } from "./byte-source.js";
import {
  SAFETENSORS_MAX_HEADER_BYTES,
  parseSafetensors,
  parseSafetensorsHeader,
  readSafetensorsHeaderLength,
  readSafetensorsIndex,
} from "./safetensors.js";
import { fillerBytes, rawSafetensors, writeSafetensors } from "../../test/support/safetensors-writer.js";

const FILE = "ckpt/model.safetensors";

function sample(): Uint8Array {
  return writeSafetensors({
    "model.embed_tokens.weight": { dtype: "BF16", shape: [8, 4] },
    "model.norm.weight": { dtype: "F32", shape: [4] },
    scalar: { dtype: "F16", shape: [] },
    empty: { dtype: "F32", shape: [0, 4] },
    ids: { dtype: "I64", shape: [3] },
  });
}

function expectCorrupt(bytes: Uint8Array, pattern: RegExp, name = FILE): void {
  assert.throws(
    () => parseSafetensors(bytes, name),
    (error: unknown) => {
      assert.ok(error instanceof SwallowError, `expected SwallowError, got ${String(error)}`);
      assert.match(error.message, pattern);
      assert.ok(error.message.startsWith(`${name}: `), error.message);
      assert.ok(error.message.endsWith("the safetensors file is corrupt or truncated, download it again"), error.message);
      assert.ok(!error.message.includes("\n"));
      return true;
    },
  );
}

/** A header object with one F32 [2] tensor at [0, 8], and 8 data bytes. */
function oneTensor(info: Record<string, unknown>, dataLength = 8): Uint8Array {
  return rawSafetensors({ t: { dtype: "F32", shape: [2], data_offsets: [0, 8], ...info } }, dataLength);
}

test("round trip: writer output parses back with absolute offsets and metadata", async () => {
  const data = fillerBytes(64, 7);
  const bytes = writeSafetensors(
    { a: { dtype: "BF16", shape: [4, 8], data }, b: { dtype: "F32", shape: [3] }, c: { dtype: "I8", shape: [5] } },
    { format: "pt", note: "x" },
  );
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0, "writer pads the header to a multiple of 8");
  const file = parseSafetensors(bytes, FILE);
  assert.deepEqual(file.metadata, { format: "pt", note: "x" });
  assert.equal(file.dataOffsetBytes, 8 + headerLength);
  assert.deepEqual([...file.tensors.keys()], ["a", "b", "c"]);
  const a = file.tensors.get("a")!;
  assert.deepEqual(a, {
    name: "a",
    dtype: "bf16",
    safetensorsDtype: "BF16",
    shape: [4, 8],
    dataStartBytes: 8 + headerLength,
    byteLength: 64,
  });
  assert.deepEqual(bytes.subarray(a.dataStartBytes, a.dataStartBytes + a.byteLength), data);
  assert.equal(file.tensors.get("b")!.dtype, "f32");
  assert.equal(file.tensors.get("b")!.dataStartBytes, 8 + headerLength + 64);
  const c = file.tensors.get("c")!;
  assert.equal(c.dtype, null, "unsupported dtypes parse, with dtype null");
  assert.equal(c.safetensorsDtype, "I8");

  const viaSource = await readSafetensorsIndex(new MemoryByteSource(FILE, bytes));
  assert.deepEqual(viaSource.tensors, file.tensors);
});

test("empty and 0-rank tensors, no metadata, {} header", () => {
  const file = parseSafetensors(sample(), FILE);
  assert.deepEqual(file.tensors.get("scalar")!.shape, []);
  assert.equal(file.tensors.get("scalar")!.byteLength, 2);
  assert.equal(file.tensors.get("empty")!.byteLength, 0);
  assert.deepEqual(parseSafetensors(writeSafetensors({}, null), FILE).tensors.size, 0);
  assert.deepEqual(parseSafetensors(rawSafetensors("{}", 0), FILE).metadata, {});
  assert.deepEqual(parseSafetensors(rawSafetensors('{"__metadata__": null}', 0), FILE).metadata, {});
  // Trailing padding spaces are fine; data_offsets order in the header is irrelevant.
  const reordered = rawSafetensors(
    '{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}        ',
    4,
  );
  assert.deepEqual([...parseSafetensors(reordered, FILE).tensors.keys()], ["b", "a"]);
});

test("a tensor named __proto__ is just a tensor", () => {
  const file = parseSafetensors(rawSafetensors('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), FILE);
  assert.equal(file.tensors.get("__proto__")!.byteLength, 1);
});

test("truncated header prefix and header length past the end of the file", async () => {
  expectCorrupt(new Uint8Array(0), /only 0 bytes, too short/);
  expectCorrupt(new Uint8Array(5), /only 5 bytes, too short/);
  const bytes = sample();
  expectCorrupt(bytes.subarray(0, 20), /header length \d+ passes the end of the file \(20 bytes\)/);
  const big = rawSafetensors("{}", 0, { headerLength: 1000n });
  expectCorrupt(big, /header length 1000 passes the end of the file \(10 bytes\)/);
  await assert.rejects(readSafetensorsIndex(new MemoryByteSource(FILE, bytes.subarray(0, 30))), SwallowError);
  await assert.rejects(readSafetensorsIndex(new MemoryByteSource(FILE, new Uint8Array(3))), SwallowError);
});

test("header length over 100 MB, including u64 values past 2^32 and 2^53", () => {
  for (const length of [BigInt(SAFETENSORS_MAX_HEADER_BYTES + 1), 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
    expectCorrupt(rawSafetensors("{}", 0, { headerLength: length }), /exceeds the 100000000-byte limit/);
  }
});

test("header length is validated before anything is allocated from it", async () => {
  let reads = 0;
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, 90_000_000n, true);
  const source = {
    name: FILE,
    sizeBytes: 1000,
    async read(offset: number, length: number) {
      reads++;
      assert.ok(length <= 8, `read of ${length} bytes before the length was checked`);
      return prefix.subarray(offset, offset + length);
    },
    async close() {},
  };
  await assert.rejects(readSafetensorsIndex(source), /header length 90000000 passes the end of the file/);
  assert.equal(reads, 1);
});

test("invalid UTF-8, non-JSON, non-object headers", () => {
  const bytes = rawSafetensors("{}", 0);
  expectCorrupt(rawSafetensors('{"a":1', 0), /header is not valid JSON/);
  expectCorrupt(rawSafetensors("[]", 0), /header does not start with "\{"/);
  expectCorrupt(rawSafetensors("  {}", 0), /header does not start with/);
  expectCorrupt(rawSafetensors('{"__metadata__": {}} x', 0), /not valid JSON/);
  bytes[9] = 0xff;
  expectCorrupt(bytes, /header is not valid UTF-8/);
  expectCorrupt(rawSafetensors("{}\0\0", 0), /not valid JSON/);
});

test("bad tensor entries name the tensor", () => {
  expectCorrupt(rawSafetensors({ t: 5 }, 0), /tensor "t": entry is not an object/);
  expectCorrupt(rawSafetensors({ t: [] }, 0), /tensor "t": entry is not an object/);
  expectCorrupt(oneTensor({ dtype: undefined }), /tensor "t": "dtype" is missing/);
  expectCorrupt(oneTensor({ dtype: "F33" }), /tensor "t": unknown dtype "F33"/);
  expectCorrupt(oneTensor({ dtype: "toString" }), /unknown dtype "toString"/);
  expectCorrupt(oneTensor({ shape: undefined }), /tensor "t": "shape" is missing or not a list/);
  expectCorrupt(oneTensor({ shape: [2.5] }), /"shape" has 2\.5, not a non-negative integer/);
  expectCorrupt(oneTensor({ shape: [-2] }), /"shape" has -2/);
  expectCorrupt(oneTensor({ shape: ["2"] }), /"shape" has "2"/);
  expectCorrupt(oneTensor({ shape: [2 ** 40, 2 ** 40] }), /impossibly large/);
  expectCorrupt(oneTensor({ data_offsets: undefined }), /tensor "t": "data_offsets" is missing/);
  expectCorrupt(oneTensor({ data_offsets: [0] }), /"data_offsets" is missing or not a \[begin, end\] pair/);
  expectCorrupt(oneTensor({ data_offsets: [0, 8, 9] }), /not a \[begin, end\] pair/);
  expectCorrupt(oneTensor({ data_offsets: [0, -8] }), /"data_offsets" has -8/);
  expectCorrupt(oneTensor({ data_offsets: [0, 1e300] }), /"data_offsets" has 1e\+300/);
  expectCorrupt(oneTensor({ data_offsets: [8, 0] }), /data_offsets \[8, 0\] end before they begin/);
  expectCorrupt(oneTensor({ data_offsets: [0, 16] }), /data_offsets \[0, 16\] run past the end of the data \(8 bytes after the header\)/);
  expectCorrupt(oneTensor({ shape: [3] }), /data_offsets \[0, 8\] hold 8 bytes but F32 shape \[3\] needs 12/);
  expectCorrupt(oneTensor({ dtype: "F4", shape: [3], data_offsets: [0, 1] }, 1), /3 elements of F4 do not fill whole bytes/);
  expectCorrupt(rawSafetensors({ __metadata__: { a: 1 } }, 0), /"__metadata__" entry "a" is not a string/);
  expectCorrupt(rawSafetensors({ __metadata__: [] }, 0), /"__metadata__" is not an object/);
  expectCorrupt(rawSafetensors({ "bad\nname": 1 }, 0), /tensor "bad\\nname"/);
});

test("overlapping tensors, gaps, and data not covering the file", () => {
  const u8 = (begin: number, end: number) => ({ dtype: "U8", shape: [end - begin], data_offsets: [begin, end] });
  expectCorrupt(rawSafetensors({ a: u8(0, 4), b: u8(2, 6) }, 6), /tensor "b" \(bytes 2\.\.6\) overlaps tensor "a"/);
  expectCorrupt(rawSafetensors({ a: u8(0, 4), b: u8(0, 4) }, 4), /overlaps tensor/);
  expectCorrupt(rawSafetensors({ a: u8(0, 4), b: u8(6, 8) }, 8), /2 unaccounted bytes before tensor "b"/);
  expectCorrupt(rawSafetensors({ a: u8(0, 4) }, 6), /tensors cover 4 bytes but the file holds 6 bytes of data/);
  expectCorrupt(rawSafetensors({ a: u8(2, 4) }, 4), /2 unaccounted bytes before tensor "a"/);
  // Empty tensors may share an offset with anything.
  assert.equal(parseSafetensors(rawSafetensors({ a: u8(0, 4), e: u8(4, 4), f: u8(0, 0) }, 4), FILE).tensors.size, 3);
});

test("the pure header parser checks against the given file size", () => {
  const header = new TextEncoder().encode('{"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}');
  assert.equal(parseSafetensorsHeader(header, FILE, 8 + header.byteLength + 4).tensors.get("t")!.dataStartBytes, 8 + header.byteLength);
  assert.throws(() => parseSafetensorsHeader(header, FILE, 8 + header.byteLength + 2), SwallowError);
  assert.throws(() => parseSafetensorsHeader(header, FILE, 10), /smaller than its/);
  assert.throws(() => readSafetensorsHeaderLength(new Uint8Array(8), FILE, 8), /header length 0 is too small/);
});

test("read errors from the source become SwallowErrors", async () => {
  const source = {
    name: FILE,
    sizeBytes: 100,
    async read(): Promise<Uint8Array> {
      throw new RangeError("boom");
    },
    async close() {},
  };
  await assert.rejects(
    readSafetensorsIndex(source),
    (error: unknown) => error instanceof SwallowError && /cannot read 8 bytes at offset 0 \(boom\)/.test(error.message),
  );
  const short = { ...source, read: async () => new Uint8Array(3) };
  await assert.rejects(readSafetensorsIndex(short), /read 3 of 8 bytes/);
});

/** mulberry32: small seeded PRNG so fuzz failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1,
  1.5,
  2 ** 53,
  2 ** 64,
  1e308,
  -0,
  "",
  "BF16",
  "F4",
  "x",
  [],
  [0],
  [0, 0],
  [1, 2, 3],
  [-1, 5],
  [2 ** 31, 2 ** 31],
  {},
  { dtype: "U8" },
  [[1]],
];

function mutate(base: Uint8Array, random: () => number): Uint8Array {
  const headerLength = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const int = (n: number) => Math.floor(random() * n);
  const kind = int(8);
  if (kind === 0) {
    // Flip a few bytes, mostly inside the length prefix and header.
    const out = base.slice();
    for (let i = 1 + int(4); i > 0; i--) out[int(Math.min(out.length, 8 + headerLength + 16))] = int(256);
    return out;
  }
  if (kind === 1) return base.slice(0, int(base.length + 1)); // truncate
  if (kind === 2) {
    // Random header length (small, near the real one, or huge).
    const out = base.slice();
    const view = new DataView(out.buffer);
    const choice = int(3);
    const value =
      choice === 0
        ? BigInt(int(64))
        : choice === 1
          ? BigInt(Math.max(0, headerLength + int(33) - 16))
          : BigInt(int(2 ** 30)) * BigInt(int(2 ** 30) + 1);
    view.setBigUint64(0, value & 0xffffffffffffffffn, true);
    return out;
  }
  if (kind === 3) {
    // Insert or delete bytes in the header region, keeping the length prefix.
    const at = 8 + int(headerLength);
    const parts =
      int(2) === 0
        ? [base.subarray(0, at), base.subarray(at + 1 + int(4))]
        : [base.subarray(0, at), fillerBytes(1 + int(4), int(1000)), base.subarray(at)];
    const out = new Uint8Array(parts[0].length + parts[1].length + (parts[2]?.length ?? 0));
    let position = 0;
    for (const part of parts) {
      out.set(part, position);
      position += part.length;
    }
    return out;
  }
  // Structured: replace one value in the JSON header, then re-encode with a random data length.
  const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + headerLength))) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header);
  const name = names[int(names.length)];
  const weird = WEIRD_VALUES[int(WEIRD_VALUES.length)];
  if (kind === 4) header[name] = weird as Record<string, unknown>;
  else if (kind === 7 && name !== "__metadata__") {
    // Shift a tensor's range (size kept): overlaps, gaps, out-of-range ends.
    const offsets = header[name].data_offsets as number[];
    const delta = int(2) ? int(9) - 4 : int(64) - 32;
    header[name].data_offsets = [Math.max(0, offsets[0] + delta), Math.max(0, offsets[1] + delta)];
  } else if (name !== "__metadata__" && header[name] && typeof header[name] === "object") {
    const field = ["dtype", "shape", "data_offsets", "extra"][int(4)];
    const entry = header[name];
    if (kind === 5 || !Array.isArray(entry[field])) entry[field] = weird;
    else (entry[field] as unknown[])[int((entry[field] as unknown[]).length + 1)] = int(2) ? weird : int(200);
  }
  const dataLength = Math.max(0, base.length - 8 - headerLength + int(9) - 4);
  return rawSafetensors(header, dataLength);
}

test("fuzz: mutated and truncated files only ever throw SwallowError", async () => {
  const random = prng(0x5eed);
  const bases = [sample(), writeSafetensors({ w: { dtype: "BF16", shape: [3, 5] } }), writeSafetensors({}, { format: "pt" })];
  const started = Date.now();
  let accepted = 0;
  let rejected = 0;
  for (let iteration = 0; iteration < 5000; iteration++) {
    const bytes = mutate(bases[iteration % bases.length], random);
    const check = (error: unknown) => {
      if (!(error instanceof SwallowError)) {
        assert.fail(`iteration ${iteration}: ${String(error)} escaped for bytes ${Buffer.from(bytes.subarray(0, 200)).toString("hex")}`);
      }
      assert.ok(!/[\r\n]/.test(error.message), error.message);
      assert.ok(error.message.includes("fuzz.safetensors"), error.message);
      rejected++;
    };
    try {
      const file =
        iteration % 10 === 0
          ? await readSafetensorsIndex(new MemoryByteSource("fuzz.safetensors", bytes))
          : parseSafetensors(bytes, "fuzz.safetensors");
      for (const entry of file.tensors.values()) {
        assert.ok(
          entry.dataStartBytes >= file.dataOffsetBytes && entry.dataStartBytes + entry.byteLength <= bytes.length,
          `iteration ${iteration}: ${entry.name} out of bounds`,
        );
      }
      accepted++;
    } catch (error) {
      check(error);
    }
  }
  assert.ok(rejected > 2000 && accepted > 50, `accepted ${accepted}, rejected ${rejected}: the mutator should exercise both paths`);
  assert.ok(Date.now() - started < 5000, `fuzz took ${Date.now() - started} ms`);
});
