import type { WeightDtype } from "../../../model/dtype.js";
import { activationResource, uniform, type GpuWeight, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP, weightAccess } from "../wgsl.js";

const WORKGROUP = 64;

const FEED_BINDINGS = `@group(0) @binding(4) var<storage, read> feedRows: array<i32>;
@group(0) @binding(5) var<storage, read> sampled: array<f32>;`;

/**
 * `fed`: some tokens take their id from an earlier step's device-sampled output (`sampled` [rows, 2], id as
 * f32 in column 0; `feedRows[t]` its row, or -1 for `ids[t]`), so step N+1 can run before step N is read.
 */
function source(dtype: WeightDtype, fed: boolean): string {
  const tokenId = fed ? `select(u32(ids[t]), u32(sampled[u32(feedRows[t]) * 2u]), feedRows[t] >= 0)` : "u32(ids[t])";
  return `
struct Params { numTokens: u32, cols: u32, firstRow: u32, bandRows: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
${weightAccess("table", 2, dtype)}
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${fed ? FEED_BINDINGS : ""}
${LINEAR_WORKGROUP}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= params.numTokens * params.cols) { return; }
  let t = i / params.cols;
  // A row band of a split table (firstRow, bandRows): ids outside it give 0 (the bands are summed).
  let row = ${tokenId} - params.firstRow;
  var value = 0.0;
  if (row < params.bandRows) { value = tableAt(row * params.cols + i % params.cols); }
  out[i] = value;
}
`;
}

/**
 * out[t] = table[ids[t] − firstRow] : [numTokens, cols] in f32, 0 where the id is outside the table's rows
 * (a band of a split table). Token ids are checked against the vocabulary by the caller.
 */
export function embed(
  ctx: KernelContext,
  table: GpuWeight,
  ids: Resource,
  numTokens: number,
  feed?: { rows: Resource; sampled: GpuActivation },
  firstRow = 0,
): GpuActivation {
  const cols = table.shape[1];
  const out = ctx.recorder.output(numTokens, cols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get(`embed/${table.dtype}${feed ? "/fed" : ""}`, () => source(table.dtype, feed !== undefined));
  const resources = [uniform(numTokens, cols, firstRow, table.shape[0]), ids, table.resource, activationResource(out)];
  if (feed) resources.push(feed.rows, activationResource(feed.sampled));
  ctx.recorder.dispatch(pipeline, resources, Math.ceil((numTokens * cols) / WORKGROUP));
  return out;
}
