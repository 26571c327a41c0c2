import { activationResource, uniform, type KernelContext } from "../context.js";
import type { GpuActivation, Resource } from "../recorder.js";
import { LINEAR_WORKGROUP } from "../wgsl.js";

const WORKGROUP = 64;

const SOURCE = `
struct Params { numTokens: u32, cols: u32, headDim: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cosSin: array<vec2<f32>>; // [numTokens, headDim / 2]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${LINEAR_WORKGROUP}

// One invocation per rotated pair (x[i], x[i + headDim/2]) of one head of one token.
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let pair = linearWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  let pairsPerToken = params.cols / 2u;
  if (pair >= params.numTokens * pairsPerToken) { return; }
  let half = params.headDim / 2u;
  let t = pair / pairsPerToken;
  let r = pair % pairsPerToken;
  let i = r % half;
  let base = t * params.cols + (r / half) * params.headDim + i;
  let a = x[base];
  let b = x[base + half];
  let cs = cosSin[t * half + i];
  out[base] = a * cs.x - b * cs.y;
  out[base + half] = b * cs.x + a * cs.y;
}
`;

/**
 * Rotate-half RoPE. `cosSin` holds (cos, sin) of fround(position * invFreq[i]) per token and i < headDim/2,
 * computed on the host in f64 like the reference (GPU sin/cos lose accuracy on large angles).
 */
export function rope(ctx: KernelContext, x: GpuActivation, cosSin: Resource, headDim: number): GpuActivation {
  if (headDim % 2 !== 0 || x.cols % headDim !== 0) throw new Error(`rope: ${x.cols} columns are not whole heads of even size ${headDim}`);
  const out = ctx.recorder.output(x.rows, x.cols);
  if (out.isEmpty) return out;
  const pipeline = ctx.pipelines.get("rope", () => SOURCE);
  ctx.recorder.dispatch(
    pipeline,
    [uniform(x.rows, x.cols, headDim), activationResource(x), cosSin, activationResource(out)],
    Math.ceil((x.rows * x.cols) / 2 / WORKGROUP),
  );
  return out;
}

/**
 * ropeTable's rows kept per position: each is computed once (positions 0 up to the largest seen, in blocks of
 * POSITION_BLOCK), and a step's table is copied into one reused array. Building a new table each step cost the
 * H100 serving benchmark 0.7 ms of host time per step and allocated up to 1 MB per 2,048-token step (throughput
 * within the spread either way: bench/NOTES.md, session 13).
 */
export class RopeTableCache {
  private table = new Float32Array(0);
  private staging = new Float32Array(0);

  constructor(private readonly invFreq: Float32Array) {}

  /** ropeTable(positions, invFreq), in an array the next call overwrites (upload it before calling again). */
  rows(positions: Int32Array): Float32Array {
    const width = this.invFreq.length * 2;
    let last = 0;
    for (const position of positions) {
      if (position < 0) throw new RangeError(`rope: position ${position} is negative`);
      if (position > last) last = position;
    }
    this.cover(last + 1);
    const length = positions.length * width;
    if (this.staging.length < length) this.staging = new Float32Array(Math.max(length, 2 * this.staging.length));
    const { staging, table } = this;
    for (let t = 0; t < positions.length; t++) {
      const from = positions[t] * width;
      for (let i = 0; i < width; i++) staging[t * width + i] = table[from + i];
    }
    return staging.subarray(0, length);
  }

  /** Rows for positions 0..count-1 at least. */
  private cover(count: number): void {
    const width = this.invFreq.length * 2;
    const have = this.table.length / width;
    if (count <= have) return;
    const rows = Math.ceil(count / POSITION_BLOCK) * POSITION_BLOCK;
    const grown = new Float32Array(rows * width);
    grown.set(this.table);
    const added = Int32Array.from({ length: rows - have }, (_, i) => have + i);
    grown.set(ropeTable(added, this.invFreq), have * width);
    this.table = grown;
  }
}

/** Positions the cache adds at a time. */
const POSITION_BLOCK = 4096;

/** [positions.length, invFreq.length] pairs (cos, sin) of fround(position * invFreq[i]). */
export function ropeTable(positions: Int32Array, invFreq: Float32Array): Float32Array {
  const half = invFreq.length;
  const table = new Float32Array(positions.length * half * 2);
  for (let t = 0; t < positions.length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[t] * invFreq[i]);
      table[(t * half + i) * 2] = Math.cos(angle);
      table[(t * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/**
 * WGSL statements that load vec4 lane `d` of query row `qBase` (in `q: array<vec4<f32>>`, LANES vec4s per head)
 * with rotate-half RoPE for token `t` from `cosSin` ([numTokens, headDim / 2] (cos, sin) pairs) and assign it to
 * `target`: element e of the first half becomes q[e]·cos − q[e + half]·sin, of the second half
 * q[e]·cos + q[e − half]·sin — the rope kernel's expressions, so the values equal a separate rope pass. Shared
 * by both attention kernels, which rotate q as they load it.
 */
export function ropedQLoad(target: string, indent: string): string {
  return [
    "let halfLanes = LANES / 2u;",
    "let first = d < halfLanes;",
    "let own = q[qBase + d];",
    "let partner = q[qBase + select(d - halfLanes, d + halfLanes, first)];",
    "let c = t * (LANES * 2u) + (d % halfLanes) * 4u; // cosSin row of token t: headDim / 2 = LANES * 2 pairs",
    "let c0 = cosSin[c];",
    "let c1 = cosSin[c + 1u];",
    "let c2 = cosSin[c + 2u];",
    "let c3 = cosSin[c + 3u];",
    "let cosv = vec4<f32>(c0.x, c1.x, c2.x, c3.x);",
    "let sinv = vec4<f32>(c0.y, c1.y, c2.y, c3.y);",
    `${target} = select(own * cosv + partner * sinv, own * cosv - partner * sinv, first);`,
  ]
    .map((line) => indent + line)
    .join("\n");
}
