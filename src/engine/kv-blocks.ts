import { SwallowError } from "../errors.js";

/**
 * Bookkeeping of a paged KV cache: which fixed-size blocks are free, which are shared, and which full
 * blocks hold a known token prefix (automatic prefix caching, as vLLM's). The cache memory itself lives
 * in the backend; a sequence holds a list of block ids (its block table).
 *
 * A full block is identified by its tokens and by the block before it in the sequence, so a key names a
 * whole prefix exactly (no hashing, hence no collisions). Because a block id is reused after eviction,
 * the parent is named by id *and* generation (bumped on every reuse), so a stale child entry never matches.
 *
 * Blocks whose last user released them but that hold a cached prefix are not freed at once: they wait,
 * least recently used first, and are evicted only when a fresh block is needed.
 */
export class BlockAllocator {
  /** Never-cached free blocks (popped from the end, so block 0 is handed out first). */
  private readonly free: number[];
  /** Free blocks still holding a cached prefix, least recently used first (Map keeps insertion order). */
  private readonly evictable = new Map<number, true>();
  private readonly refCount: Int32Array;
  private readonly generation: Int32Array;
  /** The prefix key each cached block is registered under (null: not cached). */
  private readonly keyOf: (string | null)[];
  private readonly cached = new Map<string, number>();

  constructor(
    readonly numBlocks: number,
    /** Tokens per block. */
    readonly blockSize: number,
  ) {
    this.free = Array.from({ length: numBlocks }, (_, i) => numBlocks - 1 - i);
    this.refCount = new Int32Array(numBlocks);
    this.generation = new Int32Array(numBlocks);
    this.keyOf = new Array<string | null>(numBlocks).fill(null);
  }

  /** Blocks that can be handed out now (never-used free blocks plus evictable cached ones). */
  get numFree(): number {
    return this.free.length + this.evictable.size;
  }

  /** Blocks in use by at least one sequence. */
  get numUsed(): number {
    return this.numBlocks - this.numFree;
  }

  /** Blocks needed to hold `numTokens` tokens. */
  blocksFor(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  allocate(count: number): number[] {
    if (count > this.numFree) {
      throw new SwallowError(
        `KV cache is full: ${count} more blocks needed, ${this.numFree} free of ${this.numBlocks}; use a shorter prompt or fewer tokens, or a larger --max-model-len`,
      );
    }
    const out: number[] = [];
    while (out.length < count) {
      let block = this.free.pop();
      if (block === undefined) {
        block = this.evictable.keys().next().value as number;
        this.evictable.delete(block);
        this.forget(block);
      }
      this.refCount[block] = 1;
      out.push(block);
    }
    return out;
  }

  /** Drops one reference to each block; unreferenced blocks become free (cached ones: evictable, most recent last). */
  release(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) {
      const block = blocks[i];
      if (this.refCount[block] <= 0) throw new Error(`KV block ${block} released twice`);
      if (--this.refCount[block] > 0) continue;
      if (this.keyOf[block] !== null) this.evictable.set(block, true);
      else this.free.push(block);
    }
  }

  /**
   * The longest run of cached full blocks that holds `tokenIds`' prefix, at most `maxBlocks` of them.
   * The returned blocks are referenced for the caller (release them like allocated ones).
   */
  lookupPrefix(tokenIds: readonly number[], maxBlocks: number): number[] {
    const found: number[] = [];
    let parent = -1;
    for (let b = 0; b < maxBlocks && (b + 1) * this.blockSize <= tokenIds.length; b++) {
      const block = this.cached.get(this.keyFor(parent, tokenIds, b));
      if (block === undefined) break;
      found.push(block);
      parent = block;
    }
    for (const block of found) {
      if (this.refCount[block]++ === 0) this.evictable.delete(block);
    }
    return found;
  }

  /**
   * Registers the full block at index `b` of a sequence (whose block table is `blocks` and whose tokens
   * are `tokenIds`) as holding that prefix, so later sequences may share it. A prefix already cached in
   * another block stays with that block.
   */
  registerFull(blocks: readonly number[], tokenIds: readonly number[], b: number): void {
    const block = blocks[b];
    if (this.keyOf[block] !== null) return;
    const key = this.keyFor(b === 0 ? -1 : blocks[b - 1], tokenIds, b);
    if (this.cached.has(key)) return;
    this.cached.set(key, block);
    this.keyOf[block] = key;
  }

  private keyFor(parent: number, tokenIds: readonly number[], b: number): string {
    const tokens = tokenIds.slice(b * this.blockSize, (b + 1) * this.blockSize).join(",");
    return parent < 0 ? `:${tokens}` : `${parent}.${this.generation[parent]}:${tokens}`;
  }

  private forget(block: number): void {
    const key = this.keyOf[block];
    if (key !== null) this.cached.delete(key);
    this.keyOf[block] = null;
    this.generation[block]++;
  }
}

/** A sequence's place in the paged cache: its block table and how many positions are filled. */
export class SequenceSlots {
  readonly blocks: number[] = [];
  /** Positions 0..numCached-1 have K/V in the cache. */
  numCached = 0;
  /** Leading full blocks already offered to the prefix cache. */
  private registeredBlocks = 0;

  constructor(private readonly allocator: BlockAllocator) {}

  /** Blocks this sequence must newly allocate to append `count` tokens. */
  blocksNeeded(count: number): number {
    return Math.max(0, this.allocator.blocksFor(this.numCached + count) - this.blocks.length);
  }

  /**
   * Starts an empty sequence on the cached blocks that hold the longest prefix of `tokenIds`, leaving at
   * least `minUncached` tokens to compute (the last prompt token must run to give logits). Returns the
   * number of tokens reused.
   */
  adoptCachedPrefix(tokenIds: readonly number[], minUncached = 1): number {
    if (this.blocks.length > 0 || this.numCached > 0) throw new Error("adoptCachedPrefix on a sequence that already holds blocks");
    const maxBlocks = Math.floor(Math.max(0, tokenIds.length - minUncached) / this.allocator.blockSize);
    this.blocks.push(...this.allocator.lookupPrefix(tokenIds, maxBlocks));
    this.numCached = this.blocks.length * this.allocator.blockSize;
    this.registeredBlocks = this.blocks.length;
    return this.numCached;
  }

  /** Makes room for `count` more tokens; returns the slots they will be written to. */
  reserve(count: number): Int32Array {
    const needed = this.blocksNeeded(count);
    if (needed > 0) this.blocks.push(...this.allocator.allocate(needed));
    const slots = new Int32Array(count);
    const { blockSize } = this.allocator;
    for (let i = 0; i < count; i++) {
      const position = this.numCached + i;
      slots[i] = this.blocks[Math.floor(position / blockSize)] * blockSize + (position % blockSize);
    }
    return slots;
  }

  /** Marks `count` more positions as cached (after the forward pass wrote them). */
  commit(count: number): void {
    this.numCached += count;
  }

  /**
   * Offers the full blocks whose tokens are all known to the prefix cache: `tokenIds` are the sequence's
   * tokens, of which the first `knownLength` are final (later ones may be placeholders for tokens still
   * being sampled, which must never name a cached block).
   */
  registerFullBlocks(tokenIds: readonly number[], knownLength: number): void {
    const full = Math.floor(Math.min(this.numCached, knownLength) / this.allocator.blockSize);
    for (; this.registeredBlocks < full; this.registeredBlocks++) this.allocator.registerFull(this.blocks, tokenIds, this.registeredBlocks);
  }

  /** Drops this sequence's references to its blocks (call in a `finally`). */
  release(): void {
    this.allocator.release(this.blocks);
    this.blocks.length = 0;
    this.numCached = 0;
    this.registeredBlocks = 0;
  }
}
