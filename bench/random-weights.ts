import { BufferUsage } from "../src/gpu/webgpu/buffers.js";

/**
 * Random bf16 weights made on the GPU for the kernel labs (no GBs of host random numbers to upload): each u32 word is
 * two bf16 values whose sign and 7 mantissa bits come from a hash of the word's index and a seed, exponent 2^-6
 * (magnitudes 2^-6..2^-5).
 */
const FILL_SOURCE = `@group(0) @binding(0) var<storage, read_write> w: array<u32>;
@group(0) @binding(1) var<uniform> range: vec4<u32>; // first word, words, seed
fn hash(v: u32) -> u32 {
  var x = v * 747796405u + 2891336453u;
  x = ((x >> ((x >> 28u) + 4u)) ^ x) * 277803737u;
  return (x >> 22u) ^ x;
}
fn bf16(h: u32) -> u32 { return ((h & 1u) << 15u) | (121u << 7u) | ((h >> 1u) & 0x7fu); }
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * 65535u * 256u;
  if (i >= range.y) { return; }
  let h = hash((range.x + i) ^ range.z);
  w[range.x + i] = bf16(h) | (bf16(h >> 8u) << 16u);
}`;

/** Fills the first `words` u32 words of `buffer` (a storage buffer) with random bf16 pairs; submitted, not awaited. */
export function fillRandomBf16(device: GPUDevice, buffer: GPUBuffer, words: number, seed: number): void {
  const module = device.createShaderModule({ code: FILL_SOURCE });
  const fill = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const perPass = 65535 * 256 * 64;
  for (let first = 0; first < words; first += perPass) {
    const count = Math.min(perPass, words - first);
    const range = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    device.queue.writeBuffer(range, 0, new Uint32Array([first, count, seed, 0]));
    const bind = device.createBindGroup({
      layout: fill.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer } },
        { binding: 1, resource: { buffer: range } },
      ],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(fill);
    pass.setBindGroup(0, bind);
    const groups = Math.ceil(count / 256);
    pass.dispatchWorkgroups(Math.min(groups, 65535), Math.ceil(groups / 65535));
    pass.end();
    device.queue.submit([encoder.finish()]);
  }
}
