/**
 * What a batch-1 product costs, and what bounds it. The engine's GEMV (kernels/matmul.ts) gives each weight row one
 * lane group of 32 threads, which walks the whole row (K = 4,096: 16 chunks of 16 bytes per lane, four loads in
 * flight). At batch 1 those products read their weights at 1.7–3.4 TB/s against ~4.2 of copy bandwidth on the H200,
 * and weights already in L2 do not make them faster (bench/NOTES.md, sessions 24 and 26). This lab times the same
 * structure beside variants of it (S lane groups sharing a row, each a contiguous 1/S of it, their partial sums
 * added in order in workgroup memory; 2–8 loads in flight) and modes that take parts of it away (MODES), the
 * read-only ones giving the floor for a product of that shape read one dispatch at a time (session 28).
 *
 *   node dist/bench/gemv-split.js [--shapes 4096x4096,6144x4096,4096x14336,28672x4096] [--splits 1,2,4,8]
 *                                 [--loads 4] [--reps 20] [--trials 5] [--chain-bytes 2e9]
 *                                 [--mode gemv|read|linear|no-x|x16|xfirst]
 *
 * Per shape, a chain of L products (L = chain bytes / product bytes, at most 32, each over its own weights so no
 * product finds another's in L2), one dispatch each in one compute pass; µs per product is the median over trials
 * of (wall time of `reps` chains in one submit) / (reps · L). Each variant that computes the product is first
 * checked against the host on its first rows.
 */
import { openWebGpu } from "../src/gpu/webgpu/device.js";
import { BufferUsage } from "../src/gpu/webgpu/buffers.js";
import { decodeToF32 } from "../src/model/dtype.js";
import { fillRandomBf16 } from "./random-weights.js";
import { readBack } from "./read-back.js";

const WORKGROUP = 256;
const LANES = 32;
const LANE_GROUPS = WORKGROUP / LANES;

/**
 * gemv: the product (x f32, as the engine's GEMV); read: the weight loads XOR-folded, no x and no products (the floor
 * for a GEMV of this shape); no-x: the conversions and products against a constant instead of x (what x's loads
 * cost); x16: x read as f16 (one 16-byte load per chunk instead of two); linear: read's loads in the order of a
 * copy (thread t of the dispatch reads chunks t, t + T, … of the whole product), the other floor; xfirst: gemv with
 * each iteration's x loads written before its weight loads (the same arithmetic).
 */
const MODES = ["gemv", "read", "linear", "no-x", "x16", "xfirst"] as const;
type Mode = (typeof MODES)[number];

function parseArgs(argv: string[]) {
  const opts = {
    shapes: [
      [4096, 4096],
      [6144, 4096],
      [4096, 14336],
      [28672, 4096],
    ] as [number, number][],
    splits: [1, 2, 4, 8],
    loads: [4],
    reps: 20,
    trials: 5,
    chainBytes: 2e9,
    mode: "gemv" as Mode,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? "";
    if (a === "--shapes")
      opts.shapes = next()
        .split(",")
        .map((s) => s.split("x").map(Number) as [number, number]);
    else if (a === "--splits") opts.splits = next().split(",").map(Number);
    else if (a === "--loads") opts.loads = next().split(",").map(Number);
    else if (a === "--reps") opts.reps = Number(next());
    else if (a === "--trials") opts.trials = Number(next());
    else if (a === "--chain-bytes") opts.chainBytes = Number(next());
    else if (a === "--mode") {
      const m = next();
      if (!MODES.includes(m as Mode)) throw new Error(`gemv-split: --mode takes ${MODES.join("|")}, not ${m}`);
      opts.mode = m as Mode;
    } else throw new Error(`gemv-split: unknown option ${a}`);
  }
  for (const s of opts.splits) if (![1, 2, 4, 8].includes(s)) throw new Error(`gemv-split: splits are 1, 2, 4 or 8, not ${s}`);
  for (const [n, k] of opts.shapes)
    if (n % LANE_GROUPS !== 0 || k % 8 !== 0) throw new Error(`gemv-split: ${n}x${k}: N a multiple of 8, K of 8`);
  return opts;
}

/** WGSL of the split GEMV: S lane groups per row, L chunk loads in flight per lane. */
function source(split: number, loads: number, mode: Mode): string {
  const rowsPerGroup = LANE_GROUPS / split;
  const unrolled = (f: (u: number) => string) => Array.from({ length: loads }, (_, u) => f(u)).join("\n    ");
  return `enable subgroups;
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: vec4<u32>; // chunks per row, weight offset (vec4 units), y offset
@group(0) @binding(4) var<storage, read> xh: array<vec4<u32>>; // x as f16, 8 per 16 bytes (x16)
var<workgroup> partial: array<f32, ${LANE_GROUPS}>;
var<workgroup> subSums: array<f32, ${WORKGROUP / 4}>;
// A chunk's 8 weights (bf16 halves lo / hi of each word) times x's 8 values.
fn products(lo: vec4<f32>, hi: vec4<f32>, xa: vec4<f32>, xb: vec4<f32>) -> f32 {
  return dot(vec4<f32>(lo.x, hi.x, lo.y, hi.y), xa) + dot(vec4<f32>(lo.z, hi.z, lo.w, hi.w), xb);
}
fn widen(q: vec4<u32>, c: u32) -> f32 {
  let lo = vec4<f32>(bitcast<f32>(q.x << 16u), bitcast<f32>(q.y << 16u), bitcast<f32>(q.z << 16u), bitcast<f32>(q.w << 16u));
  let hi = vec4<f32>(bitcast<f32>(q.x & 0xffff0000u), bitcast<f32>(q.y & 0xffff0000u), bitcast<f32>(q.z & 0xffff0000u), bitcast<f32>(q.w & 0xffff0000u));
  return ${
    {
      gemv: "products(lo, hi, x[2u * c], x[2u * c + 1u]);",
      xfirst: "products(lo, hi, x[2u * c], x[2u * c + 1u]); // its tail loop",
      read: "f32((q.x ^ q.y ^ q.z ^ q.w) & 1u);",
      linear: "f32((q.x ^ q.y ^ q.z ^ q.w) & 1u);",
      "no-x": "dot(vec4<f32>(lo.x, hi.x, lo.y, hi.y), vec4<f32>(0.5)) + dot(vec4<f32>(lo.z, hi.z, lo.w, hi.w), vec4<f32>(0.25));",
      x16: `dot(vec4<f32>(lo.x, hi.x, lo.y, hi.y), vec4<f32>(unpack2x16float(xh[c].x), unpack2x16float(xh[c].y)))
    + dot(vec4<f32>(lo.z, hi.z, lo.w, hi.w), vec4<f32>(unpack2x16float(xh[c].z), unpack2x16float(xh[c].w)));`,
    }[mode]
  }
}
fn widenWith(q: vec4<u32>, xa: vec4<f32>, xb: vec4<f32>) -> f32 {
  let lo = vec4<f32>(bitcast<f32>(q.x << 16u), bitcast<f32>(q.y << 16u), bitcast<f32>(q.z << 16u), bitcast<f32>(q.w << 16u));
  let hi = vec4<f32>(bitcast<f32>(q.x & 0xffff0000u), bitcast<f32>(q.y & 0xffff0000u), bitcast<f32>(q.z & 0xffff0000u), bitcast<f32>(q.w & 0xffff0000u));
  return products(lo, hi, xa, xb);
}
@compute @workgroup_size(${WORKGROUP})
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(subgroup_size) sgSize: u32,
) {
  let lane = lid % ${LANES}u;
  let group = lid / ${LANES}u;
  let row = wg.x * ${rowsPerGroup}u + group / ${split}u;
  let part = group % ${split}u;
  let chunks = params.x;
  let per = (chunks + ${split - 1}u) / ${split}u;
  let begin = part * per;
  let end = min(chunks, begin + per);
  let rowOff = params.y + row * chunks;
  // Every mode touches x and xh once, so the derived layout keeps all bindings.
  var acc = x[0].x * 0.0 + f32(xh[0].x & 0u);
${
  mode === "linear"
    ? `  // The product's chunks in order over every thread of the dispatch (thread t reads t, t + T, …), no rows.
  let threads = nwg.x * ${WORKGROUP}u;
  let total = chunks * nwg.x * ${rowsPerGroup}u;
  var c = wg.x * ${WORKGROUP}u + lid;
  for (; c + ${loads - 1}u * threads < total; c += ${loads}u * threads) {
    ${unrolled((u) => `let q${u} = w[params.y + c + ${u}u * threads];`)}
    ${unrolled((u) => `acc += widen(q${u}, 0u);`)}
  }
  for (; c < total; c += threads) { acc += widen(w[params.y + c], 0u); }`
    : mode === "xfirst"
      ? `  var c = begin + lane;
  for (; c + ${(loads - 1) * LANES}u < end; c += ${loads * LANES}u) {
    ${unrolled((u) => `let xa${u} = x[2u * (c + ${u * LANES}u)]; let xb${u} = x[2u * (c + ${u * LANES}u) + 1u];`)}
    ${unrolled((u) => `let q${u} = w[rowOff + c + ${u * LANES}u];`)}
    ${unrolled((u) => `acc += widenWith(q${u}, xa${u}, xb${u});`)}
  }
  for (; c < end; c += ${LANES}u) { acc += widen(w[rowOff + c], c); }`
      : `  var c = begin + lane;
  for (; c + ${(loads - 1) * LANES}u < end; c += ${loads * LANES}u) {
    ${unrolled((u) => `let q${u} = w[rowOff + c + ${u * LANES}u];`)}
    ${unrolled((u) => `acc += widen(q${u}, c + ${u * LANES}u);`)}
  }
  for (; c < end; c += ${LANES}u) { acc += widen(w[rowOff + c], c); }`
}
  // Each subgroup's sum, then each lane group's in order (subgroups of 32 on NVIDIA: one each; lavapipe's are 8;
  // wider subgroups than a lane group are not handled: this lab is for the NVIDIA card and lavapipe).
  let sum = subgroupAdd(acc);
  if (lid % sgSize == 0u) { subSums[lid / sgSize] = sum; }
  workgroupBarrier();
  if (lane == 0u) {
    var s = 0.0;
    for (var i = 0u; i < ${LANES}u / sgSize; i++) { s += subSums[lid / sgSize + i]; }
    partial[group] = s;
  }
  workgroupBarrier();
  if (lid < ${rowsPerGroup}u) {
    var total = 0.0;
    for (var p = 0u; p < ${split}u; p++) { total += partial[lid * ${split}u + p]; }
    y[params.z + wg.x * ${rowsPerGroup}u + lid] = total;
  }
}`;
}

const opts = parseArgs(process.argv.slice(2));
const gpu = await openWebGpu({});
const device = gpu.device;
const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

console.log(`gemv-split on ${gpu.adapter.name}: reps ${opts.reps}, trials ${opts.trials}`);
console.log("| product (N x K) | chain | splits | loads in flight | µs per product | TB/s | max rel. error (first 8 rows) |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [n, k] of opts.shapes) {
  const productBytes = n * k * 2;
  const layers = Math.max(1, Math.min(32, Math.floor(opts.chainBytes / productBytes)));
  const chunks = k / 8;
  const layerWords = n * chunks; // vec4 units
  const weights = device.createBuffer({ size: productBytes * layers, usage: storage });
  fillRandomBf16(device, weights, (productBytes * layers) / 4, 7);
  // x: random f16 values (magnitudes 2^-8..1), the same numbers in the f32 and the f16 buffer.
  const xHalf = new Uint16Array(k).map(
    () => ((Math.random() < 0.5 ? 1 : 0) << 15) | ((7 + Math.floor(Math.random() * 8)) << 10) | Math.floor(Math.random() * 1024),
  );
  const xHost = new Float32Array(k);
  decodeToF32(new Uint8Array(xHalf.buffer), "f16", 0, k, xHost);
  const x = device.createBuffer({ size: k * 4, usage: storage });
  device.queue.writeBuffer(x, 0, xHost);
  const y = device.createBuffer({ size: n * layers * 4, usage: storage });
  const xh = device.createBuffer({ size: k * 2, usage: storage });
  device.queue.writeBuffer(xh, 0, xHalf);
  const wHost = new Uint32Array(await readBack(device, weights, 0, 8 * k * 2));
  const expected = Array.from({ length: 8 }, (_, r) => {
    let sum = 0;
    for (let c = 0; c < k; c += 2) {
      const word = wHost[(r * k) / 2 + c / 2];
      const f = new Float32Array(new Uint32Array([word << 16, word & 0xffff0000]).buffer);
      sum += f[0] * xHost[c] + f[1] * xHost[c + 1];
    }
    return sum;
  });
  for (const split of opts.splits) {
    for (const loads of opts.loads) {
      const module = device.createShaderModule({ code: source(split, loads, opts.mode) });
      const pipe = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      const binds = Array.from({ length: layers }, (_, l) => {
        const params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
        device.queue.writeBuffer(params, 0, new Uint32Array([chunks, l * layerWords, l * n, 0]));
        return device.createBindGroup({
          layout: pipe.getBindGroupLayout(0),
          entries: [weights, x, y, params, xh].map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
      });
      const workgroups = (n * split) / LANE_GROUPS;
      if (workgroups > gpu.limits.maxComputeWorkgroupsPerDimension) {
        console.log(`| ${n}x${k} | ${layers} | ${split} | ${loads} | skipped: ${workgroups} workgroups exceed one dispatch | | |`);
        continue;
      }
      const encode = (reps: number) => {
        const encoder = device.createCommandEncoder();
        for (let r = 0; r < reps; r++) {
          const pass = encoder.beginComputePass();
          pass.setPipeline(pipe);
          for (let l = 0; l < layers; l++) {
            pass.setBindGroup(0, binds[l]);
            pass.dispatchWorkgroups(workgroups);
          }
          pass.end();
        }
        return encoder.finish();
      };
      device.queue.submit([encode(opts.reps)]);
      await device.queue.onSubmittedWorkDone();
      const got = new Float32Array(await readBack(device, y, 0, 8 * 4));
      const error =
        opts.mode === "read" || opts.mode === "linear" || opts.mode === "no-x"
          ? NaN
          : Math.max(...expected.map((e, r) => Math.abs(got[r] - e) / Math.max(Math.abs(e), 1e-6)));
      const times: number[] = [];
      for (let t = 0; t < opts.trials; t++) {
        const commands = encode(opts.reps);
        const t0 = performance.now();
        device.queue.submit([commands]);
        await device.queue.onSubmittedWorkDone();
        times.push((performance.now() - t0) / (opts.reps * layers));
      }
      times.sort((a, b) => a - b);
      const us = times[Math.floor(times.length / 2)] * 1000;
      const rate = productBytes / (us * 1e-6) / 1e12;
      console.log(`| ${n}x${k} | ${layers} | ${split} | ${loads} | ${us.toFixed(2)} | ${rate.toFixed(2)} | ${error.toExponential(1)} |`);
    }
  }
  weights.destroy();
  xh.destroy();
  x.destroy();
  y.destroy();
}
process.exit(0);
