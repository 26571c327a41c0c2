import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

const SOURCE = `
struct Params { pairFloats: u32, numRows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pairs: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<i32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i < params.pairFloats) {
    out[i] = pairs[i];
    return;
  }
  let j = i - params.pairFloats;
  if (j >= params.numRows * params.cols) { return; }
  out[i] = logits[u32(rows[j / params.cols]) * params.cols + j % params.cols];
}
`;

/**
 * One readback for a step that samples most rows on the device: [1, 2·pairs.rows + numRows·cols] = the
 * (token id, log-prob) pairs, then the listed logits rows (checked against logits.rows by the caller).
 */
export function packSampled(
  ctx: KernelContext,
  pairs: GpuActivation,
  logits: GpuActivation,
  rows: Resource,
  numRows: number,
): GpuActivation {
  const pairFloats = pairs.rows * pairs.cols;
  const total = pairFloats + numRows * logits.cols;
  const out = ctx.recorder.output(1, total);
  if (out.isEmpty) return out;
  ctx.recorder.dispatch(
    ctx.pipelines.get("packSampled", () => SOURCE),
    [uniform(pairFloats, numRows, logits.cols), activationResource(pairs), rows, activationResource(logits), activationResource(out)],
    Math.ceil(total / WORKGROUP),
  );
  return out;
}
