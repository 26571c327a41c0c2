import { decodeToF32, type WeightDtype } from "../../model/dtype.js";

/**
 * The reference math of every kernel, on plain arrays: the specification the WebGPU kernels are tested
 * against. Accumulation is in f64 (JS numbers) and results are stored in f32, so these are at least as
 * accurate as PyTorch's f32 eager path.
 */

/** A weight matrix in stored precision: `rows` rows of `cols` elements. */
export interface StoredMatrix {
  dtype: WeightDtype;
  rows: number;
  cols: number;
  bytes: Uint8Array;
}

/** out[t] = table[ids[t]] : [T, cols] */
export function embedRows(table: StoredMatrix, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * table.cols);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (id < 0 || id >= table.rows) throw new RangeError(`token id ${id} is outside the vocabulary (0..${table.rows - 1})`);
    decodeToF32(table.bytes, table.dtype, id * table.cols, table.cols, out, t * table.cols);
  }
  return out;
}

/** Per row: x / sqrt(mean(x²) + eps) * weight. x: [rows, cols], weight: [cols]. */
export function rmsNorm(x: Float32Array, rows: number, cols: number, weight: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sumSquares = 0;
    for (let c = 0; c < cols; c++) sumSquares += x[base + c] * x[base + c];
    const inv = 1 / Math.sqrt(sumSquares / cols + eps);
    for (let c = 0; c < cols; c++) out[base + c] = x[base + c] * inv * weight[c];
  }
  return out;
}

/** y = x · Wᵀ with x [T, K] and W [N, K] in stored precision: [T, N]. Each W row is decoded once. */
export function matmulTransposed(x: Float32Array, numTokens: number, w: StoredMatrix): Float32Array {
  const { rows: n, cols: k } = w;
  const out = new Float32Array(numTokens * n);
  const row = new Float32Array(k);
  for (let j = 0; j < n; j++) {
    decodeToF32(w.bytes, w.dtype, j * k, k, row);
    for (let t = 0; t < numTokens; t++) {
      const base = t * k;
      let acc = 0;
      for (let i = 0; i < k; i++) acc += x[base + i] * row[i];
      out[t * n + j] = acc;
    }
  }
  return out;
}

/**
 * Rotate-half RoPE (Hugging Face layout), in place on a copy: for each head, pairs (x[i], x[i + d/2])
 * rotate by angle = fround(position * invFreq[i]) (PyTorch forms the angle in f32).
 */
export function ropeRotateHalf(x: Float32Array, cols: number, positions: Int32Array, invFreq: Float32Array, headDim: number): Float32Array {
  const out = new Float32Array(x);
  const half = headDim / 2;
  for (let t = 0; t < positions.length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[t] * invFreq[i]);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let head = t * cols; head < (t + 1) * cols; head += headDim) {
        const a = x[head + i];
        const b = x[head + i + half];
        out[head + i] = a * cos - b * sin;
        out[head + i + half] = b * cos + a * sin;
      }
    }
  }
  return out;
}

/** silu(gate) * up, silu(z) = z * sigmoid(z). */
export function siluMul(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const z = gate[i];
    out[i] = (z / (1 + Math.exp(-z))) * up[i];
  }
  return out;
}

export function add(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** Paged K/V storage of one layer: [numBlocks * blockSize, numKvHeads * headDim] each. */
export interface PagedKv {
  keys: Float32Array;
  values: Float32Array;
  blockSize: number;
  kvCols: number;
}

/** Slot of `position` in a sequence whose block table row starts at `tableOffset`. */
export function slotOf(blockTables: Int32Array, tableOffset: number, blockSize: number, position: number): number {
  const block = blockTables[tableOffset + Math.floor(position / blockSize)];
  if (block === undefined || block < 0) throw new RangeError(`position ${position} has no KV block in the block table`);
  return block * blockSize + (position % blockSize);
}

export function writeKvRows(kv: PagedKv, k: Float32Array, v: Float32Array, slots: Int32Array): void {
  for (let t = 0; t < slots.length; t++) {
    kv.keys.set(k.subarray(t * kv.kvCols, (t + 1) * kv.kvCols), slots[t] * kv.kvCols);
    kv.values.set(v.subarray(t * kv.kvCols, (t + 1) * kv.kvCols), slots[t] * kv.kvCols);
  }
}

/**
 * Causal grouped-query attention over a paged cache. q: [T, numHeads * headDim]; token t attends to
 * positions 0..positions[t] of its sequence. Softmax is max-subtracted, in f64.
 */
export function pagedAttention(
  q: Float32Array,
  kv: PagedKv,
  positions: Int32Array,
  seqIndex: Int32Array,
  blockTables: Int32Array,
  maxBlocksPerSeq: number,
  numHeads: number,
  headDim: number,
  scale: number,
): Float32Array {
  const numTokens = positions.length;
  const qCols = numHeads * headDim;
  const numKvHeads = kv.kvCols / headDim;
  const groupSize = numHeads / numKvHeads;
  const out = new Float32Array(numTokens * qCols);
  let scores = new Float64Array(0);
  for (let t = 0; t < numTokens; t++) {
    const length = positions[t] + 1;
    if (scores.length < length) scores = new Float64Array(length);
    const tableOffset = seqIndex[t] * maxBlocksPerSeq;
    for (let h = 0; h < numHeads; h++) {
      const qBase = t * qCols + h * headDim;
      const kvHeadOffset = Math.floor(h / groupSize) * headDim;
      let max = -Infinity;
      for (let p = 0; p < length; p++) {
        const kBase = slotOf(blockTables, tableOffset, kv.blockSize, p) * kv.kvCols + kvHeadOffset;
        let dot = 0;
        for (let i = 0; i < headDim; i++) dot += q[qBase + i] * kv.keys[kBase + i];
        scores[p] = dot * scale;
        if (scores[p] > max) max = scores[p];
      }
      let sum = 0;
      for (let p = 0; p < length; p++) {
        scores[p] = Math.exp(scores[p] - max);
        sum += scores[p];
      }
      const acc = new Float64Array(headDim);
      for (let p = 0; p < length; p++) {
        const vBase = slotOf(blockTables, tableOffset, kv.blockSize, p) * kv.kvCols + kvHeadOffset;
        const weight = scores[p] / sum;
        for (let i = 0; i < headDim; i++) acc[i] += weight * kv.values[vBase + i];
      }
      out.set(acc, qBase);
    }
  }
  return out;
}

/**
 * Greedy choice over one logits row: the largest logit (lowest id on ties) outside `masked`, and its
 * log-probability under log_softmax of the whole row, in f64.
 */
export function greedyRow(row: Float32Array, masked: Set<number> | null): [number, number] {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    if (row[i] > max) max = row[i];
    if ((best < 0 || row[i] > row[best]) && !masked?.has(i)) best = i;
  }
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return [best, row[best] - max - Math.log(sum)];
}
