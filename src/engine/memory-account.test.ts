import test from "node:test";
import assert from "node:assert/strict";
import {
  accountMemory,
  describeMemoryAccount,
  kvBytesPerToken,
  kvCacheBlocks,
  kvTokensForBytes,
  matmulWeightShapes,
} from "./memory-account.js";
import { MODEL_SHAPES } from "../bench/synthetic.js";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { openCheckpoint } from "../model/checkpoint.js";
import { NodeFileTree } from "../node/file-tree.js";
import { fixturesDir } from "../../test/support/paths.js";

const bf16: (name: string, shape: readonly number[]) => number = (_, shape) => shape.reduce((a, b) => a * b, 1) * 2;

test("Llama-3.1-8B: weights equal the published checkpoint's total_size, KV cache 128 KiB per token in f16", () => {
  const account = accountMemory(MODEL_SHAPES["llama-3.1-8b"], bf16, {
    numBlocks: 8192,
    blockSize: 16,
    kvBytesPerValue: 2,
    maxBatchTokens: 512,
  });
  // model.safetensors.index.json of meta-llama/Llama-3.1-8B(-Instruct): "total_size": 16060522496 (8.03B bf16
  // parameters); the engine adds its 64-value f32 RoPE frequency table.
  assert.equal(account.weightBytes, 16_060_522_496 + 64 * 4);
  // 32 layers × (K + V) × 8 KV heads × 128 dims × 2 bytes = 131,072 bytes per token.
  assert.equal(account.kvCacheTokens, 131_072);
  assert.equal(account.kvCacheBytes, 131_072 * 131_072);
  assert.ok(account.activationBytes > 0 && account.activationBytes < 1e9, `${account.activationBytes}`);
  assert.match(describeMemoryAccount(account), /weights 16\.06 GB \+ KV cache 17\.18 GB \(131,072 tokens\)/);
  // A default cache is fitted after the upload: the line says its figure and the total are upper bounds.
  const fitted = describeMemoryAccount({ ...account, kvCacheFitted: true });
  assert.match(fitted, /KV cache ≤ 17\.18 GB \(131,072 tokens, fitted to the device after the upload\)/);
  const total = account.weightBytes + account.kvCacheBytes + account.activationBytes;
  assert.match(fitted, new RegExp(`= at most ${(total / 1e9).toFixed(2).replace(".", "\\.")} GB`));
});

test("the KV block count covers one full-length sequence at least, else the requested tokens", () => {
  assert.equal(kvCacheBlocks(8192, undefined, 16), 512);
  assert.equal(kvCacheBlocks(8192, undefined, 16, 4), 2048);
  assert.equal(kvCacheBlocks(8192, 1000, 16), 512);
  assert.equal(kvCacheBlocks(100, 1000, 16), 63);
});

test("a KV budget in bytes (--kv-cache-memory-bytes) is whole blocks of 128 KiB tokens for 8B in f16, at least one sequence", () => {
  const spec = MODEL_SHAPES["llama-3.1-8b"];
  // 32 layers × (K + V) × 8 KV heads × 128 dims × 2 bytes, and twice that for an f32 cache.
  assert.equal(kvBytesPerToken(spec, 2), 131_072);
  assert.equal(kvBytesPerToken(spec, 4), 262_144);
  assert.equal(kvTokensForBytes(spec, 16 * 2 ** 30, 2, 16, 8192), 131_072); // 16 GiB
  assert.equal(kvTokensForBytes(spec, 40e9, 2, 16, 8192), 305_168); // floor(40e9 / 131072 / 16) × 16
  assert.throws(
    () => kvTokensForBytes(spec, 2 ** 30, 2, 16, 16384),
    /holds 8192 tokens .* fewer than one sequence of --max-model-len 16384; give at least 2147483648 bytes/,
  );
});

test("a real checkpoint: the weights account equals the safetensors data bytes (file size − 8 − header length)", async () => {
  for (const name of ["gqa-llama3", "mha-default-tied", "mqa-llama3-sharded-v4"]) {
    const dir = join(fixturesDir, "tiny", name);
    let dataBytes = 0;
    for (const file of (await readdir(dir)).filter((f) => f.endsWith(".safetensors"))) {
      const bytes = await readFile(join(dir, file));
      dataBytes += bytes.length - 8 - Number(bytes.readBigUInt64LE(0));
    }
    const checkpoint = await openCheckpoint(new NodeFileTree(dir));
    try {
      const bytesOf = (tensor: string) => checkpoint.tensorByteLength(tensor) ?? assert.fail(`${name}: no ${tensor}`);
      const account = accountMemory(checkpoint.spec, bytesOf, { numBlocks: 1, blockSize: 16, kvBytesPerValue: 2, maxBatchTokens: 1 });
      assert.equal(account.weightBytes, dataBytes + (checkpoint.spec.headDim / 2) * 4, name);
    } finally {
      await checkpoint.close();
    }
  }
});

test("the activation bound adds the matmuls' and attention's scratch; Llama-3.1-8B multiplies by five distinct matrix shapes", () => {
  const spec = MODEL_SHAPES["llama-3.1-8b"];
  const options = { numBlocks: 512, blockSize: 16, kvBytesPerValue: 2, maxBatchTokens: 2048 };
  const without = accountMemory(spec, bf16, options);
  const withScratch = accountMemory(spec, bf16, { ...options, matmulScratchBytes: 123_456 });
  assert.equal(withScratch.activationBytes - without.activationBytes, 123_456);
  const withAttention = accountMemory(spec, bf16, { ...options, matmulScratchBytes: 123_456, attentionScratchBytes: 7_000 });
  assert.equal(withAttention.activationBytes - without.activationBytes, 130_456);
  const shapes = matmulWeightShapes(spec).map(([n, k]) => `${n}x${k}`);
  // The matrices, then q/k/v stacked (32 + 2·8 heads of 128) and gate/up stacked (2 × 14,336).
  assert.deepEqual(shapes.sort(), ["1024x4096", "128256x4096", "14336x4096", "28672x4096", "4096x14336", "4096x4096", "6144x4096"]);
});
