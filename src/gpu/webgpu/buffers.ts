/// <reference types="@webgpu/types" />
import { SwallowError } from "../../errors.js";
import type { DeviceLimits } from "./device.js";

/** GPUBufferUsage / GPUMapMode values (fixed by the WebGPU spec), so no globals need installing in Node. */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;
export const MAP_MODE_READ = 0x0001;

/** Storage buffers hold whole 4-byte words (WGSL reads u32/f32), and bindings may not be empty. */
export function storageBytes(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** The most bytes one storage buffer binding may hold on this device. */
export function bindingLimit(limits: DeviceLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/** Throws a SwallowError when a tensor cannot be bound as one storage buffer on this device. */
export function checkBindable(limits: DeviceLimits, bytes: number, what: string): void {
  const limit = bindingLimit(limits);
  if (bytes > limit) {
    throw new SwallowError(
      `${what} needs ${bytes} bytes in one GPU buffer, above this adapter's limit of ${limit} bytes ` +
        `(maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize}); ` +
        `splitting large tensors across buffers is not implemented yet: use a smaller model, a shorter --max-model-len, or --backend cpu`,
    );
  }
}

/**
 * Rows a step's pooled buffer is sized for: 16, 32, 64, 128, then whole multiples of 128 (the tensor-core tile
 * height, where the kernels' tile and split choices change). Every step whose row count falls in one bucket then
 * asks the pool for the same sizes in the same order, so it is handed the same buffers and its bind groups come
 * from the recorder's cache: a prompt of a length not seen before otherwise created ~300 bind groups, ~6 ms of
 * host time before its first token on the H200 (bench/NOTES.md, session 27). A buffer holds at most 127 rows more
 * than asked above 128 rows, at most twice as many below; kernels take their row counts from uniforms, never from a
 * binding's length.
 */
export function bucketRows(rows: number): number {
  if (rows <= 16) return 16;
  if (rows <= 128) return 2 ** Math.ceil(Math.log2(rows));
  return Math.ceil(rows / 128) * 128;
}

/**
 * Bytes a step input's pooled buffer is sized for: the next power of two, at least 4 KiB. Step inputs (positions,
 * KV slots, RoPE tables, work lists) grow with the step's rows; powers of two put most of them in one class across a
 * row bucket, so their buffers, and the bind groups that bind them, stay the same there too (see bucketRows).
 */
export function bucketInputBytes(bytes: number): number {
  return Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
}

/**
 * Size classes of the pools: 2^k and 1.5·2^k (at most a third wasted), at least 256 bytes, so that
 * steps with slightly different token counts reuse the same buffers.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const power = 2 ** Math.floor(Math.log2(bytes));
  if (bytes === power) return power;
  return bytes <= power * 1.5 ? power * 1.5 : power * 2;
}

/**
 * Recycles GPU buffers of one usage by size class. `acquire` pops a free buffer of the class or creates
 * one; `release` returns it. Reuse is safe across submits because the queue runs work in submission order
 * (a write recorded after a submit lands after that submit's reads), and within a step because dispatches
 * of a pass are ordered with barriers between them.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Every buffer this pool created, with its creation number. */
  private readonly all = new Map<GPUBuffer, number>();
  private created = 0;
  private createdBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: DeviceLimits,
    private readonly usage: number,
    private readonly label: string,
  ) {}

  /**
   * A buffer of at least `bytes` bytes (its size is the size class): the free one of the class created first.
   * Taking the oldest, not the last released, makes the buffers a step gets depend only on which are free, not
   * on the order earlier steps released them: steps of the same shape then bind the same buffers, and their
   * bind groups come from the recorder's cache (bindGroupFor) instead of being created anew. `roomFor` (≥ bytes) asks
   * for the class of a larger size where one binding can hold it (the recorder's row buckets); `bytes` is the need.
   */
  acquire(bytes: number, what = "an activation", roomFor = bytes): GPUBuffer {
    checkBindable(this.limits, bytes, what);
    const limit = bindingLimit(this.limits);
    const wanted = sizeClass(Math.max(bytes, roomFor));
    const size = wanted <= limit ? wanted : sizeClass(bytes) <= limit ? sizeClass(bytes) : storageBytes(bytes);
    const list = this.free.get(size);
    if (list && list.length > 0) {
      let oldest = 0;
      for (let i = 1; i < list.length; i++) if (this.all.get(list[i])! < this.all.get(list[oldest])!) oldest = i;
      const reused = list[oldest];
      list[oldest] = list[list.length - 1];
      list.pop();
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label} ${size}` });
    this.all.set(buffer, this.created++);
    this.createdBytes += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Bytes of all buffers this pool has created and not destroyed. */
  get bytes(): number {
    return this.createdBytes;
  }

  /** Destroys the free buffers (e.g. after a long prefill made large ones). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.all.delete(buffer);
        this.createdBytes -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }

  destroy(): void {
    for (const buffer of this.all.keys()) buffer.destroy();
    this.all.clear();
    this.free.clear();
    this.createdBytes = 0;
  }
}
