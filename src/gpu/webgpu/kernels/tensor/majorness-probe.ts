import { BufferUsage, MAP_MODE_READ } from "../../buffers.js";
import { matrixLoad, matrixStoreRowMajor, type MajornessSyntax, type SubgroupMatrixConfig } from "./plan.js";

/**
 * Which matrix load/store syntax the tensor-core kernels use on this device (plan.ts, MajornessSyntax).
 *
 * Dawn's current WGSL names the layout as a template argument; the older form with a `col_major: bool`
 * argument still compiles, but Dawn then prints "use of deprecated builtin" for every shader through its log,
 * which goes to stdout and would corrupt machine-readable output (`swallow generate --json`). The template
 * form is used only when this device compiles it without a message AND a 16×16-class product through it is
 * exact: a left matrix row-major and a right matrix column-major, each once from workgroup memory and once
 * from storage, stored row-major, against the host product of small integers (exact in f16 and f32). Anything
 * else keeps the older syntax, which the kernels were first validated with; compile errors stay inside an
 * error scope, so a device without the template form prints nothing.
 */
export async function probeMajornessSyntax(
  device: GPUDevice,
  config: SubgroupMatrixConfig,
  subgroupSize: number,
): Promise<MajornessSyntax> {
  try {
    return (await templateFormWorks(device, config, subgroupSize)) ? "template" : "argument";
  } catch {
    return "argument";
  }
}

/** The probe kernel's WGSL: y[0] = A·B from (workgroup A, storage B), y[1] = A·B from (storage A, workgroup B). */
export function probeSource(config: SubgroupMatrixConfig, subgroupSize: number): string {
  const { M, N, K } = config;
  const left = `subgroup_matrix_left<f16, ${K}, ${M}>`;
  const right = `subgroup_matrix_right<f16, ${N}, ${K}>`;
  const result = `subgroup_matrix_result<f32, ${N}, ${M}>`;
  const load = (type: string, pointer: string, colMajor: boolean) => matrixLoad("template", type, pointer, "zero", colMajor, `${K}u`);
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

@group(0) @binding(0) var<storage, read> a: array<f16>; // [M, K] row-major
@group(0) @binding(1) var<storage, read> b: array<f16>; // [N, K] row-major = the K × N right matrix column-major
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // two [M, N] products, row-major

var<workgroup> aw: array<f16, ${M * K}>;
var<workgroup> bw: array<f16, ${N * K}>;
var<workgroup> zeroWord: u32;

@compute @workgroup_size(${subgroupSize})
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var i = lid; i < ${M * K}u; i += ${subgroupSize}u) { aw[i] = a[i]; }
  for (var i = lid; i < ${N * K}u; i += ${subgroupSize}u) { bw[i] = b[i]; }
  // The kernels' fence: the loads' offsets depend on a value read after the barrier.
  let zero = workgroupUniformLoad(&zeroWord);
  let first = subgroupMatrixMultiplyAccumulate(${load(left, "&aw", false)}, ${load(right, "&b", true)}, ${result}());
  let second = subgroupMatrixMultiplyAccumulate(${load(left, "&a", false)}, ${load(right, "&bw", true)}, ${result}());
  ${matrixStoreRowMajor("template", "&y", "0u", "first", `${N}u`)};
  ${matrixStoreRowMajor("template", "&y", `${M * N}u`, "second", `${N}u`)};
}
`;
}

/** The probe's operands: small integers (exact in f16; every sum exact in f32), as f16 bits and numbers. */
export function probeOperands(config: SubgroupMatrixConfig): { a: number[]; b: number[]; expected: number[] } {
  const { M, N, K } = config;
  const a = Array.from({ length: M * K }, (_, i) => ((i * 7) % 9) - 4);
  const b = Array.from({ length: N * K }, (_, i) => ((i * 5) % 7) - 3);
  const expected: number[] = [];
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += a[m * K + k] * b[n * K + k];
      expected.push(sum);
    }
  }
  return { a, b, expected: [...expected, ...expected] };
}

/** f16 bits of a small integer (|v| < 2048). */
export function smallIntF16Bits(value: number): number {
  if (value === 0) return 0;
  const sign = value < 0 ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  const exponent = Math.floor(Math.log2(magnitude));
  const mantissa = Math.round((magnitude / 2 ** exponent - 1) * 1024);
  return sign | ((exponent + 15) << 10) | mantissa;
}

async function templateFormWorks(device: GPUDevice, config: SubgroupMatrixConfig, subgroupSize: number): Promise<boolean> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: probeSource(config, subgroupSize), label: "majorness probe" });
  const info = await module.getCompilationInfo();
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  if ((await device.popErrorScope()) || info.messages.length > 0) return false;

  const { a, b, expected } = probeOperands(config);
  const upload = (values: number[]) => {
    const bytes = Math.ceil((values.length * 2) / 4) * 4;
    const buffer = device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE, mappedAtCreation: true });
    new Uint16Array(buffer.getMappedRange(), 0, values.length).set(values.map(smallIntF16Bits));
    buffer.unmap();
    return buffer;
  };
  const outBytes = expected.length * 4;
  const buffers = [upload(a), upload(b)];
  const y = device.createBuffer({ size: outBytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: outBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  try {
    device.pushErrorScope("validation");
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [buffers[0], buffers[1], y].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(y, 0, readback, 0, outBytes);
    device.queue.submit([encoder.finish()]);
    if (await device.popErrorScope()) return false;
    await readback.mapAsync(MAP_MODE_READ);
    const got = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return expected.every((value, i) => got[i] === value);
  } finally {
    for (const buffer of [...buffers, y, readback]) buffer.destroy();
  }
}
