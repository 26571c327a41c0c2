import test from "node:test";
import assert from "node:assert/strict";
import { BlockAllocator, SequenceSlots } from "./kv-blocks.js";
import { Scheduler, type SchedulableSequence } from "./scheduler.js";

class FakeSeq implements SchedulableSequence {
  readonly slots: SequenceSlots;
  wantsPromptLogits = false;
  constructor(
    readonly id: number,
    allocator: BlockAllocator,
    readonly tokenIds: number[],
    readonly usePrefixCache = false,
  ) {
    this.slots = new SequenceSlots(allocator);
  }
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** Applies a plan as the runner would: reserve + commit every chunk, then append one sampled token where logits were taken. */
function run(plan: ReturnType<Scheduler<FakeSeq>["schedule"]>): void {
  for (const { seq, chunk } of plan.chunks) {
    seq.slots.reserve(chunk.tokenIds.length);
    seq.slots.commit(chunk.tokenIds.length);
    if (seq.usePrefixCache) seq.slots.registerFullBlocks(seq.tokenIds, seq.tokenIds.length);
    if (chunk.logits === "last") seq.tokenIds.push(1000 + seq.id);
  }
}

test("scheduler: decodes first, then prefill chunks in admission order, then waiting requests, within the token budget", () => {
  const allocator = new BlockAllocator(64, 4);
  const scheduler = new Scheduler<FakeSeq>(allocator, { maxBatchTokens: 16, maxNumSeqs: 3 });
  const long = new FakeSeq(0, allocator, range(30));
  const short = new FakeSeq(1, allocator, range(3));
  const third = new FakeSeq(2, allocator, range(5));
  const fourth = new FakeSeq(3, allocator, range(2));
  [long, short, third, fourth].forEach((s) => scheduler.enqueue(s));

  let plan = scheduler.schedule();
  assert.deepEqual(
    plan.chunks.map(({ seq, chunk }) => [seq.id, chunk.tokenIds.length, chunk.logits]),
    [[0, 16, "none"]],
  );
  run(plan);
  plan = scheduler.schedule(); // long still prefilling: 14 left; short admitted with the 2 left over
  assert.deepEqual(
    plan.chunks.map(({ seq, chunk }) => [seq.id, chunk.tokenIds.length, chunk.logits]),
    [
      [0, 14, "last"],
      [1, 2, "none"],
    ],
  );
  run(plan);
  plan = scheduler.schedule(); // long decodes (1) first; short finishes its prompt (1); third is admitted (5); maxNumSeqs stops fourth
  assert.deepEqual(
    plan.chunks.map(({ seq, chunk }) => [seq.id, chunk.tokenIds.length, chunk.logits]),
    [
      [0, 1, "last"],
      [1, 1, "last"],
      [2, 5, "last"],
    ],
  );
  assert.deepEqual(
    scheduler.waiting.map((s) => s.id),
    [3],
  );
  run(plan);
  scheduler.remove(short);
  plan = scheduler.schedule();
  assert.deepEqual(
    plan.chunks.map(({ seq }) => seq.id),
    [0, 2, 3],
  );
});

test("scheduler: when blocks run out, the newest running request is preempted, freed and queued first; nothing is admitted that step", () => {
  const allocator = new BlockAllocator(4, 2); // 8 token slots
  const scheduler = new Scheduler<FakeSeq>(allocator, { maxBatchTokens: 64, maxNumSeqs: 8 });
  const a = new FakeSeq(0, allocator, range(3));
  const b = new FakeSeq(1, allocator, range(3));
  const c = new FakeSeq(2, allocator, range(1));
  [a, b].forEach((s) => scheduler.enqueue(s));
  run(scheduler.schedule()); // a: blocks 2, b: blocks 2 → cache full; each now holds 4 tokens (3 computed + 1 sampled)
  assert.equal(allocator.numFree, 0);
  scheduler.enqueue(c);
  const plan = scheduler.schedule(); // a decodes its 4th token: fits its 2nd block; b likewise; c cannot enter
  assert.deepEqual(
    plan.chunks.map(({ seq }) => seq.id),
    [0, 1],
  );
  run(plan); // both now hold 5 tokens: the next decode needs a 3rd block each
  const next = scheduler.schedule();
  assert.deepEqual(
    next.preempted.map((s) => s.id),
    [1],
  );
  assert.deepEqual(
    next.chunks.map(({ seq }) => seq.id),
    [0],
  );
  assert.deepEqual(next.admitted, []);
  assert.deepEqual(
    scheduler.waiting.map((s) => s.id),
    [1, 2],
  );
  assert.equal(b.slots.numCached, 0);
  assert.equal(b.tokenIds.length, 5); // recomputed later from its prompt and sampled tokens
});

test("kv blocks: full blocks are shared by identical prefixes, kept after release until evicted, least recently used first", () => {
  const allocator = new BlockAllocator(6, 2);
  const tokens = [1, 2, 3, 4, 5];
  const first = new SequenceSlots(allocator);
  first.reserve(5);
  first.commit(5);
  first.registerFullBlocks(tokens, tokens.length); // blocks 0 and 1 are full and cached; block 2 is partial
  const second = new SequenceSlots(allocator);
  assert.equal(second.adoptCachedPrefix([1, 2, 3, 4, 9]), 4);
  assert.deepEqual(second.blocks, first.blocks.slice(0, 2));
  const probe = (ids: number[]) => {
    const slots = new SequenceSlots(allocator);
    const hit = slots.adoptCachedPrefix(ids);
    slots.release();
    return hit;
  };
  assert.equal(probe([1, 2, 3, 4]), 2, "at least one token is left to compute");
  assert.equal(probe([1, 2, 9, 4, 5]), 2, "a different second block stops the match");
  assert.equal(probe([9, 2, 3, 4, 5]), 0);
  first.release();
  second.release();
  assert.equal(allocator.numFree, 6);
  // Four fresh blocks are taken before any cached one is evicted.
  const other = new SequenceSlots(allocator);
  other.reserve(8);
  assert.equal(new SequenceSlots(allocator).adoptCachedPrefix(tokens), 4);
});

test("kv blocks: eviction takes a chain's tail first, so a cached prefix loses its last block before its first", () => {
  const allocator = new BlockAllocator(2, 2);
  const a = new SequenceSlots(allocator);
  a.reserve(4);
  a.commit(4);
  a.registerFullBlocks([1, 2, 3, 4], 4);
  a.release(); // both blocks cached and evictable; the tail (released first) is the least recently used
  const b = new SequenceSlots(allocator);
  b.reserve(2);
  b.commit(2);
  b.registerFullBlocks([7, 8], 2); // evicts one block and reuses it for another prefix
  b.release();
  const c = new SequenceSlots(allocator);
  const hit = c.adoptCachedPrefix([1, 2, 3, 4, 5]);
  assert.equal(hit, 2);
  c.release();
  const d = new SequenceSlots(allocator);
  assert.equal(d.adoptCachedPrefix([7, 8, 0]), 2);
});
