import { SwallowError } from "../errors.js";
import type { Activation, Backend, DeviceSampledRows, KvCache } from "../gpu/backend.js";
import type { LlamaModel } from "../model/llama.js";
import { buildForwardBatch, type SequenceChunk } from "./batch.js";
import { BlockAllocator, SequenceSlots } from "./kv-blocks.js";
import { kvCacheBlocks } from "./memory-account.js";
import { fitKvCache, type KvFit } from "./kv-fit.js";

/** A forward pass recorded by `ModelRunner.prepare`, not yet run (or not yet read). */
export interface PreparedStep {
  /** The batch's token ids, in chunk order; a late-bound id may be written here until `submit`. */
  tokenIds: Int32Array;
  /** Index in `tokenIds` of each chunk's first token. */
  rowStarts: number[];
  commit(): void;
  /**
   * Runs (or sends) the pass and resolves each chunk's logits rows, as `ModelRunner.step`; with `deviceSampling`,
   * each chunk with logits gets its (token id, log-prob) pair instead, but for its `hostRows` (their logits).
   */
  submit(): Promise<Float32Array[]>;
  /** With `deviceSampling`: the device-side sampled ids, which the next step may take as its tokens (`feed`). */
  sampled: Activation | null;
}

/**
 * A step's sampling on the device (rows in logits order): greedy for every row, stop ids masked where `maskStops`
 * says (min_tokens), and with `sampled` the listed rows drawn by temperature, min-p, top-k and top-p instead
 * (Backend.sampleRows).
 */
export interface DeviceSampling {
  maskStops: Int32Array;
  stopIds: Int32Array;
  sampled?: DeviceSampledRows;
  /**
   * Logits rows sampled on the host instead (their requests need the logits): read back beside the pairs
   * (Backend.packSampled), and their chunks get those logits rows instead of a pair.
   */
  hostRows?: Int32Array;
}

export interface PrepareOptions {
  /**
   * Sample on the device (rows in logits order): greedily, and with `sampled` the listed rows by temperature,
   * min-p, top-k and top-p (Backend.sampleRows): no logits readback, and the next step may be fed.
   */
  deviceSampling?: DeviceSampling;
  /** Chunks whose last token is the previous step's device-sampled token `sourceRow`. */
  feed?: { source: Activation; chunks: { chunk: number; sourceRow: number }[] };
}

export interface RunnerOptions {
  /** Longest sequence (prompt + output) in tokens; bounded by the model's max_position_embeddings. */
  maxModelLen: number;
  /** How many sequences' worth of KV cache to allocate (when kvCacheTokens is not given). Default 1. */
  maxNumSeqs?: number;
  /**
   * Tokens the KV cache holds, all sequences together (rounded up to whole blocks, at least one sequence of
   * maxModelLen). Default: maxModelLen × maxNumSeqs.
   */
  kvCacheTokens?: number;
  /** Tokens per KV block. */
  blockSize?: number;
  /** Largest number of tokens one forward pass takes (long prompts are split into chunks of this size). */
  maxBatchTokens?: number;
}

/**
 * Owns the model's KV cache and turns lists of sequence chunks into forward passes. This is the single
 * entry point the generation loop, the scorer and (later) the batching scheduler use.
 */
export class ModelRunner {
  readonly allocator: BlockAllocator;
  readonly maxModelLen: number;
  readonly maxBatchTokens: number;
  private readonly cache: KvCache;

  /** With `allocated`, the runner takes that cache (ModelRunner.create) instead of creating the options' size. */
  constructor(
    readonly model: LlamaModel,
    options: RunnerOptions,
    allocated?: KvFit,
  ) {
    const { blockSize, maxModelLen, wantedBlocks } = cacheShape(model, options);
    this.maxModelLen = maxModelLen;
    this.maxBatchTokens = options.maxBatchTokens ?? 256;
    const numBlocks = allocated?.numBlocks ?? wantedBlocks;
    this.allocator = new BlockAllocator(numBlocks, blockSize);
    this.cache = allocated?.cache ?? model.backend.createKvCache(model.kvCacheLayout(numBlocks, blockSize));
  }

  /**
   * A runner whose KV cache is checked to fit the device beside `fit.reserveBytes` of activations (fitKvCache): with
   * `fit.shrink` a cache that does not fit shrinks to what does (not below one maxModelLen sequence), else a
   * one-line error.
   */
  static async create(model: LlamaModel, options: RunnerOptions, fit: { reserveBytes: number; shrink: boolean }): Promise<ModelRunner> {
    const { blockSize, maxModelLen, wantedBlocks } = cacheShape(model, options);
    const allocated = await fitKvCache(model.backend, {
      layoutOf: (blocks) => model.kvCacheLayout(blocks, blockSize),
      wantedBlocks,
      minBlocks: Math.ceil(maxModelLen / blockSize),
      ...fit,
    });
    return new ModelRunner(model, options, allocated);
  }

  get backend(): Backend {
    return this.model.backend;
  }

  get vocabSize(): number {
    return this.model.spec.vocabSize;
  }

  /** Rejects ids a user gave that the model cannot embed, with a one-line error (`what` names them, e.g. "prompt"). */
  checkTokenIds(ids: readonly number[], what: string): void {
    const vocab = this.vocabSize;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new SwallowError(`${what} token id ${id} is outside the vocabulary (0..${vocab - 1})`);
      }
    }
  }

  newSequence(): SequenceSlots {
    return new SequenceSlots(this.allocator);
  }

  /**
   * Runs one forward pass over the chunks and returns each chunk's logits rows
   * (`[rows, vocab]` flattened; rows = 1 for "last", the chunk length for "all", 0 for "none").
   */
  async step(chunks: readonly SequenceChunk[]): Promise<Float32Array[]> {
    const prepared = this.prepare(chunks);
    prepared.commit();
    return prepared.submit();
  }

  /** Whether the backend samples by temperature / top-p on the device (DeviceSampling.sampled). */
  get samplesOnDevice(): boolean {
    return this.backend.sampleRows !== undefined;
  }

  /** Whether `prepare` returns before the device computes, so the next step can be planned meanwhile. */
  get canPipeline(): boolean {
    return this.backend.prepareRead !== undefined;
  }

  /**
   * The first half of `step`: reserves KV slots and records (and, on a pipelining backend, encodes) the
   * forward pass. Token ids may still change in `tokenIds` until `submit` (late-bound decode tokens);
   * `commit` marks the chunks' positions as cached (call it before planning the next step).
   */
  prepare(chunks: readonly SequenceChunk[], options: PrepareOptions = {}): PreparedStep {
    const { batch, commit } = buildForwardBatch(chunks);
    const rowStarts: number[] = [];
    let token = 0;
    for (const chunk of chunks) {
      rowStarts.push(token);
      token += chunk.tokenIds.length;
    }
    if (options.feed && options.feed.chunks.length > 0) {
      const rows = new Int32Array(batch.numTokens).fill(-1);
      options.feed.chunks.forEach(({ chunk, sourceRow }) => (rows[rowStarts[chunk] + chunks[chunk].tokenIds.length - 1] = sourceRow));
      batch.deviceTokens = { source: options.feed.source, rows };
    }
    const logits = this.model.forward(batch, this.cache);
    const device = options.deviceSampling;
    let target = device ? this.backend.sampleGreedy(logits, device.maskStops, device.stopIds) : logits;
    if (device?.sampled) {
      if (!this.backend.sampleRows) throw new Error(`the ${this.backend.name} backend cannot sample rows on the device`);
      target = this.backend.sampleRows(logits, target, device.sampled, device.stopIds);
    }
    const pairs = device ? target : null;
    const hostRows = device?.hostRows && device.hostRows.length > 0 ? device.hostRows : null;
    if (pairs && hostRows) target = this.backend.packSampled(pairs, logits, hostRows);
    const read = this.backend.prepareRead?.(target, [batch.tokenIds]) ?? { submit: () => this.backend.read(target) };
    const width = device ? 2 : this.vocabSize;
    // With host rows: the pairs of every logits row, then the host rows' logits (hostAt: a row's place among them).
    const hostAt = new Map(Array.from(hostRows ?? [], (row, h) => [row, h] as const));
    const pairFloats = pairs ? pairs.rows * 2 : 0;
    return {
      tokenIds: batch.tokenIds,
      rowStarts,
      commit,
      // The read target lives into the next step, which may take its tokens from it; packed or not, row r's id
      // is its float 2r (the pairs come first).
      sampled: pairs ? target : null,
      submit: async () => {
        const all = await read.submit();
        const out: Float32Array[] = [];
        let row = 0;
        for (const chunk of chunks) {
          const rows = chunk.logits === "all" ? chunk.tokenIds.length : chunk.logits === "last" ? 1 : 0;
          const h = rows === 1 ? hostAt.get(row) : undefined;
          if (h !== undefined) out.push(all.subarray(pairFloats + h * this.vocabSize, pairFloats + (h + 1) * this.vocabSize));
          else out.push(all.subarray(row * width, (row + rows) * width));
          row += rows;
        }
        return out;
      },
    };
  }

  /**
   * Feeds a sequence a long run of tokens in chunks of at most maxBatchTokens; calls `onLogits` with each
   * chunk's logits when `logits` is "all", and returns the logits after the last token.
   */
  async prefill(
    sequence: SequenceSlots,
    tokenIds: readonly number[],
    logits: "last" | "all",
    onLogits?: (chunkStart: number, rows: Float32Array) => void,
  ): Promise<Float32Array> {
    let last = new Float32Array(0);
    for (let start = 0; start < tokenIds.length; start += this.maxBatchTokens) {
      const piece = tokenIds.slice(start, start + this.maxBatchTokens);
      const isLast = start + this.maxBatchTokens >= tokenIds.length;
      const mode = logits === "all" ? "all" : isLast ? "last" : "none";
      const [rows] = await this.step([{ slots: sequence, tokenIds: piece, logits: mode }]);
      if (logits === "all") onLogits?.(start, rows);
      if (isLast) last = rows.slice(rows.length - this.vocabSize);
    }
    return last;
  }
}

/** The KV cache's block size, the context cap (never past the model's positions) and the blocks the options ask for. */
function cacheShape(model: LlamaModel, options: RunnerOptions): { blockSize: number; maxModelLen: number; wantedBlocks: number } {
  const blockSize = options.blockSize ?? 16;
  const maxModelLen = Math.min(options.maxModelLen, model.spec.maxPositionEmbeddings);
  return { blockSize, maxModelLen, wantedBlocks: kvCacheBlocks(maxModelLen, options.kvCacheTokens, blockSize, options.maxNumSeqs) };
}
