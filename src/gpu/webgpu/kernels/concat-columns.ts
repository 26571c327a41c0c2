import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

const SOURCE = `
struct Params { rows: u32, partCols: u32, outCols: u32, offset: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.rows * params.partCols) { return; }
  let r = i / params.partCols;
  out[r * params.outCols + params.offset + i % params.partCols] = part[i];
}
`;

/** `[rows, Σ cols]`: the parts side by side, one copy dispatch per part (the products of a row-banded weight). */
export function concatColumns(ctx: KernelContext, parts: GpuActivation[]): GpuActivation {
  const rows = parts[0].rows;
  const outCols = parts.reduce((n, p) => n + p.cols, 0);
  const out = ctx.recorder.output(rows, outCols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get("concatColumns", () => SOURCE);
  let offset = 0;
  for (const part of parts) {
    if (!part.isEmpty) {
      ctx.recorder.dispatch(
        pipeline,
        [uniform(rows, part.cols, outCols, offset), activationResource(part), activationResource(out)],
        Math.ceil((rows * part.cols) / WORKGROUP),
      );
    }
    offset += part.cols;
  }
  return out;
}
