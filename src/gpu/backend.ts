import type { WeightDtype } from "../model/dtype.js";

/**
 * The interface every compute backend implements: the plain-TypeScript reference (`cpu`) now, WebGPU next.
 * The Llama forward pass (model/llama.ts) is written once over these ops. Ops enqueue work and return
 * handles; only `read` waits for results, so a GPU backend can record a whole step before submitting.
 */

/** A checkpoint tensor as stored (row-major, little-endian), before upload. */
export interface HostTensor {
  dtype: WeightDtype;
  shape: readonly number[];
  bytes: Uint8Array;
}

/** A weight resident in the backend, kept in its stored precision. */
export interface Weight {
  readonly dtype: WeightDtype;
  readonly shape: readonly number[];
}

/** A 2-D activation `[rows, cols]` in f32 (rows = tokens of the batch). */
export interface Activation {
  readonly rows: number;
  readonly cols: number;
}

/** Shape of a paged KV cache: `numBlocks` blocks of `blockSize` token slots, per layer, for K and V. */
export interface KvCacheLayout {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  numBlocks: number;
  /** Tokens per block. */
  blockSize: number;
}

/** A step encoded by `prepareRead`, not yet sent to the device. */
export interface PreparedRead {
  submit(): Promise<Float32Array>;
}

export interface KvCache {
  readonly layout: KvCacheLayout;
}

/**
 * One forward pass over a flat list of tokens from several sequences (prefill chunks and decode tokens
 * together). Token `t` belongs to sequence `seqIndex[t]`, sits at `positions[t]`, writes its K/V to slot
 * `slots[t]` (= block * blockSize + offset) and attends to positions 0..positions[t] of its sequence,
 * found through that sequence's row of `blockTables`. All of a sequence's earlier positions must already
 * be in the cache or earlier in this batch.
 */
export interface ForwardBatch {
  numTokens: number;
  /** [numTokens] */
  tokenIds: Int32Array;
  /** [numTokens] */
  positions: Int32Array;
  /** [numTokens] row of `blockTables` for each token. */
  seqIndex: Int32Array;
  /** [numTokens] KV cache slot each token's K/V is written to. */
  slots: Int32Array;
  /** [numSeqs * maxBlocksPerSeq] block ids; unused entries are -1. */
  blockTables: Int32Array;
  maxBlocksPerSeq: number;
  /** Indices into the batch's tokens whose logits are wanted (e.g. each sequence's last token). */
  logitRows: Int32Array;
  /**
   * Tokens whose id comes from an earlier step's `sampleGreedy` output still on the device (so this step
   * can be sent before that one is read back): `rows[t]` is the row of `source` for token t, or -1 to
   * take `tokenIds[t]`. `source` must be the output of the step recorded just before this one.
   */
  deviceTokens?: { source: Activation; rows: Int32Array };
}

/**
 * An RMSNorm to apply to a matmul's input first (`matmulMany`, `swiGlu`): the same as `rmsNorm(x, weight, eps)`
 * then the product, fused into one kernel where the backend can (equal within f32 rounding, not bit for bit).
 */
export interface NormSpec {
  weight: Weight;
  eps: number;
}

export interface Backend {
  readonly name: string;
  /** Largest weight one buffer may hold (bytes); bigger 2-D weights are uploaded as row bands (model/llama.ts). */
  readonly maxWeightBytes: number;
  /** Bytes per K/V value in the caches `createKvCache` makes (2 for f16, 4 for f32): for the memory account. */
  readonly kvBytesPerValue: number;
  uploadWeight(name: string, tensor: HostTensor): Promise<Weight>;
  createKvCache(layout: KvCacheLayout): KvCache;
  /**
   * The KV cache, where the device can hold it with `reserveBytes` more still free beside it (a step's activations),
   * else null with nothing of it kept: how the engine sizes a default cache to the device's memory, which WebGPU does
   * not report. Backends without it allocate with createKvCache and never refuse.
   */
  allocateKvCache?(layout: KvCacheLayout, reserveBytes: number): Promise<KvCache | null>;
  /** Gives a cache's memory back (one allocateKvCache made and the engine will not use). */
  releaseKvCache?(cache: KvCache): void;

  /**
   * [T, hidden] = table[tokenIds]. With `firstRow`, `table` is a row band starting at that row: ids inside
   * the band gather their row, the others give zeros (the bands' embeddings are summed).
   */
  embed(table: Weight, batch: ForwardBatch, firstRow?: number): Activation;
  /** `[T, Σ cols]`: the parts side by side (row-band products of a split weight). */
  concatColumns(parts: Activation[]): Activation;
  /** x / sqrt(mean(x²) + eps) * weight, per row. */
  rmsNorm(x: Activation, weight: Weight, eps: number): Activation;
  /** [T, K] · [N, K]ᵀ → [T, N] (torch Linear layout), plus `residual` [T, N] when given (fused where it pays). */
  matmul(x: Activation, weight: Weight, residual?: Activation): Activation;
  /** x · Wᵢᵀ for each weight (q/k/v, gate/up): one pass over x where the backend can; equal to one matmul each. */
  matmulMany(x: Activation, weights: Weight[], norm?: NormSpec): Activation[];
  /** silu(x · Gateᵀ) ⊙ (x · Upᵀ): the SwiGLU MLP's first half; equal to matmulMany then siluMul. */
  swiGlu(x: Activation, gate: Weight, up: Weight, norm?: NormSpec): Activation;
  /**
   * Rotary embedding in rotate-half (NeoX / Hugging Face) pairing: within each head, (x[i], x[i + headDim/2])
   * rotates by positions[t] * invFreq[i]. `invFreq` is an f32 weight of headDim/2 values.
   */
  rope(x: Activation, batch: ForwardBatch, invFreq: Weight, headDim: number): Activation;
  /**
   * Stores K and V rows `[T, numKvHeads * headDim]` of `layer` at the batch's slots. With `ropeInvFreq`, K is
   * not yet rotated: it gets `rope` on the way in (one dispatch instead of two, the same values).
   */
  writeKv(cache: KvCache, layer: number, k: Activation, v: Activation, batch: ForwardBatch, ropeInvFreq?: Weight): void;
  /**
   * Causal grouped-query attention of q `[T, numHeads * headDim]` over the cache: query head h reads
   * KV head floor(h / (numHeads / numKvHeads)); softmax(q·k * scale) · v. Returns `[T, numHeads * headDim]`.
   */
  attention(
    q: Activation,
    cache: KvCache,
    layer: number,
    batch: ForwardBatch,
    numHeads: number,
    scale: number,
    /** q not yet rotated: `rope` is applied as q is loaded (the same values as a separate `rope`). */
    ropeInvFreq?: Weight,
  ): Activation;
  /**
   * `writeKv(cache, layer, k, v, batch, ropeInvFreq)` then `attention(q, cache, layer, batch, numHeads, scale,
   * ropeInvFreq)`: one call so a backend can fuse the two (webgpu does for steps with one row per sequence). The
   * same output and cache contents, bit for bit, as the two calls.
   */
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
  ): Activation;
  add(a: Activation, b: Activation): Activation;
  /** silu(gate) * up, elementwise. */
  siluMul(gate: Activation, up: Activation): Activation;
  /** Keeps the listed rows: [rows.length, cols]. */
  gatherRows(x: Activation, rows: Int32Array): Activation;
  /**
   * Greedy sampling of each logits row on the device: `[rows, 2]` = (argmax id as a float, its log-prob
   * under log_softmax of the row). Rows with `maskStops[r]` = 1 never pick an id of `stopIds` (min_tokens).
   * Ties go to the lowest id, as the host sampler.
   */
  sampleGreedy(logits: Activation, maskStops: Int32Array, stopIds: Int32Array): Activation;
  /**
   * Temperature sampling with min-p, top-k and top-p on the device for the listed rows (webgpu/kernels/
   * sample-rows.ts): overwrites their pairs in `pairs`, sampleGreedy's output for the same logits (whose
   * `stopIds` it shares). Absent on backends that gain nothing from it (the reference reads no logits back).
   */
  sampleRows?(logits: Activation, pairs: Activation, sampled: DeviceSampledRows, stopIds: Int32Array): Activation;
  /**
   * One readback for a step that samples most rows on the device and some on the host (their requests need the
   * logits): `[1, 2·pairs.rows + hostRows.length·logits.cols]` = the (token id, log-prob) pairs, then those rows.
   */
  packSampled(pairs: Activation, logits: Activation, hostRows: Int32Array): Activation;
  /**
   * The most bytes one matmul of up to `maxTokens` rows with any of these [n, k] weights allocates beyond its
   * [tokens, n] output (the memory account's activation bound covers the outputs). Absent: none.
   */
  matmulScratchBytes?(weightShapes: readonly (readonly [number, number])[], maxTokens: number): number;
  /**
   * The most bytes attention allocates beyond its output for up to `maxRows` rows of up to `maxModelLen` positions
   * with `numHeads` query heads of `headDim` (the WebGPU per-row kernel's softmax states of long rows). Absent: none.
   */
  attentionScratchBytes?(numHeads: number, headDim: number, maxRows: number, maxModelLen: number): number;
  /**
   * Tokens per forward pass this backend serves best when the user sets none (--max-num-batched-tokens): larger where
   * long batches run faster per token. Absent: the engine's default (512).
   */
  readonly preferredBatchTokens?: number;
  /**
   * A name for the matmul kernels a forward pass of `rows` tokens takes with weights of these [n, k] shapes. It
   * changes exactly at the batch sizes where the kernel choice does, so a warm-up pass per name compiles every
   * variant a server meets (engine/warm-up.ts). Absent: one kernel for every size.
   */
  kernelClass?(rows: number, weightShapes: readonly (readonly [number, number])[]): string;
  /** Waits for the work behind `x` and copies it out, row-major. */
  read(x: Activation): Promise<Float32Array>;
  /**
   * Like `read`, in two halves: the step is encoded now and sent on `submit()`, so the host can prepare
   * step N+1 while the device runs step N. The values of the `lateInputs` arrays (e.g. the batch's token
   * ids, unknown until step N is sampled) are uploaded again at `submit()`. Backends that compute eagerly
   * (the reference) leave this undefined.
   */
  prepareRead?(x: Activation, lateInputs: readonly Int32Array[]): PreparedRead;
  dispose(): Promise<void>;
}

/** Sampling settings of the rows a step samples on the device (`Backend.sampleRows`). */
export interface DeviceSampledRows {
  /** The logits row each sampled row reads (and whose output pair it writes). */
  rows: Int32Array;
  /** Per row: temperature (> 0), top-p (1: off), top-k (0: off), min-p (0: off). */
  temperature: Float32Array;
  topP: Float32Array;
  topK: Int32Array;
  minP: Float32Array;
  /** Per row: the request generator's uniform draw in [0, 1). */
  u: Float32Array;
  /** Per row: 1 while min_tokens keeps the stop ids out. */
  maskStops: Int32Array;
}
