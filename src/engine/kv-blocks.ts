import { SwallowError } from "../errors.js";

/**
 * Bookkeeping of a paged KV cache: which fixed-size blocks are free. The cache memory itself lives in
 * the backend; a sequence holds a list of block ids (its block table).
 */
export class BlockAllocator {
  private readonly free: number[];

  constructor(
    readonly numBlocks: number,
    /** Tokens per block. */
    readonly blockSize: number,
  ) {
    // Pop from the end, so block 0 is handed out first.
    this.free = Array.from({ length: numBlocks }, (_, i) => numBlocks - 1 - i);
  }

  get numFree(): number {
    return this.free.length;
  }

  /** Blocks needed to hold `numTokens` tokens. */
  blocksFor(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  allocate(count: number): number[] {
    if (count > this.free.length) {
      throw new SwallowError(
        `KV cache is full: ${count} more blocks needed, ${this.free.length} free of ${this.numBlocks}; use a shorter prompt or fewer tokens, or a larger --max-model-len`,
      );
    }
    return this.free.splice(this.free.length - count, count).reverse();
  }

  release(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) this.free.push(blocks[i]);
  }
}

/** A sequence's place in the paged cache: its block table and how many positions are filled. */
export class SequenceSlots {
  readonly blocks: number[] = [];
  /** Positions 0..numCached-1 have K/V in the cache. */
  numCached = 0;

  constructor(private readonly allocator: BlockAllocator) {}

  /** Makes room for `count` more tokens; returns the slots they will be written to. */
  reserve(count: number): Int32Array {
    const needed = this.allocator.blocksFor(this.numCached + count) - this.blocks.length;
    if (needed > 0) this.blocks.push(...this.allocator.allocate(needed));
    const slots = new Int32Array(count);
    const { blockSize } = this.allocator;
    for (let i = 0; i < count; i++) {
      const position = this.numCached + i;
      slots[i] = this.blocks[Math.floor(position / blockSize)] * blockSize + (position % blockSize);
    }
    return slots;
  }

  /** Frees every block (call in a `finally`). */
  release(): void {
    this.allocator.release(this.blocks);
    this.blocks.length = 0;
    this.numCached = 0;
  }
}
