import type { SequenceChunk } from "./batch.js";
import type { BlockAllocator, SequenceSlots } from "./kv-blocks.js";

/** What the scheduler needs to know about one request (the engine's per-request state implements it). */
export interface SchedulableSequence {
  readonly id: number;
  /** Every token the sequence must hold: the prompt, then the sampled tokens (the last one not yet computed). */
  readonly tokenIds: readonly number[];
  readonly slots: SequenceSlots;
  /** Whether its full blocks may be shared with other requests (off when prompt log-probs are wanted). */
  readonly usePrefixCache: boolean;
  /** Whether the next chunks need logits for every prompt position (prompt log-probs not yet computed). */
  readonly wantsPromptLogits: boolean;
}

export interface SchedulerLimits {
  /** Most tokens one forward pass takes (decode tokens plus prefill chunks). */
  maxBatchTokens: number;
  /** Most sequences holding KV blocks at once. */
  maxNumSeqs: number;
}

/** One step's plan: the chunks to run (in order) and what changed in the queues. */
export interface StepPlan<S extends SchedulableSequence> {
  chunks: { seq: S; chunk: SequenceChunk }[];
  /** Running sequences sent back to the waiting queue (their blocks freed; they will be recomputed). */
  preempted: S[];
  /** Waiting sequences that got KV blocks this step. */
  admitted: S[];
  /** Prompt tokens whose KV came from the prefix cache for the admitted sequences. */
  prefixHitTokens: number;
}

/**
 * Decides, each step, which tokens of which requests run together under a token budget (vLLM v1's idea:
 * no separate prefill and decode phases). Order: every running decode first (one token each, so long
 * prompts never stall streams), then running prefills in admission order, then waiting requests FIFO while
 * the budget, the sequence limit and free KV blocks allow. When a running request needs a block and none is
 * free, the most recently admitted running request is preempted (its blocks freed, recomputed later), as vLLM
 * does — the cache never overflows and nothing crashes. No admissions happen in a step that preempted.
 */
export class Scheduler<S extends SchedulableSequence> {
  /** Admission order, oldest first. */
  readonly running: S[] = [];
  readonly waiting: S[] = [];

  constructor(
    private readonly allocator: BlockAllocator,
    private readonly limits: SchedulerLimits,
  ) {}

  get hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  enqueue(seq: S): void {
    this.waiting.push(seq);
  }

  /** Removes a sequence wherever it is and frees its blocks (finished, aborted or failed). */
  remove(seq: S): void {
    for (const queue of [this.running, this.waiting]) {
      const i = queue.indexOf(seq);
      if (i >= 0) queue.splice(i, 1);
    }
    seq.slots.release();
  }

  schedule(): StepPlan<S> {
    const plan: StepPlan<S> = { chunks: [], preempted: [], admitted: [], prefixHitTokens: 0 };
    let budget = this.limits.maxBatchTokens;
    let blocksPromised = 0;
    const scheduled = new Set<S>();

    const fits = (seq: S, n: number) => blocksPromised + seq.slots.blocksNeeded(n) <= this.allocator.numFree;
    const add = (seq: S, n: number) => {
      blocksPromised += seq.slots.blocksNeeded(n);
      budget -= n;
      scheduled.add(seq);
      plan.chunks.push({ seq, chunk: this.chunkOf(seq, n) });
    };
    // Frees blocks by preempting the newest running sequences not yet scheduled; false if `seq` itself went.
    const makeRoom = (seq: S, n: number): boolean => {
      while (!fits(seq, n)) {
        const victim = [...this.running].reverse().find((s) => !scheduled.has(s));
        if (victim === undefined) return false;
        this.preempt(victim);
        plan.preempted.push(victim);
        if (victim === seq) return false;
      }
      return true;
    };

    const decoding = this.running.filter((s) => this.remainingOf(s) === 1);
    const prefilling = this.running.filter((s) => this.remainingOf(s) > 1);
    for (const seq of [...decoding, ...prefilling]) {
      if (budget === 0) break;
      if (!this.running.includes(seq)) continue; // preempted earlier in this loop
      const n = Math.min(this.remainingOf(seq), budget);
      if (makeRoom(seq, n)) add(seq, n);
    }
    if (plan.preempted.length > 0) return plan;

    while (this.waiting.length > 0 && budget > 0 && this.running.length < this.limits.maxNumSeqs) {
      const seq = this.waiting[0];
      const hit = seq.usePrefixCache && seq.slots.numCached === 0 ? seq.slots.adoptCachedPrefix(seq.tokenIds) : 0;
      const n = Math.min(this.remainingOf(seq), budget);
      if (!fits(seq, n)) {
        if (hit > 0) seq.slots.release();
        break;
      }
      this.waiting.shift();
      this.running.push(seq);
      plan.admitted.push(seq);
      plan.prefixHitTokens += hit;
      add(seq, n);
    }
    return plan;
  }

  private remainingOf(seq: S): number {
    return seq.tokenIds.length - seq.slots.numCached;
  }

  private chunkOf(seq: S, n: number): SequenceChunk {
    const start = seq.slots.numCached;
    const end = start + n;
    const reachesEnd = end === seq.tokenIds.length;
    return {
      slots: seq.slots,
      tokenIds: seq.tokenIds.slice(start, end),
      logits: seq.wantsPromptLogits ? "all" : reachesEnd ? "last" : "none",
    };
  }

  private preempt(seq: S): void {
    this.running.splice(this.running.indexOf(seq), 1);
    seq.slots.release();
    this.waiting.unshift(seq);
  }
}
