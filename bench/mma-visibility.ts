/**
 * Can scalar code read a subgroup-matrix result through memory in the same dispatch? A fused tensor-core attention
 * kernel needs it: S = Q·Kᵀ is a result matrix, the softmax reads its elements, and the next key block's S is stored
 * over it. Session 6 found that a result `subgroupMatrixStore`d to workgroup memory, then `workgroupBarrier`, then
 * read by scalar loads gave wrong values on the H100 (bench/NOTES.md), and that the GEMM's matrix *loads* need a
 * fence (offsets that depend on a `workgroupUniformLoad` after the barrier). This probe asks which synchronisation
 * makes the store side work:
 *
 *   wg-barrier   scratch in workgroup memory; store, workgroupBarrier, scalar reads, workgroupBarrier, next store
 *   wg-fence     the same with each barrier a workgroupUniformLoad of a word that stays 0, added to the offsets of
 *                the reads after it and of the store after them (the GEMM's trick on both sides)
 *   st-barrier   scratch in a storage buffer (a region per workgroup); storageBarrier + workgroupBarrier
 *   st-fence     storage scratch; storageBarrier, then the workgroupUniformLoad fence in the offsets
 *
 * Each workgroup has 4 subgroups; in each of ITERATIONS rounds subgroup s multiplies its own left matrix (from
 * storage, different per round, subgroup and workgroup) by a shared right matrix into a result it stores at region
 * s of the scratch; then every thread reads the elements of region (s + 1) % 4 (another subgroup's result) and
 * writes them out. Operands are small integers, so every element is exact and the host checks them all; a read of
 * the previous round's values or of unwritten memory shows as a mismatch. Prints one line per mode:
 * "ok" or the count of wrong elements of how many.
 *
 *   node dist/bench/mma-visibility.js [--no-robustness] [--workgroups 264]
 */
import { describeDevice, openWebGpu } from "../src/gpu/webgpu/device.js";
import { BufferUsage, MAP_MODE_READ } from "../src/gpu/webgpu/buffers.js";
import { matrixLoad, matrixStoreRowMajor, type SubgroupMatrixConfig } from "../src/gpu/webgpu/kernels/tensor/plan.js";
import { tensorCoreSetup } from "../src/gpu/webgpu/kernels/tensor/setup.js";
import { probeMajornessSyntax, smallIntF16Bits } from "../src/gpu/webgpu/kernels/tensor/majorness-probe.js";

const SUBGROUPS = 4;
const ITERATIONS = 8;
const MODES = ["wg-barrier", "wg-fence", "st-barrier", "st-fence"] as const;
type Mode = (typeof MODES)[number];

function source(mode: Mode, config: SubgroupMatrixConfig, subgroupSize: number, syntax: "template" | "argument"): string {
  const { M, N, K } = config;
  const resultElements = M * N;
  const perLane = resultElements / subgroupSize;
  const storage = mode.startsWith("st");
  const fenced = mode.endsWith("fence");
  const scratch = storage ? "&scratch" : "&wscratch";
  const base = storage ? `wg * ${SUBGROUPS * resultElements}u` : "0u";
  const sync = (name: string) =>
    [
      storage ? "storageBarrier();" : "",
      fenced ? `let ${name} = workgroupUniformLoad(&zeroWords[0]);` : `workgroupBarrier(); let ${name} = 0u;`,
    ].join(" ");
  const left = `subgroup_matrix_left<f16, ${K}, ${M}>`;
  const right = `subgroup_matrix_right<f16, ${N}, ${K}>`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<storage, read> a: array<f16>; // [workgroups, ITERATIONS, SUBGROUPS, M, K]
@group(0) @binding(1) var<storage, read> b: array<f16>; // [ITERATIONS, N, K] (right matrices, column-major)
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // [workgroups, ITERATIONS, SUBGROUPS, M·N]
@group(0) @binding(3) var<storage, read_write> scratch: array<f32>; // [workgroups, SUBGROUPS, M·N]

var<workgroup> wscratch: array<f32, ${SUBGROUPS * resultElements}>;
var<workgroup> zeroWords: array<u32, 4>; // 16 bytes, as every workgroup variable here (bench/NOTES.md session 11)

@compute @workgroup_size(${SUBGROUPS * subgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  let wg = wid.x;
  let s = lid / ${subgroupSize}u;
  var after = 0u;
  for (var it = 0u; it < ${ITERATIONS}u; it++) {
    let lhs = ${matrixLoad(syntax, left, "&a", `((wg * ${ITERATIONS}u + it) * ${SUBGROUPS}u + s) * ${M * K}u`, false, `${K}u`)};
    let rhs = ${matrixLoad(syntax, right, "&b", `it * ${N * K}u`, true, `${K}u`)};
    let product = subgroupMatrixMultiplyAccumulate(lhs, rhs, subgroup_matrix_result<f32, ${N}, ${M}>());
    ${matrixStoreRowMajor(syntax, scratch, `${base} + s * ${resultElements}u + after`, "product", `${N}u`)};
    ${sync("before")}
    let other = (s + 1u) % ${SUBGROUPS}u;
    let out = ((wg * ${ITERATIONS}u + it) * ${SUBGROUPS}u + other) * ${resultElements}u;
    for (var j = 0u; j < ${perLane}u; j++) {
      let e = lane * ${perLane}u + j;
      y[out + e] = ${storage ? "scratch" : "wscratch"}[${base} + other * ${resultElements}u + e + before];
    }
    ${sync("next")}
    after = next;
  }
}
`;
}

function operands(config: SubgroupMatrixConfig, workgroups: number) {
  const { M, N, K } = config;
  const a = Array.from({ length: workgroups * ITERATIONS * SUBGROUPS * M * K }, (_, i) => ((i * 7 + (i >> 9)) % 9) - 4);
  const b = Array.from({ length: ITERATIONS * N * K }, (_, i) => ((i * 5 + (i >> 8)) % 7) - 3);
  const expected = new Float32Array(workgroups * ITERATIONS * SUBGROUPS * M * N);
  for (let w = 0; w < workgroups; w++) {
    for (let it = 0; it < ITERATIONS; it++) {
      for (let s = 0; s < SUBGROUPS; s++) {
        const left = ((w * ITERATIONS + it) * SUBGROUPS + s) * M * K;
        const out = ((w * ITERATIONS + it) * SUBGROUPS + s) * M * N;
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let sum = 0;
            for (let k = 0; k < K; k++) sum += a[left + m * K + k] * b[it * N * K + n * K + k];
            expected[out + m * N + n] = sum;
          }
        }
      }
    }
  }
  return { a, b, expected };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const noRobustness = args.includes("--no-robustness");
  const wgIndex = args.indexOf("--workgroups");
  const workgroups = wgIndex >= 0 ? Number(args[wgIndex + 1]) : 264;
  const gpu = await openWebGpu(noRobustness ? { disableRobustness: true } : {});
  const setup = tensorCoreSetup(gpu);
  if (!setup) {
    console.log(`mma-visibility: ${describeDevice(gpu)} has no f16→f32 subgroup-matrix configuration: nothing to probe`);
    return;
  }
  const { device } = gpu;
  const syntax = await probeMajornessSyntax(device, setup.config, setup.subgroupSize);
  console.log(`device: ${describeDevice(gpu)}, robustness ${noRobustness ? "off" : "on"}, ${syntax} syntax, ${workgroups} workgroups`);
  const { a, b, expected } = operands(setup.config, workgroups);
  const upload = (values: number[]) => {
    const buffer = device.createBuffer({
      size: Math.ceil((values.length * 2) / 4) * 4,
      usage: BufferUsage.STORAGE,
      mappedAtCreation: true,
    });
    new Uint16Array(buffer.getMappedRange(), 0, values.length).set(values.map(smallIntF16Bits));
    buffer.unmap();
    return buffer;
  };
  const aBuffer = upload(a);
  const bBuffer = upload(b);
  const outBytes = expected.length * 4;
  const scratch = device.createBuffer({ size: workgroups * SUBGROUPS * setup.config.M * setup.config.N * 4, usage: BufferUsage.STORAGE });
  for (const mode of MODES) {
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: source(mode, setup.config, setup.subgroupSize, syntax), label: mode });
    const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
    const y = device.createBuffer({ size: outBytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: outBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    // The workgroup modes do not use the scratch buffer, so their layout has no binding for it.
    const entries = [aBuffer, bBuffer, y, scratch]
      .slice(0, mode.startsWith("st") ? 4 : 3)
      .map((buffer, binding) => ({ binding, resource: { buffer } }));
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
    encoder.copyBufferToBuffer(y, 0, readback, 0, outBytes);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) {
      console.log(`${mode}: error: ${error.message.split("\n")[0]}`);
      continue;
    }
    await readback.mapAsync(MAP_MODE_READ);
    const got = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    let wrong = 0;
    let firstWrong = -1;
    for (let i = 0; i < expected.length; i++) {
      if (got[i] !== expected[i]) {
        wrong++;
        if (firstWrong < 0) firstWrong = i;
      }
    }
    const detail =
      wrong === 0 ? "ok" : `${wrong} of ${expected.length} wrong (first at ${firstWrong}: ${got[firstWrong]} for ${expected[firstWrong]})`;
    console.log(`${mode}: ${detail}`);
    y.destroy();
    readback.destroy();
  }
  for (const buffer of [aBuffer, bBuffer, scratch]) buffer.destroy();
  gpu.device.destroy();
}

await main();
