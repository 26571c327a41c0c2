import test from "node:test";
import assert from "node:assert/strict";
import { BufferPool, bucketInputBytes, bucketRows, sizeClass } from "./buffers.js";
import type { DeviceLimits } from "./device.js";

/** A device that hands out numbered fake buffers (only what BufferPool touches). */
function fakeDevice(): { device: GPUDevice; created: { size: number; label: string; destroyed: boolean }[] } {
  const created: { size: number; label: string; destroyed: boolean }[] = [];
  const device = {
    createBuffer({ size, label }: GPUBufferDescriptor) {
      const buffer = { size, label: label ?? "", destroyed: false, destroy: () => (buffer.destroyed = true) };
      created.push(buffer);
      return buffer;
    },
  } as unknown as GPUDevice;
  return { device, created };
}

const limits = { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 } as DeviceLimits;

test("BufferPool hands out the free buffer of a size class created first, whatever order they were released in", () => {
  const { device, created } = fakeDevice();
  const pool = new BufferPool(device, limits, 0x80, "test");
  const [a, b, c] = [pool.acquire(1000), pool.acquire(1000), pool.acquire(1000)];
  assert.equal(created.length, 3);
  assert.equal(a.size, sizeClass(1000));
  pool.release(c);
  pool.release(a);
  pool.release(b);
  assert.equal(pool.acquire(900), a);
  assert.equal(pool.acquire(1000), b);
  pool.release(a);
  assert.equal(pool.acquire(1000), a);
  assert.equal(pool.acquire(1000), c);
  // Another size class is its own list; a fourth buffer of the first class is created when none is free.
  const big = pool.acquire(5000);
  assert.notEqual(big, a);
  assert.equal(pool.acquire(1000), created[4]);
  assert.equal(created.length, 5);
  assert.equal(pool.bytes, 4 * sizeClass(1000) + sizeClass(5000));
  pool.destroy();
  assert.ok(created.every((buffer) => buffer.destroyed));
});

test("row buckets: 16, 32, 64, 128, then whole multiples of 128; never fewer rows than asked", () => {
  const expected: [number, number][] = [
    [1, 16],
    [16, 16],
    [17, 32],
    [32, 32],
    [33, 64],
    [64, 64],
    [65, 128],
    [128, 128],
    [129, 256],
    [256, 256],
    [257, 384],
    [2000, 2048],
    [2048, 2048],
    [2049, 2176],
  ];
  for (const [rows, bucket] of expected) assert.equal(bucketRows(rows), bucket, `${rows} rows`);
});

test("step inputs' buffers: the next power of two, at least 4 KiB", () => {
  const expected: [number, number][] = [
    [4, 4096],
    [4096, 4096],
    [4100, 8192],
    [65_536, 65_536],
    [66_048, 131_072],
  ];
  for (const [bytes, bucket] of expected) assert.equal(bucketInputBytes(bytes), bucket, `${bytes} bytes`);
});

test("BufferPool: a buffer sized for roomFor where one binding holds it, else for the bytes needed", () => {
  const { device } = fakeDevice();
  const roomy = new BufferPool(device, limits, 0, "test");
  assert.equal(roomy.acquire(1000, "x", 5000).size, sizeClass(5000));
  const small = { maxStorageBufferBindingSize: 4096, maxBufferSize: 1 << 30 } as DeviceLimits;
  assert.equal(new BufferPool(device, small, 0, "test").acquire(1000, "x", 5000).size, sizeClass(1000));
});
