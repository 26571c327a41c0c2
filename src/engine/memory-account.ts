import { expectedLlamaTensors } from "../model/checkpoint.js";
import type { ModelSpec } from "../model/spec.js";
import { SwallowError } from "../errors.js";

/**
 * The GPU memory a model will hold, computed before anything is uploaded (from the checkpoint's headers and the
 * serving settings), so a user learns whether 70B fits before waiting for 141 GB to stream in.
 */
export interface MemoryAccount {
  /** Every tensor the forward pass uploads, in its stored precision (bf16 stays bf16), plus the RoPE table. */
  weightBytes: number;
  /** K and V of every layer for every cache slot: blocks × block size × KV heads × head size × bytes per value. */
  kvCacheBytes: number;
  kvCacheTokens: number;
  /**
   * Upper bound of one step's activations (f32): the widest rows alive at once for maxBatchTokens tokens (residual,
   * q/k/v, attention output, the MLP's intermediate) plus one row of logits per token, plus the largest scratch
   * one matmul takes beyond its output (the tensor-core path's f16 copy of x, tile padding, split-K partial sums),
   * plus attention's (the split rows' softmax states). The engine recycles these.
   */
  activationBytes: number;
  /**
   * Whether the KV cache is a default size that is fitted to the device after the upload (engine/kv-fit.ts): the
   * figures are then what it asks for, at most.
   */
  kvCacheFitted?: boolean;
}

/** Tensor bytes as stored, by name and shape (a checkpoint's header, or 2 bytes per value for synthetic bf16). */
export type TensorBytes = (name: string, shape: readonly number[]) => number;

/** Bytes one token takes in the KV cache: K and V of every layer's KV heads. */
export function kvBytesPerToken(spec: Pick<ModelSpec, "numLayers" | "numKvHeads" | "headDim">, kvBytesPerValue: number): number {
  return spec.numLayers * 2 * spec.numKvHeads * spec.headDim * kvBytesPerValue;
}

/**
 * The KV cache tokens a budget of `bytes` holds (vLLM's --kv-cache-memory-bytes), in whole blocks. Throws a
 * one-line error when that is less than one sequence of `maxModelLen` tokens.
 */
export function kvTokensForBytes(spec: ModelSpec, bytes: number, kvBytesPerValue: number, blockSize: number, maxModelLen: number): number {
  const perToken = kvBytesPerToken(spec, kvBytesPerValue);
  const tokens = Math.floor(bytes / perToken / blockSize) * blockSize;
  if (tokens < maxModelLen) {
    const needed = Math.ceil(maxModelLen / blockSize) * blockSize * perToken;
    throw new SwallowError(
      `a KV cache of ${bytes} bytes holds ${tokens} tokens (${perToken} bytes each), fewer than one sequence of --max-model-len ${maxModelLen}; give at least ${needed} bytes or lower --max-model-len`,
    );
  }
  return tokens;
}

/** The KV cache's block count for these settings (the runner allocates exactly this many). */
export function kvCacheBlocks(maxModelLen: number, kvCacheTokens: number | undefined, blockSize: number, maxNumSeqs = 1): number {
  const perSequence = Math.ceil(maxModelLen / blockSize);
  return Math.max(perSequence, kvCacheTokens !== undefined ? Math.ceil(kvCacheTokens / blockSize) : perSequence * maxNumSeqs);
}

export function accountMemory(
  spec: ModelSpec,
  tensorBytes: TensorBytes,
  options: {
    numBlocks: number;
    blockSize: number;
    kvBytesPerValue: number;
    maxBatchTokens: number;
    matmulScratchBytes?: number;
    attentionScratchBytes?: number;
  },
): MemoryAccount {
  const ropeTableBytes = (spec.headDim / 2) * 4;
  const weightBytes = expectedLlamaTensors(spec).reduce((sum, t) => sum + tensorBytes(t.name, t.shape), ropeTableBytes);
  const kvCacheTokens = options.numBlocks * options.blockSize;
  const kvCacheBytes = kvCacheTokens * kvBytesPerToken(spec, options.kvBytesPerValue);
  const qCols = spec.numHeads * spec.headDim;
  const kvCols = spec.numKvHeads * spec.headDim;
  const rowFloats = 2 * spec.hiddenSize + 2 * qCols + 2 * kvCols + 2 * spec.intermediateSize + spec.vocabSize;
  const scratchBytes = (options.matmulScratchBytes ?? 0) + (options.attentionScratchBytes ?? 0);
  const activationBytes = options.maxBatchTokens * rowFloats * 4 + scratchBytes;
  return { weightBytes, kvCacheBytes, kvCacheTokens, activationBytes };
}

/**
 * The distinct [n, k] shapes the model's matmuls multiply by: its matrices (the embedding too: a tied
 * checkpoint's LM head is the embedding), and q/k/v and gate/up stacked, which a backend may run as one
 * product of their rows together (the WebGPU tensor-core kernel's parts).
 */
export function matmulWeightShapes(spec: ModelSpec): [number, number][] {
  const stacked = [
    `${(spec.numHeads + 2 * spec.numKvHeads) * spec.headDim}x${spec.hiddenSize}`,
    `${2 * spec.intermediateSize}x${spec.hiddenSize}`,
  ];
  const shapes = expectedLlamaTensors(spec)
    .filter((t) => t.shape.length === 2)
    .map((t) => `${t.shape[0]}x${t.shape[1]}`);
  return [...new Set([...shapes, ...stacked])].map((s) => s.split("x").map(Number) as [number, number]);
}

/** Bytes for a log line: "17.18 GB", or "412.3 MB" below a gigabyte. */
export const formatBytes = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`);

/**
 * One line for the log: "memory: weights 16.06 GB + KV cache 17.18 GB (131,072 tokens) + activations ≤ … = …"; a
 * cache fitted after the upload reads "KV cache ≤ …" and "= at most …".
 */
export function describeMemoryAccount(account: MemoryAccount): string {
  const total = account.weightBytes + account.kvCacheBytes + account.activationBytes;
  const atMost = account.kvCacheFitted ? "≤ " : "";
  const kvTokens = `${account.kvCacheTokens.toLocaleString("en-US")} tokens${account.kvCacheFitted ? ", fitted to the device after the upload" : ""}`;
  return (
    `memory: weights ${formatBytes(account.weightBytes)} + KV cache ${atMost}${formatBytes(account.kvCacheBytes)} ` +
    `(${kvTokens}) + activations ≤ ${formatBytes(account.activationBytes)} = ${account.kvCacheFitted ? "at most " : ""}${formatBytes(total)} ` +
    `(plus the runtime's own; lower --max-model-len or --max-num-seqs to shrink the KV cache)`
  );
}
