/**
 * Can the weights of a product be brought into L2 while the GPU runs a dispatch that hardly touches memory, so that
 * the product then reads them from L2? At decode batch 1 each layer's attention runs ~21 µs on the H200 with the
 * memory idle, and the o projection after it (32 MiB) reads its weights at ~1.7 TB/s (bench/NOTES.md, session 24).
 * This lab runs a chain of L "layers", each a latency-bound dispatch (`busy`: B workgroups in a dependent FMA loop,
 * standing in for attention) then a GEMV over that layer's own weights (all layers' weights in one buffer, so no
 * layer finds another's in L2), in these modes:
 *
 *   gemv          the GEMVs alone (no busy dispatch)
 *   busy          the busy dispatches alone
 *   busy+gemv     both, in order
 *   fused         busy+gemv where the busy dispatch has P more workgroups that read the next GEMV's weights (XOR-folded
 *                 into a sink, so the loads stay): the prefetch runs beside the busy workgroups in one dispatch
 *   separate      busy, then a prefetch dispatch of P workgroups, then the GEMV: whether Dawn lets two dispatches with
 *                 no dependency overlap (the prefetch writes only its own sink)
 *
 *   node dist/bench/l2-prefetch.js [--shape 4096x4096] [--layers 32] [--busy-groups 64] [--iters 6000]
 *                                  [--prefetch-groups 132,264,528] [--fraction 1] [--reps 20] [--trials 5]
 *
 * `--fraction f` prefetches the first f of each product's weights (for products larger than L2). µs per layer is the
 * median of the trials' (wall time of `reps` chains in one submit) / (reps · L). The GEMV is checked against the host on
 * its first rows.
 */
import { openWebGpu } from "../src/gpu/webgpu/device.js";
import { BufferUsage } from "../src/gpu/webgpu/buffers.js";
import { fillRandomBf16 } from "./random-weights.js";
import { readBack } from "./read-back.js";

const WORKGROUP = 256;
const ROWS_PER_GROUP = WORKGROUP / 32;

function parseArgs(argv: string[]) {
  const opts = {
    n: 4096,
    k: 4096,
    layers: 32,
    busyGroups: 64,
    iters: 6000,
    prefetchGroups: [132, 264, 528],
    fraction: 1,
    reps: 20,
    trials: 5,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? "";
    if (a === "--shape") [opts.n, opts.k] = next().split("x").map(Number);
    else if (a === "--layers") opts.layers = Number(next());
    else if (a === "--busy-groups") opts.busyGroups = Number(next());
    else if (a === "--iters") opts.iters = Number(next());
    else if (a === "--prefetch-groups") opts.prefetchGroups = next().split(",").map(Number);
    else if (a === "--fraction") opts.fraction = Number(next());
    else if (a === "--reps") opts.reps = Number(next());
    else if (a === "--trials") opts.trials = Number(next());
    else throw new Error(`l2-prefetch: unknown option ${a}`);
  }
  if (opts.n % ROWS_PER_GROUP !== 0 || opts.k % 1024 !== 0) throw new Error("l2-prefetch: N a multiple of 8 and K of 1024");
  return opts;
}

/** The GEMV: lane group g of workgroup w computes row 8w + g; lanes stride along K, four 16-byte loads in flight. */
const GEMV_SOURCE = `
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: vec4<u32>; // chunks per row, weight offset (vec4 units), y offset
var<workgroup> partial: array<f32, ${WORKGROUP}>;
fn widen(q: vec4<u32>, c: u32) -> f32 {
  let lo = vec4<f32>(bitcast<f32>(q.x << 16u), bitcast<f32>(q.y << 16u), bitcast<f32>(q.z << 16u), bitcast<f32>(q.w << 16u));
  let hi = vec4<f32>(bitcast<f32>(q.x & 0xffff0000u), bitcast<f32>(q.y & 0xffff0000u), bitcast<f32>(q.z & 0xffff0000u), bitcast<f32>(q.w & 0xffff0000u));
  return dot(vec4<f32>(lo.x, hi.x, lo.y, hi.y), x[2u * c]) + dot(vec4<f32>(lo.z, hi.z, lo.w, hi.w), x[2u * c + 1u]);
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lane = lid % 32u;
  let row = wg.x * ${ROWS_PER_GROUP}u + lid / 32u;
  let chunks = params.x;
  let rowOff = params.y + row * chunks;
  var acc = 0.0;
  for (var c = lane; c < chunks; c += 128u) {
    let q0 = w[rowOff + c];
    let q1 = w[rowOff + c + 32u];
    let q2 = w[rowOff + c + 64u];
    let q3 = w[rowOff + c + 96u];
    acc += widen(q0, c) + widen(q1, c + 32u) + widen(q2, c + 64u) + widen(q3, c + 96u);
  }
  partial[lid] = acc;
  workgroupBarrier();
  if (lane == 0u) {
    var sum = 0.0;
    for (var i = 0u; i < 32u; i += 1u) { sum += partial[lid + i]; }
    y[params.z + row] = sum;
  }
}`;

/** Loads of `words` vec4s from `start` by `groups` workgroups, four in flight per thread, XOR-folded into the sink. */
const PREFETCH_FN = `
fn prefetch(p: u32, groups: u32, start: u32, count: u32, lid: u32) {
  var acc = vec4<u32>(0u);
  let stride = groups * ${WORKGROUP}u;
  for (var i = p * ${WORKGROUP}u + lid; i < count; i += 4u * stride) {
    let a = w[start + i];
    let b = w[start + min(i + stride, count - 1u)];
    let c = w[start + min(i + 2u * stride, count - 1u)];
    let d = w[start + min(i + 3u * stride, count - 1u)];
    acc ^= a ^ b ^ c ^ d;
  }
  sink[p * ${WORKGROUP}u + lid] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}`;

/** Busy workgroups (wg < params.x) run a dependent FMA chain; the rest (fused mode) prefetch. */
const BUSY_SOURCE = `
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<u32>;
@group(0) @binding(2) var<storage, read_write> busyOut: array<f32>;
@group(0) @binding(3) var<uniform> params: vec4<u32>; // busy groups, iterations, prefetch start (vec4 units), prefetch count
${PREFETCH_FN}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (wg.x >= params.x) {
    prefetch(wg.x - params.x, nwg.x - params.x, params.z, params.w, lid);
    return;
  }
  var v = f32(lid) * 1e-3;
  for (var i = 0u; i < params.y; i += 1u) { v = fma(v, 0.999, 1e-4); }
  busyOut[wg.x * ${WORKGROUP}u + lid] = v;
}`;

const SEPARATE_SOURCE = `
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<u32>;
@group(0) @binding(2) var<uniform> params: vec4<u32>; // unused, unused, prefetch start, prefetch count
${PREFETCH_FN}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  prefetch(wg.x, nwg.x, params.z, params.w, lid);
}`;

const opts = parseArgs(process.argv.slice(2));
const gpu = await openWebGpu({});
const device = gpu.device;
const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const compile = (code: string) =>
  device.createComputePipeline({ layout: "auto", compute: { module: device.createShaderModule({ code }), entryPoint: "main" } });
const gemvPipe = compile(GEMV_SOURCE);
const busyPipe = compile(BUSY_SOURCE);
const separatePipe = compile(SEPARATE_SOURCE);

const { n, k, layers } = opts;
const chunks = k / 8; // vec4<u32> per row
const layerWords = n * chunks; // vec4 units
const weightBytes = layerWords * 16 * layers;
if (weightBytes > gpu.limits.maxStorageBufferBindingSize) throw new Error(`l2-prefetch: ${weightBytes} B of weights exceed one binding`);
const weights = device.createBuffer({ size: weightBytes, usage: storage });
fillRandomBf16(device, weights, weightBytes / 4, 0);
const xHost = new Float32Array(k).map(() => Math.random() * 2 - 1);
const x = device.createBuffer({ size: k * 4, usage: storage });
device.queue.writeBuffer(x, 0, xHost);
const y = device.createBuffer({ size: n * layers * 4, usage: storage });
const maxPrefetchGroups = Math.max(...opts.prefetchGroups);
const sinks = Array.from({ length: layers }, () => device.createBuffer({ size: maxPrefetchGroups * WORKGROUP * 4, usage: storage }));
const busyOut = device.createBuffer({ size: opts.busyGroups * WORKGROUP * 4, usage: storage });

const uniform = (values: number[]) => {
  const buffer = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, new Uint32Array(values));
  return buffer;
};
const bind = (pipe: GPUComputePipeline, buffers: GPUBuffer[]) =>
  device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });

type Mode = { kind: "gemv" | "busy" | "busy+gemv" } | { kind: "fused" | "separate"; groups: number };
const prefetchCount = Math.floor(layerWords * opts.fraction);
const gemvBinds = Array.from({ length: layers }, (_, l) => bind(gemvPipe, [weights, x, y, uniform([chunks, l * layerWords, l * n, 0])]));
const busyBind = bind(busyPipe, [weights, sinks[0], busyOut, uniform([opts.busyGroups, opts.iters, 0, 0])]);
const fusedBinds = Array.from({ length: layers }, (_, l) =>
  bind(busyPipe, [weights, sinks[l], busyOut, uniform([opts.busyGroups, opts.iters, l * layerWords, prefetchCount])]),
);
const separateBinds = Array.from({ length: layers }, (_, l) =>
  bind(separatePipe, [weights, sinks[l], uniform([0, 0, l * layerWords, prefetchCount])]),
);

function encode(mode: Mode, reps: number): GPUCommandBuffer {
  const encoder = device.createCommandEncoder();
  for (let r = 0; r < reps; r++) {
    const pass = encoder.beginComputePass();
    for (let l = 0; l < layers; l++) {
      if (mode.kind === "fused") {
        pass.setPipeline(busyPipe);
        pass.setBindGroup(0, fusedBinds[l]);
        pass.dispatchWorkgroups(opts.busyGroups + mode.groups);
      } else if (mode.kind !== "gemv") {
        pass.setPipeline(busyPipe);
        pass.setBindGroup(0, busyBind);
        pass.dispatchWorkgroups(opts.busyGroups);
      }
      if (mode.kind === "separate") {
        pass.setPipeline(separatePipe);
        pass.setBindGroup(0, separateBinds[l]);
        pass.dispatchWorkgroups(mode.groups);
      }
      if (mode.kind !== "busy") {
        pass.setPipeline(gemvPipe);
        pass.setBindGroup(0, gemvBinds[l]);
        pass.dispatchWorkgroups(n / ROWS_PER_GROUP);
      }
    }
    pass.end();
  }
  return encoder.finish();
}

async function timeMode(mode: Mode): Promise<number> {
  device.queue.submit([encode(mode, opts.reps)]);
  await device.queue.onSubmittedWorkDone();
  const times: number[] = [];
  for (let t = 0; t < opts.trials; t++) {
    const commands = encode(mode, opts.reps);
    const t0 = performance.now();
    device.queue.submit([commands]);
    await device.queue.onSubmittedWorkDone();
    times.push((performance.now() - t0) / (opts.reps * layers));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] * 1000;
}

// The GEMV's first rows against the host.
device.queue.submit([encode({ kind: "gemv" }, 1)]);
const yHost = new Float32Array(await readBack(device, y, 0, 8 * 4));
const wHost = new Uint32Array(await readBack(device, weights, 0, 8 * k * 2));
let worst = 0;
for (let r = 0; r < 8; r++) {
  let sum = 0;
  for (let c = 0; c < k; c += 2) {
    const word = wHost[(r * k) / 2 + c / 2];
    const f = new Float32Array(new Uint32Array([word << 16, word & 0xffff0000]).buffer);
    sum += f[0] * xHost[c] + f[1] * xHost[c + 1];
  }
  worst = Math.max(worst, Math.abs(sum - yHost[r]) / Math.max(Math.abs(sum), 1e-6));
}
const mib = (n * k * 2) / 2 ** 20;
console.log(
  `l2-prefetch on ${gpu.adapter.name}: ${layers} layers of ${n}x${k} bf16 (${mib} MiB each), busy ${opts.busyGroups} workgroups x ${opts.iters} FMAs, prefetch ${opts.fraction} of each; GEMV max relative error ${worst.toExponential(2)}`,
);
const modes: Mode[] = [{ kind: "gemv" }, { kind: "busy" }, { kind: "busy+gemv" }];
for (const groups of opts.prefetchGroups) modes.push({ kind: "fused", groups }, { kind: "separate", groups });
const gemvUs = await timeMode({ kind: "gemv" });
for (const mode of modes) {
  const us = mode.kind === "gemv" ? gemvUs : await timeMode(mode);
  const name = "groups" in mode ? `${mode.kind}, ${mode.groups} prefetch workgroups` : mode.kind;
  const rate = mode.kind === "gemv" ? `, ${((n * k * 2) / (us * 1e-6) / 1e12).toFixed(2)} TB/s` : "";
  console.log(`  ${name.padEnd(36)} ${us.toFixed(2).padStart(7)} µs per layer${rate}`);
}
process.exit(0);
