/**
 * Can one dispatch run a chain of dependent matrix–vector products with a barrier across workgroups between them,
 * and is that faster than one dispatch per product? Batch-1 decode is ~165 dependent dispatches per token, each
 * paying a ramp and a drain (~7 µs, bench/NOTES.md sessions 5 and 12); a persistent kernel would pay a grid barrier
 * instead, and could load the next product's first weights before waiting at it. WGSL has no barrier across
 * workgroups and no device-scope fence, so this lab asks the hardware:
 *
 *   residency  the largest workgroup count whose workgroups all meet at a spinning barrier (an atomic counter in a
 *              storage buffer; a capped spin sets a failure flag instead of hanging) for several rounds.
 *   visibility the chain run persistently must give the bits the chain of dispatches gives, in every region of every
 *              repeat (each product reads the previous one's output, written by other workgroups before the barrier
 *              with plain stores).
 *   speed      µs per product: one dispatch per product (rows / 8 workgroups, or G with a grid-stride loop), against
 *              the persistent kernel of G workgroups (with P weight chunks per lane loaded before each barrier).
 *
 *   node dist/bench/grid-sync.js [--chain 4096x4096*16,14336x4096+4096x14336*6] [--groups 132,264,528]
 *                                [--prefetch 0,4,16] [--reps 20] [--trials 5] [--no-robustness] [--repeats 30]
 *                                [--residency 66,132,264,528,792,1056,1584,2112]
 *
 * A chain spec NxK*L repeats that product L times (N = K); A+B*L alternates two (A's N is B's K). Weights are
 * random bf16 made on the GPU (sign and 7 mantissa bits from a hash, magnitude 2^-6..2^-5), each product's own
 * (no L2 reuse between products, as between a model's layers), all in one buffer; activations are f32, one region
 * per product (a region is written once per run, so no workgroup holds a stale line of it in its cache).
 *
 * What it found on the H200 (bench/NOTES.md, session 24): the barrier saves ~1–2 µs per product, not the ~7 µs a
 * dispatch was thought to cost, and the driver compiles storageBarrier to a CTA-scope fence (MEMBAR.SC.CTA), so the
 * visibility it showed is not something the memory model promises.
 */
import { openWebGpu } from "../src/gpu/webgpu/device.js";
import { BufferUsage, MAP_MODE_READ } from "../src/gpu/webgpu/buffers.js";
import { fillRandomBf16 } from "./random-weights.js";
import { readBack } from "./read-back.js";

interface Product {
  n: number;
  k: number;
}

const WORKGROUP = 256;
const ROWS_PER_GROUP = WORKGROUP / 32;
/** Spins of the barrier's waiting thread before it gives up and flags the run (no hang when G is too many). */
const SPIN_CAP = 1 << 20;

function parseArgs(argv: string[]) {
  const opts = {
    chains: ["4096x4096*16", "14336x4096+4096x14336*6"],
    groups: [132, 264, 528],
    prefetch: [0, 4, 16],
    reps: 20,
    trials: 5,
    repeats: 30,
    noRobustness: false,
    residency: [66, 132, 264, 528, 792, 1056, 1584, 2112],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? "";
    if (a === "--chain") opts.chains = next().split(",");
    else if (a === "--groups") opts.groups = next().split(",").map(Number);
    else if (a === "--prefetch") opts.prefetch = next().split(",").map(Number);
    else if (a === "--reps") opts.reps = Number(next());
    else if (a === "--trials") opts.trials = Number(next());
    else if (a === "--repeats") opts.repeats = Number(next());
    else if (a === "--no-robustness") opts.noRobustness = true;
    else if (a === "--residency") opts.residency = next().split(",").map(Number);
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

/** "NxK*L" or "NxK+N2xK2*L" → the chain's products. */
function parseChain(spec: string): Product[] {
  const [body, times = "1"] = spec.split("*");
  const parts = body.split("+").map((p) => {
    const [n, k] = p.split("x").map(Number);
    return { n, k };
  });
  const chain: Product[] = [];
  for (let i = 0; i < Number(times); i++) chain.push(...parts);
  chain.forEach((p, i) => {
    if (i > 0 && p.k !== chain[i - 1].n) throw new Error(`chain ${spec}: product ${i} takes ${p.k} values, gets ${chain[i - 1].n}`);
    if (p.k % 1024 !== 0 || p.n % ROWS_PER_GROUP !== 0) throw new Error(`chain ${spec}: K must be a multiple of 1024, N of 8`);
  });
  return chain;
}

/**
 * The product loop. Each lane group (32 lanes, one subgroup on NVIDIA) takes a row; a lane reads chunks of 8 bf16
 * (one vec4<u32>) four at a time, 128 chunks apart per round. `persistent`: loop over products [first, last) with
 * a grid barrier between them; else one product. PREFETCH chunks per lane of the row's next product are loaded
 * before the barrier (persistent only, up to 16: the lane's share of a 4096-wide row).
 */
function source(prefetch: number, subgroupReduce: boolean): string {
  const pre = Math.max(prefetch, 1);
  const reduce = subgroupReduce
    ? `let sum = subgroupAdd(acc);`
    : `partial[lid] = acc;
      workgroupBarrier();
      var sum = 0.0;
      if (lane == 0u) { for (var i = 0u; i < 32u; i += 1u) { sum += partial[lid + i]; } }`;
  return `${subgroupReduce ? "enable subgroups;" : ""}
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> act: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sync: array<atomic<u32>>; // [0] arrivals, [1] a spin gave up
@group(0) @binding(3) var<storage, read> steps: array<vec4<u32>>;        // per product: (n, k, w offset, x offset), (y offset, …)
@group(0) @binding(4) var<uniform> params: vec4<u32>;                    // first product, last + 1, groups, persistent

var<workgroup> rowsOut: array<f32, ${ROWS_PER_GROUP}>;
${subgroupReduce ? "" : `var<workgroup> partial: array<f32, ${WORKGROUP}>;`}
const PREFETCH: u32 = ${prefetch}u;

fn widen(q: vec4<u32>, x0: vec4<f32>, x1: vec4<f32>) -> f32 {
  let lo = vec4<f32>(bitcast<f32>(q.x << 16u), bitcast<f32>(q.y << 16u), bitcast<f32>(q.z << 16u), bitcast<f32>(q.w << 16u));
  let hi = vec4<f32>(bitcast<f32>(q.x & 0xffff0000u), bitcast<f32>(q.y & 0xffff0000u), bitcast<f32>(q.z & 0xffff0000u), bitcast<f32>(q.w & 0xffff0000u));
  return dot(vec4<f32>(lo.x, hi.x, lo.y, hi.y), x0) + dot(vec4<f32>(lo.z, hi.z, lo.w, hi.w), x1);
}

fn chunkDot(q: vec4<u32>, xOff: u32, c: u32) -> f32 {
  return widen(q, act[xOff + 2u * c], act[xOff + 2u * c + 1u]);
}

fn gridSync(arrivals: u32, lid: u32) {
  storageBarrier();
  if (lid == 0u) {
    atomicAdd(&sync[0], 1u);
    var spins = 0u;
    // Once one spin gave up the run is wrong anyway: the others do not wait out their caps too.
    if (atomicLoad(&sync[1]) != 0u) { spins = ${SPIN_CAP}u; }
    loop {
      if (atomicLoad(&sync[0]) >= arrivals) { break; }
      spins += 1u;
      if (spins > ${SPIN_CAP}u) { atomicStore(&sync[1], 1u); break; }
    }
  }
  workgroupBarrier();
  storageBarrier();
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lane = lid % 32u;
  let group = lid / 32u;
  let groups = params.z;
  var preloaded: array<vec4<u32>, ${pre}>;
  var havePre = false;
  for (var s = params.x; s < params.y; s += 1u) {
    let shape = steps[2u * s];
    let n = shape.x;
    let chunks = shape.y / 8u;
    let wOff = shape.z;
    let xOff = shape.w;
    let yOff = steps[2u * s + 1u].x;
    for (var base = wg.x * ${ROWS_PER_GROUP}u; base < n; base += groups * ${ROWS_PER_GROUP}u) {
      let row = base + group;
      let rowOff = wOff + row * chunks;
      var acc = 0.0;
      var c0 = 0u;
      if (havePre) {
        for (var j = 0u; j < PREFETCH; j += 1u) { acc += chunkDot(preloaded[j], xOff, lane + 32u * j); }
        c0 = 32u * PREFETCH;
        havePre = false;
      }
      for (var c = c0 + lane; c < chunks; c += 128u) {
        let q0 = w[rowOff + c];
        let q1 = w[rowOff + min(c + 32u, chunks - 1u)];
        let q2 = w[rowOff + min(c + 64u, chunks - 1u)];
        let q3 = w[rowOff + min(c + 96u, chunks - 1u)];
        acc += chunkDot(q0, xOff, c);
        if (c + 32u < chunks) { acc += chunkDot(q1, xOff, c + 32u); }
        if (c + 64u < chunks) { acc += chunkDot(q2, xOff, c + 64u); }
        if (c + 96u < chunks) { acc += chunkDot(q3, xOff, c + 96u); }
      }
      ${reduce}
      if (lane == 0u) { rowsOut[group] = sum; }
      workgroupBarrier();
      if (lid < ${ROWS_PER_GROUP / 4}u) {
        act[yOff + base / 4u + lid] = vec4<f32>(rowsOut[4u * lid], rowsOut[4u * lid + 1u], rowsOut[4u * lid + 2u], rowsOut[4u * lid + 3u]);
      }
      workgroupBarrier();
    }
    if (params.w == 1u && s + 1u < params.y) {
      if (PREFETCH > 0u) {
        let next = steps[2u * (s + 1u)];
        let nextChunks = next.y / 8u;
        let nextRow = wg.x * ${ROWS_PER_GROUP}u + group;
        if (nextRow < next.x) {
          for (var j = 0u; j < PREFETCH; j += 1u) { preloaded[j] = w[next.z + nextRow * nextChunks + lane + 32u * j]; }
          havePre = true;
        }
      }
      gridSync((s + 1u - params.x) * groups, lid);
    }
  }
}
`;
}

const opts = parseArgs(process.argv.slice(2));
const gpu = await openWebGpu({ disableRobustness: opts.noRobustness });
const device = gpu.device;
// A lane group is one subgroup where subgroups are 32 wide (NVIDIA); elsewhere the sums go through workgroup memory.
const subgroupReduce = gpu.features.subgroups && gpu.adapter.subgroupMinSize === 32 && gpu.adapter.subgroupMaxSize === 32;
console.log(
  `grid-sync on ${gpu.adapter.name} (robustness ${opts.noRobustness ? "off" : "on"}, ${subgroupReduce ? "subgroup" : "workgroup"} sums)`,
);

const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const syncBuffer = device.createBuffer({ size: 256, usage: storage });
const syncRead = device.createBuffer({ size: 8, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });

async function spinFailed(): Promise<boolean> {
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(syncBuffer, 0, syncRead, 0, 8);
  device.queue.submit([encoder.finish()]);
  await syncRead.mapAsync(MAP_MODE_READ);
  const flag = new Uint32Array(syncRead.getMappedRange().slice(0))[1];
  syncRead.unmap();
  return flag !== 0;
}

const pipelines = new Map<number, GPUComputePipeline>();
for (const prefetch of new Set([0, ...opts.prefetch])) {
  const module = device.createShaderModule({ code: source(prefetch, subgroupReduce) });
  pipelines.set(prefetch, await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } }));
}
function pipeline(prefetch: number): GPUComputePipeline {
  const p = pipelines.get(prefetch);
  if (!p) throw new Error(`no pipeline for prefetch ${prefetch}`);
  return p;
}

interface ChainBuffers {
  chain: Product[];
  weights: GPUBuffer;
  act: GPUBuffer;
  actBytes: number;
  steps: GPUBuffer;
  /** Offsets of each product's output region, in vec4<f32>. */
  yOffsets: number[];
}

function makeChain(chain: Product[]): ChainBuffers {
  const stepWords: number[] = [];
  let wOff = 0; // vec4<u32> units
  let aOff = chain[0].k / 4; // region 0 is x0
  const xOffsets = [0];
  const yOffsets: number[] = [];
  for (const p of chain) {
    yOffsets.push(aOff);
    stepWords.push(p.n, p.k, wOff, xOffsets[xOffsets.length - 1], aOff, 0, 0, 0);
    xOffsets.push(aOff);
    wOff += (p.n * p.k) / 8;
    aOff += p.n / 4;
  }
  const weightBytes = wOff * 16;
  if (weightBytes > gpu.limits.maxStorageBufferBindingSize) throw new Error(`chain weights ${weightBytes} B exceed one binding`);
  const weights = device.createBuffer({ size: weightBytes, usage: storage });
  fillRandomBf16(device, weights, weightBytes / 4, 12345);
  const actBytes = aOff * 16;
  const act = device.createBuffer({ size: actBytes, usage: storage });
  const x0 = new Float32Array(chain[0].k).map(() => Math.random() * 2 - 1);
  device.queue.writeBuffer(act, 0, x0);
  const steps = device.createBuffer({ size: stepWords.length * 4, usage: storage });
  device.queue.writeBuffer(steps, 0, new Uint32Array(stepWords));
  return { chain, weights, act, actBytes, steps, yOffsets };
}

function bindGroup(buffers: ChainBuffers, prefetch: number, params: number[]): GPUBindGroup {
  const uniform = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, new Uint32Array(params));
  return device.createBindGroup({
    layout: pipeline(prefetch).getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: buffers.weights } },
      { binding: 1, resource: { buffer: buffers.act } },
      { binding: 2, resource: { buffer: syncBuffer } },
      { binding: 3, resource: { buffer: buffers.steps } },
      { binding: 4, resource: { buffer: uniform } },
    ],
  });
}

type Mode = { kind: "dispatches"; groups: number | null } | { kind: "persistent"; groups: number; prefetch: number };

function modeName(mode: Mode): string {
  if (mode.kind === "dispatches")
    return mode.groups === null ? "dispatch per product, N/8 workgroups" : `dispatch per product, ${mode.groups} workgroups`;
  return `persistent, ${mode.groups} workgroups, prefetch ${mode.prefetch}`;
}

/** Records `reps` runs of the whole chain in `mode`; returns the command buffer. */
function encodeRuns(buffers: ChainBuffers, mode: Mode, reps: number): GPUCommandBuffer {
  const encoder = device.createCommandEncoder();
  const L = buffers.chain.length;
  if (mode.kind === "dispatches") {
    const binds = buffers.chain.map((p, s) => bindGroup(buffers, 0, [s, s + 1, mode.groups ?? p.n / ROWS_PER_GROUP, 0]));
    for (let r = 0; r < reps; r++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline(0));
      buffers.chain.forEach((p, s) => {
        pass.setBindGroup(0, binds[s]);
        pass.dispatchWorkgroups(mode.groups ?? p.n / ROWS_PER_GROUP);
      });
      pass.end();
    }
  } else {
    const bind = bindGroup(buffers, mode.prefetch, [0, L, mode.groups, 1]);
    for (let r = 0; r < reps; r++) {
      encoder.clearBuffer(syncBuffer, 0, 8);
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline(mode.prefetch));
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(mode.groups);
      pass.end();
    }
  }
  return encoder.finish();
}

async function runOnce(buffers: ChainBuffers, mode: Mode): Promise<Float32Array> {
  device.queue.submit([encodeRuns(buffers, mode, 1)]);
  return new Float32Array(await readBack(device, buffers.act, 0, buffers.actBytes));
}

async function timeMode(buffers: ChainBuffers, mode: Mode): Promise<number> {
  const commands = () => encodeRuns(buffers, mode, opts.reps);
  device.queue.submit([commands()]);
  await device.queue.onSubmittedWorkDone();
  const times: number[] = [];
  for (let t = 0; t < opts.trials; t++) {
    const cb = commands();
    const t0 = performance.now();
    device.queue.submit([cb]);
    await device.queue.onSubmittedWorkDone();
    times.push((performance.now() - t0) / opts.reps);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** The barrier alone: `groups` workgroups through 8 rounds of an empty chain; true when no spin gave up. */
async function residencyOk(groups: number): Promise<boolean> {
  const buffers = makeChain(parseChain("1024x1024*8"));
  const encoder = device.createCommandEncoder();
  encoder.clearBuffer(syncBuffer, 0, 8);
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline(0));
  pass.setBindGroup(0, bindGroup(buffers, 0, [0, 8, groups, 1]));
  pass.dispatchWorkgroups(groups);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const failed = await spinFailed();
  buffers.weights.destroy();
  buffers.act.destroy();
  return !failed;
}

console.log("\nresidency (all workgroups meet at the barrier, 8 rounds):");
for (const g of opts.residency) console.log(`  ${g} workgroups: ${(await residencyOk(g)) ? "ok" : "a spin gave up"}`);

for (const spec of opts.chains) {
  const chain = parseChain(spec);
  const buffers = makeChain(chain);
  const bytes = chain.reduce((sum, p) => sum + p.n * p.k * 2, 0);
  console.log(`\nchain ${spec}: ${chain.length} products, ${(bytes / 1e6).toFixed(1)} MB of weights`);
  const reference = await runOnce(buffers, { kind: "dispatches", groups: null });
  // Host check of the first product's first rows (the kernels' own sanity).
  const w0 = new Uint32Array(await readBack(device, buffers.weights, 0, 8 * (chain[0].k / 2) * 4));
  let worst = 0;
  for (let r = 0; r < 8; r++) {
    let sum = 0;
    for (let k = 0; k < chain[0].k; k += 2) {
      const word = w0[(r * chain[0].k) / 2 + k / 2];
      const f = new Float32Array(new Uint32Array([word << 16, word & 0xffff0000]).buffer);
      sum += f[0] * reference[k] + f[1] * reference[k + 1];
    }
    worst = Math.max(worst, Math.abs(sum - reference[buffers.yOffsets[0] * 4 + r]) / Math.max(Math.abs(sum), 1e-6));
  }
  console.log(`  first product, 8 rows against the host: max relative error ${worst.toExponential(2)}`);
  const modes: Mode[] = [{ kind: "dispatches", groups: null }];
  for (const g of opts.groups) {
    modes.push({ kind: "dispatches", groups: g });
    // A lane's prefetched chunks must lie within every row of the chain (32 lanes × P chunks of 8 values ≤ K).
    for (const p of opts.prefetch.filter((p) => chain.every((product) => 256 * p <= product.k)))
      modes.push({ kind: "persistent", groups: g, prefetch: p });
  }
  for (const mode of modes) {
    let mismatches = 0;
    let failedSpins = 0;
    if (mode.kind === "persistent") {
      for (let r = 0; r < opts.repeats; r++) {
        const out = await runOnce(buffers, mode);
        if (await spinFailed()) failedSpins++;
        for (let i = chain[0].k; i < out.length; i++) if (out[i] !== reference[i] && !(isNaN(out[i]) && isNaN(reference[i]))) mismatches++;
      }
    }
    const ms = await timeMode(buffers, mode);
    const us = (ms * 1000) / chain.length;
    const check =
      mode.kind === "persistent"
        ? `, ${mismatches} values differ over ${opts.repeats} runs, ${failedSpins} runs with a spin that gave up`
        : "";
    console.log(
      `  ${modeName(mode).padEnd(48)} ${us.toFixed(2).padStart(7)} µs per product, ${(bytes / (ms / 1000) / 1e12).toFixed(2)} TB/s${check}`,
    );
  }
  buffers.weights.destroy();
  buffers.act.destroy();
}
process.exit(0);
