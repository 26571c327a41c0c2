import test, { after } from "node:test";
import assert from "node:assert/strict";
import type { HostTensor } from "../src/gpu/backend.js";
import * as ops from "../src/gpu/reference/ops.js";
import { toF32 } from "../src/model/dtype.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { layoutForShape, TENSOR_MIN_TOKENS } from "../src/gpu/webgpu/kernels/tensor/plan.js";
import { openTestBackend } from "./support/webgpu.js";
import { matrix, random, randomTensor, relativeError } from "./support/random-tensors.js";

/**
 * The tensor-core (subgroup-matrix) matmul against the reference ops on fresh random inputs: ragged shapes
 * (T and N not multiples of the tile, K not a multiple of the K slice; N is a multiple of the 16-wide result
 * matrix, which the path requires), bf16 and f16 weights, ‖out − ref‖/‖ref‖
 * ≤ 2e-3 (f16 operands); values f16 cannot hold must take the exact path (≤ 1e-5). Needs an adapter with an
 * f16→f32 subgroup-matrix configuration (an NVIDIA GPU through Dawn with allow_unsafe_apis): lavapipe has
 * none, so these are skipped there; the host-side planning is tested in src/gpu/webgpu/kernels/tensor/.
 */

const { backend: maybeBackend, skip: noAdapter } = await openTestBackend();
const gpu = maybeBackend as WebGpuBackend;
after(() => maybeBackend?.dispose());
const skip = noAdapter || (gpu.tensorLayout ? false : `${gpu.gpu.adapter.name} has no f16→f32 subgroup-matrix configuration`);

async function tensorMatmul(x: Float32Array, tokens: number, w: HostTensor): Promise<Float32Array> {
  const weight = await gpu.uploadWeight("w", w);
  gpu.matmulPath = "tensor";
  try {
    return await gpu.read(gpu.matmul(gpu.uploadActivation(tokens, w.shape[1], x), weight));
  } finally {
    gpu.matmulPath = "auto";
  }
}

/** x · weightᵀ with the given matmul path and batch invariance, both restored to their defaults afterwards. */
async function matmulWith(
  path: "auto" | "gemv" | "tensor",
  batchInvariant: boolean,
  x: Float32Array,
  tokens: number,
  weight: Awaited<ReturnType<WebGpuBackend["uploadWeight"]>>,
): Promise<Float32Array> {
  gpu.matmulPath = path;
  gpu.batchInvariant = batchInvariant;
  try {
    return await gpu.read(gpu.matmul(gpu.uploadActivation(tokens, weight.shape[1], x), weight));
  } finally {
    gpu.matmulPath = "auto";
    gpu.batchInvariant = true;
  }
}

test("tensor-core matmul matches the reference within f16-operand error (ragged shapes, bf16 and f16)", { skip }, async (t) => {
  let seed = 7000;
  for (const dtype of ["bf16", "f16"] as const) {
    for (const [tokens, k, n] of [
      [1, 64, 304],
      [3, 72, 112],
      [7, 264, 96],
      [17, 136, 208],
      [130, 520, 128],
      [64, 1024, 256],
      [200, 72, 48],
    ]) {
      const x = random(seed++).values(tokens * k, 2);
      const w = randomTensor(dtype, [n, k], seed++, 0.1);
      const error = relativeError(await tensorMatmul(x, tokens, w), ops.matmulTransposed(x, tokens, matrix(w)));
      t.diagnostic(`tensor ${dtype} [${tokens}, ${k}]·[${n}, ${k}]ᵀ: relative error ${error.toExponential(2)}`);
      assert.ok(error <= 2e-3, `relative error ${error} above 2e-3`);
      // f16 rounding of x must show: an exact result here would mean the f32 fallback ran everywhere.
      assert.ok(error > 1e-6, `relative error ${error}: the tensor path did not run`);
    }
  }
});

test("values beyond f16's range take the exact path instead of overflowing", { skip }, async (t) => {
  const [tokens, k, n] = [70, 256, 160];
  const x = random(8000).values(tokens * k);
  x[5 * k + 3] = 1.5e5; // an activation f16 cannot hold
  const w = randomTensor("bf16", [n, k], 8001, 0.1);
  const ref = ops.matmulTransposed(x, tokens, matrix(w));
  const error = relativeError(await tensorMatmul(x, tokens, w), ref);
  t.diagnostic(`x beyond f16: relative error ${error.toExponential(2)}`);
  assert.ok(error <= 1e-5, `relative error ${error}: a value beyond f16's range was not handled exactly`);

  // Every tile class with bf16 weights f16 cannot hold, in a low and a high half: the 128×128 class and the 16-, 32-
  // and 64-row skinny classes (pairConvert) check a weight pair's bits over the K loop, the others each staged chunk.
  const covered = new Set<string>();
  for (const [rows, wk, wn] of [
    [tokens, k, n],
    [12, k, n],
    [30, k, n],
    [60, k, n],
    [256, 1024, 4096], // 2 × 32 tiles of 128×128, 2 splits of K
  ]) {
    covered.add(layoutForShape(gpu.tensorLayouts, rows, wn, wk).variant.name);
    const big = randomTensor("bf16", [wn, wk], 8002 + rows, 0.1);
    const halves = new Uint16Array(big.bytes.buffer);
    halves[7 * wk + 9] = 0x4800; // 131072 in bf16 (the high half of its 32-bit word): no f16 holds it
    halves[150 * wk + 200] = 0xc780; // -65536 (a low half)
    const x2 = random(8003 + rows).values(rows * wk);
    const [out, ref] = [await tensorMatmul(x2, rows, big), ops.matmulTransposed(x2, rows, matrix(big))];
    // Output columns 7 and 150 (those weights' rows) come from tiles that saw them: the exact path. Tiles that saw
    // none (at 4,096 columns, most of them) keep f16 operands, and so do the K splits that did not (256 rows: the
    // other half of K, 1.3e-5 on the H100). Either weight lost to a clamp or an infinity would show as ≥ 1e-1.
    const [exact, all] = [relativeError(columns(out, wn, [7, 150]), columns(ref, wn, [7, 150])), relativeError(out, ref)];
    t.diagnostic(
      `${rows} rows, bf16 weights beyond f16: relative error ${exact.toExponential(2)} in their columns, ${all.toExponential(2)} in all`,
    );
    assert.ok(exact <= 1e-4, `${rows} rows: relative error ${exact}: a bf16 weight beyond f16's range was not handled exactly`);
    assert.ok(all <= 2e-3, `${rows} rows: relative error ${all} above 2e-3`);
  }
  assert.deepEqual([...covered].sort(), gpu.tensorLayouts.map((layout) => layout.variant.name).sort(), "every tile class was tried");
});

/** The given columns of a row-major [rows, cols] matrix, row by row. */
function columns(m: Float32Array, cols: number, picked: number[]): Float32Array {
  const rows = m.length / cols;
  return Float32Array.from({ length: rows * picked.length }, (_, i) => m[Math.floor(i / picked.length) * cols + picked[i % picked.length]]);
}

test("batchInvariant (default) keeps GEMV for long batches; off, long batches take the tensor path", { skip }, async () => {
  const [tokens, k, n] = [TENSOR_MIN_TOKENS + 32, 256, 64];
  const x = random(9000).values(tokens * k);
  const weight = await gpu.uploadWeight("w", randomTensor("bf16", [n, k], 9001, 0.1));
  const run = (path: "auto" | "gemv" | "tensor", batchInvariant: boolean) => matmulWith(path, batchInvariant, x, tokens, weight);
  assert.equal(gpu.batchInvariant, true, "the default must stay batch-invariant");
  assert.deepEqual(await run("auto", true), await run("gemv", true));
  assert.deepEqual(await run("auto", false), await run("tensor", true));
  // The warm-up's kernel classes follow the same choice: GEMV below TENSOR_MIN_TOKENS, then a tile and split-K count.
  gpu.batchInvariant = false;
  try {
    assert.match(gpu.kernelClass(TENSOR_MIN_TOKENS - 1, [[4096, 4096]]), /^gemv\dr\d$/);
    assert.match(gpu.kernelClass(TENSOR_MIN_TOKENS, [[4096, 4096]]), /^\d+x\d+-sg\dx\d-[\w-]+\/\d$/);
  } finally {
    gpu.batchInvariant = true;
  }
});

test("an output width that is not a multiple of the result matrix keeps the GEMV", { skip }, async () => {
  const [tokens, k, n] = [TENSOR_MIN_TOKENS + 8, 128, 40];
  const x = random(9100).values(tokens * k);
  const weight = await gpu.uploadWeight("w", randomTensor("bf16", [n, k], 9101, 0.1));
  const run = (path: "auto" | "gemv", batchInvariant: boolean) => matmulWith(path, batchInvariant, x, tokens, weight);
  assert.deepEqual(await run("auto", false), await run("gemv", true));
});

test("split-K (few output tiles, long K) sums its partials in the reduce pass, which also adds the residual", { skip }, async (t) => {
  const [tokens, k, n] = [70, 2048, 64]; // 2 tiles of 64×128 → 4 splits of 16 slices (tensorSplits)
  const x = random(9200).values(tokens * k);
  const residual = random(9201).values(tokens * n);
  const w = randomTensor("bf16", [n, k], 9202, 0.1);
  const weight = await gpu.uploadWeight("w", w);
  const expected = ops.matmulTransposed(x, tokens, matrix(w)).map((v, i) => v + residual[i]);
  gpu.matmulPath = "tensor";
  try {
    const out = await gpu.read(gpu.matmul(gpu.uploadActivation(tokens, k, x), weight, gpu.uploadActivation(tokens, n, residual)));
    const error = relativeError(out, expected);
    t.diagnostic(`split-K with residual: relative error ${error.toExponential(2)}`);
    assert.ok(error <= 2e-3 && error > 1e-7, `relative error ${error}`);
    // A value beyond f16 sends its tile to the exact path: split 0 holds the whole sum, the others zeros.
    const big = Float32Array.from(x);
    big[3 * k + 5] = 1.5e5;
    const exact = ops.matmulTransposed(big, tokens, matrix(w));
    const exactError = relativeError(await gpu.read(gpu.matmul(gpu.uploadActivation(tokens, k, big), weight)), exact);
    t.diagnostic(`split-K, x beyond f16: relative error ${exactError.toExponential(2)}`);
    assert.ok(exactError <= 1e-5, `relative error ${exactError}`);
  } finally {
    gpu.matmulPath = "auto";
  }
});

test("a residual starts the accumulators where its buffer holds whole 16-row matrices, else an add pass adds it", { skip }, async (t) => {
  const k = 256;
  const n = 256; // two 128-column tiles, 8 K slices: no split-K
  const w = randomTensor("bf16", [n, k], 9300, 0.1);
  const weight = await gpu.uploadWeight("w", w);
  gpu.matmulPath = "tensor";
  try {
    const product = (x: Float32Array, tokens: number, residual?: ReturnType<WebGpuBackend["uploadActivation"]>) =>
      gpu.matmul(gpu.uploadActivation(tokens, k, x), weight, residual);
    // The add pass rounds residual + product once in f32, as Math.fround does; the fused kernel accumulates from the
    // residual, so its bits differ somewhere. Which one ran shows in whether they match.
    const addedOnHost = (out: Float32Array, residual: Float32Array) => out.map((v, i) => Math.fround(v + residual[i]));
    for (const [tokens, fused] of [
      [96, true], // rows a multiple of 16: an uploaded residual holds whole matrices
      [70, false], // 70 rows in a 70-row buffer: the add pass
    ] as const) {
      const x = random(9301 + tokens).values(tokens * k);
      const residual = random(9401 + tokens).values(tokens * n);
      const out = await gpu.read(product(x, tokens, gpu.uploadActivation(tokens, n, residual)));
      const expected = ops.matmulTransposed(x, tokens, matrix(w)).map((v, i) => v + residual[i]);
      const error = relativeError(out, expected);
      t.diagnostic(`${tokens} rows, residual ${fused ? "fused" : "added"}: relative error ${error.toExponential(2)}`);
      assert.ok(error <= 2e-3 && error > 1e-7, `relative error ${error}`);
      const separate = addedOnHost(await gpu.read(product(x, tokens)), residual);
      assert.equal(
        out.every((v, i) => v === separate[i]),
        !fused,
        fused ? "the residual was not fused" : "the add pass did not run",
      );
    }
    // A tensor output has whole row tiles: as the residual of 70 rows it is fused, also on the exact path.
    const tokens = 70;
    const x1 = random(9501).values(tokens * k);
    const x2 = random(9502).values(tokens * k);
    x2[4 * k + 7] = 1.5e5; // beyond f16: its row tile takes the exact path, which adds the residual too
    const first = await gpu.read(product(x1, tokens)); // the residual's values (the same kernel on the same input)
    const expected = ops.matmulTransposed(x2, tokens, matrix(w)).map((v, i) => v + first[i]);
    const out = await gpu.read(product(x2, tokens, product(x1, tokens)));
    const error = relativeError(out, expected);
    const exactError = relativeError(out.subarray(0, 16 * n), expected.subarray(0, 16 * n)); // row 4's tile: f32 all along
    t.diagnostic(
      `a tensor output as the residual, x beyond f16: relative error ${error.toExponential(2)}, exact rows ${exactError.toExponential(2)}`,
    );
    assert.ok(error <= 2e-3, `relative error ${error}`);
    assert.ok(exactError <= 1e-5, `the exact rows' relative error ${exactError}`);
  } finally {
    gpu.matmulPath = "auto";
  }
});

test(
  "a backend created for tensor cores probes Dawn's matrix syntax, and its kernels stay within f16-operand error",
  { skip },
  async (t) => {
    const fast = await WebGpuBackend.create({ batchInvariant: false });
    try {
      t.diagnostic(`matrix load/store syntax on ${fast.gpu.adapter.name}: ${fast.tensorLayout?.majorness}`);
      assert.ok(fast.tensorLayouts.every((layout) => layout.majorness === fast.tensorLayout?.majorness));
      // Long batches run on tensor cores: the engine's forward passes default to 2,048 tokens (batch-invariant: 512).
      assert.equal(fast.preferredBatchTokens, 2048);
      assert.equal(gpu.preferredBatchTokens, undefined);
      let seed = 9300;
      for (const [tokens, k, n] of [
        [130, 520, 304],
        [70, 2048, 64], // split-K
      ]) {
        const x = random(seed++).values(tokens * k);
        const w = randomTensor("bf16", [n, k], seed++, 0.1);
        const weight = await fast.uploadWeight("w", w);
        fast.matmulPath = "tensor";
        const out = await fast.read(fast.matmul(fast.uploadActivation(tokens, k, x), weight));
        const error = relativeError(out, ops.matmulTransposed(x, tokens, matrix(w)));
        t.diagnostic(`[${tokens}, ${k}]·[${n}, ${k}]ᵀ: relative error ${error.toExponential(2)}`);
        assert.ok(error <= 2e-3 && error > 1e-6, `relative error ${error}`);
      }
      // With Dawn's current syntax the tensor kernels compile without the deprecation warnings it prints on stdout.
      const { kernels, warnings } = await fast.compileWarnings();
      t.diagnostic(`${kernels} kernels compiled, ${warnings.length} warnings`);
      if (fast.tensorLayout?.majorness === "template") assert.deepEqual(warnings, []);
    } finally {
      fast.dispose();
    }
  },
);

test("several weights of one input in one tensor-core dispatch (parts): each output as its own product", { skip }, async (t) => {
  let seed = 9400;
  const mergeDefault = gpu.mergeTensorProducts;
  gpu.matmulPath = "tensor";
  try {
    for (const [tokens, k, ns] of [
      [130, 520, [304, 64, 64]], // q/k/v-like, one K slice tail, no split-K
      [70, 2048, [128, 32, 32]], // few tiles: split-K, a reduce per output
      [90, 264, [208, 208]], // gate/up-like
    ] as const) {
      const x = random(seed++).values(tokens * k);
      const hosts = ns.map((n) => randomTensor("bf16", [n, k], seed++, 0.1));
      if (ns.length === 2) new Uint16Array(hosts[1].bytes.buffer)[5 * k + 7] = 0x4800; // 131072: part 1's tile takes the exact path
      const weights = await Promise.all(hosts.map((w, i) => gpu.uploadWeight(`w${i}`, w)));
      const readAll = async (merge: boolean) => {
        gpu.mergeTensorProducts = merge;
        // One read of the outputs side by side (a step's outputs outlive it by one step only), split on the host.
        const all = await gpu.read(gpu.concatColumns(gpu.matmulMany(gpu.uploadActivation(tokens, k, x), weights)));
        const width = ns.reduce((a, b) => a + b, 0);
        return ns.map((n, i) => {
          const first = ns.slice(0, i).reduce((a, b) => a + b, 0);
          return Float32Array.from({ length: tokens * n }, (_, e) => all[Math.floor(e / n) * width + first + (e % n)]);
        });
      };
      const merged = await readAll(true);
      const separate = await readAll(false);
      for (let i = 0; i < ns.length; i++) {
        const ref = ops.matmulTransposed(x, tokens, matrix(hosts[i]));
        const error = relativeError(merged[i], ref);
        t.diagnostic(`[${tokens}, ${k}]·[${ns.join(" | ")}, ${k}]ᵀ part ${i}: relative error ${error.toExponential(2)}`);
        // The patched part's norm is its exact column's (131072 · x): f16 there would be inf, a lost tile zeros.
        const patched = ns.length === 2 && i === 1;
        assert.ok(patched ? error <= 1e-5 : error <= 2e-3 && error > 1e-6, `part ${i}: relative error ${error}`);
        // The same f16 operands and f32 sums: only a different split-K count may change the rounding.
        assert.ok(relativeError(merged[i], separate[i]) <= 1e-5, `part ${i} differs from its own product`);
      }
    }
  } finally {
    gpu.matmulPath = "auto";
    gpu.mergeTensorProducts = mergeDefault;
  }
});

test(
  "the RMSNorm and SwiGLU before tensor-core products write their f16 copy: no x → f16 pre-pass, the reference's outputs",
  { skip },
  async (t) => {
    const pendingKernels = () =>
      (gpu as unknown as { recorder: { dispatches: { pipeline: { key: string } }[] } }).recorder.dispatches.map((d) => d.pipeline.key);
    const [tokens, k, inner] = [40, 272, 208]; // every N a multiple of the 16-wide result matrix
    const x = random(9600).values(tokens * k);
    const normHost = randomTensor("bf16", [k], 9601);
    const hosts = [
      [304, k],
      [64, k],
      [64, k],
      [inner, k],
      [inner, k],
      [k, inner],
    ].map((shape, i) => randomTensor("bf16", shape, 9610 + i, 0.1));
    const [q, kw, v, gate, up, down] = await Promise.all(hosts.map((w, i) => gpu.uploadWeight(`w${i}`, w)));
    const norm = { weight: await gpu.uploadWeight("norm", normHost), eps: 1e-5 };
    const normValues = toF32(normHost.bytes, "bf16");
    const normed = ops.rmsNorm(x, tokens, k, normValues, norm.eps);
    // Within f16-operand error, and not exact (which would mean the tensor path did not run).
    const assertF16OperandError = (label: string, out: Float32Array, ref: Float32Array) => {
      const error = relativeError(out, ref);
      t.diagnostic(`${label}: relative error ${error.toExponential(2)}`);
      assert.ok(error <= 2e-3 && error > 1e-6, `${label}: relative error ${error}`);
    };
    gpu.matmulPath = "tensor";
    try {
      const qkv = gpu.concatColumns(gpu.matmulMany(gpu.uploadActivation(tokens, k, x), [q, kw, v], norm));
      const ffn = gpu.matmul(gpu.swiGlu(gpu.uploadActivation(tokens, k, x), gate, up, norm), down);
      const kernels = pendingKernels();
      assert.ok(
        kernels.some((key) => key.startsWith("rmsNorm/") && key.endsWith("/f16copy")),
        kernels.join(", "),
      );
      assert.ok(kernels.includes("siluMul/rows/f16copy"), kernels.join(", "));
      assert.ok(!kernels.includes("matmul.tensor.x16"), `no pre-pass: ${kernels.join(", ")}`);
      const [qkvOut, ffnOut] = [await gpu.read(qkv), await gpu.read(ffn)];
      // q | k | v side by side, as concatColumns lays them out.
      const parts = [0, 1, 2].map((i) => ({ n: hosts[i].shape[0], y: ops.matmulTransposed(normed, tokens, matrix(hosts[i])) }));
      const width = parts.reduce((sum, p) => sum + p.n, 0);
      const qkvRef = new Float32Array(tokens * width);
      for (let r = 0, first = 0; r < tokens; r++, first = 0) {
        for (const { n, y } of parts) {
          qkvRef.set(y.subarray(r * n, (r + 1) * n), r * width + first);
          first += n;
        }
      }
      const hidden = ops.siluMul(
        ops.matmulTransposed(normed, tokens, matrix(hosts[3])),
        ops.matmulTransposed(normed, tokens, matrix(hosts[4])),
      );
      const ffnRef = ops.matmulTransposed(hidden, tokens, matrix(hosts[5]));
      assertF16OperandError("norm → q/k/v", qkvOut, qkvRef);
      assertF16OperandError("norm → gate/up → SwiGLU → down", ffnOut, ffnRef);
      // h = residual + attention · Woᵀ with split-K (3 output tiles, K = 2,048): its reduce and the norm after it
      // run as one dispatch.
      const oHost = randomTensor("bf16", [k, 2048], 9620, 0.05);
      const [attention, residual] = [random(9621).values(tokens * 2048), random(9622).values(tokens * k)];
      const h = gpu.matmul(
        gpu.uploadActivation(tokens, 2048, attention),
        await gpu.uploadWeight("o", oHost),
        gpu.uploadActivation(tokens, k, residual),
      );
      const [g2] = gpu.matmulMany(h, [gate, up], norm);
      const afterO = pendingKernels();
      assert.ok(
        afterO.some((key) => /^rmsNorm\/.*\/sum\d+$/.test(key)),
        afterO.join(", "),
      );
      assert.ok(!afterO.some((key) => key.startsWith("matmul.tensor.reduce") && key.endsWith("/res")), afterO.join(", "));
      const hRef = ops.matmulTransposed(attention, tokens, matrix(oHost)).map((value, i) => value + residual[i]);
      const gRef = ops.matmulTransposed(ops.rmsNorm(hRef, tokens, k, normValues, norm.eps), tokens, matrix(hosts[3]));
      const [gOut, hOut] = [await gpu.read(g2), await gpu.read(h)];
      assertF16OperandError("o + residual (split-K)", hOut, hRef);
      assertF16OperandError("→ norm → gate", gOut, gRef);
    } finally {
      gpu.matmulPath = "auto";
    }
  },
);
