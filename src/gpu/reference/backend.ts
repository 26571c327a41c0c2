import type { Activation, Backend, ForwardBatch, HostTensor, KvCache, KvCacheLayout, NormSpec, Weight } from "../backend.js";
import { toF32, type WeightDtype } from "../../model/dtype.js";
import * as ops from "./ops.js";

/** f32 activation held in JS memory. */
class CpuActivation implements Activation {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly data: Float32Array,
  ) {}
}

/** A weight kept as its stored bytes; 1-D weights (norms, inv_freq) are also decoded to f32 once. */
class CpuWeight implements Weight {
  readonly vector: Float32Array | null;
  constructor(
    readonly dtype: WeightDtype,
    readonly shape: readonly number[],
    readonly bytes: Uint8Array,
  ) {
    this.vector = shape.length === 1 ? toF32(bytes, dtype) : null;
  }

  get matrix(): ops.StoredMatrix {
    return { dtype: this.dtype, rows: this.shape[0], cols: this.shape[1], bytes: this.bytes };
  }

  get f32(): Float32Array {
    if (!this.vector) throw new Error(`expected a 1-D weight, got shape [${this.shape.join(", ")}]`);
    return this.vector;
  }
}

class CpuKvCache implements KvCache {
  readonly layers: ops.PagedKv[];
  constructor(readonly layout: KvCacheLayout) {
    const kvCols = layout.numKvHeads * layout.headDim;
    const slots = layout.numBlocks * layout.blockSize;
    this.layers = Array.from({ length: layout.numLayers }, () => ({
      keys: new Float32Array(slots * kvCols),
      values: new Float32Array(slots * kvCols),
      blockSize: layout.blockSize,
      kvCols,
    }));
  }
}

function act(a: Activation): CpuActivation {
  return a as CpuActivation;
}
function weight(w: Weight): CpuWeight {
  return w as CpuWeight;
}

/**
 * The `cpu` backend: the reference implementation of every op in plain TypeScript (f32 storage, f64
 * accumulation). Slow by design; it is the specification the GPU kernels are checked against.
 */
export class ReferenceBackend implements Backend {
  readonly name = "cpu";
  /** No buffer limit on the CPU; tests lower it to exercise row-banded weights. */
  maxWeightBytes = Number.POSITIVE_INFINITY;
  /** The reference cache holds f32 K/V. */
  readonly kvBytesPerValue = 4;

  async uploadWeight(_name: string, tensor: HostTensor): Promise<Weight> {
    return new CpuWeight(tensor.dtype, tensor.shape, tensor.bytes);
  }

  createKvCache(layout: KvCacheLayout): KvCache {
    return new CpuKvCache(layout);
  }

  embed(table: Weight, batch: ForwardBatch, firstRow?: number): Activation {
    const m = weight(table).matrix;
    let ids = batch.tokenIds;
    if (batch.deviceTokens) {
      const { source, rows } = batch.deviceTokens;
      const sampled = act(source).data;
      ids = ids.map((id, t) => (rows[t] >= 0 ? sampled[rows[t] * 2] : id));
    }
    if (firstRow === undefined) return new CpuActivation(batch.numTokens, m.cols, ops.embedRows(m, ids));
    const out = new Float32Array(batch.numTokens * m.cols);
    ids.forEach((id, t) => {
      if (id >= firstRow && id < firstRow + m.rows) out.set(ops.embedRows(m, Int32Array.of(id - firstRow)), t * m.cols);
    });
    return new CpuActivation(batch.numTokens, m.cols, out);
  }

  concatColumns(parts: Activation[]): Activation {
    const rows = parts[0].rows;
    const cols = parts.reduce((n, p) => n + p.cols, 0);
    const out = new Float32Array(rows * cols);
    let offset = 0;
    for (const part of parts) {
      const data = act(part).data;
      for (let r = 0; r < rows; r++) out.set(data.subarray(r * part.cols, (r + 1) * part.cols), r * cols + offset);
      offset += part.cols;
    }
    return new CpuActivation(rows, cols, out);
  }

  sampleGreedy(logits: Activation, maskStops: Int32Array, stopIds: Int32Array): Activation {
    const data = act(logits).data;
    const out = new Float32Array(logits.rows * 2);
    for (let r = 0; r < logits.rows; r++) {
      const row = data.subarray(r * logits.cols, (r + 1) * logits.cols);
      const [id, logprob] = ops.greedyRow(row, maskStops[r] ? new Set(stopIds) : null);
      out[2 * r] = id;
      out[2 * r + 1] = logprob;
    }
    return new CpuActivation(logits.rows, 2, out);
  }

  rmsNorm(x: Activation, w: Weight, eps: number): Activation {
    return new CpuActivation(x.rows, x.cols, ops.rmsNorm(act(x).data, x.rows, x.cols, weight(w).f32, eps));
  }

  matmulMany(x: Activation, weights: Weight[], norm?: NormSpec): Activation[] {
    const input = norm ? this.rmsNorm(x, norm.weight, norm.eps) : x;
    return weights.map((w) => this.matmul(input, w));
  }

  swiGlu(x: Activation, gate: Weight, up: Weight, norm?: NormSpec): Activation {
    const input = norm ? this.rmsNorm(x, norm.weight, norm.eps) : x;
    return this.siluMul(this.matmul(input, gate), this.matmul(input, up));
  }

  matmul(x: Activation, w: Weight, residual?: Activation): Activation {
    const m = weight(w).matrix;
    if (m.cols !== x.cols) throw new Error(`matmul: activation has ${x.cols} columns, weight expects ${m.cols}`);
    const product = new CpuActivation(x.rows, m.rows, ops.matmulTransposed(act(x).data, x.rows, m));
    return residual ? this.add(residual, product) : product;
  }

  rope(x: Activation, batch: ForwardBatch, invFreq: Weight, headDim: number): Activation {
    return new CpuActivation(x.rows, x.cols, ops.ropeRotateHalf(act(x).data, x.cols, batch.positions, weight(invFreq).f32, headDim));
  }

  writeKv(cache: KvCache, layer: number, k: Activation, v: Activation, batch: ForwardBatch, ropeInvFreq?: Weight): void {
    const rotated = ropeInvFreq ? this.rope(k, batch, ropeInvFreq, cache.layout.headDim) : k;
    ops.writeKvRows((cache as CpuKvCache).layers[layer], act(rotated).data, act(v).data, batch.slots);
  }

  attention(
    query: Activation,
    cache: KvCache,
    layer: number,
    batch: ForwardBatch,
    numHeads: number,
    scale: number,
    ropeInvFreq?: Weight,
  ): Activation {
    const { headDim } = cache.layout;
    const q = ropeInvFreq ? this.rope(query, batch, ropeInvFreq, headDim) : query;
    const out = ops.pagedAttention(
      act(q).data,
      (cache as CpuKvCache).layers[layer],
      batch.positions,
      batch.seqIndex,
      batch.blockTables,
      batch.maxBlocksPerSeq,
      numHeads,
      headDim,
      scale,
    );
    return new CpuActivation(q.rows, q.cols, out);
  }

  writeKvAttention(
    q: Activation,
    k: Activation,
    v: Activation,
    cache: KvCache,
    layer: number,
    batch: ForwardBatch,
    numHeads: number,
    scale: number,
    ropeInvFreq?: Weight,
  ): Activation {
    this.writeKv(cache, layer, k, v, batch, ropeInvFreq);
    return this.attention(q, cache, layer, batch, numHeads, scale, ropeInvFreq);
  }

  add(a: Activation, b: Activation): Activation {
    return new CpuActivation(a.rows, a.cols, ops.add(act(a).data, act(b).data));
  }

  siluMul(gate: Activation, up: Activation): Activation {
    return new CpuActivation(gate.rows, gate.cols, ops.siluMul(act(gate).data, act(up).data));
  }

  gatherRows(x: Activation, rows: Int32Array): Activation {
    const out = new Float32Array(rows.length * x.cols);
    const data = act(x).data;
    rows.forEach((row, i) => out.set(data.subarray(row * x.cols, (row + 1) * x.cols), i * x.cols));
    return new CpuActivation(rows.length, x.cols, out);
  }

  packSampled(pairs: Activation, logits: Activation, hostRows: Int32Array): Activation {
    const rows = this.gatherRows(logits, hostRows);
    const out = new Float32Array(pairs.rows * pairs.cols + rows.rows * rows.cols);
    out.set(act(pairs).data);
    out.set(act(rows).data, pairs.rows * pairs.cols);
    return new CpuActivation(1, out.length, out);
  }

  async read(x: Activation): Promise<Float32Array> {
    return act(x).data;
  }

  async dispose(): Promise<void> {}
}
