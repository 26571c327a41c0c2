/**
 * Kernel lab for the prefill matmul y[T, N] = x[T, K] · W[N, K]ᵀ: variants of the tensor-core
 * (subgroup-matrix) kernel beside the GEMV and tiled kernels, on Llama-3.1-8B shapes with bf16 weights.
 *
 *   node dist/bench/matmul-lab.js [--check] [--variants all|NAME,...] [--tokens 2048] [--sweep 16,32,...]
 *                                 [--baselines] [--no-robustness] [--shapes NxK,...] [--dtypes bf16,f16]
 *                                 [--majorness probe|template|argument] [--pads 4,12] [--warm-seconds 5]
 *
 * --warm-seconds S (default 5): the process's first timed product runs that long before anything is timed (the card
 * speeds up over seconds of work; bench/NOTES.md, session 20).
 * Timing: R dispatches in one compute pass with timestamp queries (recorder "pass" profile), so Dawn's
 * 65.5 µs timestamp quantum is spread over R. Every timed kernel is first checked: a sample of outputs
 * (8 rows × 64 columns plus the last row and column) against an f64 host reference on the same bf16
 * weights and f32 x, reporting ‖out − ref‖/‖ref‖ and max |out − ref| / max |ref| over the sample.
 * --check: correctness only, on small ragged shapes, f16 weights and values beyond f16's range (the exact
 * fallback), for every variant; exits 1 on a failure. Weights are a 16 M-entry random bf16 table laid
 * out cyclically (no GBs of JS random numbers); x is fresh random f32 in [-1, 1] (never zeros).
 */
import { openWebGpu, type WebGpuDevice } from "../src/gpu/webgpu/device.js";
import { BufferPool, BufferUsage, MAP_MODE_READ, storageBytes } from "../src/gpu/webgpu/buffers.js";
import { GpuWeight, type KernelContext } from "../src/gpu/webgpu/context.js";
import { matmul, type MatmulKernel } from "../src/gpu/webgpu/kernels/matmul.js";
import {
  layoutVariant,
  tensorIneligibility,
  TENSOR_VARIANTS,
  type MajornessSyntax,
  type TensorLayout,
} from "../src/gpu/webgpu/kernels/tensor/plan.js";
import { tensorCoreSetup } from "../src/gpu/webgpu/kernels/tensor/setup.js";
import { probeMajornessSyntax } from "../src/gpu/webgpu/kernels/tensor/majorness-probe.js";
import { PipelineCache } from "../src/gpu/webgpu/pipelines.js";
import { StepRecorder, type GpuActivation } from "../src/gpu/webgpu/recorder.js";
import type { WeightDtype } from "../src/model/dtype.js";
import { xorshift } from "./xorshift.js";
import { afterWarmup, warmProcessOnce } from "./warm.js";

const REAL_SHAPES: [number, number][] = [
  [4096, 4096],
  [14336, 4096],
  [4096, 14336],
  [128256, 4096],
];

function parseArgs(argv: string[]) {
  const opts = {
    check: false,
    variants: "all",
    tokens: 2048,
    sweep: [] as number[],
    baselines: false,
    noRobustness: false,
    shapes: REAL_SHAPES,
    dtypes: ["bf16"] as WeightDtype[],
    majorness: "probe" as MajornessSyntax | "probe",
    pads: [] as number[],
    warmSeconds: 5,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? "";
    if (a === "--check") opts.check = true;
    else if (a === "--variants") opts.variants = next();
    else if (a === "--tokens") opts.tokens = Number(next());
    else if (a === "--sweep") opts.sweep = next().split(",").map(Number);
    else if (a === "--baselines") opts.baselines = true;
    else if (a === "--no-robustness") opts.noRobustness = true;
    else if (a === "--dtypes") opts.dtypes = next().split(",") as WeightDtype[];
    else if (a === "--majorness") opts.majorness = next() as MajornessSyntax | "probe";
    else if (a === "--pads") opts.pads = next().split(",").map(Number);
    else if (a === "--warm-seconds") opts.warmSeconds = Number(next());
    else if (a === "--shapes")
      opts.shapes = next()
        .split(",")
        .map((s) => s.split("x").map(Number) as [number, number]);
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const TABLE = (() => {
  const length = (1 << 24) + 43; // not a divisor of any K·N here, so rows do not repeat
  const next = xorshift(0x2545f491);
  const bits = new Uint16Array(length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < length; i++) {
    f[0] = next() * 0.05;
    bits[i] = u[0] >>> 16;
  }
  return bits;
})();

const bf16ToF32 = (() => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return (bits: number) => {
    u[0] = bits << 16;
    return f[0];
  };
})();

/** A synthetic weight: element i of the [n, k] matrix is TABLE[(i + offset) % TABLE.length], or `override`. */
interface LabWeight {
  gpu: GpuWeight;
  n: number;
  k: number;
  dtype: WeightDtype;
  at(row: number, col: number): number;
}

function makeWeight(
  device: GPUDevice,
  n: number,
  k: number,
  dtype: WeightDtype,
  offset: number,
  patch?: (bits: Uint16Array) => void,
): LabWeight {
  const count = n * k;
  const size = storageBytes(count * 2);
  const buffer = device.createBuffer({
    size,
    usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
    mappedAtCreation: true,
    label: `w ${n}x${k}`,
  });
  const out = new Uint16Array(buffer.getMappedRange(), 0, count);
  // f16 weights hold the same values (the table's bf16 values all fit f16 exactly).
  const table = dtype === "f16" ? tableF16() : TABLE;
  for (let i = 0; i < count;) {
    const start = (i + offset) % table.length;
    const run = Math.min(count - i, table.length - start);
    out.set(table.subarray(start, start + run), i);
    i += run;
  }
  patch?.(out);
  // Small matrices keep a host copy of the patched bits; large ones are read from the table.
  const host = count <= 1 << 22 ? out.slice() : null;
  buffer.unmap();
  const decode = dtype === "f16" ? f16ToF32 : bf16ToF32;
  const hostTable = dtype === "f16" ? tableF16() : TABLE;
  return {
    gpu: new GpuWeight(`w ${n}x${k}`, dtype, [n, k], buffer, size, null),
    n,
    k,
    dtype,
    at: (row, col) => decode(host ? host[row * k + col] : hostTable[(row * k + col + offset) % hostTable.length]),
  };
}

let TABLE_F16: Uint16Array | null = null;
function tableF16(): Uint16Array {
  TABLE_F16 ??= TABLE.map((bits) => f32ToF16Bits(bf16ToF32(bits)));
  return TABLE_F16;
}

function f32ToF16Bits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const m = Math.abs(value);
  if (m >= 65520) return sign | 0x7c00;
  if (m < 2 ** -24 / 2) return sign;
  const e = Math.max(Math.floor(Math.log2(m)), -14);
  const q = Math.round(m / 2 ** (e - 10));
  if (e === -14 && q < 1024) return sign | q;
  return q >= 2048 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | (q - 1024);
}

function f16ToF32(bits: number): number {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  const s = bits & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

interface Lab {
  gpu: WebGpuDevice;
  ctx: KernelContext;
  recorder: StepRecorder;
  /** --warm-seconds: how long the process's first timed product runs before anything is timed. */
  warmSeconds: number;
}

function openLab(gpu: WebGpuDevice, warmSeconds: number): Lab {
  const pool = new BufferPool(gpu.device, gpu.limits, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, "lab");
  const recorder = new StepRecorder(gpu.device, gpu.limits, pool);
  return { gpu, ctx: { pipelines: new PipelineCache(gpu.device), recorder }, recorder, warmSeconds };
}

/** Submits the recorded step; returns the rows `rows` of `target` (all columns) and the pass's GPU ns. */
async function runStep(lab: Lab, target: GpuActivation, rows: number[]): Promise<{ values: Float32Array[]; ns: number }> {
  const { device } = lab.gpu;
  device.pushErrorScope("validation");
  const encoder = device.createCommandEncoder();
  lab.recorder.encode(encoder, target);
  const rowBytes = target.cols * 4;
  const staging = device.createBuffer({ size: Math.max(4, rows.length * rowBytes), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  rows.forEach((row, i) => encoder.copyBufferToBuffer(target.buffer!, row * rowBytes, staging, i * rowBytes, rowBytes));
  device.queue.submit([encoder.finish()]);
  lab.recorder.finishStep();
  const error = await device.popErrorScope();
  const errors = await lab.ctx.pipelines.takeErrors();
  if (error || errors.length > 0) throw new Error(`WebGPU error: ${[error?.message, ...errors].filter(Boolean).join("; ")}`);
  await staging.mapAsync(MAP_MODE_READ);
  const all = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  const profile = await lab.recorder.takeProfile();
  const ns = profile ? Number(profile.ns[1] - profile.ns[0]) : NaN;
  return { values: rows.map((_, i) => all.subarray(i * target.cols, (i + 1) * target.cols)), ns };
}

interface Sampled {
  relative: number;
  maxRelative: number;
}

/** Compares sampled outputs with an f64 reference: ‖out − ref‖/‖ref‖ and max|out − ref|/max|ref|. */
function compare(x: Float32Array, w: LabWeight, rows: number[], values: Float32Array[], cols: number[]): Sampled {
  let diff = 0;
  let norm = 0;
  let maxDiff = 0;
  let maxRef = 0;
  rows.forEach((row, i) => {
    for (const col of cols) {
      let ref = 0;
      for (let kk = 0; kk < w.k; kk++) ref += x[row * w.k + kk] * w.at(col, kk);
      const out = values[i][col];
      const d = Number.isFinite(out) ? Math.abs(out - ref) : Infinity;
      diff += d * d;
      norm += ref * ref;
      maxDiff = Math.max(maxDiff, d);
      maxRef = Math.max(maxRef, Math.abs(ref));
    }
  });
  return { relative: Math.sqrt(diff / norm), maxRelative: maxDiff / maxRef };
}

function sampleRows(tokens: number): number[] {
  const rows = new Set([0, tokens - 1]);
  const next = xorshift(tokens * 7919);
  while (rows.size < Math.min(tokens, 8)) rows.add(Math.floor(((next() + 1) / 2) * tokens) % tokens);
  return [...rows].sort((a, b) => a - b);
}

function sampleCols(n: number, all: boolean): number[] {
  if (all) return Array.from({ length: n }, (_, i) => i);
  const cols = new Set([0, n - 1]);
  const next = xorshift(n * 104729);
  while (cols.size < Math.min(n, 66)) cols.add(Math.floor(((next() + 1) / 2) * n) % n);
  return [...cols].sort((a, b) => a - b);
}

function randomX(tokens: number, k: number, seed: number): Float32Array {
  const next = xorshift(seed);
  const x = new Float32Array(tokens * k);
  for (let i = 0; i < x.length; i++) x[i] = next();
  return x;
}

/** One checked run then one timed pass of `reps` dispatches; ms per dispatch and the sampled error. */
async function measure(
  lab: Lab,
  kernel: MatmulKernel,
  layout: TensorLayout | null,
  x: Float32Array,
  tokens: number,
  w: LabWeight,
  reps: number,
) {
  const rows = sampleRows(tokens);
  lab.recorder.profileMode = "off";
  const once = matmul(lab.ctx, lab.recorder.upload(tokens, w.k, x), w.gpu, kernel, layout);
  const { values } = await runStep(lab, once, rows);
  const error = compare(x, w, rows, values, sampleCols(w.n, false));
  if (reps === 0) return { ms: NaN, error };
  lab.recorder.profileMode = "pass";
  const pass = async () => {
    const input = lab.recorder.upload(tokens, w.k, x);
    let last = matmul(lab.ctx, input, w.gpu, kernel, layout);
    for (let r = 1; r < reps; r++) last = matmul(lab.ctx, input, w.gpu, kernel, layout);
    return (await runStep(lab, last, [])).ns;
  };
  // The process's first timed product for --warm-seconds before any timing (the card speeds up over seconds of work).
  await warmProcessOnce(pass, lab.warmSeconds);
  // Timed passes until the card has been busy 200 ms (at least two: the first touches of freshly allocated buffers
  // were slow), the last one kept.
  const ns = await afterWarmup(pass);
  lab.recorder.profileMode = "off";
  return { ms: ns / reps / 1e6, error };
}

async function check(lab: Lab, layouts: TensorLayout[]): Promise<boolean> {
  let ok = true;
  const cases: { tokens: number; k: number; n: number; dtype: WeightDtype; big?: "x" | "w"; bound: number }[] = [
    { tokens: 1, k: 64, n: 304, dtype: "bf16", bound: 2e-3 },
    { tokens: 17, k: 136, n: 208, dtype: "bf16", bound: 2e-3 },
    { tokens: 130, k: 520, n: 128, dtype: "bf16", bound: 2e-3 },
    { tokens: 256, k: 4096, n: 256, dtype: "bf16", bound: 2e-3 },
    { tokens: 100, k: 264, n: 304, dtype: "f16", bound: 2e-3 },
    { tokens: 130, k: 512, n: 304, dtype: "f16", bound: 2e-3 },
    { tokens: 17, k: 128, n: 64, dtype: "f16", bound: 2e-3 },
    { tokens: 256, k: 4096, n: 256, dtype: "f16", bound: 2e-3 },
    { tokens: 70, k: 256, n: 160, dtype: "f16", big: "x", bound: 1e-5 },
    // Values f16 cannot hold: the tiles that see them take the exact f32 path.
    { tokens: 70, k: 256, n: 160, dtype: "bf16", big: "x", bound: 1e-5 },
    { tokens: 70, k: 256, n: 160, dtype: "bf16", big: "w", bound: 1e-5 },
  ];
  console.log("| check | variant | relative error | max error / max ref | bound | |");
  console.log("| --- | --- | ---: | ---: | ---: | --- |");
  for (const [ci, c] of cases.entries()) {
    const x = randomX(c.tokens, c.k, 1000 + ci);
    if (c.big === "x") x[5 * c.k + 3] = 1.5e5;
    const patch = c.big === "w" ? (bits: Uint16Array) => (bits[7 * c.k + 9] = 0x4800) /* 131072 */ : undefined;
    const w = makeWeight(lab.gpu.device, c.n, c.k, c.dtype, 77 * ci, patch);
    const rows = Array.from({ length: c.tokens }, (_, i) => i);
    for (const layout of layouts) {
      if (tensorIneligibility(c.dtype, c.k, layout, c.n)) continue;
      let e: Sampled;
      try {
        const out = matmul(lab.ctx, lab.recorder.upload(c.tokens, c.k, x), w.gpu, "tensor", layout);
        const { values } = await runStep(lab, out, rows);
        e = compare(x, w, rows, values, sampleCols(c.n, true));
      } catch (error) {
        console.log(`| ${c.tokens}x${c.k}·${c.n}x${c.k} | ${layout.variant.name} | error: ${firstLine(error)} | | | FAIL |`);
        ok = false;
        continue;
      }
      const pass = e.relative <= c.bound;
      ok &&= pass;
      console.log(
        `| ${c.tokens}x${c.k}·${c.n}x${c.k} ${c.dtype}${c.big ? ` big ${c.big}` : ""} | ${layout.variant.name} | ${e.relative.toExponential(2)} | ${e.maxRelative.toExponential(2)} | ${c.bound} | ${pass ? "ok" : "FAIL"} |`,
      );
    }
    w.gpu.buffer.destroy();
  }
  return ok;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .split("\n")
    .filter((line) => line.trim() && !line.includes("warning"))
    .slice(0, 2)
    .join(" / ")
    .slice(0, 300);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const gpu = await openWebGpu(opts.noRobustness ? { disableRobustness: true } : {});
  const probed = tensorCoreSetup(gpu);
  const majorness =
    opts.majorness !== "probe"
      ? opts.majorness
      : probed
        ? await probeMajornessSyntax(gpu.device, probed.config, probed.subgroupSize)
        : "argument";
  console.log(`matrix load/store syntax: ${majorness}${opts.majorness === "probe" ? " (probed)" : ""}`);
  const setup = tensorCoreSetup(gpu, majorness);
  console.log(`device: ${gpu.adapter.name} [${gpu.adapter.description}], robustness ${opts.noRobustness ? "off" : "on"}`);
  console.log(`subgroup-matrix configs: ${JSON.stringify(gpu.features.subgroupMatrixConfigs)}`);
  if (!setup) throw new Error("this device has no f16→f32 subgroup-matrix configuration: nothing to measure");
  const layouts: TensorLayout[] = [];
  for (const base of TENSOR_VARIANTS) {
    // Timing ablations (wrong results by design) run only when named.
    if (opts.variants === "all" ? base.ablate !== undefined : !opts.variants.split(",").includes(base.name)) continue;
    // --pads: each variant at these row paddings instead of its own (named -pN).
    const padded = opts.pads.length === 0 ? [base] : opts.pads.map((pad) => ({ ...base, pad, name: `${base.name}-p${pad}` }));
    for (const variant of padded) {
      const layout = layoutVariant(variant, setup);
      if (typeof layout === "string") console.log(`skip ${layout}`);
      else layouts.push(layout);
    }
  }
  const lab = openLab(gpu, opts.warmSeconds);
  if (opts.check) {
    const ok = await check(lab, layouts);
    console.log(ok ? "check: all passed" : "check: FAILED");
    if (!ok) process.exitCode = 1;
  }
  const results: object[] = [];
  const row = (label: string, kernel: string, t: number, n: number, k: number, ms: number, e: Sampled) => {
    const tflops = (2 * t * n * k) / (ms * 1e-3) / 1e12;
    console.log(
      `| ${t}x${k}·${n}x${k} | ${kernel} | ${ms.toFixed(3)} | ${tflops.toFixed(1)} | ${e.relative.toExponential(2)} | ${e.maxRelative.toExponential(2)} |`,
    );
    results.push({ shape: label, kernel, tokens: t, n, k, ms, tflops, relative: e.relative, maxRelative: e.maxRelative });
  };
  console.log("\n| shape (x·Wᵀ) | kernel | ms | TFLOP/s | rel. error | max err/max ref |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  // Every weight is allocated before anything is timed and kept to the end: on the H100, buffers created
  // after others were destroyed read measurably slower (shared/specs/webgpu.md), which skewed earlier sweeps.
  const weights = opts.shapes.map(([n, k], si) => opts.dtypes.map((dtype) => makeWeight(gpu.device, n, k, dtype, 1_000_003 * (si + 1))));
  for (const [si, [n, k]] of opts.shapes.entries()) {
    const x = randomX(opts.tokens, k, 42 + si);
    const outBytes = opts.tokens * n * 4;
    const reps = Math.max(2, Math.min(20, Math.floor(3e9 / outBytes)));
    for (const [di, dtype] of opts.dtypes.entries()) {
      const w = weights[si][di];
      const eligible = layouts.filter((layout) => !tensorIneligibility(dtype, k, layout, n));
      // The first eligible variant runs again last: the difference between its two timings is the drift.
      for (const [li, layout] of [...eligible, ...eligible.slice(0, 1)].entries()) {
        const label = `tensor ${layout.variant.name} ${dtype}${li === eligible.length ? " (again)" : ""}`;
        try {
          const { ms, error } = await measure(lab, "tensor", layout, x, opts.tokens, w, reps);
          row(`${n}x${k}`, label, opts.tokens, n, k, ms, error);
        } catch (error) {
          console.log(`| ${opts.tokens}x${k}·${n}x${k} | ${label} | error: ${firstLine(error)} | | | |`);
        }
      }
    }
    const w = weights[si][0];
    if (opts.baselines && n * k <= 14336 * 4096) {
      for (const kernel of ["gemv", "tiled"] as const) {
        const { ms, error } = await measure(lab, kernel, null, x, opts.tokens, w, 2);
        row(`${n}x${k}`, kernel, opts.tokens, n, k, ms, error);
      }
    }
  }
  if (opts.sweep.length > 0 && layouts.length > 0) {
    console.log("\nthreshold sweep (first variant vs GEMV):");
    for (const [n, k] of [
      [4096, 4096],
      [14336, 4096],
    ]) {
      const w = makeWeight(gpu.device, n, k, "bf16", 31);
      for (const t of opts.sweep) {
        const x = randomX(t, k, t);
        for (const [kernel, layout] of [
          ["tensor", layouts[0]],
          ["gemv", null],
        ] as const) {
          const { ms, error } = await measure(lab, kernel, layout, x, t, w, 10);
          row(`${n}x${k}`, kernel, t, n, k, ms, error);
        }
      }
      w.gpu.buffer.destroy();
    }
  }
  console.log(JSON.stringify({ bench: "matmul-lab", device: gpu.adapter.name, robustness: !opts.noRobustness, results }));
  gpu.device.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
