/**
 * How long a host↔GPU round trip takes through Dawn in Node, apart from any kernel: (1) submit of a
 * 4-byte copy + mapAsync of the result; (2) the same after N trivial dispatches in one pass, (3) two
 * submits in flight before the first map. Tells whether a decode step's gap between GPU time and wall time
 * is round-trip latency (fixed by pipelining steps) or per-dispatch cost (fixed by fusion).
 *
 *   node dist/bench/sync-latency.js [--dispatches 516] [--reps 50]
 */
import { openWebGpu } from "../src/gpu/webgpu/device.js";
import { BufferUsage } from "../src/gpu/webgpu/buffers.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const dispatches = flag("dispatches", 516);
const reps = flag("reps", 50);
const gpu = await openWebGpu();
const device = gpu.device;
const usage = BufferUsage;
const work = device.createBuffer({ size: 4096, usage: usage.STORAGE | usage.COPY_SRC | usage.COPY_DST });
const read = device.createBuffer({ size: 4, usage: usage.MAP_READ | usage.COPY_DST });
const module = device.createShaderModule({
  code: `@group(0) @binding(0) var<storage, read_write> b: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { b[g.x] = b[g.x] + 1u; }`,
});
const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: work } }] });

function encode(n: number) {
  const encoder = device.createCommandEncoder();
  if (n > 0) {
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    for (let i = 0; i < n; i++) {
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
  }
  encoder.copyBufferToBuffer(work, 0, read, 0, 4);
  return encoder.finish();
}

async function roundTrip(n: number): Promise<{ encodeMs: number; waitMs: number }> {
  const t0 = performance.now();
  const commands = encode(n);
  const t1 = performance.now();
  device.queue.submit([commands]);
  await read.mapAsync(1);
  read.unmap();
  return { encodeMs: t1 - t0, waitMs: performance.now() - t1 };
}

async function doneOnly(n: number): Promise<number> {
  const t0 = performance.now();
  const commands = encode(n);
  device.queue.submit([commands]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const n of [0, 1, 64, dispatches]) {
  for (let i = 0; i < 3; i++) await roundTrip(n);
  const results: { encodeMs: number; waitMs: number }[] = [];
  for (let i = 0; i < reps; i++) results.push(await roundTrip(n));
  const done: number[] = [];
  for (let i = 0; i < 10; i++) done.push(await doneOnly(n));
  console.log(
    `dispatches ${String(n).padStart(4)}: encode ${median(results.map((r) => r.encodeMs)).toFixed(3)} ms, submit→mapped ${median(results.map((r) => r.waitMs)).toFixed(3)} ms (min ${Math.min(...results.map((r) => r.waitMs)).toFixed(3)}), submit→onSubmittedWorkDone ${median(done).toFixed(3)} ms`,
  );
}
