import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

import {
  clampChunkIndex,
  clampMatrixOffset,
  bf16FitsF16,
  bf16PairOutOfRange,
  defaultLayout,
  f32FitsF16,
  layoutForShape,
  layoutVariant,
  MIN_TENSOR_WORKGROUPS,
  WAVE_WORKGROUPS,
  tensorSplits,
  pickF16Config,
  roundToF16,
  tensorIneligibility,
  tensorScratchBytes,
  tensorWorkgroups,
  TENSOR_TILE_CLASSES,
  TENSOR_VARIANTS,
  unclampedVariant,
  type SubgroupMatrixConfig,
  type TensorCoreSetup,
  type TensorLayout,
} from "./plan.js";

// dist-*/src/gpu/webgpu/kernels/tensor/ (or src/…) -> repository root.
const here = path.dirname(fileURLToPath(import.meta.url));
const depth = /[\\/]dist[^\\/]*[\\/]/.test(here) ? "../../../../../.." : "../../../../..";
const vectors = JSON.parse(readFileSync(path.join(here, depth, "fixtures/gpu/f16-conversion.json"), "utf8")) as {
  f32: number[];
  f16: (number | null)[];
  bf16Bits: number[];
  bf16FitsF16: boolean[];
};

/** The configurations Dawn reported on the H100 (shared/specs/webgpu.md), in its order. */
const H100_CONFIGS: SubgroupMatrixConfig[] = [
  { componentType: "f16", resultComponentType: "f16", M: 16, N: 16, K: 16 },
  { componentType: "f16", resultComponentType: "f16", M: 16, N: 8, K: 16 },
  { componentType: "f16", resultComponentType: "f32", M: 16, N: 8, K: 8 },
  { componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 },
  { componentType: "f16", resultComponentType: "f32", M: 16, N: 8, K: 16 },
  { componentType: "u8", resultComponentType: "u32", M: 16, N: 16, K: 32 },
];
const H100: TensorCoreSetup = { config: H100_CONFIGS[3], subgroupSize: 32, maxWorkgroupBytes: 49152, maxInvocations: 1024 };
const variant = (name: string) => TENSOR_VARIANTS.find((v) => v.name === name)!;

test("roundToF16 matches numpy's float32 → float16 cast (ties to even, subnormals, overflow)", () => {
  assert.ok(vectors.f32.length > 400);
  vectors.f32.forEach((value, i) => {
    const expected = vectors.f16[i] ?? Math.sign(value) * Infinity;
    assert.equal(roundToF16(Math.fround(value)), expected, `f16(${value})`);
  });
});

test("f32FitsF16 never admits a value numpy turns into inf, and admits every value up to 65504", () => {
  let admitted = 0;
  vectors.f32.forEach((value, i) => {
    const finite = vectors.f16[i] !== null;
    if (f32FitsF16(value)) {
      admitted++;
      assert.ok(finite, `${value} was admitted but overflows f16`);
    }
    if (Math.abs(value) <= 65504) assert.ok(f32FitsF16(value), `${value} fits f16 but was refused`);
  });
  assert.ok(admitted > 300 && admitted < vectors.f32.length, "the vectors must hold values on both sides of the limit");
});

test("bf16FitsF16 agrees with numpy on which bf16 values convert to a finite f16", () => {
  vectors.bf16Bits.forEach((bits, i) => {
    assert.equal(bf16FitsF16(bits), vectors.bf16FitsF16[i], `bf16 0x${bits.toString(16)}`);
  });
  assert.ok(vectors.bf16FitsF16.includes(true) && vectors.bf16FitsF16.includes(false));
});

test("bf16PairOutOfRange (the GEMM's pair-wise check) flags a word exactly when either bf16 half does not fit f16", () => {
  // Every bf16 pattern beside an in-range value, an out-of-range one and itself, in both halves.
  const partners = [0x0000, 0x3f80, 0x8001, 0x477f, 0x4780, 0xff80, 0x7fc0];
  for (let bits = 0; bits < 0x10000; bits++) {
    for (const other of [...partners, bits]) {
      const expected = !bf16FitsF16(bits) || !bf16FitsF16(other);
      assert.equal(bf16PairOutOfRange((bits | (other << 16)) >>> 0), expected, `low 0x${bits.toString(16)}, high 0x${other.toString(16)}`);
      assert.equal(bf16PairOutOfRange((other | (bits << 16)) >>> 0), expected, `low 0x${other.toString(16)}, high 0x${bits.toString(16)}`);
    }
  }
});

test("pickF16Config takes f16 → f32 (never f16 accumulation), preferring 16×16×16", () => {
  assert.deepEqual(pickF16Config(H100_CONFIGS), H100_CONFIGS[3]);
  assert.deepEqual(pickF16Config(H100_CONFIGS.filter((c) => !(c.N === 16 && c.resultComponentType === "f32"))), H100_CONFIGS[4]);
  assert.equal(pickF16Config(H100_CONFIGS.filter((c) => c.resultComponentType !== "f32")), null);
  assert.equal(pickF16Config([]), null);
});

test("layoutVariant sizes tiles, threads and workgroup memory, and refuses what the device cannot hold", () => {
  const layout = layoutVariant(variant("128x128-sg2x2-db"), H100);
  assert.ok(typeof layout !== "string");
  // 2×2 subgroups of 4×4 16×16 matrices: a 128×128 tile, 128 threads; two buffers of (128 + 128) rows × 40 halves
  // and three words (overflow flag, its copy, the fence word).
  assert.equal(layout.bm, 128);
  assert.equal(layout.bn, 128);
  assert.equal(layout.threads, 128);
  assert.equal(layout.workgroupBytes, 2 * 256 * 40 * 2 + 32);
  assert.equal(layout.xChunksPerThread, (128 * 32) / 4 / 128);
  assert.equal(layout.wChunksPerThread, (128 * 32) / 8 / 128);
  // x pre-converted to f16: 8 halves per staged x chunk; xDirect stages no x at all (W only).
  const x16 = layoutVariant(variant("128x128-sg2x2-db-x16"), H100);
  assert.ok(typeof x16 !== "string" && x16.xChunksPerThread === (128 * 32) / 8 / 128);
  const direct = layoutVariant(variant("128x128-sg2x2-k64-db-xd"), H100);
  assert.ok(typeof direct !== "string" && direct.xChunksPerThread === 0);
  assert.equal(direct.workgroupBytes, 2 * 128 * 72 * 2 + 32);
  // One buffer with register prefetch: half the staging of two.
  const prefetched = layoutVariant(variant("128x256-sg2x4-rb-x16"), H100);
  assert.ok(typeof prefetched !== "string" && prefetched.threads === 256 && prefetched.bn === 256);
  assert.equal(prefetched.workgroupBytes, (128 + 256) * 40 * 2 + 32);
  const small = { ...H100, maxWorkgroupBytes: 32768 };
  assert.match(String(layoutVariant(TENSOR_VARIANTS[0], { ...H100, maxWorkgroupBytes: 16384 })), /exceed the device's 16384/);
  assert.match(String(layoutVariant({ ...TENSOR_VARIANTS[0], bk: 12 }, H100)), /not a multiple of 8/);
  assert.match(String(layoutVariant(TENSOR_VARIANTS[0], { ...H100, maxInvocations: 64 })), /threads exceed/);
  // A 16×8×16 configuration halves the tile's width.
  const narrow = layoutVariant(TENSOR_VARIANTS[0], { ...H100, config: H100_CONFIGS[4] });
  assert.ok(typeof narrow !== "string" && narrow.bn === 128 && narrow.bm === 128);
  // With 32 KiB of workgroup memory (lavapipe's limit) some variant still fits.
  assert.ok(defaultLayout(small) !== null);
  for (const variant of TENSOR_VARIANTS) {
    const fitted = layoutVariant(variant, H100);
    if (typeof fitted !== "string") assert.ok(fitted.workgroupBytes <= H100.maxWorkgroupBytes, variant.name);
  }
});

test("the default layout is the lab's fastest correct variant where it fits, and smaller devices fall back", () => {
  assert.equal(defaultLayout(H100)?.variant.name, "128x256-sg2x4-rb-x16");
  for (const limit of [32768, 16384, 8192]) {
    const fallback = defaultLayout({ ...H100, maxWorkgroupBytes: limit });
    assert.ok(fallback === null || fallback.workgroupBytes <= limit, `limit ${limit}`);
  }
  // 16 KiB: the 64×128 tile with one buffer and register prefetch (15,372 bytes); 8 KiB: nothing.
  assert.equal(defaultLayout({ ...H100, maxWorkgroupBytes: 16384 })?.variant.name, "64x128-sg2x2-rb-x16");
  assert.equal(defaultLayout({ ...H100, maxWorkgroupBytes: 8192 }), null);
});

test("tensorWorkgroups covers ragged outputs with whole tiles; eligibility needs bf16/f16 and K % 8 == 0", () => {
  const layout = layoutVariant(TENSOR_VARIANTS[0], H100);
  assert.ok(typeof layout !== "string");
  assert.equal(tensorWorkgroups(layout, 2048, 4096), 16 * 16);
  assert.equal(tensorWorkgroups(layout, 2049, 4097), 17 * 17);
  assert.equal(tensorWorkgroups(layout, 1, 1), 1);
  assert.equal(tensorIneligibility("bf16", 4096), null);
  assert.equal(tensorIneligibility("f16", 8), null);
  assert.match(String(tensorIneligibility("f32", 4096)), /f32/);
  assert.match(String(tensorIneligibility("bf16", 4100)), /multiple of 8/);
  // Result matrices are stored whole, so N must be a multiple of the matrix width.
  assert.equal(tensorIneligibility("bf16", 4096, layout, 4096), null);
  assert.match(String(tensorIneligibility("bf16", 4096, layout, 4100)), /N = 4100 is not a multiple of 16/);
});

test("layoutForShape takes the largest tile class that makes enough workgroups with split-K", () => {
  // A list without skinny classes (the robust classes of sessions 4–15), largest first.
  const layouts = ["128x256-sg2x4-rb-x16", "128x128-sg2x2-db-x16", "64x128-sg2x2-db-x16"]
    .map((name) => layoutVariant(variant(name), H100))
    .filter((l): l is TensorLayout => typeof l !== "string");
  assert.deepEqual(
    layouts.map((l) => [l.bm, l.bn]),
    [
      [128, 256],
      [128, 128],
      [64, 128],
    ],
  );
  const pick = (tokens: number, n: number, k: number) => layoutForShape(layouts, tokens, n, k).variant.name;
  assert.equal(MIN_TENSOR_WORKGROUPS, 128);
  // 2048 tokens: 16 × 16 tiles of 128×256 for N = 4096.
  assert.equal(pick(2048, 4096, 4096), "128x256-sg2x4-rb-x16");
  // 128 tokens, N = 4096: 16 tiles × 8 splits (128 K slices) = 128 workgroups.
  assert.equal(pick(128, 4096, 4096), "128x256-sg2x4-rb-x16");
  assert.equal(pick(128, 4096, 14336), "128x256-sg2x4-rb-x16");
  // N = 1024: 4 × 8 and 8 × 8 are too few; 64×128 makes 16 × 8.
  assert.equal(pick(128, 1024, 4096), "64x128-sg2x2-db-x16");
  // K too short to split (8 slices): 128 tokens × N = 4096 need tiles alone → 64×128 (64), the smallest.
  assert.equal(pick(128, 4096, 256), "64x128-sg2x2-db-x16");
  // 256 tokens, N = 4096, K = 256: 2 × 16 = 32 big tiles, 2 × 32 = 64, 4 × 32 = 128 → 64×128.
  assert.equal(pick(256, 4096, 256), "64x128-sg2x2-db-x16");
  assert.equal(pick(512, 4096, 256), "128x128-sg2x2-db-x16");
  assert.throws(() => layoutForShape([], 1, 16, 16), /no tensor-core layout/);
});

test("tensorSplits splits K only when the output has too few tiles, keeping 16+ slices per split", () => {
  const big = layoutVariant(variant("128x256-sg2x4-rb-x16"), H100);
  const small = layoutVariant(variant("64x128-sg2x2-db-x16"), H100);
  assert.ok(typeof big !== "string" && typeof small !== "string");
  assert.equal(WAVE_WORKGROUPS, 264);
  assert.equal(tensorSplits(big, 2048, 4096, 4096), 1); // 256 tiles already
  assert.equal(tensorSplits(small, 128, 4096, 4096), 4); // 64 tiles → 4 splits of 32 slices, one wave
  assert.equal(tensorSplits(small, 128, 4096, 14336), 4);
  assert.equal(tensorSplits(small, 64, 1024, 14336), 8); // 8 tiles: capped at 8 splits
  assert.equal(tensorSplits(small, 64, 1024, 1024), 2); // 32 slices: two splits of 16
  assert.equal(tensorSplits(small, 64, 1024, 256), 1); // 8 slices: no split
});

test("tensorSplits by waves: the fastest split count of the H200 lab sweep (or within its spread) for 8B products", () => {
  const tile = layoutVariant(variant("128x128-sg2x2-rb-uf-pc-x16"), H100);
  assert.ok(typeof tile !== "string");
  // bench/NOTES.md, session 21 (ms, the old rule's count → this one's): at 128 rows gate·up 0.213 → 0.190 and
  // q/k/v 0.075 → 0.062–0.079; at 256 rows q/k/v 0.131–0.138 → 0.108.
  assert.equal(tensorSplits(tile, 128, 28672, 4096), 1); // 224 tiles: two splits would need a second wave
  assert.equal(tensorSplits(tile, 128, 6144, 4096), 5); // 48 tiles: 240 workgroups, one wave (6 would spill over)
  assert.equal(tensorSplits(tile, 128, 4096, 4096), 8); // 32 tiles × 8 = 256: one wave
  assert.equal(tensorSplits(tile, 128, 4096, 14336), 8);
  assert.equal(tensorSplits(tile, 256, 6144, 4096), 2); // 96 tiles: 192 workgroups (three would need two waves)
  assert.equal(tensorSplits(tile, 256, 4096, 4096), 4);
  assert.equal(tensorSplits(tile, 256, 4096, 14336), 4);
  assert.equal(tensorSplits(tile, 256, 28672, 4096), 1);
  assert.equal(tensorSplits(tile, 2048, 6144, 4096), 1);
  // The skinny classes by the same rule: 32 tiles of 16×128 → 8 splits (one wave); gate·up's 224 tiles unsplit (two
  // splits measured slower on the 16-, 32- and 64-row tiles).
  const skinny = layoutVariant(variant("16x128-sg1x4-k64-rb2-x16"), H100);
  assert.ok(typeof skinny !== "string");
  assert.equal(tensorSplits(skinny, 16, 4096, 4096), 8);
  assert.equal(tensorSplits(skinny, 16, 28672, 4096), 1);
});

test("without robustness every tile class stages rows of its K slice + 8 halves (16-byte aligned, as with robustness)", () => {
  for (const name of TENSOR_TILE_CLASSES) {
    const variant = TENSOR_VARIANTS.find((v) => v.name === name)!;
    assert.ok(variant, `${name} is a variant`);
    const layout = layoutVariant(unclampedVariant(variant), H100);
    assert.ok(typeof layout !== "string", `${name}: ${layout}`);
    assert.equal(layout.stride, variant.bk + 8, name);
    assert.equal((layout.stride * 2) % 16, 0, name);
    // Two workgroups per SM: the H100 fits one above ~24 KB of workgroup memory (docs/design.md).
    assert.ok(layout.workgroupBytes <= 24 * 1024, `${name}: ${layout.workgroupBytes} bytes`);
    assert.equal(layout.variant.name, `${name}-p8`);
  }
});

test("layoutForShape without robustness: skinny tiles for batches that fit one row tile, 128×128 above 64 rows", () => {
  const layouts = TENSOR_TILE_CLASSES.map((name) => layoutVariant(unclampedVariant(variant(name)), H100) as TensorLayout);
  const pick = (tokens: number, n: number, k: number) => layoutForShape(layouts, tokens, n, k).variant.name;
  assert.equal(pick(8, 4096, 4096), "16x128-sg1x4-k64-rb2-x16-p8");
  assert.equal(pick(16, 28672, 4096), "16x128-sg1x4-k64-rb2-x16-p8");
  assert.equal(pick(17, 4096, 14336), "32x128-sg1x4-k64-rb-x16-p8");
  assert.equal(pick(32, 6144, 4096), "32x128-sg1x4-k64-rb-x16-p8");
  assert.equal(pick(33, 4096, 4096), "64x128-sg1x4-k32-rb-uf-pc-x16-p8");
  assert.equal(pick(64, 4096, 4096), "64x128-sg1x4-k32-rb-uf-pc-x16-p8");
  assert.equal(pick(65, 4096, 4096), "128x128-sg2x2-rb-uf-pc-x16-p8");
  assert.equal(pick(2048, 28672, 4096), "128x128-sg2x2-rb-uf-pc-x16-p8");
  // N = 1024 at 128 rows: 8 tiles × 8 splits of 128×128 are too few, 16 × 8 of 64×128 are enough.
  assert.equal(pick(128, 1024, 4096), "64x128-sg2x2-rb-x16-p8");
  // A skinny layout alone (SWALLOW_TENSOR_VARIANT) takes every batch.
  assert.equal(layoutForShape(layouts.slice(2, 3), 2048, 4096, 4096).variant.name, "16x128-sg1x4-k64-rb2-x16-p8");
});

test("tensorScratchBytes: the f16 copy of x and its row flags, plus whole row tiles or split-K partial sums beyond the output", () => {
  const layout = layoutVariant(variant("128x256-sg2x4-rb-x16"), H100) as TensorLayout;
  // 2048 × 4096 · 4096²: 16 × 16 = 256 tiles, no split, no padding rows: only x as f16 (2 bytes) and a flag per row.
  assert.equal(tensorScratchBytes(layout, 2048, 4096, 4096), 2048 * 4096 * 2 + 2048 * 4);
  // 100 tokens: one 128-row tile × 16 columns of tiles, so K splits 8 ways (128 slices of 32, at least 16 each):
  // 8 partial sums of 128 rows, and x's copy.
  assert.equal(tensorScratchBytes(layout, 100, 4096, 4096), 8 * 128 * 4096 * 4 + 100 * 4096 * 2 + 100 * 4);
  // The direct-load variant pads its copy of x to whole tiles (rows to 128, K to 64).
  const direct = layoutVariant(variant("128x128-sg2x2-k64-db-xd"), H100) as TensorLayout;
  assert.equal(tensorScratchBytes(direct, 2000, 4096, 4104), 2048 * 4160 * 2 + 2048 * 4 + 48 * 4096 * 4);
});

test("clampMatrixOffset: the last offset whose whole matrix fits is what Tint's robustness predicate allows", () => {
  // 16 rows of 16 halves, rows 40 apart, in a 5,120-half array: the last row starts at offset + 600 and ends 16 later.
  assert.equal(clampMatrixOffset("o", 5120, 40, 16, 16), "min(o, 4504u)");
  assert.ok(4504 + 40 * 15 + 16 <= 5120 && 4505 + 40 * 15 + 16 > 5120);
  assert.throws(() => clampMatrixOffset("o", 100, 40, 16, 16), /does not fit 100 elements/);
});

test("clampChunkIndex: whole chunks where rows keep them aligned (every aligned index unchanged), else a plain min", () => {
  // 128 rows of 40 halves, chunks of 8: the last chunk starts at 5,112.
  assert.equal(clampChunkIndex("i", 5120, 40, 8), "min((i) / 8u, 639u) * 8u");
  for (let row = 0; row < 128; row++) {
    for (let k = 0; k < 32; k += 8) {
      const i = row * 40 + k;
      assert.equal(Math.min(Math.floor(i / 8), 639) * 8, i);
    }
  }
  // Rows 44 halves apart leave chunks of 8 unaligned: the bound is the last index a whole chunk can start at.
  assert.equal(clampChunkIndex("i", 5632, 44, 8), "min(i, 5624u)");
  assert.throws(() => clampChunkIndex("i", 4, 4, 8), /does not fit 4 elements/);
});
