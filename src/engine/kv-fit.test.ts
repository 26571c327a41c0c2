import test from "node:test";
import assert from "node:assert/strict";
import { SwallowError } from "../errors.js";
import type { Backend, KvCache, KvCacheLayout } from "../gpu/backend.js";
import { fitKvCache, type KvFitOptions } from "./kv-fit.js";

/** 2 layers × 2 KV heads × head size 4 × K and V × 2 bytes = 64 bytes per token; blocks of 16 tokens = 1,024 bytes. */
const layoutOf = (numBlocks: number): KvCacheLayout => ({ numLayers: 2, numKvHeads: 2, headDim: 4, numBlocks, blockSize: 16 });
const BLOCK_BYTES = 1024;

/**
 * A device of `capacity` bytes that refuses any cache whose bytes plus the reserve exceed what is left beside the
 * caches it holds, as a GPU does; it records what it holds so a test can see every try given back.
 */
function deviceOf(capacity: number) {
  const held = new Set<KvCache>();
  const tries: number[] = [];
  const bytesOf = (cache: KvCache) => (cache as unknown as { bytes: number }).bytes;
  const used = () => [...held].reduce((sum, cache) => sum + bytesOf(cache), 0);
  const backend = {
    name: "test-gpu",
    kvBytesPerValue: 2,
    createKvCache: () => assert.fail("a backend that can fit caches is never asked to create one blindly"),
    async allocateKvCache(layout: KvCacheLayout, reserveBytes: number) {
      tries.push(layout.numBlocks);
      const bytes = layout.numBlocks * BLOCK_BYTES;
      if (used() + bytes + reserveBytes > capacity) return null;
      const cache = { layout, bytes } as unknown as KvCache;
      held.add(cache);
      return cache;
    },
    releaseKvCache(cache: KvCache) {
      assert.ok(held.delete(cache), "released a cache the device does not hold");
    },
  } as unknown as Backend;
  return { backend, held, tries };
}

const options = (overrides: Partial<KvFitOptions>): KvFitOptions => ({
  layoutOf,
  wantedBlocks: 1000,
  minBlocks: 8,
  reserveBytes: 10 * BLOCK_BYTES,
  shrink: true,
  ...overrides,
});

test("fitKvCache: a cache that fits is allocated at the size asked for, in one try", async () => {
  const device = deviceOf(2000 * BLOCK_BYTES);
  const fit = await fitKvCache(device.backend, options({}));
  assert.equal(fit.numBlocks, 1000);
  assert.deepEqual(device.tries, [1000]);
  assert.deepEqual([...device.held], [fit.cache]);
});

test("fitKvCache: a default cache that does not fit shrinks to nearly the most blocks that do, and holds only that", async () => {
  // 300 blocks fit beside the 10-block reserve; the search may stop short of 300 by (1000 − 8) / 64 blocks.
  const device = deviceOf(310 * BLOCK_BYTES);
  const fit = await fitKvCache(device.backend, options({}));
  assert.ok(fit.numBlocks <= 300 && fit.numBlocks >= 300 - Math.ceil(992 / 64), `${fit.numBlocks} blocks`);
  assert.equal(fit.cache.layout.numBlocks, fit.numBlocks);
  assert.deepEqual([...device.held], [fit.cache], "every try but the kept cache was given back");
  assert.ok(device.tries.length <= 9, `${device.tries.length} tries`);
});

test("fitKvCache: a size the user gave is never shrunk: it fits or is refused in one line that says what to lower", async () => {
  const device = deviceOf(310 * BLOCK_BYTES);
  await assert.rejects(fitKvCache(device.backend, options({ shrink: false })), (error: Error) => {
    assert.ok(error instanceof SwallowError);
    assert.equal(
      error.message,
      "out of GPU memory: a KV cache of 16,000 tokens (1.0 MB) and 0.0 MB for activations do not fit beside the weights on test-gpu; " +
        "give a smaller --kv-cache-memory-bytes or lower --max-model-len",
    );
    return true;
  });
  assert.deepEqual(device.tries, [1000]);
  assert.equal(device.held.size, 0);
});

test("fitKvCache: when not even one --max-model-len sequence fits, the error says so and nothing is held", async () => {
  const device = deviceOf(15 * BLOCK_BYTES); // the reserve takes 10 blocks' worth: 5 left, 8 needed
  await assert.rejects(
    fitKvCache(device.backend, options({})),
    /out of GPU memory: a KV cache of 128 tokens .* \(one --max-model-len sequence\); lower --max-model-len/,
  );
  assert.equal(device.held.size, 0);
});

test("fitKvCache: a backend that cannot tell whether a cache fits creates the size asked for", async () => {
  const made: number[] = [];
  const backend = { createKvCache: (layout: KvCacheLayout) => (made.push(layout.numBlocks), { layout }) } as unknown as Backend;
  const fit = await fitKvCache(backend, options({}));
  assert.equal(fit.numBlocks, 1000);
  assert.deepEqual(made, [1000]);
});
