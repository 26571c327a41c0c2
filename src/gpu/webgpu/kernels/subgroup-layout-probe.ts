import { BufferUsage, MAP_MODE_READ } from "../buffers.js";

/** The workgroup size the probe checks: the per-row attention's lanes design runs 128 threads. */
export const PROBED_WORKGROUP = 128;

/**
 * Whether this device's subgroups are consecutive runs of a 1-D workgroup's invocations (subgroup_invocation_id =
 * local_invocation_index mod subgroup_size, every subgroup full) with at least `minSize` lanes. Kernels that give
 * fixed groups of lanes (8 consecutive invocations) one task and sum over them with subgroupShuffleXor rely on it;
 * WebGPU does not promise it, though every known implementation numbers them so. One dispatch and a readback;
 * any error (no subgroups, a failed compile) answers false.
 */
export async function probeConsecutiveSubgroups(device: GPUDevice, minSize: number): Promise<boolean> {
  if (!device.features.has("subgroups")) return false;
  try {
    return await consecutive(device, minSize);
  } catch {
    return false;
  }
}

/** The probe's WGSL: ok[workgroup · WG + lid] = 1 where the invocation sits where a consecutive layout puts it. */
export function subgroupLayoutProbeSource(minSize: number): string {
  return `enable subgroups;
@group(0) @binding(0) var<storage, read_write> ok: array<u32>;

@compute @workgroup_size(${PROBED_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_size) sgSize: u32, @builtin(subgroup_invocation_id) sgId: u32) {
  // The subgroup's first invocation, as a consecutive layout would have it, must be lid - sgId.
  let first = subgroupBroadcastFirst(lid);
  let consecutive = sgId == lid % sgSize && first == lid - sgId && sgSize >= ${minSize}u && ${PROBED_WORKGROUP}u % sgSize == 0u;
  ok[wid.x * ${PROBED_WORKGROUP}u + lid] = select(0u, 1u, consecutive);
}
`;
}

async function consecutive(device: GPUDevice, minSize: number): Promise<boolean> {
  const workgroups = 4;
  const bytes = workgroups * PROBED_WORKGROUP * 4;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: subgroupLayoutProbeSource(minSize) });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const out = device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  try {
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: out } }],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
    encoder.copyBufferToBuffer(out, 0, read, 0, bytes);
    device.queue.submit([encoder.finish()]);
    if (await device.popErrorScope()) return false;
    await read.mapAsync(MAP_MODE_READ);
    const flags = new Uint32Array(read.getMappedRange().slice(0));
    read.unmap();
    return flags.every((flag) => flag === 1);
  } finally {
    out.destroy();
    read.destroy();
  }
}
