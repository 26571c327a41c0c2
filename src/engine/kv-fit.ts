import { SwallowError } from "../errors.js";
import type { Backend, KvCache, KvCacheLayout } from "../gpu/backend.js";
import { formatBytes, kvBytesPerToken } from "./memory-account.js";

/** What fitKvCache allocated: the cache and its block count (fewer than asked for where it shrank). */
export interface KvFit {
  cache: KvCache;
  numBlocks: number;
}

export interface KvFitOptions {
  /** The cache's layout for a block count. */
  layoutOf: (numBlocks: number) => KvCacheLayout;
  /** Blocks asked for. */
  wantedBlocks: number;
  /** Fewest blocks worth having: one --max-model-len sequence. */
  minBlocks: number;
  /** Bytes that must stay free beside the cache: a step's activations at most (MemoryAccount.activationBytes). */
  reserveBytes: number;
  /**
   * Whether a cache that does not fit may shrink (a default size, as vLLM sizes its cache to the free memory); a size
   * the user gave either fits or is refused.
   */
  shrink: boolean;
}

/**
 * Rounds of bisection between the fewest blocks and the most that failed: the cache found is within
 * (wanted − min) / 2^6 blocks of the largest that fits.
 */
const BISECTION_ROUNDS = 6;

/**
 * Allocates the KV cache where the backend can say whether it fits (Backend.allocateKvCache; WebGPU cannot report a
 * GPU's memory, so fitting is found by allocating), else with createKvCache. Where the wanted cache does not fit
 * beside the reserve: with `shrink`, the most blocks that do (bisection, each try given back before the next), else a
 * one-line error naming what to lower. Never fewer than `minBlocks`.
 */
export async function fitKvCache(backend: Backend, options: KvFitOptions): Promise<KvFit> {
  const { layoutOf, wantedBlocks, minBlocks, reserveBytes } = options;
  if (!backend.allocateKvCache) return { cache: backend.createKvCache(layoutOf(wantedBlocks)), numBlocks: wantedBlocks };
  const allocate = (blocks: number) => backend.allocateKvCache!(layoutOf(blocks), reserveBytes);
  const wanted = await allocate(wantedBlocks);
  if (wanted) return { cache: wanted, numBlocks: wantedBlocks };
  const tokens = (blocks: number) => blocks * layoutOf(blocks).blockSize;
  const bytes = (blocks: number) => tokens(blocks) * kvBytesPerToken(layoutOf(blocks), backend.kvBytesPerValue);
  const doesNotFit = (blocks: number) =>
    `a KV cache of ${tokens(blocks).toLocaleString("en-US")} tokens (${formatBytes(bytes(blocks))}) and ${formatBytes(reserveBytes)} for activations do not fit beside the weights on ${backend.name}`;
  if (!options.shrink || wantedBlocks <= minBlocks) {
    throw new SwallowError(
      `out of GPU memory: ${doesNotFit(wantedBlocks)}; ${options.shrink ? "lower --max-model-len or --max-num-batched-tokens, or use a smaller model" : "give a smaller --kv-cache-memory-bytes or lower --max-model-len"}`,
    );
  }
  const fewest = await allocate(minBlocks);
  if (!fewest) {
    throw new SwallowError(
      `out of GPU memory: ${doesNotFit(minBlocks)} (one --max-model-len sequence); lower --max-model-len or --max-num-batched-tokens, or use a smaller model`,
    );
  }
  backend.releaseKvCache?.(fewest);
  let [fits, fails] = [minBlocks, wantedBlocks];
  for (let round = 0; round < BISECTION_ROUNDS && fails - fits > 1; round++) {
    const middle = Math.floor((fits + fails) / 2);
    const cache = await allocate(middle);
    if (cache) {
      backend.releaseKvCache?.(cache);
      fits = middle;
    } else fails = middle;
  }
  const cache = await allocate(fits);
  if (!cache)
    throw new SwallowError(`out of GPU memory: ${doesNotFit(fits)}, which fitted a moment before; is another process using the GPU?`);
  return { cache, numBlocks: fits };
}
